"""The rules kube-apiserver enforces on a CRD's ``openAPIV3Schema``, checked before anyone applies it.

:func:`structural_violations` returns every reason the API server would refuse a schema when the
CRD is created: a node without a type, ``properties`` beside ``additionalProperties``, ``$ref``,
list-map keys that are neither required nor defaulted, typed branches inside ``anyOf`` and the
rest of apiextensions-apiserver's ``pkg/apiserver/schema/validation.go`` and
``pkg/apis/apiextensions/validation/validation.go``, so that a generator mistake fails a unit test
instead of ``kubectl apply``. Pure.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, Final

from certkeeper.api import field as fe
from certkeeper.api.field import FieldError, FieldPath
from certkeeper.api.openapi import INT_OR_STRING, LIST_MAP_KEYS, LIST_TYPE, MAP_TYPE, PRESERVE, VALIDATIONS

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


__all__ = ["structural_violations"]
