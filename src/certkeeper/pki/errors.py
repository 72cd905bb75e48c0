"""The exception tree of the pki layer. Pure.

Every error raised for bad input by ``certkeeper.pki`` is a :class:`PkiError`, which is a
``ValueError`` so callers that only care about "bad data" can catch that::

    PkiError(ValueError)
    ├── PemTooLarge            input larger than the configured PEM limit (checked before parsing)
    ├── InvalidPem             no PEM block, wrong block type, or DER that does not parse
    ├── UnsupportedKey         key algorithm, size or curve certkeeper does not handle
    ├── InvalidSubject         literal subject or subject fields that cannot be encoded
    ├── InvalidTemplate        SANs, usages, name constraints or signature algorithm that cannot be encoded
    ├── InvalidCsr             a CSR whose signature, extensions or content do not fit the request
    ├── InvalidChain           certificates that do not form a single chain
    ├── SigningError           signer key and issuer certificate (or public key) do not belong together
    └── RenewalWindowError     no renewal window fits; carries the desired renewal time

Messages never contain key material: key parsing errors say what failed, not what was parsed.
"""

from __future__ import annotations

from datetime import datetime


class PkiError(ValueError):
    """Base class of every error the pki layer raises for bad input."""


class PemTooLarge(PkiError):
    """PEM input longer than the limit for its kind; raised before any parsing (cert-manager's message)."""

    def __init__(self, limit: int, *, context: str = "") -> None:
        prefix = f"{context}: " if context else ""
        super().__init__(f"{prefix}provided PEM data was larger than the maximum {limit}B")
        self.limit = limit


class InvalidPem(PkiError):
    """No usable PEM block, an unexpected block type, or DER content that does not parse."""


class UnsupportedKey(PkiError):
    """A key algorithm, size or curve that cert-manager (and so certkeeper) does not support."""


class InvalidSubject(PkiError):
    """A literal subject or subject attribute that is malformed or cannot be encoded."""


class InvalidTemplate(PkiError):
    """A certificate template field (SAN, usage, name constraint, algorithm) that cannot be encoded."""


class InvalidCsr(PkiError):
    """A CSR that does not verify, has malformed extensions, or contradicts the request's fields."""


class InvalidChain(PkiError):
    """Certificates that are not one unbroken chain (cert-manager's ``InvalidData`` chain errors)."""


class SigningError(PkiError):
    """The signing key does not belong to the issuer certificate (or, self-signed, to the subject key)."""


class RenewalWindowError(PkiError):
    """No renewal window contains or follows the desired renewal time.

    ``desired`` is the renewal time computed without windows; cert-manager still uses it (and reports
    the ``WindowError`` reason), so callers get it here instead of losing it with the exception.
    """

    def __init__(self, message: str, *, desired: datetime | None) -> None:
        super().__init__(message)
        self.desired = desired
