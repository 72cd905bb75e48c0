"""Asking the API server: SubjectAccessReviews and discovery, behind two small Protocols.

The approval check needs to know which REST resource an issuer kind is (discovery) and whether the
requester may ``approve`` the signer names (a SubjectAccessReview). Both are I/O, so the check talks
to the :class:`Authorizer` and :class:`Discovery` Protocols; unit tests inject decisions, and
production uses :class:`SubjectAccessReviewAuthorizer` and :class:`ApiDiscovery` on any
:class:`ApiClient` (the kube store's ``KubeTransport`` is one: it brings authentication, TLS, rate
limiting and retries). :class:`CachingAuthorizer` keeps each decision for a second, as cert-manager's
delegating authorizer does (``AllowCacheTTL``/``DenyCacheTTL`` of 1 s).

Failures to reach the API server raise :class:`AuthorizationUnavailable`; the caller refuses the
approval with that reason rather than guessing.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final, Protocol

from certkeeper.runtime.clock import Clock
from certkeeper.store.ports import StoreError
from certkeeper.validation.identity import UserInfo

SAR_PATH: Final = "/apis/authorization.k8s.io/v1/subjectaccessreviews"
#: How long a decision is reused (cert-manager: allow and deny cache TTL of one second).
DECISION_TTL_SECONDS: Final = 1.0
#: Bound on cached decisions, so many distinct requesters cannot grow memory without limit.
MAX_CACHED_DECISIONS: Final = 4096


class AuthorizationUnavailable(Exception):
    """The API server could not answer (unreachable, refused us, or answered nonsense)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class ResourceAttributes:
    """What a SubjectAccessReview asks about (``authorization/v1`` ResourceAttributes)."""

    verb: str
    group: str
    resource: str
    name: str = ""
    namespace: str = ""
    version: str = "*"


@dataclass(frozen=True, slots=True, kw_only=True)
class Decision:
    allowed: bool
    reason: str = ""


class Authorizer(Protocol):
    """Decides whether ``user`` may act on ``attributes``; raises :class:`AuthorizationUnavailable`."""

    async def authorize(self, user: UserInfo, attributes: ResourceAttributes) -> Decision: ...


class LookupResult(enum.Enum):
    FOUND = "found"
    #: The group is served but has no such kind (cert-manager caches this answer for 30 s).
    KIND_MISSING = "kind-missing"
    #: The group is not served at all (maybe a CRD still being registered: not cached).
    GROUP_MISSING = "group-missing"


@dataclass(frozen=True, slots=True, kw_only=True)
class ApiResource:
    """A kind's REST resource, from discovery."""

    result: LookupResult
    resource: str = ""
    namespaced: bool = False


class Discovery(Protocol):
    """Finds the resource serving ``group``/``kind``; raises :class:`AuthorizationUnavailable`."""

    async def lookup(self, group: str, kind: str) -> ApiResource: ...


class ApiClient(Protocol):
    """The one call the real implementations need: a JSON request to the API server.

    Raises :class:`certkeeper.store.ports.StoreError` subclasses for error answers and lost
    connections, as ``certkeeper.store.kube.transport.KubeTransport.request`` does.
    """

    async def request(self, method: str, path: str, *, body: object = None, idempotent: bool) -> dict[str, Any]: ...


def _user_key(user: UserInfo) -> tuple[object, ...]:
    extra = tuple(sorted((key, tuple(values)) for key, values in user.extra.items()))
    return (user.username, user.uid, tuple(user.groups), extra)


def subject_access_review(user: UserInfo, attributes: ResourceAttributes) -> dict[str, Any]:
    """The SubjectAccessReview body asking whether ``user`` may do ``attributes``."""
    spec: dict[str, Any] = {
        "resourceAttributes": {
            "namespace": attributes.namespace,
            "verb": attributes.verb,
            "group": attributes.group,
            "version": attributes.version,
            "resource": attributes.resource,
            "name": attributes.name,
        },
        "user": user.username,
        "groups": list(user.groups),
        "uid": user.uid,
    }
    if user.extra:
        spec["extra"] = {key: list(values) for key, values in user.extra.items()}
    return {"apiVersion": "authorization.k8s.io/v1", "kind": "SubjectAccessReview", "spec": spec}


