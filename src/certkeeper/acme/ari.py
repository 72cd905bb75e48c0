"""ACME Renewal Information (RFC 9773): the certificate identifier and the checked renewal window.

A certificate is named by its CertID, ``base64url(AKI keyIdentifier) "." base64url(serial)``, where
the serial is the content octets of its DER INTEGER (two's complement, so a leading zero byte when
the top bit is set). The same string goes into ``GET <renewalInfo>/<CertID>`` and into an order's
``replaces``. Follows ``third_party/forked/acme/types.go`` (``CertificateARIID``) and ``ari.go``. Pure.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from cryptography import x509

from certkeeper.acme.jws import b64url_encode
from certkeeper.acme.messages import RenewalInfo


class InvalidCertId(ValueError):
    """A certificate from which no ARI CertID can be made (no Authority Key Identifier)."""


def serial_number_octets(serial: int) -> bytes:
    """The content octets of ``serial``'s DER INTEGER encoding: minimal two's complement."""
    length = 1
    while True:
        try:
            return serial.to_bytes(length, "big", signed=True)
        except OverflowError:
            length += 1


def certificate_id(certificate: x509.Certificate) -> str:
    """The RFC 9773 CertID of ``certificate``; raises InvalidCertId when it has no AKI key identifier."""
    try:
        aki = certificate.extensions.get_extension_for_class(x509.AuthorityKeyIdentifier).value
    except x509.ExtensionNotFound:
        raise InvalidCertId("invalid ARI CertID: missing AuthorityKeyId (AKI)") from None
    except ValueError as exc:
        raise InvalidCertId(f"invalid ARI CertID: unreadable extensions: {exc}") from exc
    if not aki.key_identifier:
        raise InvalidCertId("invalid ARI CertID: missing AuthorityKeyId (AKI)")
    return f"{b64url_encode(aki.key_identifier)}.{b64url_encode(serial_number_octets(certificate.serial_number))}"


@dataclass(frozen=True, slots=True, kw_only=True)
class RenewalInfoResource:
    """A renewalInfo answer: the suggested window, and how long to wait before asking again."""

    cert_id: str
    renewal_info: RenewalInfo
    retry_after: timedelta | None


def check_window(info: RenewalInfo) -> None:
    """Raise ValueError unless the suggested window's start is before its end (RFC 9773 §4.2)."""
    if not info.suggested_window.start < info.suggested_window.end:
        raise ValueError("invalid suggestedWindow: start must be before end")
