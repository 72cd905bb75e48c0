"""The AdmissionReview wire format (``admission.k8s.io/v1``): decoding a request, encoding a response.

The API server POSTs an ``AdmissionReview`` whose ``request`` names the operation, the resource and
kind, the requester and the object (and, on update, the stored one); the webhook answers with the
same kind whose ``response`` carries the request's ``uid``, ``allowed``, a ``status`` (a
``metav1.Status``) when refusing, ``warnings`` and, when mutating, a base64 JSON patch.

A body that is not such a review (not JSON, another apiVersion or kind, no request, no uid) is a
:class:`BadReview`: the server answers it with HTTP 400 and a ``Status``, as there is no uid to
answer to. Refusals are shaped as controller-runtime shapes them for cert-manager: a denial is
``{"code": 403, "reason": "Forbidden", "message": <aggregate of field errors>}`` and an error
``{"code": <4xx/5xx>, "message": ...}``. The API server prefixes the message with ``admission
webhook "<name>" denied the request: `` (its ``webhook/errors.ToStatusErr``), which is what
``kubectl`` prints; :func:`api_server_message` reproduces that for tests and tools.

No I/O. Follows ``k8s.io/api/admission/v1`` and controller-runtime's ``webhook/admission``
(``response.go``, ``http.go``).
"""

from __future__ import annotations

import base64
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

import msgspec

from certkeeper.validation.identity import UserInfo

API_VERSION: Final = "admission.k8s.io/v1"
KIND: Final = "AdmissionReview"
PATCH_TYPE_JSON: Final = "JSONPatch"


class BadReview(ValueError):
    """The body is not an AdmissionReview this webhook can answer (HTTP 400)."""


class _Wire(msgspec.Struct, kw_only=True, rename="camel", frozen=True):
    """Base of the wire structs: camelCase names, unknown fields ignored (newer API servers add some)."""


class GroupVersionKind(_Wire, kw_only=True, frozen=True):
    group: str = ""
    version: str = ""
    kind: str = ""


class GroupVersionResource(_Wire, kw_only=True, frozen=True):
    group: str = ""
    version: str = ""
    resource: str = ""

    @property
    def unset(self) -> bool:
        """Whether every part is empty (a hand-made review; a real API server always fills it in)."""
        return not (self.group or self.version or self.resource)


class _UserInfo(_Wire, kw_only=True, frozen=True):
    username: str = ""
    uid: str = ""
    groups: list[str] | None = None
    extra: dict[str, list[str] | None] | None = None


class _Request(_Wire, kw_only=True, frozen=True):
    uid: str = ""
    kind: GroupVersionKind = msgspec.field(default_factory=GroupVersionKind)
    resource: GroupVersionResource = msgspec.field(default_factory=GroupVersionResource)
    sub_resource: str = ""
    name: str = ""
    namespace: str = ""
    operation: str = ""
    user_info: _UserInfo = msgspec.field(default_factory=_UserInfo)
    # JSON null and absent are the same: no object (a DELETE has no new one, a CREATE no old one).
    object: dict[str, Any] | None = None
    old_object: dict[str, Any] | None = None
    dry_run: bool = False


class _Review(_Wire, kw_only=True, frozen=True):
    api_version: str = ""
    kind: str = ""
    request: _Request | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class AdmissionRequest:
    """One admission request, as the handlers see it."""

    uid: str
    kind: GroupVersionKind
    resource: GroupVersionResource
    sub_resource: str
    name: str
    namespace: str
    operation: str
    user: UserInfo
    object: dict[str, Any] | None
    old_object: dict[str, Any] | None
    dry_run: bool = False

    def describe(self) -> str:
        """``CREATE certificates.cert-manager.io ns/name`` for logs: identifies the request, shows no content."""
        resource = f"{self.resource.resource}.{self.resource.group}" if self.resource.group else self.resource.resource
        if self.sub_resource:
            resource += f"/{self.sub_resource}"
        where = f"{self.namespace}/{self.name}" if self.namespace else self.name
        return f"{self.operation} {resource} {where or '-'} (uid {self.uid})"


_DECODER: Final = msgspec.json.Decoder(_Review)


