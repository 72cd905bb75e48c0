"""Validate a raw object against a CRD's structural schema, as kube-apiserver does before any webhook.

The steps and their order are the API server's: unknown fields are pruned (and reported, as
``kubectl`` prints them: ``unknown field "spec.foo"``), non-nullable nulls dropped, CRD defaults
applied, then the OpenAPI checks run and every failure is reported with its field path and the
API server's own message (``spec.dnsNames[0]: Invalid value: "integer": spec.dnsNames[0] in body
must be of type string: "integer"``), then ``x-kubernetes-list-type: map`` uniqueness and the CEL
rules. The validator is bounded: objects nested deeper than :attr:`Limits.max_depth` or holding
more than :attr:`Limits.max_values` values are refused before any other work.

Input is a decoded JSON value (``json.loads``, or a YAML loader that keeps timestamps as strings);
it is never modified. Limits of this port: of the string formats only ``date-time``, ``date`` and
``byte`` are checked (the ones cert-manager's CRDs use); CEL rules are limited to the one-of
counting form cert-manager uses (``(has(self.a) ? 1 : 0) + ... == N``), and any other rule is
refused when the schema is compiled; ``metadata`` is checked only for unknown top-level fields.
The order of errors is deterministic (properties sorted), where the API server's follows Go's map
order. Follows apiextensions-apiserver ``pkg/apiserver/schema/{pruning,defaulting,listtype}``,
``pkg/apiserver/validation/validation.go`` and kube-openapi ``pkg/validation/validate``. Pure.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Final

import msgspec

from certkeeper.api import field as fe
from certkeeper.api.field import FieldError, FieldPath, ValidationResult
from certkeeper.api.meta import ObjectMeta
from certkeeper.api.structural_fast import passes
from certkeeper.api.structural_schema import CompiledSchema, compile_schema
from certkeeper.api.structural_values import Checker

#: The fields of ObjectMeta; anything else under ``metadata`` is unknown.
OBJECT_META_FIELDS: Final = frozenset(f.encode_name for f in msgspec.structs.fields(ObjectMeta))
_RESOURCE_META: Final = ("apiVersion", "kind", "metadata")


@dataclass(frozen=True, slots=True, kw_only=True)
class Limits:
    """Bounds on the input, checked before anything else."""

    #: Objects and arrays nested deeper than this are refused.
    max_depth: int = 64
    #: Objects, arrays and scalars in total.
    max_values: int = 100_000


DEFAULT_LIMITS: Final = Limits()


@dataclass(frozen=True, slots=True, kw_only=True)
class StructuralResult:
    """The outcome of validating one object."""

    #: The pruned, defaulted copy (None when the input was refused by the limits).
    object: Any
    errors: tuple[FieldError, ...]
    #: Paths of pruned unknown fields, e.g. ``spec.foo``, ``spec.dnsNames[0].x``.
    unknown_fields: tuple[str, ...]

    @property
    def ok(self) -> bool:
        return not self.errors

    @property
    def warnings(self) -> tuple[str, ...]:
        """The API server's warnings for the pruned fields: ``unknown field "spec.foo"``."""
        return tuple(f'unknown field "{path}"' for path in self.unknown_fields)

    def validation_result(self) -> ValidationResult:
        return ValidationResult(self.errors, self.warnings)


