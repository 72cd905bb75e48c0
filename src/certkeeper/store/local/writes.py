"""What each write verb does to the local store, computed into a ``Batch`` before anything is committed.

The steps and their order follow the API server's generic registry (``apiserver/pkg/registry/generic/
registry/store.go``, ``rest.BeforeCreate``/``BeforeUpdate``) and the custom-resource strategy:

* create: system metadata (uid, creationTimestamp, generation 1) set, ``status`` dropped for kinds
  with a status subresource, generateName resolved, metadata validated, admission, AlreadyExists;
* update: preconditions (uid, then resourceVersion: missing is ``Invalid`` for custom resources and
  unconditional for built-in kinds, stale is ``Conflict``), system metadata carried over, ``status``
  kept (status subresource), generation bumped on any change outside metadata, admission; an update
  that changes nothing writes nothing; one that removes the last finalizer of an object being deleted
  deletes it (and collects its dependents, see ``deletion.py``);
* patch: the merge or JSON patch is applied to the stored object and the result goes through update;
  apply merges the configuration (``apply.py``) and creates the object when it is missing.

Pure apart from the injected clock, uid source and random names.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

import msgspec

from certkeeper.api.field import FieldError, FieldPath, invalid, required
from certkeeper.store.local import apply as ssa
from certkeeper.store.local import kinds, objectmeta
from certkeeper.store.local.admission import Operation
from certkeeper.store.local.context import (
    OPTIMISTIC_LOCK_MESSAGE,
    WriteContext,
    conflict,
    copy_in,
    key_for,
    not_found,
    rfc3339,
)
from certkeeper.store.local.deletion import collect_dependents
from certkeeper.store.local.patches import PatchError, json_patch, merge_patch
from certkeeper.store.local.state import Batch, Entry, Key, copy_json, decode
from certkeeper.store.ports import AlreadyExists, Invalid, NotFound, PatchType, RawObject, ResourceType

logger = logging.getLogger(__name__)

_NO_SUCH_RESOURCE = "the server could not find the requested resource"
_GENERATE_NAME_ATTEMPTS = 8
_METADATA = FieldPath("metadata")


def _meta(obj: RawObject, resource: ResourceType, name: str = "") -> dict[str, Any]:
    meta = obj.get("metadata")
    if meta is None:
        meta = obj["metadata"] = {}
    if not isinstance(meta, dict):
        raise Invalid(resource.qualified_kind, name, [invalid(_METADATA, "", "must be an object")])
    return meta


def _check_type(obj: RawObject, resource: ResourceType, name: str) -> None:
    errs: list[FieldError] = []
    for field, expected in (("apiVersion", resource.api_version), ("kind", resource.kind)):
        value = obj.get(field)
        if value not in (None, "", expected):
            errs.append(invalid(FieldPath(field), value, f"must be {expected}"))
    if errs:
        raise Invalid(resource.qualified_kind, name, errs)
    if obj.get("apiVersion") != resource.api_version or obj.get("kind") != resource.kind:
        # Fill them in, first, as the API server serialises objects.
        rest = {k: v for k, v in obj.items() if k not in ("apiVersion", "kind")}
        obj.clear()
        obj.update({"apiVersion": resource.api_version, "kind": resource.kind, **rest})


def _kind_errors(policy: kinds.KindPolicy, obj: RawObject, old: RawObject | None) -> list[FieldError]:
    if not policy.secret:
        return []
    errs = kinds.validate_secret(obj)
    if old is not None:
        errs += kinds.validate_secret_update(obj, old)
    return errs


def _admit(
    ctx: WriteContext, resource: ResourceType, op: Operation, new: RawObject, old: Entry | None
) -> tuple[RawObject, bool]:
    """The admitted object, and whether admission changed it (if not, ``new`` itself is returned).

    Admission gets the write's own ``new`` and the entry's decoded ``old.obj`` as they are, not copies:
    the ``Admit`` contract is that it changes neither and keeps neither (``old.obj`` is decoded once, and
    ``update`` needs it anyway). What it returns, when not ``new`` itself, is copied in before the store
    changes it.
    """
    if ctx.admit is None:
        return new, False
    name = new.get("metadata", {}).get("name", "")
    mutated, errors, warnings = ctx.admit(resource, op, new, old.obj if old is not None else None)
    for warning in warnings:
        logger.warning("admission warning for %s %s: %s", resource, name, warning)
    if errors:
        raise Invalid(resource.qualified_kind, name, errors)
    if _same_json(mutated, new):
        # Unchanged (kinds without webhook rules, objects already defaulted): the checks made on ``new``
        # before admission hold for it, so the caller need not prepare and check it again.
        return new, False
    return copy_in(mutated), True


_canonical = msgspec.json.Encoder(order="sorted")


def _same_json(a: object, b: object) -> bool:
    """Equal as JSON documents, types included (``==`` would take 1, 1.0 and true for the same value)."""
    try:
        return a is b or _canonical.encode(a) == _canonical.encode(b)
    except (TypeError, msgspec.EncodeError):
        return False


# -- create ---------------------------------------------------------------------------------------------


def _prepare_create(resource: ResourceType, obj: RawObject, system: dict[str, Any]) -> dict[str, Any]:
    """Reset what a client cannot set on create, in place; ``system`` holds the server-chosen fields."""
    policy = kinds.policy_for(resource)
    meta = _meta(obj, resource)
    for dropped in ("managedFields", "selfLink", "deletionTimestamp", "deletionGracePeriodSeconds"):
        meta.pop(dropped, None)
    if not resource.namespaced:
        meta.pop("namespace", None)
    meta.update(system)
    if policy.tracks_generation:
        meta["generation"] = 1
    if resource.status_subresource:
        obj.pop("status", None)
    if policy.secret:
        kinds.prepare_secret(obj)
    return meta


def create(
    batch: Batch,
    ctx: WriteContext,
    resource: ResourceType,
    obj: RawObject,
    *,
    managers: dict[str, list[str]] | None = None,
) -> Entry:
    """Add a new object (ADDED)."""
    policy = kinds.policy_for(resource)
    meta = _meta(obj, resource)
    name = meta.get("name") or ""
    _check_type(obj, resource, name)
    if meta.get("resourceVersion"):
        detail = "resourceVersion should not be set on objects to be created"
        err = invalid(_METADATA.child("resourceVersion"), meta["resourceVersion"], detail)
        raise Invalid(resource.qualified_kind, name, [err])
    system = {"uid": ctx.new_uid(), "creationTimestamp": rfc3339(ctx.now())}
    meta = _prepare_create(resource, obj, system)
    namespace = (meta.get("namespace") or "") if resource.namespaced else ""
    if not name and isinstance(meta.get("generateName"), str) and meta["generateName"]:
        name = _generate_name(batch, ctx, resource, namespace, meta["generateName"])
        meta["name"] = name
    errors = objectmeta.validate_create(meta, namespaced=resource.namespaced) + _kind_errors(policy, obj, None)
    if errors:
        raise Invalid(resource.qualified_kind, name, errors)
    obj, changed = _admit(ctx, resource, Operation.CREATE, obj, None)
    if changed:
        # Admission may not move the object or touch what the server owns.
        meta = _prepare_create(resource, obj, system)
        meta["name"] = name
        if resource.namespaced:
            meta["namespace"] = namespace
        meta.pop("resourceVersion", None)
        errors = objectmeta.validate_create(meta, namespaced=resource.namespaced) + _kind_errors(policy, obj, None)
        if errors:
            raise Invalid(resource.qualified_kind, name, errors)
    key = key_for(resource, namespace, name)
    if batch.get(key) is not None:
        raise AlreadyExists(f'{resource} "{name}" already exists')
    _set_managed_fields(obj, resource, managers or {})
    return batch.write(key, obj, managers=managers or {})


def _generate_name(batch: Batch, ctx: WriteContext, resource: ResourceType, namespace: str, prefix: str) -> str:
    # The API server retries a generated name that is taken a few times before giving up.
    for _ in range(_GENERATE_NAME_ATTEMPTS):
        name = objectmeta.generate_name(prefix, ctx.rng)
        if batch.get(key_for(resource, namespace, name)) is None:
            return name
    raise AlreadyExists(f'{resource} "{name}" already exists')


# -- update ---------------------------------------------------------------------------------------------


def _prepare_update(resource: ResourceType, new: RawObject, old: Entry, *, status_only: bool) -> RawObject:
    """The object to store for an update of ``old`` to ``new``: what a client may not change is kept.

    ``new`` is the write's own private copy and is consumed (changed in place and returned, or its
    status moved into the result); ``old`` is never changed (what is kept of it is copied).
    """
    if status_only:
        # The status subresource changes status and nothing else (metadata included).
        result = decode(old.raw)
        if "status" in new:
            result["status"] = new["status"]
        else:
            result.pop("status", None)
        return result
    result = new
    meta = _meta(result, resource)
    old_obj = old.obj
    old_meta = old_obj.get("metadata", {})
    for dropped in ("managedFields", "selfLink"):
        meta.pop(dropped, None)
    if not resource.namespaced:
        meta.pop("namespace", None)
    for carried in ("uid", "creationTimestamp", "deletionTimestamp", "deletionGracePeriodSeconds", "generation"):
        if carried in old_meta:
            meta[carried] = old_meta[carried]  # strings and numbers: shared safely
        else:
            meta.pop(carried, None)
    meta["resourceVersion"] = old_meta.get("resourceVersion", "")
    if resource.status_subresource:
        if "status" in old_obj:
            result["status"] = copy_json(old_obj["status"])
        else:
            result.pop("status", None)
    if kinds.policy_for(resource).secret:
        kinds.prepare_secret(result)
    return result


def _set_managed_fields(obj: RawObject, resource: ResourceType, managers: dict[str, list[str]]) -> None:
    """Show the applying managers' field sets; what a client sent in ``managedFields`` is never kept."""
    meta = obj.setdefault("metadata", {})
    if not managers:
        meta.pop("managedFields", None)
        return
    entries = ssa.managed_fields(managers, resource.api_version)
    if entries:
        meta["managedFields"] = entries
    else:
        meta.pop("managedFields", None)


