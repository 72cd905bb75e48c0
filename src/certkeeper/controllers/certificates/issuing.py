"""certificates-issuing: stores a signed certificate in the Secret and completes the issuance.

Follows ``pkg/controller/certificates/issuing/issuing_controller.go``. While Issuing it waits for the
next private key and the one request of revision N+1 that matches the spec and that key; a denied,
invalid or failed request fails the issuance (``lastFailureTime``, ``failedIssuanceAttempts``,
Issuing=False with the request's reason); an issued one is checked (decodes, carries the CSR's key,
not expired) and written. When not Issuing it repairs Secret metadata and extra outputs that drifted
(the post-issuance chain), never re-issuing.
"""

from __future__ import annotations

import msgspec

from certkeeper.api.annotations import (
    ISSUE_TEMPORARY_CERTIFICATE_ANNOTATION,
    ISSUER_GROUP_ANNOTATION,
    ISSUER_KIND_ANNOTATION,
    ISSUER_NAME_ANNOTATION,
)
from certkeeper.api.certmanager import Certificate, CertificateCondition, CertificateRequest
from certkeeper.api.cmmeta import IssuerReference
from certkeeper.api.conditions import get_condition, remove_condition, set_condition
from certkeeper.api.constants import (
    TLS_CA_KEY,
    TLS_CERT_KEY,
    TLS_PRIVATE_KEY_KEY,
    CertificateRequestConditionType,
    CertificateRequestReason,
)
from certkeeper.api.core import Secret
from certkeeper.controllers.certificates.common import (
    ISSUING,
    is_issuing,
    next_private_key,
    owned_requests,
    request_revision,
    status_of,
    with_status,
)
from certkeeper.controllers.certificates.secretdata import (
    ISSUING_FIELD_MANAGER,
    IssuedData,
    SecretDataError,
    secret_apply,
)
from certkeeper.controllers.context import Context
from certkeeper.controllers.writes import now_seconds, status_write
from certkeeper.pki.errors import PkiError
from certkeeper.pki.from_spec import certificate_template, private_key_matches_spec, request_matches_spec
from certkeeper.pki.keys import PrivateKey, load_pem_private_key, public_keys_equal, supported_public_key
from certkeeper.pki.match import public_key_matches_csr
from certkeeper.pki.pem import load_pem_certificate, load_pem_certificate_request
from certkeeper.pki.sign import generate_temporary_certificate
from certkeeper.policies.chains import post_issuance_chain, temporary_certificate_chain
from certkeeper.policies.input import PolicyInput, next_revision
from certkeeper.policies.managed_fields import applied_fields_from_managed_fields
from certkeeper.policies.reasons import Reason
from certkeeper.runtime.events import Event
from certkeeper.runtime.outcome import NOTHING, Apply, Outcome
from certkeeper.store.resources import SECRETS

ISSUED_MESSAGE = "The certificate has been successfully issued"
FAILED_PREFIX = "The certificate request has failed to complete and will be retried: "


def _request_condition(request: CertificateRequest, condition_type: str) -> CertificateCondition | None:
    condition = get_condition(request.status.conditions if request.status else None, condition_type)
    if condition is None:
        return None
    return CertificateCondition(
        type=condition.type, status=condition.status, reason=condition.reason, message=condition.message
    )


def _fail(cert: Certificate, reason: str, message: str, ctx: Context) -> Outcome:
    status = status_of(cert)
    now = now_seconds(ctx.clock)
    full = FAILED_PREFIX + message
    conditions = set_condition(
        status.conditions,
        CertificateCondition(
            type=ISSUING, status="False", reason=reason, message=full, observed_generation=cert.metadata.generation
        ),
        now=now,
    )
    new_status = msgspec.structs.replace(
        status,
        conditions=conditions,
        last_failure_time=now,
        failed_issuance_attempts=(status.failed_issuance_attempts or 0) + 1,
    )
    return Outcome(
        status=status_write(with_status(cert, new_status)),
        events=(Event(type="Warning", reason=reason, message=full),),
    )


