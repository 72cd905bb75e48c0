"""In-memory state of the local store, and the batch in which one write is computed.

Objects are kept as canonical JSON bytes (``Entry.raw``) next to a decoded view used only inside the
store: every read decodes a fresh copy, so no caller can reach the store's own dicts. Indexes by uid and
by owner uid serve cascading deletion. A ``Batch`` is the overlay one verb writes into (an object, the
dependents a deletion cascades to): it is computed on the store's head state (every write computed so
far, committed or not), applied to the head at once, persisted (with the batches computed while an
earlier commit was in flight, as one transaction), and only then applied to the committed state that
readers see, and published. Pure data structures, no I/O.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

import msgspec

from certkeeper.store.local.watch import Change
from certkeeper.store.ports import EventType, RawObject

#: (resource, namespace, name); resource is ``str(ResourceType)``, namespace "" for cluster-scoped kinds.
Key = tuple[str, str, str]

_encoder = msgspec.json.Encoder()


def encode(obj: RawObject) -> bytes:
    return _encoder.encode(obj)


def decode(raw: bytes) -> RawObject:
    obj: RawObject = msgspec.json.decode(raw)
    return obj


def copy_json(value: object) -> Any:
    """A deep copy of a JSON value (dicts, lists, strings, numbers, booleans, None), through msgspec."""
    return msgspec.json.decode(_encoder.encode(value))


def labels_of(obj: Mapping[str, Any]) -> dict[str, str]:
    labels = (obj.get("metadata") or {}).get("labels")
    return labels if isinstance(labels, dict) else {}


def owner_uids(obj: Mapping[str, Any]) -> frozenset[str]:
    refs = (obj.get("metadata") or {}).get("ownerReferences")
    if not isinstance(refs, list) or not refs:
        return frozenset()
    return frozenset(ref["uid"] for ref in refs if isinstance(ref, dict) and isinstance(ref.get("uid"), str))


class Entry:
    """One stored object: its canonical JSON, and what the store's indexes and watch need from it.

    ``raw`` is the truth. ``uid``, ``owners`` and ``labels`` are derived once, when the entry is made, and
    ``obj`` is decoded from ``raw`` on first use: the dict a write built the entry from is handed back to
    that write's caller (``Batch.handoff``), so the entry keeps nothing a caller holds. Nothing the entry
    holds is ever changed once it is made.
    """

    __slots__ = ("_obj", "key", "labels", "managers", "owners", "raw", "rv", "uid")

    def __init__(
        self, key: Key, rv: int, obj: RawObject, raw: bytes, managers: dict[str, list[str]] | None = None
    ) -> None:
        self.key = key
        self.rv = rv
        self.raw = raw
        #: Server-side-apply field sets by manager (encoded paths), see ``apply.py``.
        self.managers: dict[str, list[str]] = managers if managers is not None else {}
        meta = obj.get("metadata")
        meta = meta if isinstance(meta, dict) else {}
        self.uid = str(meta.get("uid", ""))
        self.owners = owner_uids(obj)
        labels = meta.get("labels")
        # A copy: ``obj`` may be handed to a caller, who may change it.
        self.labels: Mapping[str, str] = dict(labels) if isinstance(labels, dict) else {}
        self._obj: RawObject | None = None

    @property
    def obj(self) -> RawObject:
        """The stored object, decoded: the store's own, never to be changed or handed out."""
        obj = self._obj
        if obj is None:
            obj = self._obj = decode(self.raw)
        return obj


class State:
    """Every object, by resource and (namespace, name), with uid and owner indexes."""

    def __init__(self, rv: int) -> None:
        self.rv = rv
        self._objects: dict[str, dict[tuple[str, str], Entry]] = {}
        self._by_uid: dict[str, Key] = {}
        self._dependents: dict[str, set[Key]] = {}

    def copy(self) -> State:
        """An independent state holding the same (immutable once stored) entries."""
        other = State(self.rv)
        other._objects = {resource: dict(table) for resource, table in self._objects.items()}
        other._by_uid = dict(self._by_uid)
        other._dependents = {uid: set(keys) for uid, keys in self._dependents.items()}
        return other

    def get(self, key: Key) -> Entry | None:
        return self._objects.get(key[0], {}).get((key[1], key[2]))

    def entries(self, resource: str) -> list[Entry]:
        """The entries of ``resource`` in key order (namespace, then name), as etcd lists them."""
        table = self._objects.get(resource, {})
        return [table[k] for k in sorted(table)]

    def key_of_uid(self, uid: str) -> Key | None:
        return self._by_uid.get(uid)

    def dependents_of(self, uid: str) -> set[Key]:
        return set(self._dependents.get(uid, ()))

    def put(self, entry: Entry) -> None:
        key = entry.key
        table = self._objects.get(key[0])
        prev = table.get((key[1], key[2])) if table is not None else None
        if table is not None and prev is not None and prev.uid == entry.uid and prev.owners == entry.owners:
            # The usual update: same object, same owners, so the indexes stay as they are.
            table[(key[1], key[2])] = entry
            if entry.uid:
                self._by_uid[entry.uid] = key
            return
        self.remove(key)
        self._objects.setdefault(key[0], {})[(key[1], key[2])] = entry
        if entry.uid:
            self._by_uid[entry.uid] = key
        for owner in entry.owners:
            self._dependents.setdefault(owner, set()).add(key)

    def remove(self, key: Key) -> None:
        table = self._objects.get(key[0])
        if table is None:
            return
        entry = table.pop((key[1], key[2]), None)
        if entry is None:
            return
        if not table:
            del self._objects[key[0]]
        if self._by_uid.get(entry.uid) == key:
            del self._by_uid[entry.uid]
        for owner in entry.owners:
            dependents = self._dependents.get(owner)
            if dependents is not None:
                dependents.discard(key)
                if not dependents:
                    del self._dependents[owner]


