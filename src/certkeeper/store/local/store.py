"""``LocalStore``: the embedded Store backend that ``certkeeper local`` runs on.

One process, no cluster: objects live in memory as canonical JSON and are persisted to SQLite
(``persistence.py``). It behaves like the API server wherever a controller could tell the difference:
store-wide decimal resourceVersions, optimistic concurrency, status subresource and generation rules,
finalizers, cascading deletion, label selectors, consistent paginated lists, and watches that replay
from a resourceVersion, send bookmarks, and answer ``Gone`` when the history no longer reaches back.

Writes are computed one at a time, in call order, on the event loop: a write is computed into a batch
(``writes.py``) against the head state, which holds every write computed so far. Committing uses group
commit: while one SQLite transaction is in flight on the persistence worker thread, the writes computed
meanwhile queue up and are committed together in the next one. Only after its transaction committed is
a batch applied to the committed state that readers see and published to watchers, and only then is its
caller released, so nothing a reader, watcher or caller saw can be lost by a crash. A write that changes
nothing, or is refused, waits for the commits it was computed on (it may have read them) and fails with
``Unavailable`` if one of them failed. A failed commit fails its group and every write computed on top
of it, and the head goes back to the committed state. A write whose caller is cancelled still completes
(like an HTTP request already sent), which keeps memory and disk the same.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import json
import random
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TypeVar

import msgspec

from certkeeper.api.field import FieldPath, invalid
from certkeeper.store.local import context, deletion, writes
from certkeeper.store.local.admission import Admit
from certkeeper.store.local.apply import DEFAULT_LIST_TYPES, ListTypes
from certkeeper.store.local.persistence import MemoryPersistence, Persistence, Row, SqlitePersistence
from certkeeper.store.local.state import Batch, Entry, Key, State, decode, labels_of
from certkeeper.store.local.watch import Delivery, Watcher, WatchHub, classify, to_event
from certkeeper.store.ports import (
    EventType,
    Gone,
    Invalid,
    LabelSelector,
    ObjectList,
    PatchType,
    RawObject,
    ResourceType,
    Unavailable,
    WatchEvent,
)

_T = TypeVar("_T")

_CONTINUE_VERSION = "certkeeper.io/local-v1"
_CONTINUE_EXPIRED = (
    "The provided continue parameter is too old to display a consistent list result. "
    "You can start a new list without the continue parameter."
)


@dataclass(slots=True)
class _Queued:
    """A computed batch waiting for its transaction, and the futures to resolve once it is committed and published.

    The first waiter is its writer's; writes that read it and changed nothing add theirs (``_settled``). Each
    waiter belongs to one awaiting caller, so a cancelled caller cancels only its own future, never the
    batch (which stays queued, like an HTTP request already sent) nor another caller's wait.
    """

    batch: Batch
    waiters: list[asyncio.Future[None]]

    def resolve(self, error: BaseException | None) -> None:
        for waiter in self.waiters:
            if waiter.done():
                continue  # cancelled with its caller: there is nobody to tell
            if error is None:
                waiter.set_result(None)
            else:
                waiter.set_exception(error)
        self.waiters = []


def _rows(group: Sequence[_Queued]) -> tuple[list[Row], list[Key]]:
    """The rows to write and the keys to delete for a group of batches (the last change of a key wins)."""
    final: dict[Key, Entry | None] = {}
    for queued in group:
        for key, entry in queued.batch.pending():
            final.pop(key, None)  # keep the order of the last change
            final[key] = entry
    upserts = [
        Row(*key, entry.rv, entry.raw, msgspec.json.encode(entry.managers) if entry.managers else None)
        for key, entry in final.items()
        if entry is not None
    ]
    return upserts, [key for key, entry in final.items() if entry is None]


def _encode_continue(rv: int, namespace: str, name: str) -> str:
    raw = json.dumps({"v": _CONTINUE_VERSION, "rv": rv, "start": [namespace, name]}, separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def _decode_continue(token: str, resource: ResourceType) -> tuple[int, tuple[str, str]]:
    try:
        data = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
        if data["v"] != _CONTINUE_VERSION:
            raise ValueError("unknown version")
        rv, (namespace, name) = int(data["rv"]), data["start"]
        if rv <= 0 or not isinstance(namespace, str) or not isinstance(name, str):
            raise ValueError("malformed")
    except (ValueError, KeyError, TypeError, binascii.Error) as exc:
        err = invalid(FieldPath("continue"), token, f"invalid continue token: {exc}")
        raise Invalid(str(resource), "", [err]) from None
    return rv, (namespace, name)


class LocalStore:
    """The embedded Store. Open with ``await LocalStore.open(path, now=...)``; close with ``await close()``.

    Parameters (keyword-only):

    * ``now``: the clock, for creationTimestamp and deletionTimestamp;
    * ``admit``: defaulting + validation called on every create and update (``admission.Admit``);
    * ``history_size``: changes kept for watch replay and consistent list pages;
    * ``watch_queue_size``: live events a watcher may have pending before it is closed with ``Gone``;
    * ``bookmark_interval``: seconds between BOOKMARK events to every watcher (None: only on request);
    * ``rng`` / ``new_uid``: sources of generated names and uids (tests make them deterministic);
    * ``list_types``: which lists server-side apply merges by key.
    """

    def __init__(
        self,
        persistence: Persistence,
        *,
        now: Callable[[], datetime],
        admit: Admit | None = None,
        history_size: int = 10_000,
        watch_queue_size: int = 1_000,
        bookmark_interval: float | None = 60.0,
        rng: random.Random | None = None,
        new_uid: Callable[[], str] | None = None,
        list_types: ListTypes = DEFAULT_LIST_TYPES,
    ) -> None:
        if history_size < 1 or watch_queue_size < 1:
            raise ValueError("history_size and watch_queue_size must be positive")
        self._persistence = persistence
        self._ctx = context.WriteContext(
            now=now,
            admit=admit,
            new_uid=new_uid or context.random_uid,
            rng=rng or random.Random(),  # noqa: S311 - generated names are not secrets, as in Kubernetes
            list_types=list_types,
        )
        self._history_size = history_size
        self._watch_queue_size = watch_queue_size
        self._bookmark_interval = bookmark_interval
        #: What readers and watchers see: committed changes only.
        self._state = State(0)
        #: What writes are computed on: the committed state plus every batch queued for commit.
        self._head = State(0)
        self._hub = WatchHub(history_size=history_size, compacted_rv=0)
        self._queue: list[_Queued] = []
        self._last: _Queued | None = None
        self._committer: asyncio.Task[None] | None = None
        self._bookmarks: asyncio.Task[None] | None = None
        self._closed = True

    @classmethod
    async def open(
        cls,
        path: Path | Persistence | None,
        *,
        now: Callable[[], datetime],
        admit: Admit | None = None,
        history_size: int = 10_000,
        watch_queue_size: int = 1_000,
        bookmark_interval: float | None = 60.0,
        rng: random.Random | None = None,
        new_uid: Callable[[], str] | None = None,
        list_types: ListTypes = DEFAULT_LIST_TYPES,
    ) -> LocalStore:
        """Open the store persisted at ``path`` (a SQLite file, created if missing), or in memory if None.

        A ``Persistence`` object may stand in for the path (tests use one that fails or is slow).
        """
        persistence: Persistence
        if isinstance(path, Path):
            persistence = SqlitePersistence(path)
        elif path is None:
            persistence = MemoryPersistence()
        else:
            persistence = path
        store = cls(
            persistence,
            now=now,
            admit=admit,
            history_size=history_size,
            watch_queue_size=watch_queue_size,
            bookmark_interval=bookmark_interval,
            rng=rng,
            new_uid=new_uid,
            list_types=list_types,
        )
        try:
            rv, rows = await persistence.load()
        except BaseException:
            await persistence.close()
            raise
        store._load(rv, rows)
        return store

    def _load(self, rv: int, rows: Sequence[Row]) -> None:
        self._state = State(rv)
        for row in rows:
            managers = msgspec.json.decode(row.managers) if row.managers else {}
            key = (row.resource, row.namespace, row.name)
            self._state.put(Entry(key, row.rv, decode(row.body), row.body, managers))
        self._head = self._state.copy()
        # Watch history starts empty: a watch from before the restart relists.
        self._hub = WatchHub(history_size=self._history_size, compacted_rv=rv)
        self._closed = False
        if self._bookmark_interval:
            self._bookmarks = asyncio.create_task(self._send_bookmarks(self._bookmark_interval))

    async def close(self) -> None:
        """Finish pending writes, end every watch, and close the database."""
        if self._closed:
            return
        self._closed = True
        if self._bookmarks is not None:
            self._bookmarks.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._bookmarks
        if self._committer is not None:
            await asyncio.gather(self._committer, return_exceptions=True)
        self._hub.close_all()
        await self._persistence.close()

    async def __aenter__(self) -> LocalStore:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    @property
    def resource_version(self) -> str:
        """The store-wide resourceVersion of the last committed change."""
        return str(self._state.rv)

    def request_bookmarks(self) -> None:
        """Send a BOOKMARK with the current resourceVersion to every open watch now."""
        self._hub.bookmark(self._state.rv)

    async def _send_bookmarks(self, interval: float) -> None:
        while True:
            await asyncio.sleep(interval)
            self.request_bookmarks()

    def _check_open(self) -> None:
        if self._closed:
            raise Unavailable("the local store is closed")

    # -- writes -----------------------------------------------------------------------------------------

    async def _write(self, compute: Callable[[Batch], _T]) -> _T:
        result, _ = await self._write_batch(compute)
        return result

    async def _write_object(self, compute: Callable[[Batch], Entry]) -> RawObject:
        """Run a write that returns an entry; the caller's copy of the object it stored."""
        entry, batch = await self._write_batch(compute)
        return batch.handoff(entry)

    async def _write_batch(self, compute: Callable[[Batch], _T]) -> tuple[_T, Batch]:
        self._check_open()
        batch = Batch(self._head)
        try:
            result = compute(batch)
        except Exception:
            await self._settled()
            raise
        if not batch.changes:
            await self._settled()
            return result, batch
        batch.apply()
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        queued = _Queued(batch, [waiter])
        self._queue.append(queued)
        self._last = queued
        if self._committer is None or self._committer.done():
            self._committer = asyncio.create_task(self._commit_queued())
        # A cancelled caller cancels only its waiter, not its write (it is part of the head already).
        await waiter
        return result, batch

    async def _settled(self) -> None:
        """Wait until every write computed so far is committed; ``Unavailable`` if one of them failed."""
        last = self._last
        if last is None:
            return
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        last.waiters.append(waiter)
        try:
            await waiter
        except Unavailable as exc:
            raise Unavailable(f"local store: a change this request read was not persisted: {exc}") from exc

    async def _commit_queued(self) -> None:
        """Commit queued batches, a group per transaction, until the queue is empty."""
        while self._queue:
            group, self._queue = self._queue, []
            upserts, deletes = _rows(group)
            try:
                await self._persistence.commit(upserts=upserts, deletes=deletes, rv=group[-1].batch.rv)
            except BaseException as exc:
                self._fail(group, exc)
                if not isinstance(exc, Exception):
                    raise
                continue
            for queued in group:
                queued.batch.apply(self._state)
                self._hub.publish(queued.batch.changes)
            if self._last is group[-1]:
                self._last = None
            for queued in group:
                queued.resolve(None)

    def _fail(self, group: list[_Queued], exc: BaseException) -> None:
        """A commit failed: its group fails, and so does every batch computed on top of it."""
        dependents, self._queue = self._queue, []
        self._head = self._state.copy()
        self._last = None
        if not isinstance(exc, Unavailable):
            error: BaseException = Unavailable(f"local store: could not persist the change: {exc}")
            error.__cause__ = exc
        else:
            error = exc
        for queued in group:
            queued.resolve(error)
        for queued in dependents:
            dependent_error = Unavailable(f"local store: an earlier change this one was computed on failed: {exc}")
            dependent_error.__cause__ = exc
            queued.resolve(dependent_error)

    async def create(self, resource: ResourceType, obj: RawObject) -> RawObject:
        body = context.copy_in(obj)
        return await self._write_object(lambda batch: writes.create(batch, self._ctx, resource, body))

    async def update(self, resource: ResourceType, obj: RawObject) -> RawObject:
        body = context.copy_in(obj)
        return await self._write_object(lambda batch: writes.update(batch, self._ctx, resource, body))

    async def update_status(self, resource: ResourceType, obj: RawObject) -> RawObject:
        body = context.copy_in(obj)
        return await self._write_object(lambda batch: writes.update(batch, self._ctx, resource, body, status_only=True))

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
        """Merge, JSON or apply patch. ``force`` is accepted and implied: see ``apply.py`` for the limits."""
        body = msgspec.json.decode(msgspec.json.encode(patch))

        def compute(batch: Batch) -> Entry:
            return writes.patch(
                batch,
                self._ctx,
                resource,
                name,
                body,
                namespace=namespace,
                patch_type=patch_type,
                field_manager=field_manager,
                subresource=subresource,
            )

        return await self._write_object(compute)

    async def delete(
        self, resource: ResourceType, name: str, *, namespace: str | None = None, uid: str | None = None
    ) -> None:
        await self._write(lambda batch: deletion.delete(batch, self._ctx, resource, name, namespace=namespace, uid=uid))

    # -- reads ------------------------------------------------------------------------------------------

    async def get(self, resource: ResourceType, name: str, *, namespace: str | None = None) -> RawObject:
        self._check_open()
        entry = self._state.get(context.key_for(resource, namespace, name))
        if entry is None:
            raise context.not_found(resource, name)
        return decode(entry.raw)

    def _snapshot(self, resource: str, rv: int) -> list[tuple[tuple[str, str], bytes]]:
        """The objects of ``resource`` as they were at ``rv``, in key order (``Gone`` if compacted)."""
        items = {(e.key[1], e.key[2]): e.raw for e in self._state.entries(resource)}
        if rv < self._state.rv:
            if rv < self._hub.compacted_rv:
                raise Gone(_CONTINUE_EXPIRED)
            for change in reversed(self._hub.since(rv, resource)):
                key = (change.namespace, change.name)
                if change.type is EventType.ADDED or change.prev_raw is None:
                    items.pop(key, None)
                else:
                    items[key] = change.prev_raw
        return sorted(items.items())

    async def list(
        self,
        resource: ResourceType,
        *,
        namespace: str | None = None,
        label_selector: LabelSelector | None = None,
        limit: int | None = None,
        continue_token: str = "",
    ) -> ObjectList:
        """Objects in key order; with ``limit``, pages that all show the store as of the first page."""
        self._check_open()
        rkey = str(resource)
        namespace = namespace if resource.namespaced else None
        start: tuple[str, str] | None = None
        if continue_token:
            rv, start = _decode_continue(continue_token, resource)
            if rv > self._state.rv:
                raise Invalid(str(resource), "", [invalid(FieldPath("continue"), continue_token, "unknown token")])
        else:
            rv = self._state.rv
        items: list[RawObject] = []
        token = ""
        last: tuple[str, str] | None = None
        for key, raw in self._snapshot(rkey, rv):
            if start is not None and key <= start:
                continue
            if namespace and key[0] != namespace:
                continue
            obj = decode(raw)
            if label_selector is not None and not label_selector.matches(labels_of(obj)):
                continue
            if limit is not None and limit > 0 and len(items) == limit:
                assert last is not None
                token = _encode_continue(rv, *last)
                break
            items.append(obj)
            last = key
        return ObjectList(items=items, resource_version=str(rv), continue_token=token)

    def watch(
        self,
        resource: ResourceType,
        *,
        resource_version: str,
        namespace: str | None = None,
        label_selector: LabelSelector | None = None,
    ) -> AsyncIterator[WatchEvent]:
        """Events after ``resource_version``; "" or "0" start with ADDED for every current object.

        Errors (``Gone``, ``Unavailable``) surface on the first iteration. The iterator ends when the
        store closes; it raises ``Gone`` when the watcher fell too far behind.
        """
        return self._watch(resource, resource_version, namespace if resource.namespaced else None, label_selector)

    async def _watch(
        self, resource: ResourceType, resource_version: str, namespace: str | None, selector: LabelSelector | None
    ) -> AsyncIterator[WatchEvent]:
        self._check_open()
        rkey = str(resource)
        current = self._state.rv
        initial: list[Delivery] = []
        if resource_version in ("", "0"):
            start = current
            for entry in self._state.entries(rkey):
                if namespace and entry.key[1] != namespace:
                    continue
                if selector is None or selector.matches(entry.labels):
                    initial.append(Delivery(EventType.ADDED, entry.raw))
        else:
            try:
                start = int(resource_version)
            except ValueError:
                err = invalid(FieldPath("resourceVersion"), resource_version, "must be a resource version")
                raise Invalid(str(resource), "", [err]) from None
            for change in self._hub.since(start, rkey):
                delivery = classify(change, namespace, selector)
                if delivery is not None:
                    initial.append(delivery)
        # Registered in the same step as the replay was taken: no change can fall between the two.
        watcher = Watcher(
            rkey, namespace=namespace, selector=selector, start_rv=max(start, current), max_queue=self._watch_queue_size
        )
        self._hub.register(watcher)
        try:
            for delivery in initial:
                yield to_event(delivery, resource)
            while (delivery_or_none := await watcher.next()) is not None:
                yield to_event(delivery_or_none, resource)
        finally:
            self._hub.unregister(watcher)
