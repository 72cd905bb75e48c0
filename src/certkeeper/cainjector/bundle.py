"""Merge CA certificates into a target's existing ``caBundle`` (the CAInjectorMerging gate). Pure.

Follows cert-manager's ``internal/cainjector/bundle/bundle.go`` (``AppendCertificatesToBundle``) and the
fallback around it in ``pkg/controller/cainjector/injectables.go``:

* the certificates already in the bundle come first, then the new ones, each certificate once (by its
  DER bytes), and every certificate that has expired at ``now`` is dropped, old or new;
* the result is re-encoded as PEM, so comments and other text between blocks disappear;
* when either side cannot be parsed (not PEM, not a certificate, over the bundle size limit), the new
  CA data replaces the bundle unchanged, which was the injector's behaviour before merging existed.

An empty existing bundle is not an error, nor is empty CA data. ``now`` is a parameter: a certificate
is kept while ``now`` is not after its notAfter, as Go's ``!now.After(NotAfter)``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

from certkeeper.pki.errors import PkiError
from certkeeper.pki.pem import encode_pem_certificates, load_pem_certificate_bundle


class BundleError(ValueError):
    """The existing bundle or the new CA data is not a parseable set of PEM certificates."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Bundle:
    """The ``caBundle`` to write and when it will next need pruning."""

    pem: bytes
    #: The earliest notAfter among the certificates kept, after which a merge would drop one; None when
    #: the bundle was replaced rather than merged (nothing of it was parsed) or is empty.
    next_expiry: datetime | None


def _decode(data: bytes, what: str) -> list[x509.Certificate]:
    if not data:
        return []
    try:
        return load_pem_certificate_bundle(data)
    except PkiError as exc:
        raise BundleError(f"failed to parse {what}: {exc}") from None


def _der(certificate: x509.Certificate) -> bytes:
    return certificate.public_bytes(Encoding.DER)


def append_certificates_to_bundle(bundle: bytes, additional: bytes, *, now: datetime) -> Bundle:
    """``bundle`` with the certificates of ``additional`` appended, duplicates and expired ones removed.

    Raises :class:`BundleError` when either input is non-empty and not a set of PEM certificates.
    """
    existing = _decode(bundle, "bundle")
    new = _decode(additional, "additional certificates")
    seen: set[bytes] = set()
    kept: list[x509.Certificate] = []
    for certificate in (*existing, *new):
        der = _der(certificate)
        if der in seen or now > certificate.not_valid_after_utc:
            continue
        seen.add(der)
        kept.append(certificate)
    return Bundle(pem=encode_pem_certificates(kept), next_expiry=_earliest_expiry(kept))


def _earliest_expiry(certificates: Sequence[x509.Certificate]) -> datetime | None:
    return min((c.not_valid_after_utc for c in certificates), default=None)


def inject_ca(existing: bytes, ca: bytes, *, now: datetime, merge: bool = True) -> Bundle:
    """The bundle a target should hold after injecting ``ca`` into ``existing``.

    With ``merge`` (CAInjectorMerging, GA), the certificates are merged and pruned; if either side does
    not parse, or without ``merge``, ``ca`` replaces the bundle as it is.
    """
    if merge:
        try:
            return append_certificates_to_bundle(existing, ca, now=now)
        except BundleError:
            pass
    return Bundle(pem=ca, next_expiry=None)


__all__ = ["Bundle", "BundleError", "append_certificates_to_bundle", "inject_ca"]