def decode_review(body: bytes) -> AdmissionRequest:
    """Decode a request body into an :class:`AdmissionRequest`; raises :class:`BadReview`.

    Only ``admission.k8s.io/v1`` is accepted: v1beta1 left Kubernetes in 1.22, and a webhook
    configuration that still asked for it would get answers it cannot read.
    """
    if not body:
        raise BadReview("request body is empty")
    try:
        review = _DECODER.decode(body)
    except msgspec.ValidationError as exc:
        raise BadReview(f"the body is not an AdmissionReview: {exc}") from None
    except msgspec.DecodeError as exc:
        raise BadReview(f"the body is not valid JSON: {exc}") from None
    except RecursionError:
        raise BadReview("the body is not valid JSON: nested too deeply") from None
    if review.api_version != API_VERSION or review.kind != KIND:
        got = f"{review.api_version or '<none>'}, Kind={review.kind or '<none>'}"
        raise BadReview(f"expected an AdmissionReview of {API_VERSION}, got {got}")
    request = review.request
    if request is None:
        raise BadReview("the AdmissionReview has no request")
    if not request.uid:
        raise BadReview("the AdmissionReview request has no uid")
    info = request.user_info
    user = UserInfo(
        username=info.username,
        uid=info.uid,
        groups=tuple(info.groups or ()),
        extra={key: tuple(values or ()) for key, values in (info.extra or {}).items()},
    )
    return AdmissionRequest(
        uid=request.uid,
        kind=request.kind,
        resource=request.resource,
        sub_resource=request.sub_resource,
        name=request.name,
        namespace=request.namespace,
        operation=request.operation,
        user=user,
        object=request.object,
        old_object=request.old_object,
        dry_run=request.dry_run,
    )


@dataclass(frozen=True, slots=True, kw_only=True)
class AdmissionResponse:
    """A handler's answer, before it is tied to a request uid."""

    allowed: bool
    #: The Status code: 200 allowed, 403 denied, 400/500 for requests that could not be judged.
    code: int = 200
    #: The Status reason (``Forbidden`` for denials); empty for errors, as controller-runtime sends them.
    reason: str = ""
    message: str = ""
    warnings: tuple[str, ...] = ()
    #: The JSON patch operations of a mutation; empty when nothing changes.
    patch: tuple[Mapping[str, Any], ...] = field(default=())

    def with_warnings(self, warnings: Sequence[str]) -> AdmissionResponse:
        return AdmissionResponse(
            allowed=self.allowed,
            code=self.code,
            reason=self.reason,
            message=self.message,
            warnings=(*self.warnings, *warnings),
            patch=self.patch,
        )


def allowed(warnings: Sequence[str] = ()) -> AdmissionResponse:
    """Admit the request."""
    return AdmissionResponse(allowed=True, warnings=tuple(warnings))


def denied(message: str, warnings: Sequence[str] = ()) -> AdmissionResponse:
    """Refuse the request: 403 Forbidden with ``message`` (controller-runtime's ``Denied``)."""
    return AdmissionResponse(allowed=False, code=403, reason="Forbidden", message=message, warnings=tuple(warnings))


def errored(code: int, message: str) -> AdmissionResponse:
    """Refuse a request that could not be judged (controller-runtime's ``Errored``: code and message only)."""
    return AdmissionResponse(allowed=False, code=code, message=message)


def patched(operations: Sequence[Mapping[str, Any]]) -> AdmissionResponse:
    """Admit the request with a JSON patch (no patch at all when there are no operations)."""
    return AdmissionResponse(allowed=True, patch=tuple(operations))


def encode_response(uid: str, response: AdmissionResponse) -> bytes:
    """The AdmissionReview answering request ``uid`` with ``response``, as JSON."""
    status: dict[str, Any] = {"metadata": {}, "code": response.code}
    if response.reason:
        status["reason"] = response.reason
    if response.message:
        status["message"] = response.message
    body: dict[str, Any] = {"uid": uid, "allowed": response.allowed, "status": status}
    if response.patch:
        body["patchType"] = PATCH_TYPE_JSON
        body["patch"] = base64.b64encode(msgspec.json.encode(list(response.patch))).decode("ascii")
    if response.warnings:
        body["warnings"] = list(response.warnings)
    return msgspec.json.encode({"apiVersion": API_VERSION, "kind": KIND, "response": body})


def encode_status(code: int, reason: str, message: str) -> bytes:
    """A bare ``metav1.Status`` failure: the answer to a body that is not a review at all."""
    return msgspec.json.encode(
        {
            "apiVersion": "v1",
            "kind": "Status",
            "metadata": {},
            "status": "Failure",
            "message": message,
            "reason": reason,
            "code": code,
        }
    )


def api_server_message(webhook_name: str, status: Mapping[str, Any] | None) -> str:
    """The message the API server returns to the client for a refusal (``webhook/errors.ToStatusErr``)."""
    denied_by = f'admission webhook "{webhook_name}" denied the request'
    status = status or {}
    if status.get("message"):
        return f"{denied_by}: {status['message']}"
    if status.get("reason"):
        return f"{denied_by}: {status['reason']}"
    return f"{denied_by} without explanation"


__all__ = [
    "API_VERSION",
    "KIND",
    "PATCH_TYPE_JSON",
    "AdmissionRequest",
    "AdmissionResponse",
    "BadReview",
    "GroupVersionKind",
    "GroupVersionResource",
    "allowed",
    "api_server_message",
    "decode_review",
    "denied",
    "encode_response",
    "encode_status",
    "errored",
    "patched",
]
