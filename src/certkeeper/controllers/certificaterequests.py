"""CertificateRequest controllers: the built-in approver, and the signer that hands approved requests
to the issuer backend of their issuer's type.

Follows ``pkg/controller/certificaterequests/{approver/sync.go,sync.go,util/reporter.go}``. One signer
serves every in-tree issuer type (cert-manager runs one controller per type; the conditions, events
and reasons are the same). Requests for issuers of other API groups are left to external issuers.
"""

from __future__ import annotations

from dataclasses import dataclass

import msgspec

from certkeeper.api.certmanager import (
    CertificateRequest,
    CertificateRequestCondition,
    CertificateRequestStatus,
)
from certkeeper.api.conditions import get_condition, has_condition, set_condition
from certkeeper.api.constants import (
    CERTIFICATE_REQUEST_DENIED_MESSAGE,
    CERTIFICATE_REQUEST_ISSUED_MESSAGE,
    CertificateRequestConditionType,
    CertificateRequestReason,
    IssuerConditionType,
)
from certkeeper.api.defaults import issuer_kind
from certkeeper.controllers.acme_requests import decide_acme_request
from certkeeper.controllers.context import Context, is_in_tree_group
from certkeeper.controllers.writes import now_seconds, status_write
from certkeeper.issuers.base import Failed, Issued, Pending, SignContext, issuer_type
from certkeeper.pki.errors import PkiError
from certkeeper.pki.pem import load_pem_certificate
from certkeeper.runtime.controller import Result
from certkeeper.runtime.events import Event
from certkeeper.runtime.outcome import NOTHING, Outcome, apply_outcome
from certkeeper.store.resources import CERTIFICATE_REQUESTS

APPROVED_REASON = "cert-manager.io"
APPROVED_MESSAGE = "Certificate request has been approved by cert-manager.io"
WAITING_FOR_APPROVAL = "Not signing CertificateRequest until it is Approved"

READY = CertificateRequestConditionType.READY


def _ready_reason(request: CertificateRequest) -> str | None:
    condition = get_condition(request.status.conditions if request.status else None, READY)
    return condition.reason if condition else None


def _is(request: CertificateRequest, condition_type: str) -> bool:
    return has_condition(request.status.conditions if request.status else None, condition_type, "True")


def is_final(request: CertificateRequest) -> bool:
    return _ready_reason(request) in (CertificateRequestReason.FAILED, CertificateRequestReason.ISSUED)


def decide_approval(request: CertificateRequest, *, ctx: Context) -> Outcome:
    """Approve every request nobody has approved or denied yet (``approver/sync.go``)."""
    if (
        _is(request, CertificateRequestConditionType.APPROVED)
        or _is(request, CertificateRequestConditionType.DENIED)
        or is_final(request)
    ):
        return NOTHING
    status = request.status or CertificateRequestStatus()
    conditions = set_condition(
        status.conditions,
        CertificateRequestCondition(
            type=CertificateRequestConditionType.APPROVED,
            status="True",
            reason=APPROVED_REASON,
            message=APPROVED_MESSAGE,
        ),
        now=now_seconds(ctx.clock),
    )
    approved = msgspec.structs.replace(request, status=msgspec.structs.replace(status, conditions=conditions))
    return Outcome(
        status=status_write(approved), events=(Event(type="Normal", reason=APPROVED_REASON, message=APPROVED_MESSAGE),)
    )


@dataclass(slots=True)
class _Report:
    """Collects what cert-manager's Reporter would do to one request during a sync."""

    request: CertificateRequest
    ctx: Context
    status: CertificateRequestStatus
    events: list[Event]

    def _set_ready(self, status: str, reason: str, message: str) -> None:
        conditions = set_condition(
            self.status.conditions,
            CertificateRequestCondition(type=READY, status=status, reason=reason, message=message),  # type: ignore[arg-type]
            now=now_seconds(self.ctx.clock),
        )
        self.status = msgspec.structs.replace(self.status, conditions=conditions)

    def _mark_failure_time(self) -> None:
        if self.status.failure_time is None:
            self.status = msgspec.structs.replace(self.status, failure_time=now_seconds(self.ctx.clock))

    def pending(self, reason: str, message: str) -> None:
        if _ready_reason(self.request) != CertificateRequestReason.PENDING:
            self.events.append(Event(type="Normal", reason=reason, message=message))
        self._set_ready("False", CertificateRequestReason.PENDING, message)

    def failed(self, reason: str, message: str) -> None:
        self._mark_failure_time()
        self.events.append(Event(type="Warning", reason=reason, message=message))
        self._set_ready("False", CertificateRequestReason.FAILED, message)

    def denied(self) -> None:
        self._mark_failure_time()
        self._set_ready("False", CertificateRequestReason.DENIED, CERTIFICATE_REQUEST_DENIED_MESSAGE)

    def ready(self) -> None:
        self.events.append(Event(type="Normal", reason="CertificateIssued", message=CERTIFICATE_REQUEST_ISSUED_MESSAGE))
        self._set_ready("True", CertificateRequestReason.ISSUED, CERTIFICATE_REQUEST_ISSUED_MESSAGE)

    def outcome(self) -> Outcome:
        changed = self.status != (self.request.status or CertificateRequestStatus())
        status = status_write(msgspec.structs.replace(self.request, status=self.status)) if changed else None
        return Outcome(status=status, events=tuple(self.events))