def _apply_secret(cert: Certificate, issued: IssuedData, ctx: Context) -> Apply:
    existing = ctx.secret(cert.namespace, cert.spec.secret_name)
    passwords: dict[str, Secret] = {}
    stores = cert.spec.keystores
    for ref in (
        stores.jks.password_secret_ref if stores and stores.jks else None,
        stores.pkcs12.password_secret_ref if stores and stores.pkcs12 else None,
    ):
        if ref is not None and ref.name:
            found = ctx.secret(cert.namespace, ref.name)
            if found is not None:
                passwords[ref.name] = found
    body = secret_apply(
        cert,
        issued,
        existing_type=existing.type if existing is not None else None,
        password_secrets=passwords,
        limits=ctx.options.pem_limits,
        owner_ref=ctx.options.enable_certificate_owner_ref,
        created_at=now_seconds(ctx.clock),
    )
    return Apply(resource=SECRETS, object=body, field_manager=ISSUING_FIELD_MANAGER)


def _issue(cert: Certificate, request: CertificateRequest, key: PrivateKey, revision: int, ctx: Context) -> Outcome:
    assert request.status is not None
    assert request.status.certificate is not None
    apply = _apply_secret(
        cert,
        IssuedData(
            private_key=key,
            certificate=request.status.certificate,
            ca=request.status.ca or None,
            issuer_ref=request.spec.issuer_ref,
        ),
        ctx,
    )
    status = status_of(cert)
    new_status = msgspec.structs.replace(
        status,
        revision=revision,
        conditions=remove_condition(status.conditions, ISSUING) or None,
        failed_issuance_attempts=None,
        last_failure_time=None,
    )
    return Outcome(
        applies=(apply,),
        status=status_write(with_status(cert, new_status)),
        events=(Event(type="Normal", reason="Issuing", message=ISSUED_MESSAGE),),
    )


def _verify_issued(request: CertificateRequest, ctx: Context) -> tuple[str, str] | None:
    """Why the issued certificate must not be stored (reason, message), or None."""
    assert request.status is not None
    try:
        certificate = load_pem_certificate(request.status.certificate or b"", limits=ctx.options.pem_limits)
        csr = load_pem_certificate_request(request.spec.request, limits=ctx.options.pem_limits)
    except PkiError as exc:
        return "InvalidCertificate", f"Issuer returned an invalid certificate: failed to decode: {exc}"
    if not public_keys_equal(supported_public_key(certificate.public_key()), supported_public_key(csr.public_key())):
        return (
            "InvalidCertificate",
            "Issuer returned a certificate with a public key that does not match the CSR. This usually indicates "
            "a misconfigured issuer.",
        )
    if ctx.clock.now() > certificate.not_valid_after_utc:
        when = certificate.not_valid_after_utc.strftime("%Y-%m-%dT%H:%M:%SZ")
        return (
            "InvalidCertificate",
            f"Issuer returned an already expired certificate (notAfter: {when}). This usually indicates an expired "
            "CA certificate in the issuer.",
        )
    return None


def _temporary_certificate(cert: Certificate, key: PrivateKey, ctx: Context) -> Outcome:
    if (cert.metadata.annotations or {}).get(ISSUE_TEMPORARY_CERTIFICATE_ANNOTATION) != "true":
        return NOTHING
    secret = ctx.secret(cert.namespace, cert.spec.secret_name)
    if temporary_certificate_chain(PolicyInput(certificate=cert, secret=secret), ctx.clock.now()) is None:
        return NOTHING
    pem = generate_temporary_certificate(certificate_template(cert.spec), key, now=ctx.clock.now())
    apply = _apply_secret(cert, IssuedData(private_key=key, certificate=pem, ca=None, issuer_ref=None), ctx)
    event = Event(type="Normal", reason="Issuing", message="Issued temporary certificate")
    return Outcome(applies=(apply,), events=(event,))


