"""A quick yes/no to "does this pruned, defaulted object pass every check of its structural schema?". Pure.

:class:`~certkeeper.api.structural_values.Checker` reports every failure with the API server's
messages and field paths, in the API server's order; it builds a path for each step and sorts keys
at every object. Most objects an engine writes are valid, so :func:`passes` answers only whether the
Checker would report nothing, without paths or ordering, and the caller runs the Checker only when
the answer is no. The answer may be a false no (a node kind it does not handle alone, a value of an
unusual Python type), never a false yes: a node it does not handle is handed to the Checker whole,
and tests/unit/api/test_structural_fast.py compares the two on generated objects. It checks the
same things as ``Checker.run``: types, formats, string and size limits, enums, required fields,
``x-kubernetes-list-type`` uniqueness and the CEL rules.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import lru_cache
from typing import Final

from certkeeper.api.gojson import FORMAT_CHECKS, INT64_MAX, INT64_MIN, fits_integer_format
from certkeeper.api.structural_schema import CompiledSchema
from certkeeper.api.structural_values import Checker

#: Strings longer than this are format-checked without the memo (a date-time is 20 to 35 characters).
_MEMO_TEXT: Final = 64
_BASE64_BODY: Final = re.compile(r"[A-Za-z0-9+/]*")


def _is_base64(text: str) -> bool:
    """:func:`~certkeeper.api.gojson.is_base64`'s answer (padded standard base64 of at least one byte)
    without its backtracking pattern: a length that is a positive multiple of 4, then the alphabet
    up to one or two final ``=``. A CSR or a certificate is a kilobyte or more of it."""
    size = len(text)
    if size < 4 or size % 4:
        return False
    end = size - 2 if text.endswith("==") else size - 1 if text.endswith("=") else size
    return _BASE64_BODY.fullmatch(text, 0, end) is not None


#: The format checks of the API server, ``byte`` by :func:`_is_base64`.
_FORMAT_CHECKS: Final[dict[str, Callable[[str], bool]]] = {**FORMAT_CHECKS, "byte": _is_base64}


@lru_cache(maxsize=4096)
def _memo_format(check: Callable[[str], bool], text: str) -> bool:
    # Timestamps repeat from write to write (a condition's lastTransitionTime, notAfter), and the
    # checks are pure, so their answers are kept.
    return check(text)


def _format_ok(node: CompiledSchema, text: str) -> bool:
    check = _FORMAT_CHECKS.get(node.format or "")
    if check is None:
        return True
    return _memo_format(check, text) if len(text) <= _MEMO_TEXT else check(text)


def _checker_passes(value: object, node: CompiledSchema) -> bool:
    """The Checker's own answer for one subtree (its errors are wanted only to know there are none)."""
    return not Checker().run(value, node)


def _unique_map_keys(items: list[object], keys: tuple[str, ...]) -> bool:
    """No two items of a list-type map share their keys; False also when an item is not an object
    or a key's value is not a string.

    The Checker compares the items' key values as JSON; strings compare equal exactly when their
    JSON does, and an absent key (None here) is never a string, so tuples of them compare the same.
    """
    seen: set[tuple[object, ...]] = set()
    for item in items:
        if item is None:
            entry: tuple[object, ...] = (None,) * len(keys)
        elif type(item) is dict:
            entry = tuple([item.get(key) for key in keys])
            for key, part in zip(keys, entry, strict=True):
                if type(part) is not str and (part is not None or key in item):
                    return False
        else:
            return False
        if entry in seen:
            return False
        seen.add(entry)
    return True


def passes(value: object, node: CompiledSchema) -> bool:
    """True only if ``Checker().run(value, node)`` would report no error at all."""
    if not node.plain:
        return _checker_passes(value, node)
    kind = type(value)
    if kind is not node.exact_type:
        if kind is int and node.type == "integer":
            # What the Checker's type and number checks accept of a plain integer.
            assert isinstance(value, int)
            return INT64_MIN <= value <= INT64_MAX and fits_integer_format(value, node.format or "")
        # A None (nullable or not), a type mismatch, or a subclass of a JSON type: the Checker decides.
        return _checker_passes(value, node)
    if kind is str:
        assert isinstance(value, str)
        if node.enum and value not in node.enum_strings:
            return False
        if node.string_rules and not (
            (node.max_length is None or len(value) <= node.max_length)
            and (node.min_length is None or len(value) >= node.min_length)
            and (node.pattern is None or node.pattern.search(value) is not None)
        ):
            return False
        return not node.format or _format_ok(node, value)
    if kind is dict:
        assert isinstance(value, dict)
        return _object_passes(value, node)
    if kind is list:
        assert isinstance(value, list)
        return _list_passes(value, node)
    return True  # a boolean (``plain`` leaves an enum on anything but a string to the Checker)


def _object_passes(value: dict[str, object], node: CompiledSchema) -> bool:
    if node.min_properties is not None and len(value) < node.min_properties:
        return False
    if node.max_properties is not None and len(value) > node.max_properties:
        return False
    properties = node.properties
    additional = node.additional
    for key, child in value.items():
        sub = properties.get(key, additional)
        # Most fields are strings any string fits; those need no call.
        if sub is not None and type(child) is not sub.any_of_type and not passes(child, sub):
            return False
    for name in node.required:
        if name not in value:
            return False
    return not node.rules or all(rule.holds(value) for rule in node.rules)


def _list_passes(value: list[object], node: CompiledSchema) -> bool:
    if node.min_items is not None and len(value) < node.min_items:
        return False
    if node.max_items is not None and len(value) > node.max_items:
        return False
    items = node.items
    if items is not None and not all(type(item) is items.any_of_type for item in value):
        for item in value:
            if not passes(item, items):
                return False
    if node.list_type == "map":
        return _unique_map_keys(value, node.list_map_keys)
    if node.list_type == "set":
        return all(type(item) is str for item in value) and len(set(value)) == len(value)
    return True


__all__ = ["passes"]
