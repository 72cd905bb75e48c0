"""cert-manager key usage strings <-> X.509 KeyUsage bits and ExtendedKeyUsage OIDs. Pure.

Follows cert-manager's ``pkg/util/pki/keyusage.go`` (the EKU OIDs Go knows),
``pkg/api/util/usages.go`` (the string tables and their reverse) and
``KeyUsagesForCertificateOrCertificateRequest`` in ``pkg/util/pki/csr.go`` (defaults, ``cert sign``
for CAs, the "unknown key usages" error). Key usages are kept as Go's bit mask (bit 0 = digital
signature ... bit 8 = decipher only) so comparisons are exact; EKUs are OIDs in request order.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Final

from cryptography import x509
from cryptography.x509.oid import ExtendedKeyUsageOID, ObjectIdentifier

from certkeeper.pki.errors import InvalidTemplate

DIGITAL_SIGNATURE: Final = 1 << 0
CONTENT_COMMITMENT: Final = 1 << 1
KEY_ENCIPHERMENT: Final = 1 << 2
DATA_ENCIPHERMENT: Final = 1 << 3
KEY_AGREEMENT: Final = 1 << 4
CERT_SIGN: Final = 1 << 5
CRL_SIGN: Final = 1 << 6
ENCIPHER_ONLY: Final = 1 << 7
DECIPHER_ONLY: Final = 1 << 8

#: ``spec.usages`` default (serverAuth is deliberately not added, as upstream).
DEFAULT_USAGES: Final = ("digital signature", "key encipherment")

KEY_USAGES: Final[dict[str, int]] = {
    "signing": DIGITAL_SIGNATURE,
    "digital signature": DIGITAL_SIGNATURE,
    "content commitment": CONTENT_COMMITMENT,
    "key encipherment": KEY_ENCIPHERMENT,
    "key agreement": KEY_AGREEMENT,
    "data encipherment": DATA_ENCIPHERMENT,
    "cert sign": CERT_SIGN,
    "crl sign": CRL_SIGN,
    "encipher only": ENCIPHER_ONLY,
    "decipher only": DECIPHER_ONLY,
}

_MICROSOFT_SGC: Final = ObjectIdentifier("1.3.6.1.4.1.311.10.3.3")
_NETSCAPE_SGC: Final = ObjectIdentifier("2.16.840.1.113730.4.1")

EXT_KEY_USAGES: Final[dict[str, ObjectIdentifier]] = {
    "any": ExtendedKeyUsageOID.ANY_EXTENDED_KEY_USAGE,
    "server auth": ExtendedKeyUsageOID.SERVER_AUTH,
    "client auth": ExtendedKeyUsageOID.CLIENT_AUTH,
    "code signing": ExtendedKeyUsageOID.CODE_SIGNING,
    "email protection": ExtendedKeyUsageOID.EMAIL_PROTECTION,
    "s/mime": ExtendedKeyUsageOID.EMAIL_PROTECTION,
    "ipsec end system": ObjectIdentifier("1.3.6.1.5.5.7.3.5"),
    "ipsec tunnel": ObjectIdentifier("1.3.6.1.5.5.7.3.6"),
    "ipsec user": ObjectIdentifier("1.3.6.1.5.5.7.3.7"),
    "timestamping": ExtendedKeyUsageOID.TIME_STAMPING,
    "ocsp signing": ExtendedKeyUsageOID.OCSP_SIGNING,
    "microsoft sgc": _MICROSOFT_SGC,
    "netscape sgc": _NETSCAPE_SGC,
}

#: The EKUs Go's crypto/x509 parses into ``ExtKeyUsage``; any other OID is an "unknown" EKU to it.
GO_KNOWN_EXT_KEY_USAGES: Final = frozenset(
    {
        *EXT_KEY_USAGES.values(),
        ObjectIdentifier("1.3.6.1.4.1.311.2.1.22"),
        ObjectIdentifier("1.3.6.1.4.1.311.61.1.1"),
    }
)

# Two strings share a bit ("signing") or an OID ("s/mime"); the first one listed is the name to print.
_KEY_USAGE_NAMES: Final = {bit: name for name, bit in KEY_USAGES.items() if name != "signing"}
_EXT_KEY_USAGE_NAMES: Final = {oid: name for name, oid in EXT_KEY_USAGES.items() if name != "s/mime"}


def key_usages_for(usages: Sequence[str], *, is_ca: bool) -> tuple[int, tuple[ObjectIdentifier, ...]]:
    """(KeyUsage bits, EKU OIDs) for ``spec.usages`` (empty means the default) and ``spec.isCA``."""
    bits = CERT_SIGN if is_ca else 0
    ekus: list[ObjectIdentifier] = []
    unknown: list[str] = []
    for usage in usages or DEFAULT_USAGES:
        if usage in KEY_USAGES:
            bits |= KEY_USAGES[usage]
        elif usage in EXT_KEY_USAGES:
            ekus.append(EXT_KEY_USAGES[usage])
        else:
            unknown.append(usage)
    if unknown:
        raise InvalidTemplate(f"unknown key usages: [{' '.join(unknown)}]")
    return bits, tuple(ekus)


def key_usage_extension(bits: int) -> x509.KeyUsage:
    """The KeyUsage extension value for ``bits``."""
    if bits & (ENCIPHER_ONLY | DECIPHER_ONLY) and not bits & KEY_AGREEMENT:
        # RFC 5280 4.2.1.3 gives these bits meaning only with keyAgreement; cryptography enforces it.
        raise InvalidTemplate("the usages 'encipher only' and 'decipher only' require 'key agreement'")
    agreement = bool(bits & KEY_AGREEMENT)
    return x509.KeyUsage(
        digital_signature=bool(bits & DIGITAL_SIGNATURE),
        content_commitment=bool(bits & CONTENT_COMMITMENT),
        key_encipherment=bool(bits & KEY_ENCIPHERMENT),
        data_encipherment=bool(bits & DATA_ENCIPHERMENT),
        key_agreement=agreement,
        key_cert_sign=bool(bits & CERT_SIGN),
        crl_sign=bool(bits & CRL_SIGN),
        encipher_only=agreement and bool(bits & ENCIPHER_ONLY),
        decipher_only=agreement and bool(bits & DECIPHER_ONLY),
    )


def key_usage_bits(usage: x509.KeyUsage) -> int:
    """Go's bit mask for a parsed KeyUsage extension."""
    flags = [
        (usage.digital_signature, DIGITAL_SIGNATURE),
        (usage.content_commitment, CONTENT_COMMITMENT),
        (usage.key_encipherment, KEY_ENCIPHERMENT),
        (usage.data_encipherment, DATA_ENCIPHERMENT),
        (usage.key_agreement, KEY_AGREEMENT),
        (usage.key_cert_sign, CERT_SIGN),
        (usage.crl_sign, CRL_SIGN),
    ]
    if usage.key_agreement:
        flags += [(usage.encipher_only, ENCIPHER_ONLY), (usage.decipher_only, DECIPHER_ONLY)]
    bits = 0
    for present, bit in flags:
        if present:
            bits |= bit
    return bits


