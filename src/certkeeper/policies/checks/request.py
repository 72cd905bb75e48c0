"""Checks of the Secret against the current CertificateRequest, and of that request against the spec. Pure.

Follows ``SecretPublicKeyDiffersFromCurrentCertificateRequest``,
``CurrentCertificateRequestMismatchesSpec`` and its fallback ``currentSecretValidForSpec`` in
cert-manager's ``internal/controller/certificates/policies/checks.go``.

The current request (revision ``status.revision``) is the source of truth for what the Secret's
certificate was issued for: comparing the spec with the request, rather than with the certificate,
avoids re-issuing when an issuer rewrote some fields. Without a current request (deleted, or never
recorded) the certificate itself is compared, loosely, since CAs move names between the commonName
and the dnsNames. A request whose CSR cannot be read is no reason to re-issue: the certificate in the
Secret may still be fine.
"""

from __future__ import annotations

from datetime import datetime

from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm

from certkeeper.pki.csr import csr_public_key
from certkeeper.pki.errors import PkiError
from certkeeper.pki.from_spec import certificate_template, request_matches_spec
from certkeeper.pki.keys import public_keys_equal
from certkeeper.pki.match import fuzzy_certificate_mismatches
from certkeeper.pki.pem import load_pem_certificate_request
from certkeeper.policies.checks.prerequisites import (
    invalid_certificate,
    require_certificate,
    require_private_key_public_half,
)
from certkeeper.policies.input import PolicyInput
from certkeeper.policies.reasons import Reason, Violation


def _paths(violations: list[str]) -> str:
    """A list of field paths as Go's ``%v`` prints a ``[]string``."""
    return "[" + " ".join(violations) + "]"


def secret_public_key_differs_from_current_request(policy_input: PolicyInput, now: datetime) -> Violation | None:
    """SecretMismatch when ``tls.key`` is not the key the current request's CSR was made with.

    Without a current request there is nothing to compare. A CSR that does not parse gives
    InvalidCertificateRequest.
    """
    request = policy_input.current_revision_request
    if request is None:
        return None
    private_key = require_private_key_public_half(policy_input)
    if isinstance(private_key, Violation):
        return private_key
    try:
        csr = load_pem_certificate_request(request.spec.request)
    except PkiError as exc:
        return Violation(
            reason=Reason.INVALID_CERTIFICATE_REQUEST, message=f"Failed to decode current CertificateRequest: {exc}"
        )
    try:
        request_key = csr_public_key(csr)
    except (PkiError, UnsupportedAlgorithm, ValueError) as exc:
        return Violation(
            reason=Reason.INVALID_CERTIFICATE_REQUEST, message=f"CertificateRequest's public key is invalid: {exc}"
        )
    if public_keys_equal(request_key, private_key):
        return None
    return Violation(
        reason=Reason.SECRET_MISMATCH,
        message="Secret contains a private key that does not match the current CertificateRequest",
    )


def current_request_mismatches_spec(policy_input: PolicyInput, now: datetime) -> Violation | None:
    """RequestChanged when the current request was made for other values than the spec now holds.

    Falls back to :func:`current_certificate_mismatches_spec` when there is no current request.
    """
    request = policy_input.current_revision_request
    if request is None:
        return current_certificate_mismatches_spec(policy_input, now)
    try:
        violations = request_matches_spec(request, policy_input.certificate.spec)
    except PkiError:
        # As upstream: an unreadable request is no verdict on the certificate in the Secret.
        return None
    if not violations:
        return None
    return Violation(
        reason=Reason.REQUEST_CHANGED,
        message=f"Fields on existing CertificateRequest resource not up to date: {_paths(violations)}",
    )


def _fuzzy_mismatches(certificate: x509.Certificate, policy_input: PolicyInput) -> list[str] | Violation | None:
    try:
        template = certificate_template(policy_input.certificate.spec)
    except PkiError:
        # A spec the webhook would refuse (an unparseable duration): nothing to compare against.
        return None
    try:
        return fuzzy_certificate_mismatches(certificate, template)
    except PkiError as exc:
        # Go refuses to parse a certificate with malformed extensions; so do we, at this point.
        return invalid_certificate(exc)


def current_certificate_mismatches_spec(policy_input: PolicyInput, now: datetime) -> Violation | None:
    """SecretMismatch when the names in ``tls.crt`` differ from the spec's (used without a current request).

    commonName and dnsNames are compared as one set; IP addresses, URIs and emails as lists.
    """
    certificate = require_certificate(policy_input)
    if isinstance(certificate, Violation):
        return certificate
    violations = _fuzzy_mismatches(certificate, policy_input)
    if violations is None or isinstance(violations, Violation):
        return violations
    if not violations:
        return None
    return Violation(
        reason=Reason.SECRET_MISMATCH,
        message=f"Issuing certificate as Existing issued Secret is not up to date for spec: {_paths(violations)}",
    )


__all__ = [
    "current_certificate_mismatches_spec",
    "current_request_mismatches_spec",
    "secret_public_key_differs_from_current_request",
]