class Batch:
    """The changes one write makes, on top of the state, before they are committed."""

    def __init__(self, state: State) -> None:
        self.state = state
        self.rv = state.rv
        self._pending: dict[Key, Entry | None] = {}
        self.changes: list[Change] = []
        #: The dict each entry of this batch was encoded from, by key, until its caller takes it.
        self._handoff: dict[Key, tuple[Entry, RawObject]] = {}

    def get(self, key: Key) -> Entry | None:
        if key in self._pending:
            return self._pending[key]
        return self.state.get(key)

    def uid_exists(self, uid: str) -> bool:
        """Whether an object with ``uid`` exists once this batch is applied."""
        for entry in self._pending.values():
            if entry is not None and entry.uid == uid:
                return True
        key = self.state.key_of_uid(uid)
        if key is None:
            return False
        entry = self.get(key)
        return entry is not None and entry.uid == uid

    def next_rv(self) -> int:
        self.rv += 1
        return self.rv

    def write(self, key: Key, obj: RawObject, *, managers: dict[str, list[str]] | None = None) -> Entry:
        """Store ``obj`` (its metadata.resourceVersion is set here) as ADDED or MODIFIED.

        ``obj`` becomes the batch's: the caller of this write may receive it (``handoff``), so it must share
        nothing with a stored entry or with what a caller of the store passed in.
        """
        prev = self.get(key)
        rv = self.next_rv()
        obj.setdefault("metadata", {})["resourceVersion"] = str(rv)
        if managers is None:
            managers = prev.managers if prev is not None else {}
        entry = Entry(key, rv, obj, encode(obj), managers)
        self._pending[key] = entry
        self._handoff[key] = (entry, obj)
        self.changes.append(
            Change(
                rv=rv,
                type=EventType.MODIFIED if prev is not None else EventType.ADDED,
                resource=key[0],
                namespace=key[1],
                name=key[2],
                raw=entry.raw,
                labels=entry.labels,
                prev_raw=prev.raw if prev is not None else None,
                prev_labels=prev.labels if prev is not None else None,
            )
        )
        return entry

    def delete(self, key: Key, final: RawObject) -> Entry:
        """Remove the object at ``key``; ``final`` is its last state, reported at the deletion's RV.

        ``final`` becomes the batch's, as ``obj`` in ``write``.
        """
        prev = self.get(key)
        if prev is None:
            raise KeyError(key)
        rv = self.next_rv()
        final.setdefault("metadata", {})["resourceVersion"] = str(rv)
        entry = Entry(key, rv, final, encode(final), {})
        self._pending[key] = None
        self._handoff[key] = (entry, final)
        self.changes.append(
            Change(
                rv=rv,
                type=EventType.DELETED,
                resource=key[0],
                namespace=key[1],
                name=key[2],
                raw=entry.raw,
                labels=entry.labels,
                prev_raw=prev.raw,
                prev_labels=prev.labels,
            )
        )
        return entry

    def handoff(self, entry: Entry) -> RawObject:
        """The object for the caller of the write that returned ``entry``: the dict it was encoded from, once.

        That dict is no longer reachable from the store (the entry decodes its own copy when needed), so
        the caller may change it. An entry this batch did not write (or handed off already) is decoded
        afresh.
        """
        held = self._handoff.pop(entry.key, None)
        if held is not None and held[0] is entry:
            return held[1]
        return decode(entry.raw)

    def pending(self) -> Iterator[tuple[Key, Entry | None]]:
        return iter(self._pending.items())

    def apply(self, state: State | None = None) -> None:
        """Make the batch part of ``state`` (default: the state it was computed on)."""
        target = self.state if state is None else state
        for key, entry in self._pending.items():
            if entry is None:
                target.remove(key)
            else:
                target.put(entry)
        target.rv = self.rv
