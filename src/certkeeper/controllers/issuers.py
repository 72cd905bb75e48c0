"""Issuer and ClusterIssuer controllers: run the issuer type's setup and record its Ready condition.

Follows ``pkg/controller/issuers/sync.go`` and ``clusterissuers/sync.go``: the condition carries the
issuer's generation; a setup error is recorded as ``ErrInitIssuer`` and retried with backoff. Changes
to the Secrets an issuer reads requeue it (wired by the engine), so nothing polls.
"""

from __future__ import annotations

import msgspec

from certkeeper.api.certmanager import ClusterIssuer, Issuer, IssuerCondition, IssuerStatus
from certkeeper.api.conditions import set_condition
from certkeeper.api.constants import IssuerConditionType
from certkeeper.controllers.context import Context
from certkeeper.controllers.writes import now_seconds, status_write
from certkeeper.issuers.base import GenericIssuer, SignContext, issuer_type
from certkeeper.runtime.controller import Result
from certkeeper.runtime.events import Event
from certkeeper.runtime.outcome import NOTHING, Outcome, Write, apply_outcome
from certkeeper.store.ports import ResourceType
from certkeeper.store.resources import CLUSTER_ISSUERS, ISSUERS, SECRETS, encode

ERR_INIT_ISSUER = "ErrInitIssuer"
ERR_INIT_MESSAGE = "Error initializing issuer: "


class SetupFailed(Exception):
    """Setup could not complete; the controller retries with backoff."""


async def decide_setup(issuer: GenericIssuer, *, ctx: Context) -> tuple[Outcome, bool]:
    """The status and events of one setup pass, and whether it failed (to be retried)."""
    type_name = issuer_type(issuer.spec)
    backend = ctx.issuer_backends.get(type_name) if type_name else None
    if backend is None:
        return NOTHING, False
    result = await backend.setup(
        issuer,
        SignContext(
            resource_namespace=ctx.resource_namespace(issuer),
            secrets=ctx,
            now=ctx.clock.now(),
            pem_limits=ctx.options.pem_limits,
        ),
    )
    status = issuer.status or IssuerStatus()
    conditions = set_condition(
        status.conditions,
        IssuerCondition(
            type=IssuerConditionType.READY,
            status="True" if result.ready else "False",
            reason=result.reason,
            message=result.message,
            observed_generation=issuer.metadata.generation,
        ),
        now=now_seconds(ctx.clock),
    )
    new_status = msgspec.structs.replace(status, conditions=conditions)
    if result.acme_status is not None:
        new_status = msgspec.structs.replace(new_status, acme=result.acme_status)
    events: list[Event] = []
    if result.event is not None:
        events.append(Event(type=result.event, reason=result.reason, message=result.message))
    if result.retry:
        events.append(Event(type="Warning", reason=ERR_INIT_ISSUER, message=ERR_INIT_MESSAGE + result.message))
    write = status_write(msgspec.structs.replace(issuer, status=new_status)) if new_status != status else None
    creates = tuple(Write(resource=SECRETS, object=encode(secret)) for secret in result.create_secrets)
    return Outcome(creates=creates, status=write, events=tuple(events)), result.retry


class IssuerControllers:
    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx

    async def issuer(self, key: str) -> Result | None:
        found = self.ctx.issuers.get(key)
        return await self._sync(found if isinstance(found, Issuer) else None, ISSUERS, key)

    async def cluster_issuer(self, key: str) -> Result | None:
        if self.ctx.cluster_issuers is None:
            return None
        found = self.ctx.cluster_issuers.get(key)
        return await self._sync(found if isinstance(found, ClusterIssuer) else None, CLUSTER_ISSUERS, key)

    async def _sync(self, issuer: GenericIssuer | None, resource: ResourceType, key: str) -> Result | None:
        if issuer is None or issuer.metadata.deletion_timestamp is not None:
            return None
        outcome, failed = await decide_setup(issuer, ctx=self.ctx)
        cache = self.ctx.issuers if resource is ISSUERS else self.ctx.cluster_issuers
        raw = (cache.get_raw(key) if cache is not None else None) or status_write(issuer)
        if not outcome.is_noop:
            await apply_outcome(self.ctx.store, resource, raw, outcome, self.ctx.recorder)
        if failed:
            raise SetupFailed(outcome.events[-1].message if outcome.events else "issuer setup failed")
        return None
