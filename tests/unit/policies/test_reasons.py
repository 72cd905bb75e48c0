"""The reason vocabulary is API: the wire strings must be cert-manager's exactly."""

import pytest

from certkeeper.policies.reasons import READY_MESSAGE, Reason, Violation

WIRE = {
    Reason.DOES_NOT_EXIST: "DoesNotExist",
    Reason.MISSING_DATA: "MissingData",
    Reason.INVALID_KEY_PAIR: "InvalidKeyPair",
    Reason.INVALID_CERTIFICATE: "InvalidCertificate",
    Reason.INVALID_CERTIFICATE_REQUEST: "InvalidCertificateRequest",
    Reason.SECRET_MISMATCH: "SecretMismatch",
    Reason.INCORRECT_ISSUER: "IncorrectIssuer",
    Reason.INCORRECT_CERTIFICATE: "IncorrectCertificate",
    Reason.REQUEST_CHANGED: "RequestChanged",
    Reason.RENEWING: "Renewing",
    Reason.EXPIRED: "Expired",
    Reason.WINDOW_ERROR: "WindowError",
    Reason.ARI_ERROR: "ARIError",
    Reason.SECRET_TEMPLATE_MISMATCH: "SecretTemplateMismatch",
    Reason.SECRET_MANAGED_METADATA_MISMATCH: "SecretManagedMetadataMismatch",
    Reason.RENEWAL_DISABLED: "Disabled",
    Reason.ADDITIONAL_OUTPUT_FORMATS_MISMATCH: "AdditionalOutputFormatsMismatch",
    Reason.MANAGED_FIELDS_PARSE_ERROR: "ManagedFieldsParseError",
    Reason.SECRET_OWNER_REF_MISMATCH: "SecretOwnerRefMismatch",
    Reason.MANUALLY_TRIGGERED: "ManuallyTriggered",
    Reason.READY: "Ready",
}


@pytest.mark.parametrize(("reason", "wire"), WIRE.items(), ids=[r.name for r in WIRE])
def test_reason_is_the_upstream_wire_string(reason: Reason, wire: str) -> None:
    assert reason == wire
    assert f"{reason}" == wire


def test_vocabulary_is_closed() -> None:
    assert set(Reason) == set(WIRE)


def test_ready_message_and_violation_value() -> None:
    assert READY_MESSAGE == "Certificate is up to date and has not expired"
    violation = Violation(reason=Reason.EXPIRED, message="m")
    assert violation == Violation(reason=Reason.EXPIRED, message="m")
    with pytest.raises(AttributeError):
        violation.message = "other"  # type: ignore[misc]  # proving the value is frozen
