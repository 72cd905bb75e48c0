"""Structural OpenAPI v3 schemas built from msgspec models, and the API server's rules for them.

:func:`struct_schema` walks ``msgspec.inspect`` type information and returns the schema a CRD
carries for a model: every node typed, everything inlined (a CRD may not use ``$ref``), camelCase
wire names, ``required`` from fields without a default, enums from ``Literal``, ``date-time`` for
datetimes, ``byte`` for bytes, ``additionalProperties`` for ``dict[str, T]`` and
``x-kubernetes-preserve-unknown-fields`` for free-form JSON. Anything the models cannot say
(``int32`` formats, CRD defaults, CEL rules) comes in as :class:`SchemaOptions` patches keyed by
model class, so the models stay the one source of truth for shape and the CRD module for the rest.

:func:`structural_violations` checks a schema against the rules kube-apiserver enforces when a CRD
is created (apiextensions ``schema/validation.go`` and ``apis/apiextensions/validation``), so a
generator mistake fails a unit test instead of ``kubectl apply``. Pure.
"""

from __future__ import annotations

import copy
import enum
import re
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final

import msgspec
import msgspec.inspect as mi

from certkeeper.api import field as fe
from certkeeper.api.field import FieldError, FieldPath
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


# --- the API server's rules for CRD schemas ------------------------------------------------------

_TYPES: Final = frozenset({"object", "array", "string", "integer", "number", "boolean"})
_FORMATS: Final = {
    "string": frozenset({"date-time", "date", "byte", "uri", "email", "hostname", "ipv4", "ipv6", "cidr", "uuid"}),
    "integer": frozenset({"int32", "int64"}),
    "number": frozenset({"float", "double"}),
}
_KEYWORDS: Final = frozenset(
    {
        "type", "format", "description", "title", "default", "enum", "nullable", "properties", "required",
        "additionalProperties", "items", "pattern", "minLength", "maxLength", "minimum", "maximum",
        "exclusiveMinimum", "exclusiveMaximum", "multipleOf", "minItems", "maxItems", "minProperties",
        "maxProperties", "anyOf", "allOf", "oneOf", "not", "example", "externalDocs",
        PRESERVE, INT_OR_STRING, LIST_TYPE, LIST_MAP_KEYS, MAP_TYPE, VALIDATIONS, "x-kubernetes-embedded-resource",
    }
)  # fmt: skip
_UNSUPPORTED: Final = ("$ref", "id", "definitions", "dependencies", "patternProperties", "additionalItems")
#: Keywords a root schema may carry when the status subresource is enabled.
_ROOT_KEYWORDS: Final = frozenset({"type", "description", "required", "properties", PRESERVE, VALIDATIONS})
#: Inside anyOf/allOf/oneOf/not, these make a schema non-structural.
_NOT_IN_JUNCTORS: Final = ("type", "description", "default", "additionalProperties", "nullable", "title")
_INT_OR_STRING_ANY_OF: Final = [{"type": "integer"}, {"type": "string"}]


def structural_violations(schema: Mapping[str, Any], *, status_subresource: bool = True) -> tuple[FieldError, ...]:
    """Every reason kube-apiserver would refuse ``schema`` as a CRD's ``openAPIV3Schema``."""
    errors: list[FieldError] = []
    root = FieldPath("openAPIV3Schema")
    if status_subresource:
        extra = sorted(set(schema) - _ROOT_KEYWORDS)
        if extra:
            errors.append(fe.forbidden(root, f"only {sorted(_ROOT_KEYWORDS)} are allowed at the root, not {extra}"))
    if schema.get("type") != "object":
        errors.append(fe.invalid(root.child("type"), schema.get("type"), "must be object at the root"))
    if "additionalProperties" in schema:
        errors.append(fe.forbidden(root.child("additionalProperties"), "must not be used at the root"))
    properties = schema.get("properties", {})
    for name in ("apiVersion", "kind"):
        if name in properties and properties[name] != {"type": "string"}:
            errors.append(fe.invalid(root.child("properties").key(name), properties[name], "must be string"))
    if "metadata" in properties and properties["metadata"] != {"type": "object"}:
        errors.append(fe.forbidden(root.child("properties").key("metadata"), "must be only type: object"))
    _check(schema, root, "at the root", errors)
    return tuple(errors)


