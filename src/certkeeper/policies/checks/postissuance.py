"""Post-issuance checks of the Secret's metadata and extra data: what to rewrite, never a reason to reissue. Pure.

Follows ``SecretBaseLabelsMismatch``, ``SecretCertificateDetailsAnnotationsMismatch``,
``SecretManagedLabelsAndAnnotationsManagedFieldsMismatch``, ``SecretSecretTemplateMismatch``,
``SecretSecretTemplateManagedFieldsMismatch``, ``SecretAdditionalOutputFormatsMismatch``,
``SecretAdditionalOutputFormatsManagedFieldsMismatch``, ``SecretOwnerReferenceMismatch``,
``SecretOwnerReferenceManagedFieldMismatch`` and ``SecretKeystoreFormatMismatch`` in cert-manager's
``internal/controller/certificates/policies/checks.go``, with their reasons and messages.

Value checks compare only keys present on both sides; missing and extra keys are found by the
"managed" checks, which compare with what certkeeper last applied (:class:`AppliedSecretFields`, our
emulation of server-side-apply managed fields). Those and the owner-reference checks need a
parameter, so they are built by factories that return a check. Without a Secret there is nothing to
rewrite: every check here returns None (the trigger chain reports the missing Secret).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from certkeeper.api.annotations import (
    CERTIFICATE_NAME_KEY,
    ISSUER_GROUP_ANNOTATION,
    ISSUER_KIND_ANNOTATION,
    ISSUER_NAME_ANNOTATION,
    PART_OF_CERT_MANAGER_CONTROLLER_LABEL,
)
from certkeeper.api.certmanager import Certificate
from certkeeper.api.constants import (
    COMBINED_PEM_KEY,
    DER_KEY_KEY,
    OUTPUT_FORMAT_COMBINED_PEM,
    OUTPUT_FORMAT_DER,
    TLS_CERT_KEY,
    TLS_PRIVATE_KEY_KEY,
)
from certkeeper.api.core import Secret
from certkeeper.api.meta import OwnerReference
from certkeeper.pki.errors import PkiError
from certkeeper.pki.outputs import combine_pem
from certkeeper.pki.pem import decode_private_key_block, load_pem_certificate
from certkeeper.policies.certificate_annotations import CertificateDetailsError, annotations_for_certificate
from certkeeper.policies.input import Check, PolicyInput
from certkeeper.policies.managed_fields import AppliedSecretFields
from certkeeper.policies.reasons import Reason, Violation

_CERT_MANAGER_PREFIXES = ("cert-manager.io/", "controller.cert-manager.io/")
#: Annotations the issuing controller owns but whose values other checks compare (trigger chain).
_ISSUANCE_ANNOTATIONS = frozenset(
    {CERTIFICATE_NAME_KEY, ISSUER_NAME_ANNOTATION, ISSUER_KIND_ANNOTATION, ISSUER_GROUP_ANNOTATION}
)


def _go_list(values: set[str] | frozenset[str]) -> str:
    """A set as Go's ``%v`` prints ``sets.List``: sorted, space-separated, in brackets."""
    return "[" + " ".join(sorted(values)) + "]"


def first_mismatching_key(expected: Mapping[str, str] | None, actual: Mapping[str, str] | None) -> str | None:
    """The first key (sorted) present in both maps with different values, or None (``mapsHaveMatchingValues``)."""
    expected, actual = expected or {}, actual or {}
    for key in sorted(expected.keys() & actual.keys()):
        if expected[key] != actual[key]:
            return key
    return None


def _details_annotations(secret: Secret) -> dict[str, str] | Violation:
    """The annotations ``tls.crt`` calls for (none without a certificate), or InvalidCertificate."""
    data = (secret.data or {}).get(TLS_CERT_KEY)
    try:
        return annotations_for_certificate(load_pem_certificate(data) if data else None)
    except (PkiError, CertificateDetailsError) as exc:
        return Violation(reason=Reason.INVALID_CERTIFICATE, message=f"Failed getting secret annotations: {exc}")


def secret_base_labels_mismatch(policy_input: PolicyInput, now: datetime) -> Violation | None:
    """SecretManagedMetadataMismatch when the ``controller.cert-manager.io/fao`` label is present but not "true"."""
    secret = policy_input.secret
    labels = (secret.metadata.labels or {}) if secret is not None else {}
    value = labels.get(PART_OF_CERT_MANAGER_CONTROLLER_LABEL)
    if value is None or value == "true":
        return None
    return Violation(
        reason=Reason.SECRET_MANAGED_METADATA_MISMATCH,
        message=f'wrong base label {PART_OF_CERT_MANAGER_CONTROLLER_LABEL} value "{value}", expected "true"',
    )