class SchemaValidator:
    """A compiled ``openAPIV3Schema``; validate as many objects with it as needed."""

    def __init__(
        self,
        schema: Mapping[str, Any],
        *,
        limits: Limits = DEFAULT_LIMITS,
        metadata_fields: frozenset[str] = OBJECT_META_FIELDS,
    ) -> None:
        self._root = compile_schema(schema)
        self._limits = limits
        self._metadata_fields = metadata_fields

    def validate(self, obj: object, *, resource_root: bool = True) -> StructuralResult:
        """Prune, default and validate ``obj``; ``resource_root`` treats it as a whole resource."""
        refused = _check_limits(obj, self._limits)
        if refused is not None:
            return StructuralResult(object=None, errors=(refused,), unknown_fields=())
        unknown: list[str] = []
        meta_unknown: list[str] = []
        pruned = _prune(obj, self._root, None, unknown, resource_root=resource_root)
        if resource_root and isinstance(pruned, dict) and isinstance(pruned.get("metadata"), dict):
            meta = pruned["metadata"]
            for key in sorted(set(meta) - self._metadata_fields):
                meta_unknown.append(f"metadata.{key}")
                del meta[key]
        _default(pruned, self._root)
        # Most objects are valid: a quick pass says so, and only the others pay for the Checker's
        # paths, messages and ordering.
        errors = [] if passes(pruned, self._root) else Checker().run(pruned, self._root)
        return StructuralResult(object=pruned, errors=tuple(errors), unknown_fields=(*meta_unknown, *sorted(unknown)))


def validate(obj: object, schema: Mapping[str, Any], *, limits: Limits = DEFAULT_LIMITS) -> StructuralResult:
    """Validate one resource against one schema (compiles the schema each call)."""
    return SchemaValidator(schema, limits=limits).validate(obj)


# --- limits ---------------------------------------------------------------------------------------


#: The containers of a decoded JSON value, as tuples: ``isinstance`` is quicker with one than with a union.
_SEQUENCES: Final = (list, tuple)
_CONTAINERS: Final = (dict, *_SEQUENCES)


def _children(value: object) -> Iterator[tuple[object, object]] | None:
    if isinstance(value, dict):
        return iter(value.items())
    if isinstance(value, _SEQUENCES):
        return iter(enumerate(value))
    return None


def _within_limits(obj: object, limits: Limits) -> bool:
    """Whether ``obj`` breaks no limit: one level at a time, without recursion, counting without paths."""
    if not isinstance(obj, _CONTAINERS):
        return True
    count = 1
    depth = 1
    level: list[dict[object, object] | list[object] | tuple[object, ...]] = [obj]
    while level:
        nested: list[dict[object, object] | list[object] | tuple[object, ...]] = []
        for container in level:
            children = container.values() if isinstance(container, dict) else container
            count += len(children)
            if count > limits.max_values:
                return False
            nested += [child for child in children if isinstance(child, _CONTAINERS)]
        if nested and depth >= limits.max_depth:
            return False
        depth += 1
        level = nested
    return True


def _check_limits(obj: object, limits: Limits) -> FieldError | None:
    """The first limit ``obj`` breaks, walking it in order (only when :func:`_within_limits` says one is)."""
    if _within_limits(obj, limits):
        return None
    root = _children(obj)
    if root is None:
        return None
    stack = [root]
    labels: list[object] = []
    count = 1
    while stack:
        try:
            label, child = next(stack[-1])
        except StopIteration:
            stack.pop()
            if labels:
                labels.pop()
            continue
        count += 1
        if count > limits.max_values:
            return fe.forbidden(FieldPath(), f"must not hold more than {limits.max_values} values")
        nested = _children(child)
        if nested is None:
            continue
        if len(stack) >= limits.max_depth:
            path = _path([*labels, label])
            return fe.forbidden(path, f"must not be nested more than {limits.max_depth} levels deep")
        stack.append(nested)
        labels.append(label)
    return None


def _path(labels: list[object]) -> FieldPath:
    path = FieldPath()
    for label in labels:
        path = path.index(label) if isinstance(label, int) and not isinstance(label, bool) else path.child(_key(label))
    return path


def _key(key: object) -> str:
    """A map key as the YAML-to-JSON conversion writes non-string keys."""
    if isinstance(key, str):
        return key
    if isinstance(key, bool):
        return "true" if key else "false"
    if key is None:
        return "null"
    return str(key)


# --- pruning, null removal, defaulting -----------------------------------------------------------