def _check(node: Mapping[str, Any], path: FieldPath, level: str, errors: list[FieldError]) -> None:
    for key in node:
        if key in _UNSUPPORTED:
            errors.append(fe.forbidden(path.child(key), f"{key} is not supported"))
        elif key not in _KEYWORDS:
            errors.append(fe.forbidden(path.child(key), "is not an OpenAPI v3 keyword a CRD may use"))
    kind = node.get("type")
    preserve, int_or_string = node.get(PRESERVE), node.get(INT_OR_STRING)
    if preserve is not None and preserve is not True:
        errors.append(fe.invalid(path.child(PRESERVE), preserve, "must be true or undefined"))
    if int_or_string and preserve:
        errors.append(fe.invalid(path.child(PRESERVE), preserve, "must be false if x-kubernetes-int-or-string is true"))
    if kind is None:
        if not preserve and not int_or_string:
            errors.append(fe.required(path.child("type"), f"must not be empty {level}"))
    elif kind not in _TYPES:
        errors.append(fe.not_supported(path.child("type"), kind, sorted(_TYPES)))
    elif "format" in node and node["format"] not in _FORMATS.get(kind, frozenset()):
        errors.append(fe.invalid(path.child("format"), node["format"], f"is not a format of {kind}"))
    _check_enum(node, path, errors)
    if "pattern" in node:
        try:
            re.compile(node["pattern"])
        except re.error as err:
            errors.append(
                fe.invalid(path.child("pattern"), node["pattern"], f"must be a valid regular expression: {err}")
            )
    if node.get("uniqueItems"):
        errors.append(fe.forbidden(path.child("uniqueItems"), "cannot be set to true"))
    _check_object(node, path, errors)
    _check_array(node, path, errors)
    if MAP_TYPE in node:
        if kind != "object":
            errors.append(fe.invalid(path.child("type"), kind, "must be object if x-kubernetes-map-type is specified"))
        if node[MAP_TYPE] not in ("atomic", "granular"):
            errors.append(fe.not_supported(path.child(MAP_TYPE), node[MAP_TYPE], ["atomic", "granular"]))
    for rule in node.get(VALIDATIONS, []):
        if not isinstance(rule, Mapping) or not rule.get("rule") or "\n" in str(rule.get("message", "")):
            errors.append(fe.invalid(path.child(VALIDATIONS), rule, "needs a rule and a one-line message"))
    _check_junctors(node, path, errors)


def _check_enum(node: Mapping[str, Any], path: FieldPath, errors: list[FieldError]) -> None:
    python_type = {"string": str, "integer": int, "number": float | int, "boolean": bool}.get(node.get("type", ""))
    for value in node.get("enum", []):
        if (
            python_type is None
            or not isinstance(value, python_type)
            or (python_type is int and isinstance(value, bool))
        ):
            errors.append(fe.invalid(path.child("enum"), value, f"must be of type {node.get('type')}"))


def _check_object(node: Mapping[str, Any], path: FieldPath, errors: list[FieldError]) -> None:
    properties = node.get("properties")
    additional = node.get("additionalProperties")
    if (properties is not None or additional is not None) and node.get("type") != "object":
        errors.append(fe.invalid(path.child("type"), node.get("type"), "must be object with properties"))
    if properties and additional is not None:
        errors.append(
            fe.forbidden(path.child("additionalProperties"), "additionalProperties and properties are mutual exclusive")
        )
    if isinstance(additional, Mapping):
        _check(additional, path.child("additionalProperties"), "for specified object fields", errors)
    elif additional is not None:
        errors.append(fe.invalid(path.child("additionalProperties"), additional, "must be a schema"))
    for name, sub in sorted((properties or {}).items()):
        _check(sub, path.child("properties").key(name), "for specified object fields", errors)
    for name in node.get("required", []):
        if properties is None or name not in properties:
            errors.append(fe.invalid(path.child("required"), name, "must name a property"))


