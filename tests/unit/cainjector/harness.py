"""A CAInjector on an in-memory local store with a fake clock, for state-transition tests.

The local store is told the target kinds' server-side apply list keys (``webhooks`` by ``name``), as
the API server knows them from its schemas. ``MetadataOnlyStore`` stands in for the Kubernetes
backend's ``MetadataStore``: its reads return ``PartialObjectMetadata``, so the injector runs in the
mode where Secrets are cached as metadata and read with a GET.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

from certkeeper.cainjector import ALL_TARGETS, LIST_MAP_KEYS, CAInjector, InjectorOptions
from certkeeper.runtime.clock import FakeClock
from certkeeper.store.local import ListTypes, LocalStore
from certkeeper.store.local.apply import DEFAULT_LIST_TYPES
from certkeeper.store.ports import (
    LabelSelector,
    ObjectList,
    PatchType,
    RawObject,
    ResourceType,
    WatchEvent,
)
from certkeeper.store.resources import BY_API_VERSION_KIND

LIST_TYPES = ListTypes(map_keys={**DEFAULT_LIST_TYPES.map_keys, **LIST_MAP_KEYS}, sets=DEFAULT_LIST_TYPES.sets)


def _partial(obj: RawObject) -> RawObject:
    return {"apiVersion": "meta.k8s.io/v1", "kind": "PartialObjectMetadata", "metadata": obj.get("metadata", {})}


class MetadataOnlyStore:
    """The local store with metadata-only reads (what ``store.kube.MetadataStore`` is to ``KubeStore``)."""

    def __init__(self, store: LocalStore) -> None:
        self.store = store
        self.lists = 0

    async def get(self, resource: ResourceType, name: str, *, namespace: str | None = None) -> RawObject:
        return _partial(await self.store.get(resource, name, namespace=namespace))

    async def list(
        self,
        resource: ResourceType,
        *,
        namespace: str | None = None,
        label_selector: LabelSelector | None = None,
        limit: int | None = None,
        continue_token: str = "",
    ) -> ObjectList:
        self.lists += 1
        page = await self.store.list(
            resource, namespace=namespace, label_selector=label_selector, limit=limit, continue_token=continue_token
        )
        return ObjectList([_partial(o) for o in page.items], page.resource_version, page.continue_token)

    async def watch(
        self,
        resource: ResourceType,
        *,
        resource_version: str,
        namespace: str | None = None,
        label_selector: LabelSelector | None = None,
    ) -> AsyncIterator[WatchEvent]:
        events = self.store.watch(
            resource, resource_version=resource_version, namespace=namespace, label_selector=label_selector
        )
        async for event in events:
            yield WatchEvent(event.type, _partial(event.object))

    async def create(self, resource: ResourceType, obj: RawObject) -> RawObject:
        return await self.store.create(resource, obj)

    async def update(self, resource: ResourceType, obj: RawObject) -> RawObject:
        return await self.store.update(resource, obj)

    async def update_status(self, resource: ResourceType, obj: RawObject) -> RawObject:
        return await self.store.update_status(resource, obj)

    async def patch(
        self,
        resource: ResourceType,
        name: str,
        patch: RawObject | Sequence[RawObject],
        *,
        namespace: str | None = None,
        patch_type: PatchType = PatchType.MERGE,
        field_manager: str = "certkeeper",
        force: bool = False,
        subresource: str = "",
    ) -> RawObject:
        return await self.store.patch(
            resource,
            name,
            patch,
            namespace=namespace,
            patch_type=patch_type,
            field_manager=field_manager,
            force=force,
            subresource=subresource,
        )

    async def delete(
        self, resource: ResourceType, name: str, *, namespace: str | None = None, uid: str | None = None
    ) -> None:
        await self.store.delete(resource, name, namespace=namespace, uid=uid)


@dataclass
class Harness:
    store: LocalStore
    injector: CAInjector
    clock: FakeClock

    @property
    def writes(self) -> int:
        """Applies the reconcilers have written so far."""
        return sum(r.writes for r in self.injector.reconcilers.values())

    async def create(self, resource: ResourceType, obj: RawObject) -> RawObject:
        return await self.store.create(resource, obj)

    async def get(self, resource: ResourceType, name: str, namespace: str | None = None) -> RawObject:
        return await self.store.get(resource, name, namespace=namespace)

    async def merge(self, resource: ResourceType, name: str, patch: RawObject, namespace: str | None = None) -> None:
        await self.store.patch(resource, name, patch, namespace=namespace)

    async def settle(self, until: Callable[[], Any] | None = None, *, timeout: float = 10.0) -> None:
        """Run until the injector is idle (and ``until()`` is truthy) for several polls in a row."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        quiet = 0
        while loop.time() < deadline:
            await asyncio.sleep(0.002)
            done = until() if until is not None else True
            quiet = quiet + 1 if self.injector.idle() else 0
            if quiet >= 5 and done:
                return
        raise TimeoutError("the cainjector did not settle")

    async def advance(self, seconds: float) -> None:
        """Move the fake clock (waking delayed requeues) and let the injector react."""
        self.clock.advance(seconds)
        await self.settle()


@asynccontextmanager
async def running_injector(
    options: InjectorOptions | None = None, *, metadata_only: bool = False, objects: Sequence[RawObject] = ()
) -> AsyncIterator[Harness]:
    """A started injector; ``objects`` (with ``(resource, obj)`` in ``apiVersion``/``kind``) exist before it starts."""
    clock = FakeClock()
    store = await LocalStore.open(None, now=clock.now, bookmark_interval=None, list_types=LIST_TYPES)
    for obj in objects:
        await store.create(resource_of(obj), obj)
    injector = CAInjector(
        store,
        clock=clock,
        options=options,
        secret_metadata_store=MetadataOnlyStore(store) if metadata_only else None,
    )
    await injector.start()
    harness = Harness(store, injector, clock)
    try:
        await harness.settle()
        yield harness
    finally:
        await injector.stop()
        await store.close()


def resource_of(obj: RawObject) -> ResourceType:
    """The ResourceType of a builder's object, from its apiVersion and kind."""
    for target in ALL_TARGETS:
        if (target.resource.api_version, target.resource.kind) == (obj["apiVersion"], obj["kind"]):
            return target.resource
    return BY_API_VERSION_KIND[(obj["apiVersion"], obj["kind"])]
