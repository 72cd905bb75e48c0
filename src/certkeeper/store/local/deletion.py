"""Deletion in the local store: finalizers, and the garbage collector's background cascade.

As the API server's generic registry (``markAsDeleting``, ``deleteWithoutFinalizers``) and the garbage
collector (``pkg/controller/garbagecollector``) behave: an object with finalizers gets
``deletionTimestamp`` (generation bumped, grace period 0) and stays; otherwise it is removed, and every
object it owned is collected in the same batch (dependents of dependents included). Foreground and
orphan propagation are not offered (the Store protocol has no delete options). Pure apart from the
injected clock.
"""

from __future__ import annotations

from collections import deque

from certkeeper.store.local import objectmeta
from certkeeper.store.local.context import WriteContext, conflict, key_for, not_found, rfc3339
from certkeeper.store.local.state import Batch, Entry, copy_json, decode
from certkeeper.store.ports import ResourceType


def _mark_deleting(batch: Batch, ctx: WriteContext, entry: Entry) -> None:
    if entry.obj.get("metadata", {}).get("deletionTimestamp"):
        return
    obj = decode(entry.raw)
    meta = obj["metadata"]
    if int(meta.get("generation") or 0) > 0:
        meta["generation"] = int(meta["generation"]) + 1
    meta["deletionTimestamp"] = rfc3339(ctx.now())
    meta["deletionGracePeriodSeconds"] = 0
    batch.write(entry.key, obj)


def delete(
    batch: Batch, ctx: WriteContext, resource: ResourceType, name: str, *, namespace: str | None, uid: str | None
) -> None:
    """Delete an object: mark it when finalizers remain, otherwise remove it and collect its dependents."""
    key = key_for(resource, namespace, name)
    existing = batch.get(key)
    if existing is None:
        raise not_found(resource, name)
    if uid and uid != existing.uid:
        detail = f"Precondition failed: UID in precondition: {uid}, UID in object meta: {existing.uid}"
        raise conflict(resource, name, detail)
    if objectmeta.finalizers_of(existing.obj.get("metadata", {})):
        _mark_deleting(batch, ctx, existing)
        return
    batch.delete(key, decode(existing.raw))
    collect_dependents(batch, ctx, existing)


def collect_dependents(batch: Batch, ctx: WriteContext, owner: Entry) -> None:
    """Background cascading deletion of everything ``owner`` owned, as the garbage collector does it.

    A dependent is one whose ownerReferences name the owner's uid, in the owner's namespace (a
    cluster-scoped owner may own objects in any namespace). A dependent that still has another existing
    owner only loses the dangling reference; one without is deleted (or marked, if it has finalizers),
    and its own dependents follow.
    """
    queue = deque([owner])
    while queue:
        gone = queue.popleft()
        uid, owner_namespace = gone.uid, gone.key[1]
        if not uid:
            continue
        for dependent_key in sorted(batch.state.dependents_of(uid)):
            if owner_namespace and dependent_key[1] != owner_namespace:
                continue
            dependent = batch.get(dependent_key)
            if dependent is None:
                continue
            refs = dependent.obj.get("metadata", {}).get("ownerReferences") or []
            if not any(isinstance(r, dict) and r.get("uid") == uid for r in refs):
                continue
            living = [
                r
                for r in refs
                if isinstance(r, dict) and r.get("uid") != uid and batch.uid_exists(str(r.get("uid", "")))
            ]
            if living:
                obj = decode(dependent.raw)
                # Copied: a written object shares nothing with a stored one (``Batch.write``).
                obj["metadata"]["ownerReferences"] = copy_json(living)
                batch.write(dependent_key, obj)
            elif objectmeta.finalizers_of(dependent.obj.get("metadata", {})):
                _mark_deleting(batch, ctx, dependent)
            else:
                batch.delete(dependent_key, decode(dependent.raw))
                queue.append(dependent)