def _check_array(node: Mapping[str, Any], path: FieldPath, errors: list[FieldError]) -> None:
    kind, items = node.get("type"), node.get("items")
    if kind == "array" and not isinstance(items, Mapping):
        errors.append(fe.required(path.child("items"), "must be specified as one schema"))
    if isinstance(items, Mapping):
        _check(items, path.child("items"), "for specified array items", errors)
    list_type = node.get(LIST_TYPE)
    if list_type is not None and kind != "array":
        errors.append(fe.invalid(path.child("type"), kind, "must be array if x-kubernetes-list-type is specified"))
    if list_type not in (None, "atomic", "set", "map"):
        errors.append(fe.not_supported(path.child(LIST_TYPE), list_type, ["atomic", "set", "map"]))
    keys = node.get(LIST_MAP_KEYS)
    if keys and list_type != "map":
        errors.append(
            fe.invalid(path.child(LIST_TYPE), list_type, "must be map if x-kubernetes-list-map-keys is non-empty")
        )
    if list_type != "map":
        return
    if not keys:
        errors.append(fe.required(path.child(LIST_MAP_KEYS), "must not be empty if x-kubernetes-list-type is map"))
        return
    if not isinstance(items, Mapping) or items.get("type") != "object":
        errors.append(fe.invalid(path.child("items", "type"), None, "must be object if x-kubernetes-list-type is map"))
        return
    item_properties = items.get("properties", {})
    for key in keys:
        sub = item_properties.get(key)
        if sub is None:
            errors.append(fe.invalid(path.child(LIST_MAP_KEYS), keys, "entries must all be names of item properties"))
        elif sub.get("type") not in ("string", "integer", "number", "boolean"):
            errors.append(fe.invalid(path.child("items", "properties").key(key), sub.get("type"), "must be scalar"))
        elif key not in items.get("required", []) and "default" not in sub:
            errors.append(fe.required(path.child("items", "properties").key(key), "must be required or defaulted"))


def _check_junctors(node: Mapping[str, Any], path: FieldPath, errors: list[FieldError]) -> None:
    for junctor in ("anyOf", "allOf", "oneOf"):
        branches = node.get(junctor)
        if branches is None:
            continue
        if junctor == "anyOf" and node.get(INT_OR_STRING) and branches == _INT_OR_STRING_ANY_OF:
            continue
        for i, branch in enumerate(branches):
            _check_nested(branch, path.child(junctor).index(i), errors)
    if "not" in node:
        _check_nested(node["not"], path.child("not"), errors)


def _check_nested(node: Mapping[str, Any], path: FieldPath, errors: list[FieldError]) -> None:
    for key in node:
        if key in _NOT_IN_JUNCTORS or key.startswith("x-kubernetes-"):
            errors.append(fe.forbidden(path.child(key), "must be undefined to be structural"))
    if "metadata" in node.get("properties", {}):
        errors.append(
            fe.forbidden(path.child("properties").key("metadata"), "must not be specified in a nested context")
        )
    for name, sub in node.get("properties", {}).items():
        _check_nested(sub, path.child("properties").key(name), errors)
    if isinstance(node.get("items"), Mapping):
        _check_nested(node["items"], path.child("items"), errors)


__all__ = [
    "INT_OR_STRING",
    "PRESERVE",
    "Schema",
    "SchemaError",
    "SchemaOptions",
    "struct_schema",
    "structural_violations",
]
