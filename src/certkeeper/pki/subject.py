"""Subjects: ``spec.literalSubject`` (RFC 4514 strings) and the structured ``spec.subject`` fields. Pure.

Follows cert-manager's ``pkg/util/pki/subject.go`` and the go-ldap ``ParseDN`` it calls (v3.4.14:
spaces around types and values are insignificant unless escaped, ``\\XX`` hex escapes, ``"`` ``;``
``<`` ``>`` and NUL must be escaped, ``+`` joins attributes into one RDN, ``,`` or ``;`` ends an RDN,
and the string lists RDNs in reverse order). Two deliberate differences, both hardening:

* a value written ``#hex`` (BER) is refused, as cert-manager's quick fix for the 2023 audit's memory
  bomb did; go-ldap decoded it, and its length header once made it allocate gigabytes;
* input is bounded (:data:`MAX_LITERAL_SUBJECT_LENGTH` characters, :data:`MAX_LITERAL_SUBJECT_ATTRIBUTES`
  attributes), and a dotted type that is no valid OID (first arc above 2) is refused at parse time
  rather than when the CSR is encoded (Go fails there, so such a subject can never be issued).

Strings are encoded as Go's ``encoding/asn1`` encodes them (PrintableString when every character is
in its set, UTF8String otherwise), so subjects are byte-identical to cert-manager's and the raw-DER
comparison of ``RequestMatchesSpec`` holds across the two implementations.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

from cryptography import x509
from cryptography.x509.name import _ASN1Type
from cryptography.x509.oid import NameOID, ObjectIdentifier

from certkeeper.pki.errors import InvalidSubject

MAX_LITERAL_SUBJECT_LENGTH: Final = 8192
MAX_LITERAL_SUBJECT_ATTRIBUTES: Final = 256
_MAX_OID_ARC: Final = (1 << 63) - 1

#: The attribute type names cert-manager recognises in a literal subject (exact case, as upstream).
ATTRIBUTE_TYPE_NAMES: Final[dict[str, ObjectIdentifier]] = {
    "C": NameOID.COUNTRY_NAME,
    "O": NameOID.ORGANIZATION_NAME,
    "OU": NameOID.ORGANIZATIONAL_UNIT_NAME,
    "CN": NameOID.COMMON_NAME,
    "SERIALNUMBER": NameOID.SERIAL_NUMBER,
    "L": NameOID.LOCALITY_NAME,
    "ST": NameOID.STATE_OR_PROVINCE_NAME,
    "STREET": NameOID.STREET_ADDRESS,
    "DC": NameOID.DOMAIN_COMPONENT,
    "UID": NameOID.USER_ID,
}

_PRINTABLE: Final = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 '()+,-./:=?")
_ESCAPABLE: Final = frozenset(' "#+,;<=>\\')
_HEX_DIGITS: Final = frozenset("0123456789abcdefABCDEF")
#: OIDs cryptography length-checks; cert-manager (Go) does not, so we build these without the check.
_LENGTH_LIMITS: Final = {
    NameOID.COUNTRY_NAME: (2, 2),
    NameOID.JURISDICTION_COUNTRY_NAME: (2, 2),
    NameOID.COMMON_NAME: (1, 64),
}


@dataclass(frozen=True, slots=True, kw_only=True)
class SubjectFields:
    """``spec.subject``: every field is optional; lists keep the user's order."""

    organizations: tuple[str, ...] = ()
    countries: tuple[str, ...] = ()
    organizational_units: tuple[str, ...] = ()
    localities: tuple[str, ...] = ()
    provinces: tuple[str, ...] = ()
    street_addresses: tuple[str, ...] = ()
    postal_codes: tuple[str, ...] = ()
    serial_number: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class LiteralAttribute:
    """One ``type=value`` of a literal subject; ``oid`` is None when the type is not recognised."""

    type: str
    oid: ObjectIdentifier | None
    value: str


def name_attribute(oid: ObjectIdentifier, value: str) -> x509.NameAttribute[str]:
    """A name attribute encoded as Go encodes a string: PrintableString if it can be, else UTF8String."""
    try:
        encoded_length = len(value.encode("utf-8"))
    except UnicodeEncodeError as exc:
        raise InvalidSubject("subject contains a value that is not valid UTF-8") from exc
    string_type = _ASN1Type.PrintableString if all(ch in _PRINTABLE for ch in value) else _ASN1Type.UTF8String
    limits = _LENGTH_LIMITS.get(oid)
    if limits is not None and not limits[0] <= encoded_length <= limits[1]:
        # cryptography would refuse (or warn about) a country that is not two letters or an empty CN;
        # Go accepts both, so build it unvalidated and drop only that one warning. catch_warnings is
        # not thread-safe, but the filter it might leak is narrow and harmless.
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="Attribute's length", category=UserWarning)
            return x509.NameAttribute(oid, value, string_type, _validate=False)
    return x509.NameAttribute(oid, value, string_type)


