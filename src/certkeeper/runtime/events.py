"""Record Kubernetes Events (core/v1) about objects, aggregated as client-go's recorder does.

Repeats of the same (object, type, reason, message) bump ``count`` and ``lastTimestamp`` on one Event
instead of creating new ones, so a controller retrying in a loop cannot flood the store. Messages are
written by controllers and never contain key material.
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from dataclasses import dataclass
from typing import Literal

from certkeeper.runtime.clock import Clock
from certkeeper.store.ports import NotFound, RawObject, Store, StoreError
from certkeeper.store.resources import EVENTS

log = logging.getLogger(__name__)


EventKind = Literal["Normal", "Warning"]

#: How many distinct recent events are remembered for aggregation.
MAX_REMEMBERED = 4096

#: Events hold a message of at most this many bytes (the API server's limit is 1 KiB for notes).
MAX_MESSAGE = 1024


@dataclass(frozen=True, slots=True, kw_only=True)
class Event:
    type: EventKind
    reason: str
    message: str


def _time(clock: Clock) -> str:
    return clock.now().strftime("%Y-%m-%dT%H:%M:%SZ")


class EventRecorder:
    def __init__(self, store: Store, *, clock: Clock, component: str) -> None:
        self._store = store
        self._clock = clock
        self._component = component
        # Bounded LRU of recent events, so that repeats aggregate without remembering every event forever.
        self._seen: OrderedDict[tuple[str, str, str, str], tuple[str, str, int]] = OrderedDict()
        self._last_nanos = 0

    async def record(self, involved: RawObject, event: Event) -> None:
        """Record ``event`` about ``involved``; failures are logged, never raised (events are best effort)."""
        meta = involved.get("metadata", {})
        namespace = meta.get("namespace") or "default"
        message = event.message[:MAX_MESSAGE]
        key = (str(meta.get("uid", "")), event.type, event.reason, message)
        now = _time(self._clock)
        try:
            previous = self._seen.get(key)
            if previous is not None:
                name, ns, count = previous
                try:
                    await self._store.patch(EVENTS, name, {"count": count + 1, "lastTimestamp": now}, namespace=ns)
                    self._seen[key] = (name, ns, count + 1)
                    self._seen.move_to_end(key)
                    return
                except NotFound:
                    del self._seen[key]
            created = await self._store.create(EVENTS, self._new_event(involved, namespace, event, message, now))
            self._seen[key] = (created["metadata"]["name"], namespace, 1)
            while len(self._seen) > MAX_REMEMBERED:
                self._seen.popitem(last=False)
        except StoreError as exc:
            log.warning("could not record event %s on %s: %s", event.reason, meta.get("name"), type(exc).__name__)

    def _event_name(self, involved_name: str) -> str:
        """``<object>.<hex nanoseconds>`` as client-go's recorder names events (unique per recorder)."""
        nanos = int(self._clock.now().timestamp() * 1_000_000) * 1000
        nanos = max(nanos, self._last_nanos + 1)
        self._last_nanos = nanos
        return f"{involved_name}.{nanos:x}"

    def _new_event(self, involved: RawObject, namespace: str, event: Event, message: str, now: str) -> RawObject:
        meta = involved.get("metadata", {})
        return {
            "apiVersion": "v1",
            "kind": "Event",
            "metadata": {"name": self._event_name(str(meta.get("name", "object"))), "namespace": namespace},
            "involvedObject": {
                "apiVersion": involved.get("apiVersion"),
                "kind": involved.get("kind"),
                "name": meta.get("name"),
                "namespace": meta.get("namespace"),
                "uid": meta.get("uid"),
                "resourceVersion": meta.get("resourceVersion"),
            },
            "type": event.type,
            "reason": event.reason,
            "message": message,
            "source": {"component": self._component},
            "reportingComponent": self._component,
            "firstTimestamp": now,
            "lastTimestamp": now,
            "count": 1,
        }
