"""Watch machinery of the local store: the bounded change history and the per-watcher queues.

Every committed change becomes a ``Change`` with a store-wide resourceVersion. The hub keeps the last
``history_size`` of them, so a watch can start from any resourceVersion at or after the oldest one it
still holds (older: ``Gone``, as the API server's "too old resource version"), and fans live changes out
to watchers. A watcher whose label selector stops (starts) matching an object sees DELETED (ADDED), as
the API server's watch cache reports it. Each watcher has a bounded queue: a watcher that falls that far
behind is closed with ``Gone`` instead of slowing writers down or growing without bound, and its caller
relists. Publishing never awaits, so writers are never blocked by watchers.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import msgspec

from certkeeper.store.ports import EventType, Gone, LabelSelector, ResourceType, WatchEvent


@dataclass(frozen=True, slots=True)
class Change:
    """One committed change of one object."""

    rv: int
    type: EventType
    resource: str
    namespace: str
    name: str
    #: The object after the change; for DELETED its last state, carrying the deletion's resourceVersion.
    raw: bytes
    labels: Mapping[str, str]
    #: The object before the change (None for ADDED).
    prev_raw: bytes | None
    prev_labels: Mapping[str, str] | None


@dataclass(frozen=True, slots=True)
class Delivery:
    """What a watcher yields next: an event type, an encoded object (None for bookmarks) and its RV.

    ``rv_override`` is set when the object is shown at another resourceVersion than it was stored with
    (an object that left the selector is reported DELETED with its previous content at the new RV).
    """

    type: EventType
    raw: bytes | None
    rv_override: int | None = None


def classify(change: Change, namespace: str | None, selector: LabelSelector | None) -> Delivery | None:
    """What a watcher filtered by namespace and labels sees of ``change``, if anything."""
    if namespace and change.namespace != namespace:
        return None
    if selector is None:
        return Delivery(change.type, change.raw)
    now_matches = selector.matches(change.labels)
    before_matches = change.prev_labels is not None and selector.matches(change.prev_labels)
    if change.type is EventType.ADDED:
        return Delivery(EventType.ADDED, change.raw) if now_matches else None
    if change.type is EventType.DELETED:
        return Delivery(EventType.DELETED, change.raw) if before_matches or now_matches else None
    if now_matches and before_matches:
        return Delivery(EventType.MODIFIED, change.raw)
    if now_matches:
        return Delivery(EventType.ADDED, change.raw)
    if before_matches and change.prev_raw is not None:
        return Delivery(EventType.DELETED, change.prev_raw, change.rv)
    return None


def to_event(delivery: Delivery, resource: ResourceType) -> WatchEvent:
    """Decode a delivery into a fresh event object the caller may change freely."""
    if delivery.raw is None:
        bookmark = {
            "apiVersion": resource.api_version,
            "kind": resource.kind,
            "metadata": {"resourceVersion": str(delivery.rv_override)},
        }
        return WatchEvent(EventType.BOOKMARK, bookmark)
    obj: dict[str, Any] = msgspec.json.decode(delivery.raw)
    if delivery.rv_override is not None:
        obj.setdefault("metadata", {})["resourceVersion"] = str(delivery.rv_override)
    return WatchEvent(delivery.type, obj)


class Watcher:
    """One open watch: its filter and a bounded queue of deliveries."""

    def __init__(
        self, resource: str, *, namespace: str | None, selector: LabelSelector | None, start_rv: int, max_queue: int
    ) -> None:
        self.resource = resource
        self.namespace = namespace
        self.selector = selector
        self._start_rv = start_rv
        self._max_queue = max_queue
        self._queue: deque[Delivery] = deque()
        self._ready = asyncio.Event()
        self._closed = False
        self._overflowed = False

    def offer(self, change: Change) -> None:
        if self._closed or change.rv <= self._start_rv:
            return
        delivery = classify(change, self.namespace, self.selector)
        if delivery is not None:
            self._push(delivery)

    def offer_bookmark(self, rv: int) -> None:
        if self._closed or rv < self._start_rv:
            return
        if self._queue and self._queue[-1].type is EventType.BOOKMARK:
            # A newer bookmark says all the older one said.
            self._queue[-1] = Delivery(EventType.BOOKMARK, None, rv)
        elif len(self._queue) < self._max_queue:
            # A bookmark is a courtesy: a full queue drops it (as the API server does) rather than overflow.
            self._queue.append(Delivery(EventType.BOOKMARK, None, rv))
            self._ready.set()

    def _push(self, delivery: Delivery) -> None:
        if len(self._queue) >= self._max_queue:
            # Too far behind: drop what is queued (the caller must relist anyway) and end with Gone.
            self._queue.clear()
            self._overflowed = True
            self._closed = True
        else:
            self._queue.append(delivery)
        self._ready.set()

    def close(self) -> None:
        self._closed = True
        self._ready.set()

    async def next(self) -> Delivery | None:
        """The next delivery; None once the watch is closed; ``Gone`` when this watcher fell behind."""
        while True:
            if self._overflowed:
                behind = f"fell more than {self._max_queue} events behind"
                raise Gone(f"the watch of {self.resource} {behind}; relist and watch again")
            if self._queue:
                return self._queue.popleft()
            if self._closed:
                return None
            self._ready.clear()
            await self._ready.wait()


class WatchHub:
    """The change history and the open watchers, by resource."""

    def __init__(self, *, history_size: int, compacted_rv: int) -> None:
        self._history: deque[Change] = deque()
        self._history_size = history_size
        #: Every change after this resourceVersion is still in the history.
        self.compacted_rv = compacted_rv
        self._watchers: dict[str, set[Watcher]] = {}

    def publish(self, changes: Iterable[Change]) -> None:
        for change in changes:
            self._history.append(change)
            if len(self._history) > self._history_size:
                self.compacted_rv = self._history.popleft().rv
            for watcher in tuple(self._watchers.get(change.resource, ())):
                watcher.offer(change)

    def since(self, rv: int, resource: str) -> list[Change]:
        """The changes of ``resource`` after ``rv``, oldest first; ``Gone`` when some were compacted away."""
        if rv < self.compacted_rv:
            raise Gone(f"too old resource version: {rv} ({self.compacted_rv})")
        return [c for c in self._history if c.rv > rv and c.resource == resource]

    def register(self, watcher: Watcher) -> None:
        self._watchers.setdefault(watcher.resource, set()).add(watcher)

    def unregister(self, watcher: Watcher) -> None:
        watchers = self._watchers.get(watcher.resource)
        if watchers is not None:
            watchers.discard(watcher)
            if not watchers:
                del self._watchers[watcher.resource]

    def bookmark(self, rv: int) -> None:
        for watchers in self._watchers.values():
            for watcher in watchers:
                watcher.offer_bookmark(rv)

    def close_all(self) -> None:
        for watchers in self._watchers.values():
            for watcher in watchers:
                watcher.close()

    @property
    def watcher_count(self) -> int:
        return sum(len(w) for w in self._watchers.values())
