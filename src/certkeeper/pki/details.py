"""The certificate-detail annotations cert-manager writes on a Certificate's Secret. Pure.

``cert-manager.io/common-name``, ``alt-names``, ``ip-sans`` and ``uri-sans`` are always written (empty
when the certificate has none); the subject fields and ``email-sans`` only when non-empty. Lists are
joined as one CSV record, quoted as Go's ``encoding/csv`` does (``internal/controller/certificates/
secrets.go`` ``AnnotationsForCertificate``, ``pkg/util`` ``JoinWithEscapeCSV``).
"""

from __future__ import annotations

from collections.abc import Sequence

from cryptography import x509
from cryptography.x509.oid import NameOID

from certkeeper.api import annotations as a
from certkeeper.pki.sans import san_values


def _needs_quotes(field: str) -> bool:
    # Go's csv.Writer.fieldNeedsQuotes with the default comma.
    if field == "":
        return False
    if field == "\\.":
        return True
    if any(c in field for c in ',"\r\n'):
        return True
    return field[0] in " \t"


def join_csv(values: Sequence[str]) -> str:
    """One CSV record without its line ending, as ``JoinWithEscapeCSV``."""
    out = []
    for value in values:
        if _needs_quotes(value):
            out.append('"' + value.replace('"', '""') + '"')
        else:
            out.append(value)
    return ",".join(out)


def split_csv(text: str) -> list[str]:
    """The inverse of :func:`join_csv` for the records it writes."""
    values: list[str] = []
    field: list[str] = []
    quoted = False
    i = 0
    while i < len(text):
        c = text[i]
        if quoted:
            if c == '"' and text[i + 1 : i + 2] == '"':
                field.append('"')
                i += 1
            elif c == '"':
                quoted = False
            else:
                field.append(c)
        elif c == '"' and not field:
            quoted = True
        elif c == ",":
            values.append("".join(field))
            field = []
        else:
            field.append(c)
        i += 1
    values.append("".join(field))
    return values if text else []


def _attributes(name: x509.Name, oid: x509.ObjectIdentifier) -> list[str]:
    return [str(attribute.value) for attribute in name.get_attributes_for_oid(oid)]


def certificate_details_annotations(certificate: x509.Certificate | None) -> dict[str, str]:
    """The detail annotations for ``certificate`` (empty for None)."""
    if certificate is None:
        return {}
    subject = certificate.subject
    try:
        san = certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        san = x509.SubjectAlternativeName([])
    sans = san_values(san)
    dns, ips, uris, emails = list(sans.dns_names), list(sans.ip_addresses), list(sans.uris), list(sans.email_addresses)
    out: dict[str, str] = {}
    common_names = _attributes(subject, NameOID.COMMON_NAME)
    out[a.COMMON_NAME_ANNOTATION] = common_names[0] if common_names else ""
    serials = _attributes(subject, NameOID.SERIAL_NUMBER)
    if serials and serials[0]:
        out[a.SUBJECT_SERIAL_NUMBER_ANNOTATION] = serials[0]
    for key, oid in (
        (a.SUBJECT_ORGANIZATIONS_ANNOTATION, NameOID.ORGANIZATION_NAME),
        (a.SUBJECT_ORGANIZATIONAL_UNITS_ANNOTATION, NameOID.ORGANIZATIONAL_UNIT_NAME),
        (a.SUBJECT_COUNTRIES_ANNOTATION, NameOID.COUNTRY_NAME),
        (a.SUBJECT_PROVINCES_ANNOTATION, NameOID.STATE_OR_PROVINCE_NAME),
        (a.SUBJECT_LOCALITIES_ANNOTATION, NameOID.LOCALITY_NAME),
        (a.SUBJECT_POSTAL_CODES_ANNOTATION, NameOID.POSTAL_CODE),
        (a.SUBJECT_STREET_ADDRESSES_ANNOTATION, NameOID.STREET_ADDRESS),
    ):
        values = _attributes(subject, oid)
        if values:
            out[key] = join_csv(values)
    if emails:
        out[a.EMAIL_SANS_ANNOTATION] = join_csv(emails)
    out[a.ALT_NAMES_ANNOTATION] = join_csv(dns)
    out[a.IP_SANS_ANNOTATION] = join_csv(ips)
    out[a.URI_SANS_ANNOTATION] = join_csv(uris)
    return out


__all__ = ["certificate_details_annotations", "join_csv", "split_csv"]
