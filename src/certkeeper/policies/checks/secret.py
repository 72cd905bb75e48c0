"""Checks of the Secret alone: exists, has data, holds a matching key pair issued by our issuer for us. Pure.

Follows ``SecretDoesNotExist``, ``SecretIsMissingData``, ``SecretPublicKeysDiffer``,
``SecretIssuerAnnotationsMismatch``, ``SecretCertificateNameAnnotationsMismatch`` and
``SecretPrivateKeyMismatchesSpec`` in cert-manager's
``internal/controller/certificates/policies/checks.go``, with their reasons and messages. Each
check takes ``(input, now)`` and returns a :class:`Violation` or None; ``now`` is unused here but
keeps every check the same shape.
"""

from __future__ import annotations

from datetime import datetime

from cryptography.exceptions import UnsupportedAlgorithm

from certkeeper.api.annotations import (
    CERTIFICATE_NAME_KEY,
    ISSUER_GROUP_ANNOTATION,
    ISSUER_KIND_ANNOTATION,
    ISSUER_NAME_ANNOTATION,
)
from certkeeper.api.cmmeta import IssuerReference
from certkeeper.api.core import Secret
from certkeeper.api.defaults import issuer_group, issuer_kind
from certkeeper.api.gojson import go_quote
from certkeeper.pki.errors import PkiError
from certkeeper.pki.from_spec import private_key_matches_spec
from certkeeper.pki.keys import public_keys_equal, supported_public_key
from certkeeper.policies.checks.prerequisites import (
    require_certificate,
    require_data,
    require_private_key_public_half,
    require_secret,
)
from certkeeper.policies.input import PolicyInput
from certkeeper.policies.reasons import Reason, Violation

_ISSUER_ANNOTATIONS = (ISSUER_NAME_ANNOTATION, ISSUER_KIND_ANNOTATION, ISSUER_GROUP_ANNOTATION)


def secret_does_not_exist(policy_input: PolicyInput, now: datetime) -> Violation | None:
    """DoesNotExist when there is no Secret named ``spec.secretName``."""
    secret = require_secret(policy_input)
    return secret if isinstance(secret, Violation) else None


def secret_is_missing_data(policy_input: PolicyInput, now: datetime) -> Violation | None:
    """MissingData when the Secret has no data, no ``tls.key`` or no ``tls.crt`` (in that order)."""
    data = require_data(policy_input)
    return data if isinstance(data, Violation) else None


def secret_public_keys_differ(policy_input: PolicyInput, now: datetime) -> Violation | None:
    """InvalidKeyPair / InvalidCertificate when ``tls.key`` or ``tls.crt`` does not parse or they do not pair."""
    private_key = require_private_key_public_half(policy_input)
    if isinstance(private_key, Violation):
        return private_key
    certificate = require_certificate(policy_input)
    if isinstance(certificate, Violation):
        return certificate
    try:
        certificate_key = supported_public_key(certificate.public_key())
    except (PkiError, UnsupportedAlgorithm, ValueError) as exc:
        return Violation(reason=Reason.INVALID_KEY_PAIR, message=f"Secret contains an invalid key-pair: {exc}")
    if not public_keys_equal(certificate_key, private_key):
        return Violation(
            reason=Reason.INVALID_KEY_PAIR,
            message="Issuing certificate as Secret contains a private key that does not match the certificate",
        )
    return None


def secret_issuer_annotations_match(secret: Secret, issuer_ref: IssuerReference) -> bool:
    """Whether the Secret's issuer annotations name ``issuer_ref`` (cert-manager's ``SecretIssuerAnnotationsMatch``).

    The name is compared only when at least one issuer annotation is present; kind and group are
    always compared, with empty meaning ``Issuer`` and ``cert-manager.io``. So a Secret without
    annotations matches a namespaced cert-manager.io Issuer of any name, and nothing else.
    """
    annotations = secret.metadata.annotations or {}
    present = any(key in annotations for key in _ISSUER_ANNOTATIONS)
    if present and annotations.get(ISSUER_NAME_ANNOTATION, "") != issuer_ref.name:
        return False
    recorded = IssuerReference(
        name=issuer_ref.name,
        kind=annotations.get(ISSUER_KIND_ANNOTATION),
        group=annotations.get(ISSUER_GROUP_ANNOTATION),
    )
    return issuer_kind(recorded) == issuer_kind(issuer_ref) and issuer_group(recorded) == issuer_group(issuer_ref)


def format_issuer_ref(name: str, kind: str, group: str) -> str:
    """``Kind.group/name`` with the default kind and group filled in."""
    return f"{kind or 'Issuer'}.{group or 'cert-manager.io'}/{name}"


def secret_issuer_annotations_mismatch(policy_input: PolicyInput, now: datetime) -> Violation | None:
    """IncorrectIssuer when the Secret was issued by another issuer than ``spec.issuerRef``."""
    secret = require_secret(policy_input)
    if isinstance(secret, Violation):
        return secret
    if secret_issuer_annotations_match(secret, policy_input.certificate.spec.issuer_ref):
        return None
    annotations = secret.metadata.annotations or {}
    issuer = format_issuer_ref(
        annotations.get(ISSUER_NAME_ANNOTATION, ""),
        annotations.get(ISSUER_KIND_ANNOTATION, ""),
        annotations.get(ISSUER_GROUP_ANNOTATION, ""),
    )
    return Violation(
        reason=Reason.INCORRECT_ISSUER,
        message=f"Issuing certificate as Secret was previously issued by {go_quote(issuer)}",
    )


def secret_certificate_name_annotation_mismatch(policy_input: PolicyInput, now: datetime) -> Violation | None:
    """IncorrectCertificate when the Secret's certificate-name annotation is present and names another Certificate."""
    secret = require_secret(policy_input)
    if isinstance(secret, Violation):
        return secret
    annotations = secret.metadata.annotations or {}
    if CERTIFICATE_NAME_KEY not in annotations:
        return None
    name = annotations[CERTIFICATE_NAME_KEY]
    if name == policy_input.certificate.name:
        return None
    return Violation(
        reason=Reason.INCORRECT_CERTIFICATE,
        message=(
            f"Secret was issued for {go_quote(name)}. If this message is not transient, you might have two "
            "conflicting Certificates pointing to the same secret."
        ),
    )


def secret_private_key_mismatches_spec(policy_input: PolicyInput, now: datetime) -> Violation | None:
    """SecretMismatch when ``tls.key`` has another algorithm or size than ``spec.privateKey`` asks."""
    private_key = require_private_key_public_half(policy_input)
    if isinstance(private_key, Violation):
        return private_key
    try:
        violations = private_key_matches_spec(private_key, policy_input.certificate.spec)
    except PkiError:
        # An algorithm the webhook would have refused (upstream panics): no key can match it.
        violations = ["spec.privateKey.algorithm"]
    if not violations:
        return None
    return Violation(
        reason=Reason.SECRET_MISMATCH,
        message=f"Existing private key is not up to date for spec: [{' '.join(violations)}]",
    )


__all__ = [
    "format_issuer_ref",
    "secret_certificate_name_annotation_mismatch",
    "secret_does_not_exist",
    "secret_is_missing_data",
    "secret_issuer_annotations_match",
    "secret_issuer_annotations_mismatch",
    "secret_private_key_mismatches_spec",
    "secret_public_keys_differ",
]