def key_usage_strings(bits: int) -> list[str]:
    """The usage strings for ``bits`` in bit order ("digital signature", never "signing")."""
    return [_KEY_USAGE_NAMES.get(1 << i, "unknown") for i in range(bits.bit_length()) if bits & (1 << i)]


def ext_key_usage_strings(oids: Iterable[ObjectIdentifier]) -> list[str]:
    """The usage strings for EKU OIDs in order ("email protection", never "s/mime"; else "unknown")."""
    return [_EXT_KEY_USAGE_NAMES.get(oid, "unknown") for oid in oids]


def split_ext_key_usages(
    oids: Iterable[ObjectIdentifier],
) -> tuple[tuple[ObjectIdentifier, ...], tuple[ObjectIdentifier, ...]]:
    """(EKUs Go knows, other EKU OIDs), each in order, as Go's ``UnmarshalExtKeyUsage`` splits them."""
    known: list[ObjectIdentifier] = []
    unknown: list[ObjectIdentifier] = []
    for oid in oids:
        (known if oid in GO_KNOWN_EXT_KEY_USAGES else unknown).append(oid)
    return tuple(known), tuple(unknown)


def format_usages(usages: Sequence[str]) -> str:
    """cert-manager's printKeyUsage: ``[ 'digital signature', 'key encipherment' ]`` or ``[]``."""
    if not usages:
        return "[]"
    return "[ " + ", ".join(f"'{usage}'" for usage in usages) + " ]"
