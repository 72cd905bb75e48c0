"""The certificate-details annotations certkeeper writes on a Certificate's Secret. Pure.

Follows ``AnnotationsForCertificate`` in cert-manager's ``internal/controller/certificates/secrets.go``
and ``JoinWithEscapeCSV`` in ``pkg/util/util.go``: the common name (always, even empty), the subject
serial number and each subject list (only when non-empty), the email SANs (only when non-empty) and
the DNS, IP and URI SANs (always, even empty). Lists are one line of CSV as Go's ``encoding/csv``
writes it, so values containing commas or quotes survive. The issuing controller writes these; the
post-issuance checks compare them with ``tls.crt``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

from cryptography import x509

from certkeeper.api.annotations import (
    ALT_NAMES_ANNOTATION,
    COMMON_NAME_ANNOTATION,
    EMAIL_SANS_ANNOTATION,
    IP_SANS_ANNOTATION,
    SUBJECT_COUNTRIES_ANNOTATION,
    SUBJECT_LOCALITIES_ANNOTATION,
    SUBJECT_ORGANIZATIONAL_UNITS_ANNOTATION,
    SUBJECT_ORGANIZATIONS_ANNOTATION,
    SUBJECT_POSTAL_CODES_ANNOTATION,
    SUBJECT_PROVINCES_ANNOTATION,
    SUBJECT_SERIAL_NUMBER_ANNOTATION,
    SUBJECT_STREET_ADDRESSES_ANNOTATION,
    URI_SANS_ANNOTATION,
)
from certkeeper.pki.sans import SanValues, san_values
from certkeeper.pki.subject import subject_fields_of

#: Go's ``unicode.IsSpace``: a field starting with one of these is quoted.
_GO_SPACE: Final = frozenset(
    "\t\n\v\f\r \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a"
    "\u2028\u2029\u202f\u205f\u3000"
)


class CertificateDetailsError(ValueError):
    """The certificate's extensions cannot be read (Go would have refused to parse it)."""


def _needs_quotes(field: str) -> bool:
    if field == "":
        return False
    if field == "\\." or any(char in field for char in ',"\r\n'):
        return True
    return field[0] in _GO_SPACE


def join_with_escape_csv(values: Sequence[str]) -> str:
    """``values`` as one CSV record without the line end, quoting as Go's ``csv.Writer`` does."""
    fields = []
    for value in values:
        fields.append('"' + value.replace('"', '""') + '"' if _needs_quotes(value) else value)
    return ",".join(fields)


def _sans(certificate: x509.Certificate) -> SanValues:
    try:
        extension = certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName)
    except x509.ExtensionNotFound:
        return SanValues()
    except (ValueError, x509.DuplicateExtension, x509.UnsupportedGeneralNameType) as exc:
        raise CertificateDetailsError(f"certificate has malformed extensions: {exc}") from exc
    return san_values(extension.value)


def annotations_for_certificate(certificate: x509.Certificate | None) -> dict[str, str]:
    """The details annotations for ``certificate`` (empty for None). Raises :class:`CertificateDetailsError`."""
    if certificate is None:
        return {}
    common_name, subject = subject_fields_of(certificate.subject)
    sans = _sans(certificate)
    annotations = {COMMON_NAME_ANNOTATION: common_name}
    if subject.serial_number:
        annotations[SUBJECT_SERIAL_NUMBER_ANNOTATION] = subject.serial_number
    optional_lists = (
        (SUBJECT_ORGANIZATIONS_ANNOTATION, subject.organizations),
        (SUBJECT_ORGANIZATIONAL_UNITS_ANNOTATION, subject.organizational_units),
        (SUBJECT_COUNTRIES_ANNOTATION, subject.countries),
        (SUBJECT_PROVINCES_ANNOTATION, subject.provinces),
        (SUBJECT_LOCALITIES_ANNOTATION, subject.localities),
        (SUBJECT_POSTAL_CODES_ANNOTATION, subject.postal_codes),
        (SUBJECT_STREET_ADDRESSES_ANNOTATION, subject.street_addresses),
        (EMAIL_SANS_ANNOTATION, sans.email_addresses),
    )
    for key, values in optional_lists:
        if values:
            annotations[key] = join_with_escape_csv(values)
    annotations[ALT_NAMES_ANNOTATION] = join_with_escape_csv(sans.dns_names)
    annotations[IP_SANS_ANNOTATION] = join_with_escape_csv(sans.ip_addresses)
    annotations[URI_SANS_ANNOTATION] = join_with_escape_csv(sans.uris)
    return annotations


__all__ = ["CertificateDetailsError", "annotations_for_certificate", "join_with_escape_csv"]
