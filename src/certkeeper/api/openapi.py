"""Structural OpenAPI v3 schemas built from msgspec models, and the API server's rules for them.

:func:`struct_schema` walks ``msgspec.inspect`` type information and returns the schema a CRD
carries for a model: every node typed, everything inlined (a CRD may not use ``$ref``), camelCase
wire names, ``required`` from fields without a default, enums from ``Literal``, ``date-time`` for
datetimes, ``byte`` for bytes, ``additionalProperties`` for ``dict[str, T]`` and
``x-kubernetes-preserve-unknown-fields`` for free-form JSON. Anything the models cannot say
(``int32`` formats, CRD defaults, CEL rules) comes in as :class:`SchemaOptions` patches keyed by
model class, so the models stay the one source of truth for shape and the CRD module for the rest.
The API server's rules for such schemas are checked by :mod:`certkeeper.api.schema_rules`. Pure.
"""

from __future__ import annotations

import copy
import enum
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final

import msgspec
import msgspec.inspect as mi

from certkeeper.api.meta import ObjectMeta

#: A schema node, as it appears in a CRD.
Schema = dict[str, Any]

#: The extension marking a free-form JSON subtree.
PRESERVE: Final = "x-kubernetes-preserve-unknown-fields"
INT_OR_STRING: Final = "x-kubernetes-int-or-string"
LIST_TYPE: Final = "x-kubernetes-list-type"
LIST_MAP_KEYS: Final = "x-kubernetes-list-map-keys"
MAP_TYPE: Final = "x-kubernetes-map-type"
VALIDATIONS: Final = "x-kubernetes-validations"


class SchemaError(ValueError):
    """A model (or a patch) that cannot be expressed as a structural schema."""


@dataclass(frozen=True, slots=True, kw_only=True)
class SchemaOptions:
    """What the models cannot say about their CRD schema.

    ``patches`` maps a model class to ``{wire field name: keywords}``; the keywords are deep-merged
    into that field's node wherever the class appears (``{"items": {"format": "int64"}}`` reaches a
    list's items; a value of ``None`` removes the keyword). The key
    ``""`` patches the class's own object node (e.g. a CEL rule). A patch naming a field the class
    does not have is an error, so patches cannot silently go stale when a model changes.
    ``list_map_keys`` makes lists with that wire name ``x-kubernetes-list-type: map`` keyed by the
    given item fields (cert-manager's ``conditions``, keyed by ``type``); other lists are atomic.
    ``opaque`` classes become a bare ``type: object`` (``metadata``, as controller-gen writes it:
    the API server validates ObjectMeta itself).
    """

    patches: Mapping[type, Mapping[str, Mapping[str, Any]]] = field(default_factory=dict)
    list_map_keys: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    opaque: frozenset[type] = frozenset({ObjectMeta})


def struct_schema(cls: type[msgspec.Struct], options: SchemaOptions | None = None) -> Schema:
    """The structural schema of ``cls`` (a msgspec Struct), fully inlined."""
    walker = _Walker(options or SchemaOptions())
    return walker.node(mi.type_info(cls), ())


def _literal_orders(annotation: object) -> list[tuple[object, ...]]:
    """Every ``Literal[...]`` inside an annotation, values in declaration order.

    ``msgspec.inspect`` sorts literal values; the CRD enum (and so the API server's "supported
    values" message) keeps the order the API declares them in.
    """
    found: list[tuple[object, ...]] = []
    stack: list[object] = [annotation]
    while stack:
        current = stack.pop()
        if typing.get_origin(current) is typing.Literal:
            found.append(typing.get_args(current))
        else:
            stack.extend(typing.get_args(current))
    return found


def _field_literals(cls: type) -> dict[str, list[tuple[object, ...]]]:
    try:
        hints = typing.get_type_hints(cls, include_extras=True)
    except (NameError, TypeError):
        # msgspec resolved the annotations already; without hints only the enum order is lost.
        return {}
    return {name: _literal_orders(annotation) for name, annotation in hints.items()}


def _unwrap(t: mi.Type) -> mi.Type:
    while isinstance(t, mi.Metadata):
        t = t.type
    return t


