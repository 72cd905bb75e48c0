"""What a reconcile decided, as data, and the one place that writes it to the store.

Controllers gather state, decide, and return an ``Outcome``; ``apply_outcome`` performs it in a fixed
order: creates, applies, updates, deletes, then the status of the reconciled object, then events. A Conflict
(someone else wrote first) propagates so the controller retries with fresh state; NotFound on a delete
and AlreadyExists on a create of an identical name are the desired state already and are ignored.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass

from certkeeper.runtime.events import Event, EventRecorder
from certkeeper.store.ports import AlreadyExists, NotFound, PatchType, RawObject, ResourceType, Store


@dataclass(frozen=True, slots=True, kw_only=True)
class Write:
    resource: ResourceType
    object: RawObject


@dataclass(frozen=True, slots=True, kw_only=True)
class Apply:
    """A server-side apply (forced) of ``object`` as ``field_manager``."""

    resource: ResourceType
    object: RawObject
    field_manager: str


@dataclass(frozen=True, slots=True, kw_only=True)
class Delete:
    resource: ResourceType
    name: str
    namespace: str | None = None
    #: Delete only this incarnation (a precondition), so a re-created namesake survives.
    uid: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Outcome:
    creates: tuple[Write, ...] = ()
    applies: tuple[Apply, ...] = ()
    updates: tuple[Write, ...] = ()
    deletes: tuple[Delete, ...] = ()
    #: The reconciled object carrying its new status (and the resourceVersion it was read at).
    status: RawObject | None = None
    #: Recorded once the object writes succeeded, before the status write (which may still conflict).
    write_events: tuple[Event, ...] = ()
    #: Recorded after the status write.
    events: tuple[Event, ...] = ()
    requeue_after: float | None = None

    @property
    def is_noop(self) -> bool:
        writes = self.creates or self.applies or self.updates or self.deletes
        return not (writes or self.status is not None or self.events or self.write_events)


NOTHING = Outcome()


async def apply_outcome(
    store: Store,
    resource: ResourceType,
    involved: RawObject,
    outcome: Outcome,
    recorder: EventRecorder | None = None,
) -> RawObject | None:
    """Write ``outcome``; returns the object as stored after its status update (if there was one)."""
    for create in outcome.creates:
        try:
            await store.create(create.resource, create.object)
        except AlreadyExists:
            if not create.object.get("metadata", {}).get("name"):
                raise
    for apply in outcome.applies:
        meta = apply.object.get("metadata", {})
        await store.patch(
            apply.resource,
            meta["name"],
            apply.object,
            namespace=meta.get("namespace"),
            patch_type=PatchType.APPLY,
            field_manager=apply.field_manager,
            force=True,
        )
    for update in outcome.updates:
        await store.update(update.resource, update.object)
    for delete in outcome.deletes:
        with contextlib.suppress(NotFound):
            await store.delete(delete.resource, delete.name, namespace=delete.namespace, uid=delete.uid)
    if recorder is not None:
        for event in outcome.write_events:
            await recorder.record(involved, event)
    written: RawObject | None = None
    if outcome.status is not None:
        written = await store.update_status(resource, outcome.status)
    if recorder is not None:
        for event in outcome.events:
            await recorder.record(written or involved, event)
    return written