def _rdn(attributes: Sequence[x509.NameAttribute[str]]) -> x509.RelativeDistinguishedName:
    try:
        return x509.RelativeDistinguishedName(attributes)
    except ValueError as exc:
        raise InvalidSubject(f"subject has a repeated attribute in one RDN: {exc}") from exc


def subject_name(fields: SubjectFields, common_name: str = "") -> x509.Name:
    """The subject for ``spec.subject`` and ``spec.commonName``, in Go's ``pkix.Name`` order.

    Order: C, ST, L, STREET, postalCode, O, OU, CN, SERIALNUMBER; the values of one list field form
    a single multi-valued RDN, as ``pkix.Name.ToRDNSequence`` builds them.
    """
    groups: list[tuple[ObjectIdentifier, Sequence[str]]] = [
        (NameOID.COUNTRY_NAME, fields.countries),
        (NameOID.STATE_OR_PROVINCE_NAME, fields.provinces),
        (NameOID.LOCALITY_NAME, fields.localities),
        (NameOID.STREET_ADDRESS, fields.street_addresses),
        (NameOID.POSTAL_CODE, fields.postal_codes),
        (NameOID.ORGANIZATION_NAME, fields.organizations),
        (NameOID.ORGANIZATIONAL_UNIT_NAME, fields.organizational_units),
        (NameOID.COMMON_NAME, (common_name,) if common_name else ()),
        (NameOID.SERIAL_NUMBER, (fields.serial_number,) if fields.serial_number else ()),
    ]
    rdns = [_rdn([name_attribute(oid, value) for value in values]) for oid, values in groups if values]
    return x509.Name(rdns)


def _go_quote(text: str) -> str:
    out = []
    for ch in text:
        if ch in '"\\':
            out.append("\\" + ch)
        elif ch.isprintable():
            out.append(ch)
        else:
            out.append(ch.encode("unicode_escape", "backslashreplace").decode("ascii"))
    return '"' + "".join(out) + '"'


def _strip_spaces(raw: str) -> str:
    stripped = raw.strip(" ")
    if stripped and raw.endswith(" "):
        # Keep the trailing space only if it was escaped (preceded by an odd number of backslashes).
        backslashes = len(stripped) - len(stripped.rstrip("\\"))
        if backslashes % 2 == 1:
            stripped += " "
    return stripped


def _hex_error(pair: str) -> InvalidSubject:
    bad = next(ch for ch in pair if ch not in _HEX_DIGITS)
    return InvalidSubject(f"failed to decode escaped character: encoding/hex: invalid byte: U+{ord(bad):04X} '{bad}'")


def _decode_string(raw: str) -> str:
    """Unescape one type or value as go-ldap's ``decodeString`` does."""
    text = _strip_spaces(raw)
    out = bytearray()
    i, n = 0, len(text)
    try:
        while i < n:
            ch = text[i]
            if ch != "\\":
                if ch in '";<>':
                    raise InvalidSubject(f"got unescaped character: '{ch}'")
                if ch == "\x00":
                    raise InvalidSubject("got unescaped NULL character")
                out += ch.encode("utf-8")
                i += 1
                continue
            if i + 1 >= n:
                raise InvalidSubject(f"got corrupted escaped character: '{text}'")
            following = text[i + 1]
            if following in _ESCAPABLE:
                out += following.encode("utf-8")
                i += 2
                continue
            if i + 2 >= n:
                raise InvalidSubject(f"failed to decode escaped character: encoding/hex: invalid byte: {following}")
            pair = text[i + 1 : i + 3]
            if len(pair.encode("utf-8")) != 2:
                raise InvalidSubject(f"failed to decode escaped character: invalid byte: {pair}")
            if not all(ch in _HEX_DIGITS for ch in pair):
                raise _hex_error(pair)
            out.append(int(pair, 16))
            i += 3
        return out.decode("utf-8")
    except UnicodeError as exc:
        raise InvalidSubject("literal subject contains a value that is not valid UTF-8") from exc


def _resolve_type(name: str) -> ObjectIdentifier | None:
    known = ATTRIBUTE_TYPE_NAMES.get(name)
    if known is not None:
        return known
    arcs = name.split(".")
    if not name or not all(arc.isascii() and arc.isdigit() for arc in arcs):
        return None
    if any(len(arc) > 19 or int(arc) > _MAX_OID_ARC for arc in arcs):
        return None
    dotted = ".".join(str(int(arc)) for arc in arcs)
    try:
        return ObjectIdentifier(dotted)
    except ValueError as exc:
        raise InvalidSubject(f"literal subject attribute type {_go_quote(name)} is not a valid OID: {exc}") from exc


