"""Server-side apply, approximated for the local store.

What it does, like the API server:

* the applied configuration is merged into the object: maps merge key by key, associative lists merge
  element by element on their key (``status.conditions`` by ``type``, ``metadata.ownerReferences`` by
  ``uid``), set lists (``metadata.finalizers``) take the union, every other list and every scalar is
  replaced;
* each field manager's applied field set is remembered, so a field the manager applied before and no
  longer applies is removed, unless another applying manager still applies it. That is how one
  controller drops "its" condition while another controller's condition stays.

Where it differs (documented limits):

* no conflicts: every apply behaves as ``force=True``; two managers applying different values to the
  same field do not get a 409, the last one wins and both keep the field in their sets;
* only APPLY operations record ownership; an update or merge patch does not take fields over;
* associative and set lists are known by path (the table below), not from the CRD schema;
* ``null`` in an applied configuration removes the field (the API server would ignore it).

Field sets are stored as JSON-encoded paths, and shown to clients as the API server shows them: one
``metadata.managedFields`` entry per applying manager (``operation: Apply``, ``fieldsType: FieldsV1``),
which certkeeper's issuing controller reads back from Secrets. Managers of plain updates and patches
get no entry. Pure.
"""

from __future__ import annotations

import copy
import functools
import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from certkeeper.store.ports import RawObject

#: A path segment: a map key, an associative-list element ``("k", keyField, jsonValue)`` or a set element
#: ``("v", jsonValue)``.
Segment = str | tuple[str, ...]
FieldPathTuple = tuple[Segment, ...]

#: Metadata the server owns or that identifies the object: never part of a field set.
_IDENTITY_METADATA = frozenset(
    {
        "name",
        "namespace",
        "generateName",
        "uid",
        "resourceVersion",
        "generation",
        "creationTimestamp",
        "deletionTimestamp",
        "deletionGracePeriodSeconds",
        "managedFields",
        "selfLink",
    }
)


@dataclass(frozen=True, slots=True, kw_only=True)
class ListTypes:
    """Which lists are associative (merged on a key field) or sets, by their path of map keys."""

    map_keys: Mapping[tuple[str, ...], str] = field(
        default_factory=lambda: {("metadata", "ownerReferences"): "uid", ("status", "conditions"): "type"}
    )
    sets: frozenset[tuple[str, ...]] = frozenset({("metadata", "finalizers")})


DEFAULT_LIST_TYPES = ListTypes()