class SubjectAccessReviewAuthorizer:
    """:class:`Authorizer` that POSTs a SubjectAccessReview (needs RBAC ``create`` on them)."""

    def __init__(self, client: ApiClient) -> None:
        self._client = client

    async def authorize(self, user: UserInfo, attributes: ResourceAttributes) -> Decision:
        body = subject_access_review(user, attributes)
        try:
            # Creating a review changes nothing, so it is safe to retry like a read.
            answer = await self._client.request("POST", SAR_PATH, body=body, idempotent=True)
        except StoreError as exc:
            raise AuthorizationUnavailable(f"the SubjectAccessReview failed: {exc}") from None
        status = answer.get("status")
        if not isinstance(status, Mapping):
            raise AuthorizationUnavailable("the SubjectAccessReview came back without a status")
        evaluation_error = status.get("evaluationError")
        allowed = status.get("allowed") is True and status.get("denied") is not True
        if not allowed and evaluation_error:
            raise AuthorizationUnavailable(f"the API server could not evaluate the review: {evaluation_error}")
        return Decision(allowed=allowed, reason=str(status.get("reason") or ""))


class CachingAuthorizer:
    """Reuses each decision (allow or deny) of ``inner`` for ``ttl`` seconds; failures are not cached."""

    def __init__(self, inner: Authorizer, clock: Clock, *, ttl: float = DECISION_TTL_SECONDS) -> None:
        self._inner = inner
        self._clock = clock
        self._ttl = ttl
        self._cache: dict[tuple[object, ...], tuple[float, Decision]] = {}

    async def authorize(self, user: UserInfo, attributes: ResourceAttributes) -> Decision:
        key = (*_user_key(user), attributes)
        now = self._clock.monotonic()
        hit = self._cache.get(key)
        if hit is not None and now - hit[0] < self._ttl:
            return hit[1]
        decision = await self._inner.authorize(user, attributes)
        if len(self._cache) >= MAX_CACHED_DECISIONS:
            self._cache = {k: v for k, v in self._cache.items() if now - v[0] < self._ttl}
            if len(self._cache) >= MAX_CACHED_DECISIONS:
                self._cache.clear()
        self._cache[key] = (self._clock.monotonic(), decision)
        return decision


class ApiDiscovery:
    """:class:`Discovery` through the API server's ``/apis`` documents (``ServerGroups`` + resources)."""

    def __init__(self, client: ApiClient) -> None:
        self._client = client

    async def _get(self, path: str) -> Mapping[str, Any]:
        try:
            return await self._client.request("GET", path, idempotent=True)
        except StoreError as exc:
            raise AuthorizationUnavailable(f"discovery of {path} failed: {exc}") from None

    async def lookup(self, group: str, kind: str) -> ApiResource:
        groups = (await self._get("/apis")).get("groups")
        for api_group in groups if isinstance(groups, list) else ():
            if not isinstance(api_group, Mapping) or api_group.get("name") != group:
                continue
            versions = api_group.get("versions")
            for version in versions if isinstance(versions, list) else ():
                group_version = version.get("groupVersion") if isinstance(version, Mapping) else None
                if not isinstance(group_version, str) or not group_version:
                    continue
                resources = (await self._get(f"/apis/{group_version}")).get("resources")
                for entry in resources if isinstance(resources, list) else ():
                    if not isinstance(entry, Mapping) or entry.get("kind") != kind:
                        continue
                    name = entry.get("name")
                    if isinstance(name, str) and name and "/" not in name:
                        return ApiResource(
                            result=LookupResult.FOUND, resource=name, namespaced=entry.get("namespaced") is True
                        )
            return ApiResource(result=LookupResult.KIND_MISSING)
        return ApiResource(result=LookupResult.GROUP_MISSING)


class NoApiServer:
    """Both Protocols for a webhook run without API access (static TLS files and no kubeconfig).

    Validation and mutation need no API server; an approval does, and is refused with ``reason``.
    """

    def __init__(self, reason: str) -> None:
        self.reason = reason

    async def authorize(self, user: UserInfo, attributes: ResourceAttributes) -> Decision:
        raise AuthorizationUnavailable(self.reason)

    async def lookup(self, group: str, kind: str) -> ApiResource:
        raise AuthorizationUnavailable(self.reason)


__all__ = [
    "DECISION_TTL_SECONDS",
    "SAR_PATH",
    "ApiClient",
    "ApiDiscovery",
    "ApiResource",
    "AuthorizationUnavailable",
    "Authorizer",
    "CachingAuthorizer",
    "Decision",
    "Discovery",
    "LookupResult",
    "NoApiServer",
    "ResourceAttributes",
    "SubjectAccessReviewAuthorizer",
    "subject_access_review",
]
