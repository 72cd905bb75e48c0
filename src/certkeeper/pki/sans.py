"""Subject alternative names and name constraints: building them from a template, reading them back. Pure.

Follows cert-manager's ``pkg/util/pki/sans.go`` (SAN order DNS, email, IP, URI, otherName; IPv4 in
four bytes; otherName values as ``[0] EXPLICIT UTF8String``), ``asn1_util.go``
(``ParseObjectIdentifier``, ``MarshalUniversalValue``) and ``nameconstraints.go`` (subtree order DNS,
IP, email, URI; only non-empty sides are encoded).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Final, TypeAlias

from cryptography import x509
from cryptography.x509.oid import ObjectIdentifier

from certkeeper.pki.errors import InvalidTemplate
from certkeeper.pki.template import NameConstraintItems, NameConstraintsSpec, OtherName

IPAddress: TypeAlias = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork: TypeAlias = ipaddress.IPv4Network | ipaddress.IPv6Network

_UTF8_STRING_TAG: Final = 0x0C
_MAX_OID_ARC: Final = (1 << 63) - 1


@dataclass(frozen=True, slots=True, kw_only=True)
class SanValues:
    """The SANs of a CSR or certificate as cert-manager compares them (strings, in encoded order)."""

    dns_names: tuple[str, ...] = ()
    email_addresses: tuple[str, ...] = ()
    ip_addresses: tuple[str, ...] = ()
    uris: tuple[str, ...] = ()
    other_names: tuple[OtherName, ...] = ()


def parse_ip_address(text: str) -> IPAddress:
    """An IP address from ``spec.ipAddresses``; IPv4-mapped IPv6 becomes IPv4, zones are refused."""
    try:
        address = ipaddress.ip_address(text)
    except ValueError as exc:
        raise InvalidTemplate(f'failed to parse IP address "{text}"') from exc
    if isinstance(address, ipaddress.IPv6Address):
        if address.scope_id is not None:
            raise InvalidTemplate(f'failed to parse IP address "{text}": zones are not allowed')
        if address.ipv4_mapped is not None:
            return address.ipv4_mapped
    return address


def format_ip_address(address: IPAddress) -> str:
    """An address as Go's ``net.IP.String()`` prints it (IPv4-mapped IPv6 as dotted IPv4)."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return str(address.ipv4_mapped)
    return str(address)


def parse_ip_network(cidr: str) -> IPNetwork:
    """A CIDR from ``spec.nameConstraints``; host bits are masked off as Go's ``net.ParseCIDR`` does."""
    if "/" not in cidr:
        raise InvalidTemplate(f"invalid CIDR address: {cidr}")
    try:
        return ipaddress.ip_network(cidr, strict=False)
    except ValueError as exc:
        raise InvalidTemplate(f"invalid CIDR address: {cidr}") from exc


def parse_object_identifier(text: str) -> ObjectIdentifier:
    """A dotted OID as cert-manager's ``ParseObjectIdentifier`` accepts it, and that DER can encode."""
    if not text:
        raise InvalidTemplate("zero length OBJECT IDENTIFIER")
    arcs = text.split(".")
    for arc in arcs:
        if not (arc.isascii() and arc.isdigit()) or len(arc) > 19 or int(arc) > _MAX_OID_ARC:
            raise InvalidTemplate(f'strconv.Atoi: parsing "{arc}": invalid syntax')
    try:
        return ObjectIdentifier(".".join(str(int(arc)) for arc in arcs))
    except ValueError as exc:
        raise InvalidTemplate(f"invalid object identifier {text}") from exc


