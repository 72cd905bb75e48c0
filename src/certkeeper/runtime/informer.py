"""Informers: list, then watch, one resource type into an indexed cache, telling handlers what changed.

The reflector loop follows client-go: a paginated LIST fills the cache and yields a resourceVersion;
a WATCH from it applies changes; when the watch ends it is restarted from the last resourceVersion
seen (bookmarks included); a ``Gone`` (410) means the resourceVersion was compacted, so relist and
diff the new list against the cache. Retryable store errors back off on the injected clock.

Objects are transformed on arrival (``managedFields`` and the last-applied annotation dropped) and
kept as raw dicts; handlers get the cached dict and must not mutate it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from certkeeper.runtime.clock import Clock
from certkeeper.store.ports import (
    EventType,
    Gone,
    LabelSelector,
    RawObject,
    ResourceType,
    Store,
    StoreError,
    TooManyRequests,
)

log = logging.getLogger(__name__)

IndexFunc = Callable[[RawObject], Iterable[str]]
Transform = Callable[[RawObject], RawObject]

LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"


def object_key(obj: RawObject) -> str:
    """``namespace/name`` (or ``name`` for cluster-scoped objects), the key the work queues use."""
    meta = obj.get("metadata", {})
    ns = meta.get("namespace")
    return f"{ns}/{meta.get('name', '')}" if ns else str(meta.get("name", ""))


def split_key(key: str) -> tuple[str | None, str]:
    ns, sep, name = key.partition("/")
    return (ns, name) if sep else (None, ns)


def strip_noise(obj: RawObject) -> RawObject:
    """Drop what controllers never read and that costs memory: managedFields, last-applied."""
    meta = obj.get("metadata")
    if isinstance(meta, dict):
        meta.pop("managedFields", None)
        annotations = meta.get("annotations")
        if isinstance(annotations, dict) and LAST_APPLIED in annotations:
            del annotations[LAST_APPLIED]
    return obj


def index_by_namespace(obj: RawObject) -> Iterable[str]:
    ns = obj.get("metadata", {}).get("namespace")
    return [ns] if ns else []


def index_by_owner_uid(obj: RawObject) -> Iterable[str]:
    return [ref["uid"] for ref in obj.get("metadata", {}).get("ownerReferences") or [] if "uid" in ref]


class Indexer:
    """A keyed cache with secondary indexes (index name -> value -> keys)."""

    def __init__(self, indexers: dict[str, IndexFunc] | None = None) -> None:
        self._items: dict[str, RawObject] = {}
        self._indexers = dict(indexers or {})
        self._indices: dict[str, dict[str, set[str]]] = {name: {} for name in self._indexers}

    def get(self, key: str) -> RawObject | None:
        return self._items.get(key)

    def keys(self) -> list[str]:
        return list(self._items)

    def items(self) -> list[RawObject]:
        return list(self._items.values())

    def __len__(self) -> int:
        return len(self._items)

    def by_index(self, index: str, value: str) -> list[RawObject]:
        return [self._items[k] for k in sorted(self._indices[index].get(value, ()))]

    def upsert(self, obj: RawObject) -> RawObject | None:
        key = object_key(obj)
        old = self._items.get(key)
        if old is not None:
            self._unindex(key, old)
        self._items[key] = obj
        for name, fn in self._indexers.items():
            for value in fn(obj):
                self._indices[name].setdefault(value, set()).add(key)
        return old

    def remove(self, key: str) -> RawObject | None:
        old = self._items.pop(key, None)
        if old is not None:
            self._unindex(key, old)
        return old

    def _unindex(self, key: str, obj: RawObject) -> None:
        for name, fn in self._indexers.items():
            for value in fn(obj):
                keys = self._indices[name].get(value)
                if keys is not None:
                    keys.discard(key)
                    if not keys:
                        del self._indices[name][value]


@dataclass(frozen=True, slots=True)
class Handler:
    on_add: Callable[[RawObject], None] | None = None
    on_update: Callable[[RawObject, RawObject], None] | None = None
    on_delete: Callable[[RawObject], None] | None = None


class Informer:
    """One resource type's reflector + cache. ``run`` until cancelled; ``synced`` after the first list."""

    def __init__(
        self,
        store: Store,
        resource: ResourceType,
        *,
        clock: Clock,
        namespace: str | None = None,
        label_selector: LabelSelector | None = None,
        indexers: dict[str, IndexFunc] | None = None,
        transform: Transform = strip_noise,
        page_size: int = 500,
        max_backoff_seconds: float = 30.0,
    ) -> None:
        self.resource = resource
        self.cache = Indexer(indexers)
        self.synced = asyncio.Event()
        self._store = store
        self._clock = clock
        self._namespace = namespace
        self._selector = label_selector
        self._transform = transform
        self._page_size = page_size
        self._max_backoff = max_backoff_seconds
        self._handlers: list[Handler] = []
        self.relists = 0

    def add_handler(self, handler: Handler) -> None:
        """Register handlers; objects already cached are replayed to ``on_add``."""
        self._handlers.append(handler)
        if handler.on_add is not None:
            for obj in self.cache.items():
                handler.on_add(obj)

    async def run(self) -> None:
        backoff = 0.5
        while True:
            try:
                resource_version = await self._relist()
                backoff = 0.5
                while True:
                    resource_version = await self._watch(resource_version)
            except Gone:
                log.debug("%s: resourceVersion expired, relisting", self.resource)
                continue
            except TooManyRequests as exc:
                await self._clock.sleep(max(exc.retry_after_seconds, backoff))
            except StoreError as exc:
                log.warning("%s: %s; retrying in %.1fs", self.resource, type(exc).__name__, backoff)
                await self._clock.sleep(backoff)
            backoff = min(backoff * 2, self._max_backoff)

    async def _relist(self) -> str:
        fresh: dict[str, RawObject] = {}
        token = ""
        while True:
            page = await self._store.list(
                self.resource,
                namespace=self._namespace,
                label_selector=self._selector,
                limit=self._page_size,
                continue_token=token,
            )
            for item in page.items:
                obj = self._transform(item)
                fresh[object_key(obj)] = obj
            token = page.continue_token
            if not token:
                break
        self.relists += 1
        for key in set(self.cache.keys()) - fresh.keys():
            old = self.cache.remove(key)
            if old is not None:
                self._emit_delete(old)
        for obj in fresh.values():
            self._apply_upsert(obj)
        self.synced.set()
        return page.resource_version

    async def _watch(self, resource_version: str) -> str:
        stream = self._store.watch(
            self.resource,
            resource_version=resource_version,
            namespace=self._namespace,
            label_selector=self._selector,
        )
        async for event in stream:
            rv = event.object.get("metadata", {}).get("resourceVersion")
            if rv:
                resource_version = rv
            if event.type is EventType.BOOKMARK:
                continue
            obj = self._transform(event.object)
            if event.type is EventType.DELETED:
                old = self.cache.remove(object_key(obj))
                self._emit_delete(old if old is not None else obj)
            else:
                self._apply_upsert(obj)
        return resource_version

    def _apply_upsert(self, obj: RawObject) -> None:
        old = self.cache.upsert(obj)
        for handler in self._handlers:
            if old is None:
                if handler.on_add is not None:
                    handler.on_add(obj)
            elif handler.on_update is not None:
                handler.on_update(old, obj)

    def _emit_delete(self, obj: RawObject) -> None:
        for handler in self._handlers:
            if handler.on_delete is not None:
                handler.on_delete(obj)
