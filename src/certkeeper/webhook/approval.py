"""The approval check: may this requester approve or deny CertificateRequests of this issuer?

An update of ``certificaterequests/status`` that adds an ``Approved`` or ``Denied`` condition needs
RBAC ``approve`` on ``signers.cert-manager.io`` named for the issuer (the pure rules and refusal
messages are :mod:`certkeeper.validation.approval`). This module does the I/O half: discovery finds
the issuer kind's REST resource (kept for good once found; "the group has no such kind" kept for
30 s so a bad reference cannot make every request hammer discovery; "no such group" not kept, as a
CRD may be on its way), then one SubjectAccessReview per signer name, the wildcard first, stopping at
the first allow.

When the API server cannot be asked, or does not answer within 5 s, the approval is refused with that
reason (an ``Internal error`` on ``status.conditions``): never allowed on a guess. cert-manager words
that case as a plain permission refusal; naming the real cause saves an operator from chasing RBAC
that is fine.

Follows cert-manager's ``internal/webhook/admission/certificaterequest/approval``.
"""

from __future__ import annotations

import asyncio
from typing import Final

from certkeeper.api import field as fe
from certkeeper.api.certmanager import CertificateRequest
from certkeeper.api.cmmeta import IssuerReference
from certkeeper.api.field import FieldError, FieldPath
from certkeeper.api.gojson import go_quote
from certkeeper.runtime.clock import Clock
from certkeeper.validation.approval import (
    APPROVE_VERB,
    SIGNERS_GROUP,
    SIGNERS_RESOURCE,
    approval_conditions_added,
    approval_forbidden,
    signer_group_kind,
    signer_names,
    signer_not_found,
)
from certkeeper.validation.identity import UserInfo
from certkeeper.webhook.authz import (
    ApiResource,
    AuthorizationUnavailable,
    Authorizer,
    Discovery,
    LookupResult,
    ResourceAttributes,
)

#: How long "the group serves no such kind" is believed (cert-manager's negativeCacheTTL).
NEGATIVE_CACHE_SECONDS: Final = 30.0
#: How long discovery and the reviews of one check may take together. Below the API server's default
#: webhook timeout (10 s), so a slow or unreachable API server gets the refusal with its reason
#: instead of the API server's "failed calling webhook" once the whole call times out.
CHECK_BUDGET_SECONDS: Final = 5.0
_CONDITIONS: Final = FieldPath("status", "conditions")


def _go_struct(ref: IssuerReference) -> str:
    return f"{{{ref.name} {ref.kind or ''} {ref.group or ''}}}"


def unavailable(username: str, ref: IssuerReference, reason: str) -> FieldError:
    """The refusal when the API server could not be asked."""
    detail = (
        f"cannot check whether user {go_quote(username)} may set approved/denied conditions for issuer "
        f"{_go_struct(ref)}: {reason}"
    )
    return fe.internal(_CONDITIONS, detail)


class ApprovalChecker:
    """Decides approval updates with discovery and an authorizer; keeps discovery answers."""

    def __init__(
        self,
        discovery: Discovery,
        authorizer: Authorizer,
        clock: Clock,
        *,
        negative_cache_seconds: float = NEGATIVE_CACHE_SECONDS,
        budget_seconds: float = CHECK_BUDGET_SECONDS,
    ) -> None:
        self._discovery = discovery
        self._authorizer = authorizer
        self._clock = clock
        self._negative_ttl = negative_cache_seconds
        self._budget = budget_seconds
        self._found: dict[tuple[str, str], ApiResource] = {}
        self._missing_since: dict[tuple[str, str], float] = {}

    async def _resource(self, group: str, kind: str) -> ApiResource | None:
        key = (group, kind)
        found = self._found.get(key)
        if found is not None:
            return found
        since = self._missing_since.get(key)
        if since is not None:
            if self._clock.monotonic() - since < self._negative_ttl:
                return None
            del self._missing_since[key]
        answer = await self._discovery.lookup(group, kind)
        if answer.result is LookupResult.FOUND:
            self._found[key] = answer
            self._missing_since.pop(key, None)
            return answer
        if answer.result is LookupResult.KIND_MISSING:
            self._missing_since[key] = self._clock.monotonic()
        return None

    async def check(
        self, user: UserInfo, old: CertificateRequest, new: CertificateRequest, *, namespace: str
    ) -> FieldError | None:
        """The refusal of this status update, or None when it may go ahead.

        Call it for updates of the ``status`` subresource only; updates that add neither condition
        pass without any API call.
        """
        if not approval_conditions_added(old, new):
            return None
        ref = new.spec.issuer_ref
        try:
            async with asyncio.timeout(self._budget):
                return await self._decide(user, ref, namespace)
        except AuthorizationUnavailable as exc:
            return unavailable(user.username, ref, str(exc))
        except TimeoutError:
            return unavailable(user.username, ref, f"the API server did not answer within {self._budget:g}s")

    async def _decide(self, user: UserInfo, ref: IssuerReference, namespace: str) -> FieldError | None:
        group, kind = signer_group_kind(ref)
        info = await self._resource(group, kind)
        if info is None:
            return signer_not_found(ref)
        names = signer_names(
            issuer_name=ref.name, namespace=namespace, resource=info.resource, group=group, namespaced=info.namespaced
        )
        for name in names:
            attributes = ResourceAttributes(
                verb=APPROVE_VERB, group=SIGNERS_GROUP, resource=SIGNERS_RESOURCE, name=name
            )
            decision = await self._authorizer.authorize(user, attributes)
            if decision.allowed:
                return None
        return approval_forbidden(user.username, ref)


__all__ = ["CHECK_BUDGET_SECONDS", "NEGATIVE_CACHE_SECONDS", "ApprovalChecker", "unavailable"]
