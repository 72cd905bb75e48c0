"""An engine on an in-memory local store with a fake clock, for state-transition tests."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import msgspec

from certkeeper.api.acme import Challenge, Order
from certkeeper.api.certmanager import Certificate, CertificateRequest, ClusterIssuer, Issuer
from certkeeper.api.defaults import apply_defaults
from certkeeper.api.field import FieldError, FieldPath, invalid
from certkeeper.api.meta import Resource
from certkeeper.controllers.context import EngineOptions
from certkeeper.controllers.engine import Engine
from certkeeper.issuers.base import IssuerBackend
from certkeeper.issuers.ca import CAIssuer
from certkeeper.issuers.selfsigned import SelfSignedIssuer
from certkeeper.runtime.clock import Clock, FakeClock
from certkeeper.store.local import LocalStore, Operation
from certkeeper.store.ports import RawObject, ResourceType
from certkeeper.store.resources import (
    CERTIFICATE_REQUESTS,
    CERTIFICATES,
    CLUSTER_ISSUERS,
    ISSUERS,
    SECRETS,
)

MODELS: dict[str, type[Resource]] = {
    "Certificate": Certificate,
    "CertificateRequest": CertificateRequest,
    "Issuer": Issuer,
    "ClusterIssuer": ClusterIssuer,
    "Order": Order,
    "Challenge": Challenge,
}


def defaulting_admit(
    resource: ResourceType, operation: Operation, new_obj: RawObject, old_obj: RawObject | None, /
) -> tuple[RawObject, Sequence[FieldError], Sequence[str]]:
    """Defaults as the webhook would (validation is tested on its own)."""
    model = MODELS.get(resource.kind)
    if model is None:
        return new_obj, (), ()
    try:
        typed = apply_defaults(msgspec.convert(new_obj, model))
    except msgspec.ValidationError as exc:
        message, _, where = str(exc).partition(" - at `$.")
        return new_obj, (invalid(FieldPath(where.rstrip("`")), None, message),), ()
    out = msgspec.to_builtins(typed)
    assert isinstance(out, dict)
    return out, (), ()


@dataclass
class Harness:
    store: LocalStore
    engine: Engine
    clock: Any

    async def apply(self, resource: ResourceType, obj: RawObject) -> RawObject:
        return await self.store.create(resource, obj)

    async def get(self, resource: ResourceType, name: str, namespace: str | None = None) -> RawObject:
        return await self.store.get(resource, name, namespace=namespace)

    async def settle(self, until: Callable[[], Any] | None = None, *, timeout: float = 20.0) -> None:
        """Run until the engine is idle (and ``until()`` is truthy), in real time for thread work."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        quiet = 0
        while loop.time() < deadline:
            await asyncio.sleep(0.005)
            done = until() if until is not None else True
            quiet = quiet + 1 if self.engine.idle() else 0
            if quiet >= 5 and done:
                return
        raise TimeoutError("the engine did not settle")

    async def advance(self, seconds: float) -> None:
        """Move the fake clock (waking delayed requeues) and let the engine react."""
        self.clock.advance(seconds)
        await self.settle()

    def ready(self, namespace: str, name: str) -> bool:
        raw = self.engine.certificates.cache.get(f"{namespace}/{name}")
        conditions = (raw or {}).get("status", {}).get("conditions", [])
        return any(c["type"] == "Ready" and c["status"] == "True" for c in conditions)


@asynccontextmanager
async def running_engine(
    options: EngineOptions | None = None, *, clock: Clock | None = None, **engine_args: Any
) -> AsyncIterator[Harness]:
    clock = clock or FakeClock()
    store = await LocalStore.open(None, now=clock.now, admit=defaulting_admit, bookmark_interval=None)
    backends: dict[str, IssuerBackend] = {"selfsigned": SelfSignedIssuer(), "ca": CAIssuer()}
    backends.update(engine_args.pop("issuer_backends", {}))
    engine = Engine(
        store,
        clock=clock,
        options=options or EngineOptions(cluster_resource_namespace="cert-manager"),
        issuer_backends=backends,
        **engine_args,
    )
    await engine.start()
    harness = Harness(store, engine, clock)
    try:
        yield harness
    finally:
        # A test may have replaced the engine (a restart): stop and close whichever runs now.
        for running in {id(engine): engine, id(harness.engine): harness.engine}.values():
            await running.stop()
            if running.ctx.acme_accounts is not None:
                await running.ctx.acme_accounts.aclose()
        await store.close()


__all__ = [
    "CERTIFICATES",
    "CERTIFICATE_REQUESTS",
    "CLUSTER_ISSUERS",
    "ISSUERS",
    "SECRETS",
    "Harness",
    "running_engine",
]
