"""Record Kubernetes Events (core/v1) about objects, aggregated as client-go's recorder does.

Repeats of the same (object, type, reason, message) bump ``count`` and ``lastTimestamp`` on one Event
instead of creating new ones, so a controller retrying in a loop cannot flood the store. Messages are
written by controllers and never contain key material.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Literal

from certkeeper.runtime.clock import Clock
from certkeeper.store.ports import NotFound, RawObject, ResourceType, Store, StoreError

log = logging.getLogger(__name__)

EVENTS = ResourceType(group="", version="v1", kind="Event", plural="events")

EventKind = Literal["Normal", "Warning"]

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
        self._seen: dict[tuple[str, str, str, str], tuple[str, str, int]] = {}

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
                    return
                except NotFound:
                    del self._seen[key]
            created = await self._store.create(EVENTS, self._new_event(involved, namespace, event, message, now))
            self._seen[key] = (created["metadata"]["name"], namespace, 1)
        except StoreError as exc:
            log.warning("could not record event %s on %s: %s", event.reason, meta.get("name"), type(exc).__name__)

    def _new_event(self, involved: RawObject, namespace: str, event: Event, message: str, now: str) -> RawObject:
        meta = involved.get("metadata", {})
        return {
            "apiVersion": "v1",
            "kind": "Event",
            "metadata": {"generateName": f"{meta.get('name', 'object')}.", "namespace": namespace},
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