def _bump_generation(resource: ResourceType, new: RawObject, old: RawObject) -> None:
    if not kinds.policy_for(resource).tracks_generation:
        return
    if {k: v for k, v in new.items() if k != "metadata"} != {k: v for k, v in old.items() if k != "metadata"}:
        new["metadata"]["generation"] = int(old.get("metadata", {}).get("generation") or 0) + 1


def update(
    batch: Batch,
    ctx: WriteContext,
    resource: ResourceType,
    obj: RawObject,
    *,
    status_only: bool = False,
    managers: dict[str, list[str]] | None = None,
    unconditional: bool = False,
) -> Entry:
    """Replace an object (MODIFIED, or DELETED when it removes the last finalizer of a deleting object).

    ``unconditional`` (patches) lets a missing resourceVersion mean "the current one" for every kind.
    """
    if status_only and not resource.status_subresource:
        raise NotFound(_NO_SUCH_RESOURCE)
    policy = kinds.policy_for(resource)
    meta = _meta(obj, resource)
    name = meta.get("name") or ""
    if not name:
        raise Invalid(resource.qualified_kind, name, [required(_METADATA.child("name"), "name is required")])
    _check_type(obj, resource, name)
    key = key_for(resource, meta.get("namespace"), name)
    existing = batch.get(key)
    if existing is None:
        raise not_found(resource, name)
    if meta.get("uid") and meta["uid"] != existing.uid:
        detail = f"Precondition failed: UID in precondition: {meta['uid']}, UID in object meta: {existing.uid}"
        raise conflict(resource, name, detail)
    sent_rv = meta.get("resourceVersion") or ""
    if not sent_rv and not (unconditional or policy.allow_unconditional_update):
        err = invalid(_METADATA.child("resourceVersion"), 0, "must be specified for an update")
        raise Invalid(str(resource), name, [err])
    if sent_rv and str(sent_rv) != str(existing.rv):
        raise conflict(resource, name, OPTIMISTIC_LOCK_MESSAGE)
    old = existing.obj
    new = _prepare_update(resource, obj, existing, status_only=status_only)
    errors = objectmeta.validate_update(new.get("metadata", {}), old.get("metadata", {}))
    errors += _kind_errors(policy, new, old)
    if errors:
        raise Invalid(resource.qualified_kind, name, errors)
    admitted, changed = _admit(ctx, resource, Operation.UPDATE, new, existing)
    if changed:
        new = _prepare_update(resource, admitted, existing, status_only=status_only)
        errors = objectmeta.validate_update(new.get("metadata", {}), old.get("metadata", {}))
        errors += _kind_errors(policy, new, old)
        if errors:
            raise Invalid(resource.qualified_kind, name, errors)
    if not status_only:
        # The status subresource never bumps generation (apiextensions' statusStrategy).
        _bump_generation(resource, new, old)
    if managers is None:
        managers = existing.managers
    _set_managed_fields(new, resource, managers)
    if new == old and managers == existing.managers:
        return existing
    if old.get("metadata", {}).get("deletionTimestamp") and not objectmeta.finalizers_of(new.get("metadata", {})):
        gone = batch.delete(key, new)
        collect_dependents(batch, ctx, existing)
        return gone
    return batch.write(key, new, managers=managers)


