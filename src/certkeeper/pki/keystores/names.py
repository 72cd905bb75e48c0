"""Render an X.509 Name the way Go's ``pkix.Name.String()`` does, for PKCS#12 truststore friendly names.

cert-manager's truststore.p12 (go-pkcs12 ``EncodeTrustStore``) names each CA after ``cert.Subject.String()``;
Java shows that friendly name as the entry's alias. Go does not print the RDNs in certificate order: it first
regroups the nine attribute types it knows into a fixed order (C, ST, L, STREET, POSTALCODE, O, OU, CN,
SERIALNUMBER; values of one type share a multi-valued RDN; the last CN and SERIALNUMBER win), puts every other
attribute before them as single RDNs, then prints the sequence in reverse (RFC 2253 order). Unknown types are
printed as ``oid=#<hex DER>``, where the DER is Go re-encoding the parsed value (strings as UTF8String).
Follows crypto/x509/pkix/pkix.go (Go 1.26). Pure.
"""

from __future__ import annotations

import string
from typing import Final

from cryptography import x509
from cryptography.x509.oid import NameOID

from certkeeper.pki.keystores import der

# Go's own RDN order, with the names it prints for these types.
_GO_ORDER: Final = (
    (NameOID.COUNTRY_NAME, "C"),
    (NameOID.STATE_OR_PROVINCE_NAME, "ST"),
    (NameOID.LOCALITY_NAME, "L"),
    (NameOID.STREET_ADDRESS, "STREET"),
    (NameOID.POSTAL_CODE, "POSTALCODE"),
    (NameOID.ORGANIZATION_NAME, "O"),
    (NameOID.ORGANIZATIONAL_UNIT_NAME, "OU"),
    (NameOID.COMMON_NAME, "CN"),
    (NameOID.SERIAL_NUMBER, "SERIALNUMBER"),
)
_KNOWN: Final = dict(_GO_ORDER)
# Go keeps only the last CN and SERIALNUMBER (Name.CommonName, Name.SerialNumber) and prints them only if non-empty.
_SINGLE_VALUED: Final = frozenset({NameOID.COMMON_NAME, NameOID.SERIAL_NUMBER})
_ESCAPED: Final = frozenset(',+"\\<>;')
# PrintableString's alphabet as Go's encoding/asn1 checks it when marshalling (no '*' or '&').
_PRINTABLE: Final = frozenset(string.ascii_letters + string.digits + " '()+,-./:=?")


def _escape(value: str) -> str:
    out = []
    last = len(value) - 1
    for index, char in enumerate(value):
        if char in _ESCAPED or (char == " " and index in (0, last)) or (char == "#" and index == 0):
            out.append("\\")
        out.append(char)
    return "".join(out)


def _reencoded_value(value: str | bytes) -> bytes:
    # Go decodes every string type into a Go string and re-marshals it: PrintableString when each character
    # is in its restricted set, UTF8String otherwise. A BIT STRING (x500UniqueIdentifier) stays one.
    if isinstance(value, str):
        if all(char in _PRINTABLE for char in value):
            return der.tlv(der.TAG_PRINTABLE_STRING, value.encode("ascii"))
        return der.utf8_string(value)
    return der.bit_string(value)


def go_name_string(name: x509.Name) -> str:
    """The string Go's ``pkix.Name.String()`` returns for a parsed certificate's subject ``name``."""
    extra: list[list[str]] = []
    known_values: dict[x509.ObjectIdentifier, list[str]] = {oid: [] for oid, _ in _GO_ORDER}
    for attribute in name:
        if attribute.oid in _KNOWN:
            if isinstance(attribute.value, str):
                if attribute.oid in _SINGLE_VALUED:
                    known_values[attribute.oid] = [attribute.value]
                else:
                    known_values[attribute.oid].append(attribute.value)
            continue
        encoded = _reencoded_value(attribute.value)
        extra.append([f"{attribute.oid.dotted_string}=#{encoded.hex()}"])
    rdns = list(extra)
    for oid, label in _GO_ORDER:
        values = [value for value in known_values[oid] if value or oid not in _SINGLE_VALUED]
        if values:
            rdns.append([f"{label}={_escape(value)}" for value in values])
    return ",".join("+".join(rdn) for rdn in reversed(rdns))