async def decide_signing(request: CertificateRequest, *, ctx: Context) -> Outcome:
    """One pass of ``certificaterequests/sync.go`` for ``request``."""
    if not is_in_tree_group(request.spec.issuer_ref):
        return NOTHING
    report = _Report(request, ctx, request.status or CertificateRequestStatus(), [])
    if _is(request, CertificateRequestConditionType.DENIED):
        report.denied()
        return report.outcome()
    if _is(request, CertificateRequestConditionType.INVALID_REQUEST):
        return NOTHING
    if not _is(request, CertificateRequestConditionType.APPROVED):
        return Outcome(events=(Event(type="Normal", reason="WaitingForApproval", message=WAITING_FOR_APPROVAL),))
    if is_final(request):
        return NOTHING
    ref = request.spec.issuer_ref
    issuer = ctx.issuer_for(ref, request.namespace)
    if issuer is None:
        kind = issuer_kind(ref)
        report.pending(
            "IssuerNotFound", f'Referenced "{kind}" not found: {kind.lower()}.cert-manager.io "{ref.name}" not found'
        )
        return report.outcome()
    type_name = issuer_type(issuer.spec)
    if type_name is None:
        where = f"{issuer.namespace}/{issuer.name}"
        report.pending("IssuerTypeMissing", f"Missing issuer type: no issuer specified for Issuer '{where}'")
        return report.outcome()
    backend = ctx.issuer_backends.get(type_name)
    if backend is None or (ctx.options.signers is not None and type_name not in ctx.options.signers):
        return NOTHING  # an issuer type this process does not run, or whose signer is turned off
    if not has_condition(issuer.status.conditions if issuer.status else None, IssuerConditionType.READY, "True"):
        report.pending("IssuerNotReady", "Referenced issuer does not have a Ready status condition")
        return report.outcome()
    if report.status.certificate:
        return NOTHING
    if type_name == "acme":
        writes, certificate = decide_acme_request(request, issuer, ctx, pending=report.pending, failed=report.failed)
        if certificate is not None:
            _record_issued(report, Issued(certificate=certificate), type_name)
        outcome = report.outcome()
        return Outcome(creates=writes.creates, deletes=writes.deletes, status=outcome.status, events=outcome.events)
    sign_ctx = SignContext(
        resource_namespace=ctx.resource_namespace(issuer),
        secrets=ctx,
        now=ctx.clock.now(),
        pem_limits=ctx.options.pem_limits,
    )
    result = await backend.sign(request, issuer, sign_ctx)
    if isinstance(result, Pending):
        report.pending(result.reason, result.message)
    elif isinstance(result, Failed):
        report.failed(result.reason, result.message)
    else:
        _record_issued(report, result, type_name)
    return report.outcome()


def _record_issued(report: _Report, result: Issued, type_name: str) -> None:
    report.status = msgspec.structs.replace(report.status, certificate=result.certificate, ca=result.ca)
    for warning in result.warnings:
        report.events.append(Event(type="Warning", reason=warning.reason, message=warning.message))
    try:
        load_pem_certificate(result.certificate, limits=report.ctx.options.pem_limits)
    except PkiError as exc:
        message = "Failed to decode returned certificate"
        if type_name == "ca":
            message += (
                ": with CA issuers, ensure the Certificate's secretName is different from the CA issuer's "
                "secretName to avoid overwriting the CA secret"
            )
        report.failed("DecodeError", f"{message}: {exc}")
        return
    report.ready()


class RequestControllers:
    """Reconcile functions for the approver and the signer, bound to a Context."""

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx

    async def approve(self, key: str) -> Result | None:
        request = self.ctx.request(key)
        if request is None or request.metadata.deletion_timestamp is not None:
            return None
        await self._apply(request, decide_approval(request, ctx=self.ctx))
        return None

    async def sign(self, key: str) -> Result | None:
        request = self.ctx.request(key)
        if request is None or request.metadata.deletion_timestamp is not None:
            return None
        await self._apply(request, await decide_signing(request, ctx=self.ctx))
        return None

    async def _apply(self, request: CertificateRequest, outcome: Outcome) -> None:
        if outcome.is_noop:
            return
        raw = self.ctx.requests.get_raw(f"{request.namespace}/{request.name}") or status_write(request)
        await apply_outcome(self.ctx.store, CERTIFICATE_REQUESTS, raw, outcome, self.ctx.recorder)