# -- patch ----------------------------------------------------------------------------------------------


def _apply_config(resource: ResourceType, config: RawObject, *, status: bool) -> RawObject:
    """The part of an applied configuration the endpoint writes (status only, or all but status)."""
    if status:
        meta = config.get("metadata") or {}
        identity = {k: meta[k] for k in ("name", "namespace", "resourceVersion", "uid") if k in meta}
        kept = {k: v for k, v in config.items() if k in ("apiVersion", "kind", "status")}
        return {**kept, "metadata": identity}
    if resource.status_subresource:
        return {k: v for k, v in config.items() if k != "status"}
    return config


def patch(
    batch: Batch,
    ctx: WriteContext,
    resource: ResourceType,
    name: str,
    body: RawObject | Sequence[RawObject],
    *,
    namespace: str | None,
    patch_type: PatchType,
    field_manager: str,
    subresource: str,
) -> Entry:
    """Apply a merge, JSON or apply patch; an apply to a missing object creates it.

    ``body`` is the write's own copy (``LocalStore.patch`` made it): it is consumed, not copied again.
    """
    if subresource not in ("", "status") or (subresource and not resource.status_subresource):
        raise NotFound(_NO_SUCH_RESOURCE)
    status = subresource == "status"
    key = key_for(resource, namespace, name)
    existing = batch.get(key)
    if patch_type is PatchType.APPLY:
        return _server_side_apply(batch, ctx, resource, key, existing, body, field_manager, status=status)
    if existing is None:
        raise not_found(resource, name)
    current = decode(existing.raw)
    try:
        if patch_type is PatchType.MERGE:
            if not isinstance(body, dict):
                raise PatchError("a merge patch is a JSON object")
            patched = merge_patch(current, body)
        else:
            patched = json_patch(current, msgspec.json.decode(msgspec.json.encode(body)))
    except PatchError as exc:
        raise Invalid(resource.qualified_kind, name, [objectmeta.unprocessable(FieldPath(""), str(exc))]) from None
    if not isinstance(patched, dict):
        raise Invalid(resource.qualified_kind, name, [objectmeta.unprocessable(FieldPath(""), "must be an object")])
    _check_identity(resource, patched, key)
    return update(batch, ctx, resource, patched, status_only=status, unconditional=True)