def secret_certificate_details_annotations_mismatch(policy_input: PolicyInput, now: datetime) -> Violation | None:
    """SecretTemplateMismatch (upstream's reason) when a details annotation disagrees with ``tls.crt``."""
    secret = policy_input.secret
    if secret is None:
        return None
    expected = _details_annotations(secret)
    if isinstance(expected, Violation):
        return expected
    actual = secret.metadata.annotations or {}
    key = first_mismatching_key(expected, actual)
    if key is None:
        return None
    return Violation(
        reason=Reason.SECRET_TEMPLATE_MISMATCH,
        message=f"Secret metadata {actual[key]} does not match certificate metadata {expected[key]}",
    )


def _parse_error(applied: AppliedSecretFields) -> Violation | None:
    if applied.parse_error is None:
        return None
    return Violation(
        reason=Reason.MANAGED_FIELDS_PARSE_ERROR,
        message=f"failed to decode managed fields on Secret: {applied.parse_error}",
    )


def _set_mismatch(kind: str, expected: set[str], applied: set[str], reason: Reason, qualifier: str) -> Violation | None:
    """Missing keys first ("missing these <qualifier> <kind>"), then extra ones, as upstream words them."""
    if applied == expected:
        return None
    missing = expected - applied
    if missing:
        return Violation(reason=reason, message=f"Secret is missing these {qualifier} {kind}: {_go_list(missing)}")
    return Violation(reason=reason, message=f"Secret has these extra {kind}: {_go_list(applied - expected)}")


def secret_managed_labels_and_annotations_mismatch(applied: AppliedSecretFields) -> Check:
    """SecretManagedMetadataMismatch when certkeeper's own labels/annotations on the Secret are not exactly
    the base label and the details annotations ``tls.crt`` calls for."""

    def check(policy_input: PolicyInput, now: datetime) -> Violation | None:
        secret = policy_input.secret
        if secret is None:
            return None
        error = _parse_error(applied)
        if error is not None:
            return error
        own_labels = {key for key in applied.labels if key.startswith(_CERT_MANAGER_PREFIXES)}
        own_annotations = {
            key for key in applied.annotations if key.startswith(_CERT_MANAGER_PREFIXES)
        } - _ISSUANCE_ANNOTATIONS
        details = _details_annotations(secret)
        if isinstance(details, Violation):
            return details
        reason = Reason.SECRET_MANAGED_METADATA_MISMATCH
        return _set_mismatch(
            "Labels", {PART_OF_CERT_MANAGER_CONTROLLER_LABEL}, own_labels, reason, "Managed"
        ) or _set_mismatch("Annotations", set(details), own_annotations, reason, "Managed")

    return check


def secret_template_mismatch(policy_input: PolicyInput, now: datetime) -> Violation | None:
    """SecretTemplateMismatch when a ``spec.secretTemplate`` annotation or label has another value on the Secret."""
    secret = policy_input.secret
    template = policy_input.certificate.spec.secret_template
    if secret is None or template is None:
        return None
    if first_mismatching_key(template.annotations, secret.metadata.annotations) is not None:
        return Violation(
            reason=Reason.SECRET_TEMPLATE_MISMATCH,
            message="Certificate's SecretTemplate Annotations missing or incorrect value on Secret",
        )
    if first_mismatching_key(template.labels, secret.metadata.labels) is not None:
        return Violation(
            reason=Reason.SECRET_TEMPLATE_MISMATCH,
            message="Certificate's SecretTemplate Labels missing or incorrect value on Secret",
        )
    return None


def secret_template_managed_fields_mismatch(applied: AppliedSecretFields) -> Check:
    """SecretTemplateMismatch when the non-cert-manager labels/annotations certkeeper applied are not exactly
    the keys of ``spec.secretTemplate``."""

    def check(policy_input: PolicyInput, now: datetime) -> Violation | None:
        if policy_input.secret is None:
            return None
        error = _parse_error(applied)
        if error is not None:
            return error
        template = policy_input.certificate.spec.secret_template
        expected_labels = set(template.labels or {}) if template is not None else set()
        expected_annotations = set(template.annotations or {}) if template is not None else set()
        labels = {key for key in applied.labels if not key.startswith(_CERT_MANAGER_PREFIXES)}
        annotations = {key for key in applied.annotations if not key.startswith(_CERT_MANAGER_PREFIXES)}
        reason = Reason.SECRET_TEMPLATE_MISMATCH
        return _set_mismatch("Labels", expected_labels, labels, reason, "Template") or _set_mismatch(
            "Annotations", expected_annotations, annotations, reason, "Template"
        )

    return check


def _output_formats(certificate: Certificate) -> list[str]:
    return [output.type for output in certificate.spec.additional_output_formats or ()]


def _der_of(key_pem: bytes) -> bytes | None:
    try:
        return decode_private_key_block(key_pem).der
    except PkiError:
        return None