#: Where a pruned value is: (parent, segment), None at the top; joined only to report an unknown field.
_Where = tuple["_Where", str] | None


def _record(unknown: list[str], parent: _Where, key: str) -> None:
    segments = [f".{key}" if parent is not None else key]
    while parent is not None:
        parent, segment = parent
        segments.append(segment)
    unknown.append("".join(reversed(segments)))


_SCALARS: Final = frozenset({str, int, float, bool, type(None)})


def _copy(value: object) -> object:
    """A deep copy of a decoded JSON value; anything else (a YAML loader's types) through ``copy.deepcopy``."""
    kind = type(value)
    if kind in _SCALARS:
        return value
    if kind is dict:
        assert isinstance(value, dict)
        return {key: _copy(child) for key, child in value.items()}
    if kind is list:
        assert isinstance(value, list)
        return [_copy(child) for child in value]
    return copy.deepcopy(value)


def _prune(
    value: object,
    node: CompiledSchema | None,
    parent: _Where,
    unknown: list[str],
    *,
    resource_root: bool = False,
    preserve: bool = False,
) -> object:
    """A copy of ``value`` without the fields ``node`` does not declare, and without non-nullable nulls.

    Unknown fields are recorded with their path. Under ``x-kubernetes-preserve-unknown-fields``
    they are kept while declared fields below are still pruned, and the items of a preserving
    array preserve too (the API server's skipPrune).
    """
    if isinstance(value, dict):
        keep_unknown = preserve or (node is not None and node.preserve_unknown)
        properties = node.properties if node is not None else {}
        additional = node.additional if node is not None else None
        pruned: dict[str, object] = {}
        for raw_key, child in value.items():
            key = raw_key if type(raw_key) is str else _key(raw_key)
            sub = properties.get(key, additional)
            if child is None and sub is not None and not sub.nullable and sub.default is None:
                continue  # PruneNonNullableNullsWithoutDefaults
            if resource_root and key in _RESOURCE_META:
                pruned[key] = _copy(child)
            elif sub is not None:
                if type(child) in _SCALARS:
                    pruned[key] = child  # what _prune returns for a scalar, without the call
                else:
                    step = f".{key}" if parent is not None else key
                    pruned[key] = _prune(child, sub, (parent, step), unknown)
            elif keep_unknown:
                pruned[key] = _copy(child)
            elif key not in _RESOURCE_META or parent is not None:
                _record(unknown, parent, key)
        return pruned
    if isinstance(value, _SEQUENCES):
        items = node.items if node is not None else None
        inherit = preserve or (node is not None and node.preserve_unknown)
        if inherit and items is None:
            return _copy(list(value))
        return [
            child if type(child) in _SCALARS else _prune(child, items, (parent, f"[{i}]"), unknown, preserve=inherit)
            for i, child in enumerate(value)
        ]
    return _copy(value)


def _default(value: object, node: CompiledSchema | None) -> None:
    """Apply CRD ``default``s in place, as structuraldefaulting.Default does."""
    if node is None or not node.defaults_below:
        return
    if isinstance(value, dict):
        for name, prop in node.properties.items():
            if prop.default is not None and (name not in value or (value[name] is None and not prop.nullable)):
                value[name] = copy.deepcopy(prop.default.value)
        for key, child in value.items():
            sub = node.properties.get(key, node.additional)
            additional_null = sub is not None and key not in node.properties and child is None and not sub.nullable
            if additional_null and sub is not None and sub.default is not None:
                value[key] = child = copy.deepcopy(sub.default.value)
            _default(child, sub)
    elif isinstance(value, list):
        items = node.items
        for i, child in enumerate(value):
            if items is not None and child is None and not items.nullable and items.default is not None:
                value[i] = child = copy.deepcopy(items.default.value)
            _default(child, items)


__all__ = [
    "DEFAULT_LIMITS",
    "OBJECT_META_FIELDS",
    "Limits",
    "SchemaValidator",
    "StructuralResult",
    "validate",
]