def _ensure_secret_data(cert: Certificate, ctx: Context) -> Outcome:
    """Post-issuance: rewrite the Secret's metadata/extra data when it drifted from the spec."""
    secret = ctx.secret(cert.namespace, cert.spec.secret_name)
    data = secret.data if secret is not None else None
    if secret is None or not data or not data.get(TLS_PRIVATE_KEY_KEY) or not data.get(TLS_CERT_KEY):
        return NOTHING
    applied = applied_fields_from_managed_fields(secret.metadata.managed_fields, ISSUING_FIELD_MANAGER)
    violation = post_issuance_chain(
        PolicyInput(certificate=cert, secret=secret),
        ctx.clock.now(),
        applied=applied,
        owner_ref_enabled=ctx.options.enable_certificate_owner_ref,
    )
    if violation is None or violation.reason in (Reason.INVALID_CERTIFICATE, Reason.MANAGED_FIELDS_PARSE_ERROR):
        return NOTHING
    try:
        key = load_pem_private_key(data[TLS_PRIVATE_KEY_KEY], limits=ctx.options.pem_limits)
    except PkiError:
        return NOTHING
    annotations = secret.metadata.annotations or {}
    ref = IssuerReference(
        name=annotations.get(ISSUER_NAME_ANNOTATION, ""),
        kind=annotations.get(ISSUER_KIND_ANNOTATION),
        group=annotations.get(ISSUER_GROUP_ANNOTATION),
    )
    issued = IssuedData(private_key=key, certificate=data[TLS_CERT_KEY], ca=data.get(TLS_CA_KEY), issuer_ref=ref)
    return Outcome(applies=(_apply_secret(cert, issued, ctx),))


def decide(cert: Certificate, ctx: Context) -> Outcome:
    if not is_issuing(cert):
        return _ensure_secret_data(cert, ctx)
    found = next_private_key(ctx, cert)
    if found is None or private_key_matches_spec(found.public, cert.spec):
        return NOTHING
    revision = next_revision(cert)
    requests = [r for r in owned_requests(ctx, cert) if request_revision(r) == revision]
    if len(requests) != 1:
        return NOTHING
    request = requests[0]
    try:
        if request_matches_spec(request, cert.spec, limits=ctx.options.pem_limits):
            return NOTHING
        csr = load_pem_certificate_request(request.spec.request, limits=ctx.options.pem_limits)
    except PkiError:
        return NOTHING
    if not public_key_matches_csr(found.public, csr):
        return NOTHING
    issuing = get_condition(status_of(cert).conditions, ISSUING)
    ready = _request_condition(request, CertificateRequestConditionType.READY)
    failure = request.status.failure_time if request.status else None
    if (
        failure is not None
        and ready is not None
        and issuing is not None
        and issuing.last_transition_time is not None
        and failure < issuing.last_transition_time
        and ready.reason == CertificateRequestReason.FAILED
    ):
        return NOTHING  # a failure from an earlier attempt; the request manager replaces it
    for terminal in (CertificateRequestConditionType.DENIED, CertificateRequestConditionType.INVALID_REQUEST):
        condition = _request_condition(request, terminal)
        if condition is not None and condition.status == "True":
            return _fail(cert, condition.reason or "", condition.message or "", ctx)
    if ready is None:
        return NOTHING
    if ready.reason == CertificateRequestReason.FAILED:
        return _fail(cert, ready.reason, ready.message or "", ctx)
    if ready.reason == CertificateRequestReason.ISSUED:
        problem = _verify_issued(request, ctx)
        if problem is not None:
            return _fail(cert, problem[0], problem[1], ctx)
        try:
            return _issue(cert, request, found.private_key(), revision, ctx)
        except SecretDataError as exc:
            raise IssuingError(str(exc), event_reason=exc.event_reason) from exc
    return _temporary_certificate(cert, found.private_key(), ctx)


class IssuingError(Exception):
    """The Secret could not be written this time; the controller retries with backoff."""

    def __init__(self, message: str, *, event_reason: str | None = None) -> None:
        super().__init__(message)
        self.event_reason = event_reason
