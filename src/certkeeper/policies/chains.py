"""The policy chains: ordered checks where the first violation wins. Pure.

Follows ``internal/controller/certificates/policies/policies.go`` (``NewTriggerPolicyChain``,
``NewReadinessPolicyChain``, ``NewTemporaryCertificatePolicyChain``,
``NewSecretPostIssuancePolicyChain``), the Ready condition of
``pkg/controller/certificates/readiness/readiness_controller.go`` (``BuildReadyConditionFromChain``)
and the WindowError handling of ``pkg/controller/certificates/trigger/trigger_controller.go``.

Order matters for which reason is reported, and the tests pin it::

    trigger / readiness                      post-issuance (Secret rewrite only)
    1 secret_does_not_exist                  1 secret_base_labels_mismatch
    2 secret_is_missing_data                 2 secret_certificate_details_annotations_mismatch
    3 secret_public_keys_differ              3 managed labels and annotations (applied fields)
    4 secret_issuer_annotations_mismatch     4 secret_template_mismatch
    5 secret_certificate_name_annotation...  5 secret template (applied fields)
    6 secret_private_key_mismatches_spec     6 secret_additional_output_formats_mismatch
    7 secret_public_key_differs_from_cur...  7 additional output formats (applied fields)
    8 current_request_mismatches_spec        8 owner reference value
    9 trigger: ..._nearing_expiry            9 owner reference (applied fields)
      readiness: ..._has_expired            10 secret_keystore_format_mismatch

The temporary-certificate chain is checks 1-3.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Final

from certkeeper.api.certmanager import Certificate, CertificateCondition
from certkeeper.api.constants import CONDITION_FALSE, CONDITION_TRUE, CertificateConditionType
from certkeeper.policies.checks.expiry import (
    current_certificate_has_expired,
    current_certificate_nearing_expiry,
    format_status_renewal_time,
)
from certkeeper.policies.checks.keystores import secret_keystore_format_mismatch
from certkeeper.policies.checks.postissuance import (
    secret_additional_output_formats_managed_fields_mismatch,
    secret_additional_output_formats_mismatch,
    secret_base_labels_mismatch,
    secret_certificate_details_annotations_mismatch,
    secret_managed_labels_and_annotations_mismatch,
    secret_owner_reference_managed_field_mismatch,
    secret_owner_reference_mismatch,
    secret_template_managed_fields_mismatch,
    secret_template_mismatch,
)
from certkeeper.policies.checks.request import (
    current_request_mismatches_spec,
    secret_public_key_differs_from_current_request,
)
from certkeeper.policies.checks.secret import (
    secret_certificate_name_annotation_mismatch,
    secret_does_not_exist,
    secret_is_missing_data,
    secret_issuer_annotations_mismatch,
    secret_private_key_mismatches_spec,
    secret_public_keys_differ,
)
from certkeeper.policies.input import Check, PolicyInput
from certkeeper.policies.managed_fields import AppliedSecretFields
from certkeeper.policies.reasons import READY_MESSAGE, Reason, Violation

#: Checks 1-3: the Secret holds a usable key pair.
TEMPORARY_CERTIFICATE_CHECKS: Final[tuple[Check, ...]] = (
    secret_does_not_exist,
    secret_is_missing_data,
    secret_public_keys_differ,
)

#: Checks 1-8: the Secret holds what the spec asks for.
_SPEC_CHECKS: Final[tuple[Check, ...]] = (
    *TEMPORARY_CERTIFICATE_CHECKS,
    secret_issuer_annotations_mismatch,
    secret_certificate_name_annotation_mismatch,
    secret_private_key_mismatches_spec,
    secret_public_key_differs_from_current_request,
    current_request_mismatches_spec,
)

#: Should the Certificate be (re)issued?
TRIGGER_CHECKS: Final[tuple[Check, ...]] = (*_SPEC_CHECKS, current_certificate_nearing_expiry)

#: Is the Certificate Ready?
READINESS_CHECKS: Final[tuple[Check, ...]] = (*_SPEC_CHECKS, current_certificate_has_expired)


def evaluate(checks: Sequence[Check], policy_input: PolicyInput, now: datetime) -> Violation | None:
    """The first violation of ``checks`` in order, or None when every check passes."""
    for check in checks:
        violation = check(policy_input, now)
        if violation is not None:
            return violation
    return None


def trigger_chain(policy_input: PolicyInput, now: datetime) -> Violation | None:
    """Why the Certificate must be (re)issued now, or None."""
    return evaluate(TRIGGER_CHECKS, policy_input, now)


def readiness_chain(policy_input: PolicyInput, now: datetime) -> Violation | None:
    """Why the Certificate is not Ready, or None."""
    return evaluate(READINESS_CHECKS, policy_input, now)


def temporary_certificate_chain(policy_input: PolicyInput, now: datetime) -> Violation | None:
    """Why the Secret needs a temporary certificate while issuing (no usable key pair in it), or None."""
    return evaluate(TEMPORARY_CERTIFICATE_CHECKS, policy_input, now)


def post_issuance_checks(*, applied: AppliedSecretFields, owner_ref_enabled: bool) -> tuple[Check, ...]:
    """The post-issuance checks, given what certkeeper last applied to the Secret and whether
    ``--enable-certificate-owner-ref`` is on."""
    return (
        secret_base_labels_mismatch,
        secret_certificate_details_annotations_mismatch,
        secret_managed_labels_and_annotations_mismatch(applied),
        secret_template_mismatch,
        secret_template_managed_fields_mismatch(applied),
        secret_additional_output_formats_mismatch,
        secret_additional_output_formats_managed_fields_mismatch(applied),
        secret_owner_reference_mismatch(owner_ref_enabled),
        secret_owner_reference_managed_field_mismatch(owner_ref_enabled, applied),
        secret_keystore_format_mismatch,
    )


def post_issuance_chain(
    policy_input: PolicyInput, now: datetime, *, applied: AppliedSecretFields, owner_ref_enabled: bool
) -> Violation | None:
    """Why the issued Secret's metadata or extra data must be rewritten, or None.

    A violation with reason InvalidCertificate or ManagedFieldsParseError cannot be fixed by a
    rewrite; cert-manager logs it and stops, and so should the caller.
    """
    checks = post_issuance_checks(applied=applied, owner_ref_enabled=owner_ref_enabled)
    return evaluate(checks, policy_input, now)


def ready_condition(policy_input: PolicyInput, now: datetime) -> CertificateCondition:
    """The Ready condition the readiness chain calls for (times are the caller's to set)."""
    violation = readiness_chain(policy_input, now)
    if violation is None:
        return CertificateCondition(
            type=CertificateConditionType.READY.value,
            status=CONDITION_TRUE,
            reason=Reason.READY.value,
            message=READY_MESSAGE,
        )
    return CertificateCondition(
        type=CertificateConditionType.READY.value,
        status=CONDITION_FALSE,
        reason=violation.reason.value,
        message=violation.message,
    )


@dataclass(frozen=True, slots=True, kw_only=True)
class IssuingTrigger:
    """What the trigger sets on Issuing=True, and the Warning event to emit first, if any.

    ``window_error_event`` is the message of a Warning event with reason WindowError.
    """

    reason: str
    message: str
    window_error_event: str | None = None


def issuing_trigger(violation: Violation, certificate: Certificate) -> IssuingTrigger:
    """Turn a trigger-chain violation into the Issuing condition; a WindowError still renews, as Renewing."""
    if violation.reason is not Reason.WINDOW_ERROR:
        return IssuingTrigger(reason=violation.reason.value, message=violation.message)
    return IssuingTrigger(
        reason=Reason.RENEWING.value,
        message=(
            f"Renewing certificate without satisfying renewal windows at: {format_status_renewal_time(certificate)}"
        ),
        window_error_event=f"Renewing certificate without satisfying renewal windows due to {violation.message}",
    )


__all__ = [
    "READINESS_CHECKS",
    "TEMPORARY_CERTIFICATE_CHECKS",
    "TRIGGER_CHECKS",
    "IssuingTrigger",
    "evaluate",
    "issuing_trigger",
    "post_issuance_chain",
    "post_issuance_checks",
    "readiness_chain",
    "ready_condition",
    "temporary_certificate_chain",
    "trigger_chain",
]
