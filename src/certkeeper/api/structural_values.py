"""The value checks of a structural schema, with the API server's messages and field paths.

:class:`Checker` runs, on an already pruned and defaulted object, what kube-openapi's schema
validator runs for a CRD (type, anyOf, string length and pattern, format, number range, array
items and size, enum, object properties and required) and converts each failure the way
apiextensions-apiserver's ``kubeOpenAPIResultToFieldErrors`` does; then the list-type map/set
uniqueness of ``schema/listtype`` and the CEL rules, which the API server skips (with one notice)
when an earlier error is blocking. Pure.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Final

from certkeeper.api import field as fe
from certkeeper.api.field import OMIT, ErrorType, FieldError, FieldPath
from certkeeper.api.gojson import (
    FORMAT_CHECKS,
    as_go_number,
    fits_integer_format,
    go_number,
    go_quote,
    is_json_integer,
    json_type,
)
from certkeeper.api.structural_schema import CompiledSchema

#: Errors after which the API server does not evaluate CEL rules (strategy.go hasBlockingErr).
_BLOCKING: Final = frozenset({ErrorType.REQUIRED, ErrorType.NOT_SUPPORTED, ErrorType.TOO_LONG, ErrorType.TOO_MANY})
RULES_NOT_CHECKED: Final = (
    "some validation rules were not checked because the object was invalid; "
    "correct the existing errors to complete validation"
)
_FLOAT32_MAX: Final = 3.4028234663852886e38


#: Where a value is: ``(parent, step, label)``, or ``(None, _ROOT, FieldPath)`` at the top. A tuple is
#: cheap to build on every step; the :class:`FieldPath` is made (by :func:`_fp`) only for an error.
_Trail = tuple["_Trail | None", int, "str | int | FieldPath"]
_ROOT, _CHILD, _INDEX, _KEY = 0, 1, 2, 3


def _fp(trail: _Trail) -> FieldPath:
    """The field path of ``trail`` (walked without recursion: nesting depth is bounded only by the limits)."""
    steps: list[tuple[int, str | int | FieldPath]] = []
    parent: _Trail | None = trail
    while parent is not None:
        steps.append((parent[1], parent[2]))
        parent = parent[0]
    _, root = steps.pop()
    assert isinstance(root, FieldPath)
    path = root
    for step, label in reversed(steps):
        if step == _INDEX:
            assert isinstance(label, int)
            path = path.index(label)
        elif step == _KEY:
            path = path.key(str(label))
        else:
            path = path.child(str(label))
    return path


class Checker:
    """Collects every error of one object; use once per object."""

    def __init__(self) -> None:
        self.errors: list[FieldError] = []
        self._blocking = False

    def run(self, value: object, root: CompiledSchema) -> list[FieldError]:
        """Every schema, list-type and CEL error of ``value``, in that order."""
        self.check(value, root, FieldPath())
        list_errors: list[FieldError] = []
        rule_errors: list[FieldError] = []
        _walk_lists_and_rules(value, root, (None, _ROOT, FieldPath()), list_errors, rule_errors)
        errors = self.errors + list_errors
        if root.has_rules():
            if self._blocking:
                errors.append(FieldError(ErrorType.INVALID, "", None, RULES_NOT_CHECKED))
            else:
                errors.extend(rule_errors)
        return errors

    def _add(self, error: FieldError, *, type_invalid: bool = False) -> None:
        self.errors.append(error)
        if type_invalid or error.type in _BLOCKING:
            self._blocking = True

    def _type_error(self, path: _Trail, type_name: str, data: str) -> None:
        detail = f"{_fp(path)} in body must be of type {type_name}: {go_quote(data)}"
        self._add(FieldError(ErrorType.INVALID, str(_fp(path)), data, detail), type_invalid=True)

    def check(self, value: object, node: CompiledSchema, path: FieldPath) -> None:
        """The per-node validators, in kube-openapi's order."""
        self._check(value, node, (None, _ROOT, path))

    def _check(self, value: object, node: CompiledSchema, path: _Trail) -> None:
        # The validators a node has nothing for are not called (most nodes are a type and nothing else).
        if type(value) is not node.exact_type:
            self._type(value, node, path)
        if value is None:
            if node.enum:
                self._enum(value, node, path)
            return
        if node.any_of:
            self._any_of(value, node, path)
        if isinstance(value, str):
            if node.string_rules:
                self._string(value, node, path)
            if node.format:
                self._format(value, node, path)
        elif isinstance(value, dict):
            if node.enum:
                self._enum(value, node, path)
            self._object(value, node, path)
            return
        elif isinstance(value, int | float) and not isinstance(value, bool):
            self._number(as_go_number(value), node, path)
        elif isinstance(value, list | tuple):
            self._array(value, node, path)
        if node.enum:
            self._enum(value, node, path)

    def _type(self, value: object, node: CompiledSchema, path: _Trail) -> None:
        if node.type is None and node.format is None:
            return
        types = (node.type,) if node.type else ()
        if value is None:
            if types and "null" not in types and not node.nullable:
                self._type_error(path, ",".join(types), "null")
            return
        schema_type, data_format = json_type(value)
        string_or_slice = isinstance(value, str | list | tuple)
        number = as_go_number(value) if isinstance(value, int | float) and not isinstance(value, bool) else None
        float_int = isinstance(number, float) and "integer" in types and is_json_integer(number)
        int_float = schema_type == "integer" and "number" in types
        matches = schema_type in types or float_int or int_float
        if not string_or_slice and node.format and not (matches or data_format == node.format):
            self._type_error(path, node.format, data_format)
            return
        if "number" not in types and "integer" not in types and node.format and string_or_slice:
            return
        if not matches:
            self._type_error(path, ",".join(types), schema_type)

    def _any_of(self, value: object, node: CompiledSchema, path: _Trail) -> None:
        first_failure: Checker | None = None
        for branch in node.any_of:
            attempt = Checker()
            attempt._check(value, branch, path)
            if not attempt.errors:
                return
            first_failure = first_failure or attempt
        detail = f"{go_quote(str(_fp(path)))} must validate at least one schema (anyOf)"
        self._add(FieldError(ErrorType.INVALID, "", "", detail))
        if first_failure is not None:
            self.errors.extend(first_failure.errors)
            self._blocking = self._blocking or first_failure._blocking

    def _string(self, value: str, node: CompiledSchema, path: _Trail) -> None:
        # kube-openapi stops at the first string failure; lengths count characters (runes).
        if node.max_length is not None and len(value) > node.max_length:
            unit = "byte" if node.max_length == 1 else "bytes"
            detail = f"may not be more than {node.max_length} {unit}"
            self._add(FieldError(ErrorType.TOO_LONG, str(_fp(path)), OMIT, detail))
        elif node.min_length is not None and len(value) < node.min_length:
            self._add(
                fe.invalid(_fp(path), value, f"{_fp(path)} in body should be at least {node.min_length} chars long")
            )
        elif node.pattern is not None and node.pattern.search(value) is None:
            self._add(fe.invalid(_fp(path), value, f"{_fp(path)} in body should match '{node.pattern_text}'"))

    def _format(self, value: str, node: CompiledSchema, path: _Trail) -> None:
        check = FORMAT_CHECKS.get(node.format or "")
        if check is not None and not check(value):
            detail = f"{_fp(path)} in body must be of type {node.format}: {go_quote(value)}"
            self._add(FieldError(ErrorType.INVALID, str(_fp(path)), value, detail), type_invalid=True)

    def _number(self, value: int | float, node: CompiledSchema, path: _Trail) -> None:
        fmt = node.format or ""
        if node.type == "integer" and not fits_integer_format(value, fmt):
            kind = f"with format {fmt}" if fmt in ("int32", "int64") else "(default format)"
            self._add(
                FieldError(ErrorType.INVALID, "", "", f"Checked value must be of type integer {kind} in {_fp(path)}")
            )
        elif node.type == "number" and fmt == "float" and abs(value) > _FLOAT32_MAX:
            detail = f"Checked value must be of type number with format float in {_fp(path)}"
            self._add(FieldError(ErrorType.INVALID, "", "", detail))
        if node.minimum is not None:
            bound = _native_bound(node.minimum, value)
            low = value <= bound if node.exclusive_minimum else value < bound
            if low:
                words = "greater than" if node.exclusive_minimum else "greater than or equal to"
                self._add(fe.invalid(_fp(path), value, f"{_fp(path)} in body should be {words} {go_number(bound)}"))
        if node.maximum is not None:
            bound = _native_bound(node.maximum, value)
            high = value >= bound if node.exclusive_maximum else value > bound
            if high:
                words = "less than" if node.exclusive_maximum else "less than or equal to"
                self._add(fe.invalid(_fp(path), value, f"{_fp(path)} in body should be {words} {go_number(bound)}"))

    def _array(self, value: Sequence[object], node: CompiledSchema, path: _Trail) -> None:
        if node.items is not None:
            for i, item in enumerate(value):
                self._check(item, node.items, (path, _INDEX, i))
        if node.min_items is not None and len(value) < node.min_items:
            detail = f"{_fp(path)} in body should have at least {node.min_items} items"
            self._add(fe.invalid(_fp(path), len(value), detail))
        if node.max_items is not None and len(value) > node.max_items:
            self._add(fe.too_many(_fp(path), len(value), node.max_items))

    def _enum(self, value: object, node: CompiledSchema, path: _Trail) -> None:
        if not node.enum:
            return
        if type(value) is str:
            # A string matches exactly the allowed strings (what _same decides, without the calls).
            if value in node.enum_strings:
                return
        elif any(_same(value, allowed) for allowed in node.enum):
            return
        supported = [allowed if isinstance(allowed, str) else json.dumps(allowed) for allowed in node.enum]
        self._add(fe.not_supported(_fp(path), value, supported))

    def _object(self, value: dict[str, object], node: CompiledSchema, path: _Trail) -> None:
        if node.min_properties is not None and len(value) < node.min_properties:
            detail = f"{_fp(path)} in body should have at least {node.min_properties} properties"
            self._add(fe.invalid(_fp(path), len(value), detail))
        if node.max_properties is not None and len(value) > node.max_properties:
            self._add(fe.too_many(_fp(path), len(value), node.max_properties))
        if node.additional is not None:
            for key in sorted(set(value) - set(node.properties)):
                self._check(value[key], node.additional, (path, _CHILD, key))
        for name in sorted(node.properties.keys() & value.keys()):
            self._check(value[name], node.properties[name], (path, _CHILD, name))
        for name in node.required:
            if name not in value:
                self._add(fe.required(_fp(path).child(name)))