def secret_additional_output_formats_mismatch(policy_input: PolicyInput, now: datetime) -> Violation | None:
    """AdditionalOutputFormatsMismatch when ``key.der`` / ``tls-combined.pem`` is missing or stale."""
    secret = policy_input.secret
    if secret is None:
        return None
    data = secret.data or {}
    key_pem, chain_pem = data.get(TLS_PRIVATE_KEY_KEY, b""), data.get(TLS_CERT_KEY, b"")
    for output_type in _output_formats(policy_input.certificate):
        if output_type == OUTPUT_FORMAT_COMBINED_PEM:
            stale = data.get(COMBINED_PEM_KEY) != combine_pem(key_pem, chain_pem)
        elif output_type == OUTPUT_FORMAT_DER:
            expected = _der_of(key_pem)
            stale = expected is None or data.get(DER_KEY_KEY) != expected
        else:
            continue
        if stale:
            return Violation(
                reason=Reason.ADDITIONAL_OUTPUT_FORMATS_MISMATCH,
                message="Certificate's AdditionalOutputFormats doesn't match Secret Data",
            )
    return None


def secret_additional_output_formats_managed_fields_mismatch(applied: AppliedSecretFields) -> Check:
    """AdditionalOutputFormatsMismatch when certkeeper applied ``key.der`` / ``tls-combined.pem`` exactly when
    the spec does not ask for it."""

    def check(policy_input: PolicyInput, now: datetime) -> Violation | None:
        if policy_input.secret is None:
            return None
        error = _parse_error(applied)
        if error is not None:
            return error
        formats = _output_formats(policy_input.certificate)
        if (OUTPUT_FORMAT_COMBINED_PEM in formats) == (COMBINED_PEM_KEY in applied.data) and (
            OUTPUT_FORMAT_DER in formats
        ) == (DER_KEY_KEY in applied.data):
            return None
        return Violation(
            reason=Reason.ADDITIONAL_OUTPUT_FORMATS_MISMATCH,
            message="Certificate's AdditionalOutputFormats doesn't match Secret ManagedFields",
        )

    return check


def certificate_owner_reference(certificate: Certificate) -> OwnerReference:
    """The controller owner reference a Certificate puts on its Secret (Kubernetes' ``NewControllerRef``)."""
    return OwnerReference(
        api_version=Certificate.API_VERSION,
        kind=Certificate.kind_name(),
        name=certificate.name,
        uid=certificate.metadata.uid or "",
        controller=True,
        block_owner_deletion=True,
    )


def _flag(owner_ref_enabled: bool) -> str:
    return f"--enable-certificate-owner-ref={'true' if owner_ref_enabled else 'false'}"


def secret_owner_reference_mismatch(owner_ref_enabled: bool) -> Check:
    """SecretOwnerRefMismatch when owner references are enabled and the Secret lacks the exact one to the
    Certificate."""

    def check(policy_input: PolicyInput, now: datetime) -> Violation | None:
        secret = policy_input.secret
        if secret is None or not owner_ref_enabled:
            return None
        expected = certificate_owner_reference(policy_input.certificate)
        # Owner references are keyed by UID, so at most one can carry the Certificate's.
        for ref in secret.metadata.owner_references or ():
            if ref.uid == expected.uid:
                if ref == expected:
                    return None
                break
        return Violation(
            reason=Reason.SECRET_OWNER_REF_MISMATCH,
            message=f"unexpected Secret Owner Reference value on Secret {_flag(owner_ref_enabled)}",
        )

    return check


def secret_owner_reference_managed_field_mismatch(owner_ref_enabled: bool, applied: AppliedSecretFields) -> Check:
    """SecretOwnerRefMismatch when certkeeper applied the owner reference to the Certificate but should not
    have, or should have but did not."""

    def check(policy_input: PolicyInput, now: datetime) -> Violation | None:
        if policy_input.secret is None:
            return None
        error = _parse_error(applied)
        if error is not None:
            return error
        applied_ref = (policy_input.certificate.metadata.uid or "") in applied.owner_reference_uids
        if applied_ref == owner_ref_enabled:
            return None
        return Violation(
            reason=Reason.SECRET_OWNER_REF_MISMATCH,
            message=f"unexpected managed Secret Owner Reference field on Secret {_flag(owner_ref_enabled)}",
        )

    return check


__all__ = [
    "certificate_owner_reference",
    "first_mismatching_key",
    "secret_additional_output_formats_managed_fields_mismatch",
    "secret_additional_output_formats_mismatch",
    "secret_base_labels_mismatch",
    "secret_certificate_details_annotations_mismatch",
    "secret_managed_labels_and_annotations_mismatch",
    "secret_owner_reference_managed_field_mismatch",
    "secret_owner_reference_mismatch",
    "secret_template_managed_fields_mismatch",
    "secret_template_mismatch",
]