class _Walker:
    def __init__(self, options: SchemaOptions) -> None:
        self._options = options
        self._stack: list[type] = []

    def node(self, t: mi.Type, literals: tuple[tuple[object, ...], ...]) -> Schema:
        if isinstance(t, mi.Metadata):
            node = self.node(t.type, literals)
            for key, value in (t.extra_json_schema or {}).items():
                node[key] = copy.deepcopy(value)
            return node
        if isinstance(t, mi.UnionType):
            return self._union(t, literals)
        if isinstance(t, mi.StructType):
            return self._struct(t)
        if isinstance(t, mi.ListType | mi.VarTupleType):
            array: Schema = {"type": "array", "items": self.node(t.item_type, literals), LIST_TYPE: "atomic"}
            _put(array, "minItems", t.min_length)
            _put(array, "maxItems", t.max_length)
            return array
        if isinstance(t, mi.DictType):
            return self._dict(t, literals)
        if isinstance(t, mi.LiteralType):
            return _enum_node(t.values, literals)
        if isinstance(t, mi.EnumType):
            return _enum_node(tuple(member.value for member in t.cls), ((),))
        return _scalar(t)

    def _union(self, t: mi.UnionType, literals: tuple[tuple[object, ...], ...]) -> Schema:
        members = [m for m in t.types if not isinstance(m, mi.NoneType)]
        if len(members) == 1:
            return self.node(members[0], literals)
        if sorted(type(_unwrap(m)).__name__ for m in members) == ["IntType", "StrType"]:
            # IntOrString, the one union Kubernetes schemas allow. Constraints of either member sit
            # beside anyOf (as controller-gen writes a Quantity's pattern); each applies only to
            # values of its own type.
            node: Schema = {INT_OR_STRING: True, "anyOf": [{"type": "integer"}, {"type": "string"}]}
            for member in members:
                member_node = self.node(member, literals)
                member_node.pop("type")
                node.update(member_node)
            return node
        raise SchemaError(f"union {t} has no structural schema (only T | None and int | str do)")

    def _dict(self, t: mi.DictType, literals: tuple[tuple[object, ...], ...]) -> Schema:
        if not isinstance(_unwrap(t.key_type), mi.StrType):
            raise SchemaError(f"map keys must be strings, not {t.key_type}")
        node: Schema = {"type": "object"}
        if isinstance(_unwrap(t.value_type), mi.AnyType):
            node[PRESERVE] = True
        else:
            node["additionalProperties"] = self.node(t.value_type, literals)
        _put(node, "minProperties", t.min_length)
        _put(node, "maxProperties", t.max_length)
        return node

    def _struct(self, t: mi.StructType) -> Schema:
        cls = t.cls
        if cls in self._options.opaque:
            return {"type": "object"}
        if cls in self._stack:
            raise SchemaError(f"{cls.__qualname__} contains itself; a CRD schema cannot recurse")
        if t.array_like:
            raise SchemaError(f"{cls.__qualname__} is array_like; CRD objects are JSON objects")
        self._stack.append(cls)
        patches = self._options.patches.get(cls, {})
        literals = _field_literals(cls)
        properties: Schema = {}
        required: list[str] = []
        if t.tag_field is not None:
            properties[t.tag_field] = {"type": "string"}
        for f in t.fields:
            node = self.node(f.type, tuple(literals.get(f.name, ())))
            keys = self._options.list_map_keys.get(f.encode_name)
            if keys is not None and node.get("type") == "array":
                node[LIST_TYPE] = "map"
                node[LIST_MAP_KEYS] = list(keys)
            _merge(node, patches.get(f.encode_name, {}))
            properties[f.encode_name] = node
            if f.required:
                required.append(f.encode_name)
        stale = set(patches) - set(properties) - {""}
        if stale:
            raise SchemaError(f"patches for {cls.__qualname__} name unknown fields: {sorted(stale)}")
        node = {"type": "object"}
        if properties:
            node["properties"] = properties
        if required:
            node["required"] = sorted(required)
        _merge(node, patches.get("", {}))
        self._stack.pop()
        return node


def _put(node: Schema, key: str, value: object) -> None:
    if value is not None:
        node[key] = value


def _merge(node: Schema, patch: Mapping[str, Any]) -> None:
    """Deep-merge ``patch`` into ``node``: mappings merge key by key, ``None`` removes a keyword."""
    for key, value in patch.items():
        if value is None:
            node.pop(key, None)
        elif isinstance(value, Mapping) and isinstance(node.get(key), dict):
            _merge(node[key], value)
        else:
            node[key] = copy.deepcopy(value)


def _enum_node(values: tuple[object, ...], literals: tuple[tuple[object, ...], ...]) -> Schema:
    wanted = set(values)
    ordered = next((order for order in literals if set(order) == wanted), values)
    if all(isinstance(v, str) for v in ordered):
        kind = "string"
    elif all(isinstance(v, int) and not isinstance(v, bool) for v in ordered):
        kind = "integer"
    else:
        raise SchemaError(f"enum {ordered!r} mixes types; a CRD enum has one type")
    return {"type": kind, "enum": [v.value if isinstance(v, enum.Enum) else v for v in ordered]}


def _scalar(t: mi.Type) -> Schema:
    if isinstance(t, mi.StrType):
        node: Schema = {"type": "string"}
        _put(node, "minLength", t.min_length)
        _put(node, "maxLength", t.max_length)
        _put(node, "pattern", t.pattern)
        return node
    if isinstance(t, mi.BoolType):
        return {"type": "boolean"}
    if isinstance(t, mi.IntType | mi.FloatType):
        node = {"type": "integer" if isinstance(t, mi.IntType) else "number"}
        _bounds(node, t)
        return node
    if isinstance(t, mi.DateTimeType):
        return {"type": "string", "format": "date-time"}
    if isinstance(t, mi.DateType):
        return {"type": "string", "format": "date"}
    if isinstance(t, mi.BytesType | mi.ByteArrayType):
        return {"type": "string", "format": "byte"}
    if isinstance(t, mi.AnyType):
        return {PRESERVE: True}
    raise SchemaError(f"{t} has no CRD schema")


def _bounds(node: Schema, t: mi.IntType | mi.FloatType) -> None:
    if t.ge is not None:
        node["minimum"] = t.ge
    elif t.gt is not None:
        node["minimum"] = t.gt
        node["exclusiveMinimum"] = True
    if t.le is not None:
        node["maximum"] = t.le
    elif t.lt is not None:
        node["maximum"] = t.lt
        node["exclusiveMaximum"] = True
    if t.multiple_of is not None:
        # The structural validator does not implement multipleOf, and no CRD of ours needs it.
        raise SchemaError(f"{t}: multipleOf is not supported")


__all__ = [
    "INT_OR_STRING",
    "PRESERVE",
    "Schema",
    "SchemaError",
    "SchemaOptions",
    "struct_schema",
]