def parse_literal_subject(text: str) -> list[list[LiteralAttribute]]:
    """Parse an RFC 4514 string into RDNs in DER order (the reverse of the string's order).

    Unrecognised attribute types are kept with ``oid=None`` so validation can report them with
    cert-manager's message; :func:`literal_subject_name` refuses them.
    """
    if len(text) > MAX_LITERAL_SUBJECT_LENGTH:
        raise InvalidSubject(f"literal subject is longer than {MAX_LITERAL_SUBJECT_LENGTH} characters")
    if not text.strip():
        return []
    rdns: list[list[LiteralAttribute]] = []
    current: list[LiteralAttribute] = []
    attribute_type = ""
    start = 0
    escaping = False
    count = 0

    def finish(raw_value: str) -> None:
        nonlocal count
        if raw_value.startswith("#"):
            raise InvalidSubject(
                f"unsupported distinguished name (DN) {_go_quote(text)}: "
                'notation does not support x509.subject identities containing "=#"'
            )
        count += 1
        if count > MAX_LITERAL_SUBJECT_ATTRIBUTES:
            raise InvalidSubject(f"literal subject has more than {MAX_LITERAL_SUBJECT_ATTRIBUTES} attributes")
        value = _decode_string(raw_value)
        current.append(LiteralAttribute(type=attribute_type, oid=_resolve_type(attribute_type), value=value))

    for index, ch in enumerate(text):
        if escaping:
            escaping = False
        elif ch == "\\":
            escaping = True
        elif ch == "=" and not attribute_type:
            attribute_type = _decode_string(text[start:index])
            start = index + 1
        elif ch in ",+;":
            if not attribute_type:
                raise InvalidSubject("incomplete type, value pair")
            finish(text[start:index])
            start = index + 1
            attribute_type = ""
            if ch != "+":
                rdns.append(current)
                current = []
    if not attribute_type:
        raise InvalidSubject("DN ended with incomplete type, value pair")
    finish(text[start:])
    rdns.append(current)
    rdns.reverse()
    return rdns


def literal_subject_name(text: str) -> x509.Name:
    """The subject for ``spec.literalSubject``; unrecognised attribute types are refused."""
    rdns: list[x509.RelativeDistinguishedName] = []
    for rdn in parse_literal_subject(text):
        attributes: list[x509.NameAttribute[str]] = []
        for attribute in rdn:
            if attribute.oid is None:
                raise InvalidSubject(f"Literal subject contains unrecognized key with value [{attribute.value}]")
            attributes.append(name_attribute(attribute.oid, attribute.value))
        rdns.append(_rdn(attributes))
    return x509.Name(rdns)


def first_common_name(name: x509.Name) -> str:
    """The first CN of ``name`` in DER order, or "" (cert-manager's ``ExtractCommonNameFromRDNSequence``)."""
    for attribute in name:
        if attribute.oid == NameOID.COMMON_NAME and isinstance(attribute.value, str):
            return attribute.value
    return ""


def subject_fields_of(name: x509.Name) -> tuple[str, SubjectFields]:
    """(commonName, fields) read from ``name`` as Go's ``pkix.Name.FillFromRDNSequence`` reads them.

    List fields collect every value in order; commonName and serialNumber keep the last one.
    """
    lists: dict[ObjectIdentifier, list[str]] = {
        oid: []
        for oid in (
            NameOID.ORGANIZATION_NAME,
            NameOID.COUNTRY_NAME,
            NameOID.ORGANIZATIONAL_UNIT_NAME,
            NameOID.LOCALITY_NAME,
            NameOID.STATE_OR_PROVINCE_NAME,
            NameOID.STREET_ADDRESS,
            NameOID.POSTAL_CODE,
        )
    }
    common_name = serial_number = ""
    for attribute in name:
        if not isinstance(attribute.value, str):
            continue
        if attribute.oid == NameOID.COMMON_NAME:
            common_name = attribute.value
        elif attribute.oid == NameOID.SERIAL_NUMBER:
            serial_number = attribute.value
        elif attribute.oid in lists:
            lists[attribute.oid].append(attribute.value)
    fields = SubjectFields(
        organizations=tuple(lists[NameOID.ORGANIZATION_NAME]),
        countries=tuple(lists[NameOID.COUNTRY_NAME]),
        organizational_units=tuple(lists[NameOID.ORGANIZATIONAL_UNIT_NAME]),
        localities=tuple(lists[NameOID.LOCALITY_NAME]),
        provinces=tuple(lists[NameOID.STATE_OR_PROVINCE_NAME]),
        street_addresses=tuple(lists[NameOID.STREET_ADDRESS]),
        postal_codes=tuple(lists[NameOID.POSTAL_CODE]),
        serial_number=serial_number,
    )
    return common_name, fields


def name_is_empty(name: x509.Name) -> bool:
    """True when ``name`` encodes as an empty SEQUENCE (cert-manager's ``IsASN1SubjectEmpty``)."""
    return len(name.rdns) == 0