def _encode_value(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"))


#: Field paths repeat from object to object (the same keys under data, labels, annotations): their
#: encodings are remembered, up to this many.
_PATH_CACHE_SIZE = 8192


@functools.lru_cache(maxsize=_PATH_CACHE_SIZE)
def encode_path(path: FieldPathTuple) -> str:
    """A field path as the JSON text it is stored as."""
    return json.dumps([seg if isinstance(seg, str) else list(seg) for seg in path], separators=(",", ":"))


@functools.lru_cache(maxsize=_PATH_CACHE_SIZE)
def decode_path(text: str) -> FieldPathTuple:
    return tuple(seg if isinstance(seg, str) else tuple(seg) for seg in json.loads(text))


_SUBRESOURCE_SEPARATOR = "\x00"


def manager_key(manager: str, subresource: str) -> str:
    """How a manager's field set is filed: per manager and subresource, as managedFields entries are."""
    return f"{manager}{_SUBRESOURCE_SEPARATOR}{subresource}" if subresource else manager


def _fields_v1_key(segment: Segment) -> str:
    if isinstance(segment, str):
        return f"f:{segment}"
    if segment[0] == "k":
        return "k:{" + json.dumps(segment[1]) + ":" + segment[2] + "}"
    return f"v:{segment[1]}"


def managed_fields(managers: Mapping[str, Iterable[str]], api_version: str) -> list[dict[str, Any]]:
    """``metadata.managedFields`` for the applying managers, in the API server's ``FieldsV1`` form."""
    entries: list[dict[str, Any]] = []
    for key in sorted(managers):
        tree: dict[str, Any] = {}
        for text in sorted(managers[key]):
            path = decode_path(text)
            node = tree
            for segment in path:
                node = node.setdefault(_fields_v1_key(segment), {})
            last = path[-1] if path else ""
            if isinstance(last, tuple) and last[0] == "k":
                # A list element is itself a member ("."), and so is its key field.
                node["."] = {}
                node.setdefault(f"f:{last[1]}", {})
        if not tree:
            continue
        manager, _, subresource = key.partition(_SUBRESOURCE_SEPARATOR)
        entry: dict[str, Any] = {
            "manager": manager,
            "operation": "Apply",
            "apiVersion": api_version,
            "fieldsType": "FieldsV1",
            "fieldsV1": tree,
        }
        if subresource:
            entry["subresource"] = subresource
        entries.append(entry)
    return entries


def field_set(config: Mapping[str, Any], types: ListTypes = DEFAULT_LIST_TYPES) -> set[str]:
    """The encoded leaf paths an applied configuration sets."""
    out: set[FieldPathTuple] = set()
    _collect(config, (), (), types, out)
    return {encode_path(p) for p in out}


def _collect(
    node: Mapping[str, Any], path: FieldPathTuple, schema: tuple[str, ...], types: ListTypes, out: set[FieldPathTuple]
) -> None:
    for key, value in node.items():
        if not schema and key in ("apiVersion", "kind"):
            continue
        if schema == ("metadata",) and key in _IDENTITY_METADATA:
            continue
        here, at = (*path, key), (*schema, key)
        if isinstance(value, dict) and value:
            _collect(value, here, at, types, out)
        elif isinstance(value, list) and at in types.map_keys:
            key_field = types.map_keys[at]
            for item in value:
                if isinstance(item, dict) and key_field in item:
                    element = (*here, ("k", key_field, _encode_value(item[key_field])))
                    out.add(element)
                    _collect({k: v for k, v in item.items() if k != key_field}, element, at, types, out)
        elif isinstance(value, list) and at in types.sets:
            out.update((*here, ("v", _encode_value(item))) for item in value)
        else:
            out.add(here)


def _find_element(items: list[Any], segment: tuple[str, ...]) -> int | None:
    kind, *rest = segment
    for i, item in enumerate(items):
        if kind == "k" and isinstance(item, dict) and rest[0] in item and _encode_value(item[rest[0]]) == rest[1]:
            return i
        if kind == "v" and _encode_value(item) == rest[0]:
            return i
    return None


def _navigate(obj: Any, path: FieldPathTuple) -> Any:
    node = obj
    for segment in path:
        if isinstance(segment, str):
            node = node.get(segment) if isinstance(node, dict) else None
        elif isinstance(node, list):
            index = _find_element(node, segment)
            node = None if index is None else node[index]
        else:
            node = None
        if node is None:
            return None
    return node


def _remove(obj: RawObject, path: FieldPathTuple) -> None:
    parent = _navigate(obj, path[:-1])
    last = path[-1]
    if isinstance(last, str):
        if isinstance(parent, dict):
            parent.pop(last, None)
    elif isinstance(parent, list):
        index = _find_element(parent, last)
        if index is not None:
            del parent[index]
    # Prune the maps and lists this removal emptied, up to (not including) the object itself.
    for depth in range(len(path) - 1, 0, -1):
        container = _navigate(obj, path[:depth])
        if container not in ({}, []):
            break
        _remove_exact(obj, path[:depth])


def _remove_exact(obj: RawObject, path: FieldPathTuple) -> None:
    parent = _navigate(obj, path[:-1])
    last = path[-1]
    if isinstance(last, str) and isinstance(parent, dict):
        parent.pop(last, None)
    elif isinstance(last, tuple) and isinstance(parent, list):
        index = _find_element(parent, last)
        if index is not None:
            del parent[index]


def _keep(value: Any) -> Any:
    return value


def _merge(
    base: Any, config: Mapping[str, Any], schema: tuple[str, ...], types: ListTypes, clone: Callable[[Any], Any]
) -> dict[str, Any]:
    result: dict[str, Any] = dict(base) if isinstance(base, dict) else {}
    for key, value in config.items():
        at = (*schema, key)
        current = result.get(key)
        if value is None:
            result.pop(key, None)
        elif isinstance(value, dict):
            result[key] = _merge(current, value, at, types, clone)
        elif isinstance(value, list) and at in types.map_keys:
            result[key] = _merge_list_map(current, value, types.map_keys[at], at, types, clone)
        elif isinstance(value, list) and at in types.sets:
            existing = list(current) if isinstance(current, list) else []
            result[key] = existing + [clone(v) for v in value if v not in existing]
        else:
            result[key] = clone(value)
    return result


def _merge_list_map(
    current: Any,
    applied: list[Any],
    key_field: str,
    schema: tuple[str, ...],
    types: ListTypes,
    clone: Callable[[Any], Any],
) -> list[Any]:
    merged = list(current) if isinstance(current, list) else []
    for item in applied:
        if not isinstance(item, dict) or key_field not in item:
            merged.append(clone(item))
            continue
        index = _find_element(merged, ("k", key_field, _encode_value(item[key_field])))
        if index is None:
            merged.append(_merge({}, item, schema, types, clone))
        else:
            merged[index] = _merge(merged[index], item, schema, types, clone)
    return merged


def apply(
    current: RawObject | None,
    config: Mapping[str, Any],
    managers: Mapping[str, Iterable[str]],
    manager: str,
    types: ListTypes = DEFAULT_LIST_TYPES,
    *,
    owned: bool = False,
) -> tuple[RawObject, dict[str, list[str]]]:
    """Apply ``config`` as ``manager``: the new object and every manager's new field set.

    ``managers`` maps a manager to its encoded field set (as returned before); it is never changed. So
    are ``current`` and ``config``, unless ``owned``: then the caller hands both over (private copies it
    will not use again), ``current`` is changed in place and the result may share parts of ``config``,
    which spares copying them.
    """
    applied = field_set(config, types)
    previous = set(managers.get(manager, ()))
    others: set[str] = set()
    for name, paths in managers.items():
        if name != manager:
            others.update(paths)
    clone: Callable[[Any], Any] = _keep if owned else copy.deepcopy
    obj: RawObject = ({} if current is None else current) if owned else copy.deepcopy(current or {})
    stale = [decode_path(p) for p in previous - applied - others]
    for path in sorted(stale, key=len, reverse=True):
        _remove(obj, path)
    obj = _merge(obj, config, (), types, clone)
    result = {name: sorted(paths) for name, paths in managers.items() if name != manager}
    result[manager] = sorted(applied)
    return obj, result
