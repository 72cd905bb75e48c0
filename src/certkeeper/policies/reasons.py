"""The reasons a policy check gives, and the ``Violation`` value every check returns. Pure.

Reasons are API: the trigger controller copies them into the Issuing condition, the readiness
controller into the Ready condition, and both into events. The values are cert-manager's strings
exactly (``internal/controller/certificates/policies/constants.go``, plus the few reasons set around
the chains: ``Ready``, ``ManuallyTriggered``).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass


class Reason(enum.StrEnum):
    """Why a Certificate must be (re)issued, is not Ready, or why its Secret must be rewritten."""

    #: The Secret named by ``spec.secretName`` does not exist.
    DOES_NOT_EXIST = "DoesNotExist"
    #: The Secret has no data, or no ``tls.key``, or no ``tls.crt``.
    MISSING_DATA = "MissingData"
    #: ``tls.key`` does not parse, or it is not the key of the certificate in ``tls.crt``.
    INVALID_KEY_PAIR = "InvalidKeyPair"
    #: ``tls.crt`` does not parse (also: its details cannot be read for the Secret's annotations).
    INVALID_CERTIFICATE = "InvalidCertificate"
    #: The CSR of the current CertificateRequest does not parse, or its public key is unusable.
    INVALID_CERTIFICATE_REQUEST = "InvalidCertificateRequest"
    #: The Secret no longer fits the spec: wrong key algorithm/size, a key other than the current
    #: request's, names differing from the spec, or keystores that do not match ``spec.keystores``.
    SECRET_MISMATCH = "SecretMismatch"
    #: The Secret's issuer annotations name another issuer than ``spec.issuerRef``.
    INCORRECT_ISSUER = "IncorrectIssuer"
    #: The Secret's ``cert-manager.io/certificate-name`` annotation names another Certificate.
    INCORRECT_CERTIFICATE = "IncorrectCertificate"
    #: The current CertificateRequest was made for a different spec than the Certificate's.
    REQUEST_CHANGED = "RequestChanged"
    #: The renewal time (or the start of the ACME ARI window) has been reached.
    RENEWING = "Renewing"
    #: The certificate in the Secret has expired.
    EXPIRED = "Expired"
    #: No renewal time could be found within ``spec.renewal.windows`` (a cron or window problem).
    WINDOW_ERROR = "WindowError"
    #: ACME Renewal Information could not be fetched or does not apply to the Secret.
    ARI_ERROR = "ARIError"
    #: Labels/annotations of ``spec.secretTemplate`` are missing, extra or wrong on the Secret (also
    #: used by upstream when the certificate-details annotations disagree with ``tls.crt``).
    SECRET_TEMPLATE_MISMATCH = "SecretTemplateMismatch"
    #: Labels/annotations certkeeper manages on the Secret are missing, extra or wrong.
    SECRET_MANAGED_METADATA_MISMATCH = "SecretManagedMetadataMismatch"
    #: ``spec.renewal.policy`` is Disabled (declared upstream; no check returns it).
    RENEWAL_DISABLED = "Disabled"
    #: ``spec.additionalOutputFormats`` is not reflected in the Secret's data.
    ADDITIONAL_OUTPUT_FORMATS_MISMATCH = "AdditionalOutputFormatsMismatch"
    #: The record of what certkeeper last applied to the Secret cannot be decoded. Not retryable.
    MANAGED_FIELDS_PARSE_ERROR = "ManagedFieldsParseError"
    #: The Secret's owner reference to the Certificate is missing, wrong, or present when disabled.
    SECRET_OWNER_REF_MISMATCH = "SecretOwnerRefMismatch"
    #: Issuing=True set by a person (``cmctl renew``), not by a check.
    MANUALLY_TRIGGERED = "ManuallyTriggered"
    #: Ready=True: no readiness check found a violation.
    READY = "Ready"


#: Message of Ready=True.
READY_MESSAGE = "Certificate is up to date and has not expired"


@dataclass(frozen=True, slots=True, kw_only=True)
class Violation:
    """A failed check: the reason (API) and the human message (also API: it lands in conditions)."""

    reason: Reason
    message: str


__all__ = ["READY_MESSAGE", "Reason", "Violation"]