def _der_length(length: int) -> bytes:
    if length < 0x80:
        return bytes([length])
    encoded = length.to_bytes((length.bit_length() + 7) // 8, "big")
    return bytes([0x80 | len(encoded)]) + encoded


def encode_utf8_string(value: str) -> bytes:
    """The DER of a UTF8String."""
    try:
        content = value.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise InvalidTemplate("asn1: invalid UTF-8 string") from exc
    return bytes([_UTF8_STRING_TAG]) + _der_length(len(content)) + content


def decode_utf8_string(der: bytes) -> str | None:
    """The text of a DER UTF8String, or None if ``der`` is another (well-formed or not) value."""
    if len(der) < 2 or der[0] != _UTF8_STRING_TAG:
        return None
    first = der[1]
    if first < 0x80:
        length, offset = first, 2
    else:
        count = first & 0x7F
        if count == 0 or count > 4 or len(der) < 2 + count:
            return None
        length = int.from_bytes(der[2 : 2 + count], "big")
        offset = 2 + count
        if length < 0x80 or der[2] == 0:
            return None  # not the minimal (DER) length encoding
    if len(der) != offset + length:
        return None
    try:
        return der[offset:].decode("utf-8")
    except UnicodeDecodeError:
        return None


def _ia5(value: str, kind: str) -> None:
    if not value.isascii():
        raise InvalidTemplate(f"x509: {value!r} cannot be encoded as an IA5String ({kind})")


def general_names(
    *,
    dns_names: Iterable[str] = (),
    email_addresses: Iterable[str] = (),
    ip_addresses: Iterable[str] = (),
    uris: Iterable[str] = (),
    other_names: Iterable[OtherName] = (),
) -> list[x509.GeneralName]:
    """SAN entries in cert-manager's order: DNS, email, IP, URI, otherName."""
    names: list[x509.GeneralName] = []
    try:
        for dns_name in dns_names:
            _ia5(dns_name, "dNSName")
            names.append(x509.DNSName(dns_name))
        for email in email_addresses:
            _ia5(email, "rfc822Name")
            names.append(x509.RFC822Name(email))
        names.extend(x509.IPAddress(parse_ip_address(ip)) for ip in ip_addresses)
        for uri in uris:
            _ia5(uri, "uniformResourceIdentifier")
            names.append(x509.UniformResourceIdentifier(uri))
        for other in other_names:
            oid = parse_object_identifier(other.oid)
            names.append(x509.OtherName(oid, encode_utf8_string(other.utf8_value)))
    except ValueError as exc:
        if isinstance(exc, InvalidTemplate):
            raise
        raise InvalidTemplate(f"invalid subject alternative name: {exc}") from exc
    return names


def san_values(san: x509.SubjectAlternativeName) -> SanValues:
    """Strings for each SAN kind, in encoded order (otherNames that are not UTF8String are skipped)."""
    other_names: list[OtherName] = []
    for other in san.get_values_for_type(x509.OtherName):
        text = decode_utf8_string(other.value)
        if text is not None:
            other_names.append(OtherName(oid=other.type_id.dotted_string, utf8_value=text))
    return SanValues(
        dns_names=tuple(san.get_values_for_type(x509.DNSName)),
        email_addresses=tuple(san.get_values_for_type(x509.RFC822Name)),
        ip_addresses=tuple(
            format_ip_address(address)
            for address in san.get_values_for_type(x509.IPAddress)
            if isinstance(address, ipaddress.IPv4Address | ipaddress.IPv6Address)
        ),
        uris=tuple(san.get_values_for_type(x509.UniformResourceIdentifier)),
        other_names=tuple(other_names),
    )


def non_utf8_other_names(san: x509.SubjectAlternativeName) -> list[str]:
    """Type OIDs of otherName SANs whose value is not a UTF8String (cert-manager cannot compare them)."""
    return [
        other.type_id.dotted_string
        for other in san.get_values_for_type(x509.OtherName)
        if decode_utf8_string(other.value) is None
    ]


def _subtrees(items: NameConstraintItems | None) -> list[x509.GeneralName] | None:
    if items is None or items.is_empty:
        return None
    subtrees: list[x509.GeneralName] = []
    try:
        for domain in items.dns_domains:
            _ia5(domain, "dNSName constraint")
            subtrees.append(x509.DNSName(domain))
        subtrees.extend(x509.IPAddress(parse_ip_network(cidr)) for cidr in items.ip_ranges)
        for email in items.email_addresses:
            _ia5(email, "rfc822Name constraint")
            subtrees.append(x509.RFC822Name(email))
        for domain in items.uri_domains:
            _ia5(domain, "URI constraint")
            subtrees.append(x509.UniformResourceIdentifier(domain))
    except ValueError as exc:
        if isinstance(exc, InvalidTemplate):
            raise
        raise InvalidTemplate(f"invalid name constraint: {exc}") from exc
    return subtrees


def name_constraints_extension(spec: NameConstraintsSpec) -> x509.NameConstraints | None:
    """The NameConstraints value for ``spec``, or None when nothing is constrained."""
    permitted = _subtrees(spec.permitted)
    excluded = _subtrees(spec.excluded)
    if permitted is None and excluded is None:
        return None
    return x509.NameConstraints(permitted_subtrees=permitted, excluded_subtrees=excluded)


def _items_of(subtrees: Iterable[x509.GeneralName] | None) -> NameConstraintItems | None:
    if subtrees is None:
        return None
    dns: list[str] = []
    ips: list[str] = []
    emails: list[str] = []
    uris: list[str] = []
    for name in subtrees:
        if isinstance(name, x509.DNSName):
            dns.append(name.value)
        elif isinstance(name, x509.IPAddress):
            ips.append(str(name.value))
        elif isinstance(name, x509.RFC822Name):
            emails.append(name.value)
        elif isinstance(name, x509.UniformResourceIdentifier):
            uris.append(name.value)
        else:
            raise InvalidTemplate(f"x509: unsupported NameConstraints tag: {type(name).__name__}")
    return NameConstraintItems(
        dns_domains=tuple(dns), ip_ranges=tuple(ips), email_addresses=tuple(emails), uri_domains=tuple(uris)
    )


def name_constraints_spec(value: x509.NameConstraints, *, critical: bool) -> NameConstraintsSpec:
    """A parsed NameConstraints extension as the template value that would produce it."""
    return NameConstraintsSpec(
        critical=critical,
        permitted=_items_of(value.permitted_subtrees),
        excluded=_items_of(value.excluded_subtrees),
    )
