"""The two admission handlers: ``/validate`` and ``/mutate`` for cert-manager's kinds.

Validation runs cert-manager's plugin chain in its order and joins every error into one message:

1. identity: a CertificateRequest created must carry its requester's username, uid, groups and
   extra; an update may not change them;
2. approval: an update of ``certificaterequests/status`` adding ``Approved`` or ``Denied`` needs RBAC
   ``approve`` on the issuer's signer (:mod:`certkeeper.webhook.approval`);
3. resource validation: :func:`certkeeper.validation.admission.admit`, the same rules as the local
   store and ``certkeeper validate``, after checking that the request's resource and the payload's
   kind agree (a crafted review naming ``certificates`` with a CertificateRequest inside is refused,
   not validated against the wrong rules).

Every subresource of a known resource is validated like the resource (the API server sends
``certificaterequests/status`` updates with the whole object), as cert-manager matches on the
resource alone.

Mutation stamps the requester's identity into a CertificateRequest being created, as a JSON patch of
exactly the fields cert-manager's identity plugin sets (``spec.uid``, ``spec.username``,
``spec.groups`` always; ``spec.extra`` when the requester has any, removed otherwise).

``admit`` is CPU work; the server hands in ``run_blocking`` to run it off the event loop so a slow
object cannot stall health checks or the handler timeout.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Any, Final, TypeVar

from certkeeper.api.certmanager import CertificateRequest
from certkeeper.api.features import DEFAULT_GATES, FeatureGates
from certkeeper.api.field import ErrorType, FieldError, aggregate
from certkeeper.api.manifests import ManifestError, decode_object
from certkeeper.store.resources import (
    CERTIFICATE_REQUESTS,
    CERTIFICATES,
    CHALLENGES,
    CLUSTER_ISSUERS,
    ISSUERS,
    ORDERS,
)
from certkeeper.validation.admission import AdmissionResult, Stage, admit
from certkeeper.validation.common import dedupe
from certkeeper.validation.identity import UserInfo, validate_identity_create
from certkeeper.webhook.approval import ApprovalChecker
from certkeeper.webhook.review import AdmissionRequest, AdmissionResponse, allowed, denied, errored, patched

_T = TypeVar("_T")
RunBlocking = Callable[[Callable[[], _T]], Awaitable[_T]]

#: cert-manager's error for a review without ``request.resource`` (``admission.ErrResourceUnset``).
RESOURCE_UNSET: Final = "internal error: admission request Resource field is unset"
NO_CONTENT: Final = "there is no content to decode"
_CREATE: Final = "CREATE"
_UPDATE: Final = "UPDATE"
#: Operations that carry nothing to check: allowed without a look, as cert-manager's plugins do.
_PASSED_OPERATIONS: Final = frozenset({"DELETE", "CONNECT"})
#: (group, version, resource) -> the kind its objects must be.
RESOURCE_KINDS: Final[Mapping[tuple[str, str, str], tuple[str, str]]] = {
    (rt.group, rt.version, rt.plural): (rt.api_version, rt.kind)
    for rt in (CERTIFICATES, CERTIFICATE_REQUESTS, ISSUERS, CLUSTER_ISSUERS, ORDERS, CHALLENGES)
}
_KNOWN_KINDS: Final = frozenset(RESOURCE_KINDS.values())
_CR_RESOURCE: Final = (CERTIFICATE_REQUESTS.group, CERTIFICATE_REQUESTS.plural)
_IDENTITY_FIELDS: Final = frozenset({"spec.uid", "spec.username", "spec.groups", "spec.extra"})


async def _inline(function: Callable[[], _T]) -> _T:
    return function()


def _payload_kind(obj: Mapping[str, Any], request: AdmissionRequest) -> tuple[str, str]:
    """(apiVersion, kind) of a payload: its own, else the request's kind (as the Go decoder defaults)."""
    gvk = request.kind
    fallback = f"{gvk.group}/{gvk.version}" if gvk.group else gvk.version
    api_version = obj.get("apiVersion")
    kind = obj.get("kind")
    return (
        api_version if isinstance(api_version, str) and api_version else fallback,
        kind if isinstance(kind, str) and kind else gvk.kind,
    )


def _not_registered(api_version: str, kind: str) -> AdmissionResponse:
    return errored(400, f'no kind "{kind}" is registered for version "{api_version}"')


def _type_mismatch(which: str, kind: str) -> AdmissionResponse:
    return denied(f"internal error: {which} in admission request is not of type {kind}")


def _identity_prefix(errors: tuple[FieldError, ...]) -> int:
    """How many leading errors are the identity plugin's (its update rules run first in ``admit``)."""
    count = 0
    for error in errors:
        if error.type is not ErrorType.FORBIDDEN or error.field not in _IDENTITY_FIELDS:
            break
        count += 1
    return count


def _decode_request(raw: Mapping[str, Any]) -> CertificateRequest | None:
    try:
        decoded = decode_object(raw)
    except ManifestError:
        return None
    return decoded if isinstance(decoded, CertificateRequest) else None