def _check_identity(resource: ResourceType, obj: RawObject, key: Key) -> None:
    meta = _meta(obj, resource, key[2])
    errs = []
    if (meta.get("name") or "") != key[2]:
        errs.append(invalid(_METADATA.child("name"), meta.get("name") or "", "field is immutable"))
    if resource.namespaced and (meta.get("namespace") or "") != key[1]:
        errs.append(invalid(_METADATA.child("namespace"), meta.get("namespace") or "", "field is immutable"))
    if errs:
        raise Invalid(resource.qualified_kind, key[2], errs)


def _server_side_apply(
    batch: Batch,
    ctx: WriteContext,
    resource: ResourceType,
    key: Key,
    existing: Entry | None,
    body: RawObject | Sequence[RawObject],
    field_manager: str,
    *,
    status: bool,
) -> Entry:
    name = key[2]
    if not isinstance(body, dict):
        raise Invalid(resource.qualified_kind, name, [objectmeta.unprocessable(FieldPath(""), "must be an object")])
    config = body
    errs = [required(FieldPath(f), "") for f in ("apiVersion", "kind") if not config.get(f)]
    if errs:
        raise Invalid(resource.qualified_kind, name, errs)
    _check_type(config, resource, name)
    meta = _meta(config, resource, name)
    meta.setdefault("name", name)
    if resource.namespaced:
        meta.setdefault("namespace", key[1])
    _check_identity(resource, config, key)
    config = _apply_config(resource, config, status=status)
    manager = ssa.manager_key(field_manager, "status" if status else "")
    if existing is None:
        if status:
            raise not_found(resource, name)
        obj, managers = ssa.apply(None, config, {}, manager, ctx.list_types, owned=True)
        return create(batch, ctx, resource, obj, managers=managers)
    obj, managers = ssa.apply(decode(existing.raw), config, existing.managers, manager, ctx.list_types, owned=True)
    return update(batch, ctx, resource, obj, status_only=status, managers=managers, unconditional=True)