def _native_bound(bound: int | float, value: int | float) -> int | float:
    """The bound as kube-openapi compares it: truncated to int64 for integer data, else float."""
    if isinstance(value, int) and (isinstance(bound, int) or is_json_integer(float(bound))):
        return int(bound)
    return float(bound)


def _kind(value: object) -> str:
    kind, _ = json_type(value)
    return "number" if kind == "integer" else kind


def _same(value: object, allowed: object) -> bool:
    """Enum membership: same JSON kind and equal (a number never equals a string)."""
    return _kind(value) == _kind(allowed) and value == allowed


def _walk_lists_and_rules(
    value: object,
    node: CompiledSchema | None,
    path: _Trail,
    list_errors: list[FieldError],
    rule_errors: list[FieldError],
) -> None:
    """List-type map/set uniqueness (listtype.ValidateListSetsAndMaps) and CEL rules, depth first."""
    if node is None or not node.walks:
        return
    if isinstance(value, dict):
        for rule in node.rules:
            if not rule.holds(value):
                rule_errors.append(FieldError(ErrorType.INVALID, str(_fp(path)), OMIT, rule.message))
        for key in sorted(value):
            if key in node.properties:
                _walk_lists_and_rules(value[key], node.properties[key], (path, _CHILD, key), list_errors, rule_errors)
            elif node.additional is not None:
                _walk_lists_and_rules(value[key], node.additional, (path, _KEY, key), list_errors, rule_errors)
    elif isinstance(value, list | tuple):
        if node.list_type == "map":
            list_errors.extend(_list_map_errors(value, node.list_map_keys, path))
        elif node.list_type == "set":
            list_errors.extend(fe.duplicate(_fp(path).index(i), value[i]) for i in _second_occurrences(value))
        for i, item in enumerate(value):
            _walk_lists_and_rules(item, node.items, (path, _INDEX, i), list_errors, rule_errors)


def _identity(value: object) -> str:
    """A hashable identity with Go's equality: kinds differ, maps and lists compare as JSON."""
    return f"{json_type(value)[0]}:{json.dumps(value, sort_keys=True, default=repr)}"


def _second_occurrences(values: Sequence[object]) -> list[int]:
    """Indexes where a value occurs for the second time (the API server reports each value once)."""
    seen: dict[str, int] = {}
    second: list[int] = []
    for i, value in enumerate(values):
        identity = _identity(value)
        seen[identity] = seen.get(identity, 0) + 1
        if seen[identity] == 2:
            second.append(i)
    return second


def _list_map_errors(value: Sequence[object], keys: Sequence[str], path: _Trail) -> list[FieldError]:
    for i, item in enumerate(value):
        if item is not None and not isinstance(item, dict):
            return [fe.invalid(_fp(path).index(i), item, "must be an object for an array of list-type map")]
    if len(value) <= 1:
        return []
    entries = [{key: item[key] for key in keys if key in item} if isinstance(item, dict) else {} for item in value]
    return [fe.duplicate(_fp(path).index(i), entries[i]) for i in _second_occurrences(entries)]


__all__ = ["RULES_NOT_CHECKED", "Checker"]