def identity_patch(obj: Mapping[str, Any], user: UserInfo) -> list[dict[str, Any]]:
    """The JSON patch setting a CertificateRequest's identity fields to ``user``'s.

    The raw twin of :func:`certkeeper.validation.identity.mutate_identity`: it works on the object as
    sent (the mutating webhook runs before the schema check, so the object may not decode) and
    touches nothing else. Raises ``ValueError`` when ``spec`` is present but not an object.
    """
    wanted: dict[str, Any] = {"uid": user.uid, "username": user.username, "groups": list(user.groups)}
    if user.extra:
        wanted["extra"] = {key: list(values) for key, values in user.extra.items()}
    spec = obj.get("spec")
    if spec is None:
        return [{"op": "add", "path": "/spec", "value": wanted}]
    if not isinstance(spec, Mapping):
        raise ValueError(".spec accessor error: spec is not an object")
    operations: list[dict[str, Any]] = []
    for key, value in wanted.items():
        if key not in spec:
            operations.append({"op": "add", "path": f"/spec/{key}", "value": value})
        elif spec[key] != value:
            operations.append({"op": "replace", "path": f"/spec/{key}", "value": value})
    if not user.extra and "extra" in spec:
        operations.append({"op": "remove", "path": "/spec/extra"})
    return operations


class AdmissionHandlers:
    """``validate`` and ``mutate`` for decoded admission requests."""

    def __init__(
        self,
        *,
        approval: ApprovalChecker,
        gates: FeatureGates = DEFAULT_GATES,
        run_blocking: RunBlocking[AdmissionResult] | None = None,
    ) -> None:
        self._approval = approval
        self._gates = gates
        self._run: RunBlocking[AdmissionResult] = run_blocking or _inline

    def set_runner(self, run_blocking: RunBlocking[AdmissionResult]) -> None:
        """Run ``admit`` through ``run_blocking`` from now on (the server's thread pool)."""
        self._run = run_blocking

    async def validate(self, request: AdmissionRequest) -> AdmissionResponse:
        """The ``/validate`` answer for ``request``."""
        operation = request.operation
        if operation in _PASSED_OPERATIONS:
            return allowed()
        if operation not in (_CREATE, _UPDATE):
            return errored(400, f'unknown operation "{operation}"')
        new_raw, old_raw = request.object, request.old_object
        if not new_raw or (operation == _UPDATE and not old_raw):
            return errored(400, NO_CONTENT)
        payload = _payload_kind(new_raw, request)
        if payload not in _KNOWN_KINDS:
            return _not_registered(*payload)
        old_payload = _payload_kind(old_raw, request) if old_raw else None
        if old_payload is not None and old_payload not in _KNOWN_KINDS:
            return _not_registered(*old_payload)
        if request.resource.unset:
            return denied(RESOURCE_UNSET)
        resource = request.resource
        expected = RESOURCE_KINDS.get((resource.group, resource.version, resource.resource))
        if expected is None:
            return allowed()  # a resource of these groups that cert-manager has no rules for
        if payload != expected:
            return _type_mismatch("object", expected[1])
        if old_payload is not None and old_payload != expected:
            return _type_mismatch("oldObject", expected[1])

        kind, gates = expected[1], self._gates
        result = await self._run(lambda: admit(kind, operation, new_raw, old_raw, gates))
        errors = result.errors
        if (resource.group, resource.resource) == _CR_RESOURCE:
            errors = await self._certificate_request_rules(request, result, old_raw)
        if errors:
            return denied(aggregate(dedupe(errors)), result.warnings)
        return allowed(result.warnings)

    async def _certificate_request_rules(
        self, request: AdmissionRequest, result: AdmissionResult, old_raw: Mapping[str, Any] | None
    ) -> tuple[FieldError, ...]:
        """``result``'s errors with the identity (create) and approval (status update) plugins' in place."""
        errors = result.errors
        if result.stage in (Stage.SCHEMA, Stage.DECODE) or not isinstance(result.object, CertificateRequest):
            return errors
        if request.operation == _CREATE:
            return (*validate_identity_create(result.object, request.user), *errors)
        if request.sub_resource != "status" or old_raw is None or request.object is None:
            return errors
        # The refusal names the issuerRef as sent, so read both sides without defaults.
        old, new = _decode_request(old_raw), _decode_request(request.object)
        if old is None or new is None:
            problem = FieldError(ErrorType.INTERNAL, "", detail="the CertificateRequest does not decode")
            return (*errors, problem)
        namespace = new.metadata.namespace or request.namespace
        refusal = await self._approval.check(request.user, old, new, namespace=namespace)
        if refusal is None:
            return errors
        split = _identity_prefix(errors)
        return (*errors[:split], refusal, *errors[split:])

    async def mutate(self, request: AdmissionRequest) -> AdmissionResponse:
        """The ``/mutate`` answer for ``request``: an identity patch for CertificateRequest creates."""
        if request.operation not in (_CREATE, _UPDATE):
            return allowed()
        obj = request.object
        if not obj:
            return errored(400, NO_CONTENT)
        if request.resource.unset:
            return denied(RESOURCE_UNSET)
        resource = request.resource
        if (resource.group, resource.resource) != _CR_RESOURCE or request.operation != _CREATE:
            return allowed()
        if _payload_kind(obj, request) != (CERTIFICATE_REQUESTS.api_version, CERTIFICATE_REQUESTS.kind):
            return _type_mismatch("object", CERTIFICATE_REQUESTS.kind)
        try:
            operations = identity_patch(obj, request.user)
        except ValueError as exc:
            return denied(str(exc))
        return patched(operations)


__all__ = ["NO_CONTENT", "RESOURCE_KINDS", "RESOURCE_UNSET", "AdmissionHandlers", "RunBlocking", "identity_patch"]
