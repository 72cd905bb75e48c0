"""A CRD schema compiled for validation: typed nodes, compiled patterns and CEL rules.

Compiling once turns the JSON schema into :class:`CompiledSchema` nodes (patterns translated from
RE2 to Python ``re``, CEL rules parsed), so that validating many objects does no parsing. Only the
CEL rules of one form are understood, the one cert-manager uses on ``spec.venafi``: a sum of
``(has(self.<field>) ? 1 : 0)`` terms compared with ``==`` to a number. Any other rule is refused
here, so a new rule can never be skipped silently. Pure.
"""

from __future__ import annotations

import builtins
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from certkeeper.api.gojson import go_regex
from certkeeper.api.openapi import INT_OR_STRING, LIST_MAP_KEYS, LIST_TYPE, PRESERVE, VALIDATIONS, SchemaError


@dataclass(frozen=True, slots=True)
class Default:
    """A CRD ``default`` (boxed, so that a default of ``null`` or ``false`` is still a default)."""

    value: object


@dataclass(frozen=True, slots=True, kw_only=True)
class CountRule:
    """``(has(self.a) ? 1 : 0) + (has(self.b) ? 1 : 0) == n``: exactly ``n`` of the fields are set."""

    fields: tuple[str, ...]
    count: int
    message: str

    def holds(self, value: Mapping[str, object]) -> bool:
        return sum(1 for name in self.fields if name in value) == self.count


#: The Python type a JSON value of each schema type decodes to, where that alone settles the type check.
_EXACT_TYPES: Final[dict[str, type]] = {"string": str, "object": dict, "array": list, "boolean": bool}
#: The schema types :func:`certkeeper.api.structural_fast.passes` checks itself.
_PLAIN_TYPES: Final = frozenset({*_EXACT_TYPES, "integer"})


@dataclass(slots=True, kw_only=True)
class CompiledSchema:
    """One schema node, ready for validation. Not to be changed after construction: what is known of
    the nodes below (``has_rules``, ``walks``, ``defaults_below``) is computed once, when it is built."""

    type: str | None = None
    format: str | None = None
    nullable: bool = False
    enum: tuple[object, ...] | None = None
    default: Default | None = None
    properties: dict[str, CompiledSchema] = field(default_factory=dict)
    required: tuple[str, ...] = ()
    additional: CompiledSchema | None = None
    items: CompiledSchema | None = None
    any_of: tuple[CompiledSchema, ...] = ()
    preserve_unknown: bool = False
    int_or_string: bool = False
    pattern: re.Pattern[str] | None = None
    pattern_text: str = ""
    min_length: int | None = None
    max_length: int | None = None
    minimum: int | float | None = None
    maximum: int | float | None = None
    exclusive_minimum: bool = False
    exclusive_maximum: bool = False
    min_items: int | None = None
    max_items: int | None = None
    min_properties: int | None = None
    max_properties: int | None = None
    list_type: str | None = None
    list_map_keys: tuple[str, ...] = ()
    rules: tuple[CountRule, ...] = ()
    #: This node or one below (``anyOf`` branches included) carries a CEL rule.
    rules_below: bool = field(init=False, default=False)
    #: This node or one below (``anyOf`` branches excluded) has a list type or a CEL rule to check.
    walks: bool = field(init=False, default=False)
    #: A node below (``anyOf`` branches excluded) has a ``default``.
    defaults_below: bool = field(init=False, default=False)
    #: A value of exactly this Python type passes the type check (None: the full check decides).
    exact_type: builtins.type | None = field(init=False, default=None)
    #: The node limits strings (length or pattern).
    string_rules: bool = field(init=False, default=False)
    #: The strings ``enum`` allows.
    enum_strings: frozenset[str] = field(init=False, default=frozenset())
    #: :func:`certkeeper.api.structural_fast.passes` checks values of this node itself (a typed node
    #: without anyOf, number bounds or an enum on a non-string); others it leaves to the Checker.
    plain: bool = field(init=False, default=False)
    #: Every value of exactly this Python type passes this node's checks (a string where any string
    #: will do, a boolean); None when values need looking at.
    any_of_type: builtins.type | None = field(init=False, default=None)

    def __post_init__(self) -> None:
        below = [*self.properties.values(), self.additional, self.items]
        children = [child for child in below if child is not None]
        self.rules_below = bool(self.rules) or any(child.rules_below for child in (*children, *self.any_of))
        self.walks = bool(self.rules) or self.list_type in ("map", "set") or any(child.walks for child in children)
        self.defaults_below = any(child.default is not None or child.defaults_below for child in children)
        self.exact_type = _EXACT_TYPES.get(self.type or "")
        self.string_rules = self.max_length is not None or self.min_length is not None or self.pattern is not None
        self.enum_strings = frozenset(allowed for allowed in self.enum or () if isinstance(allowed, str))
        self.plain = (
            self.type in _PLAIN_TYPES
            and not self.any_of
            and self.minimum is None
            and self.maximum is None
            and (not self.enum or self.type == "string")
        )
        if self.plain and self.type == "boolean":
            self.any_of_type = bool
        elif self.plain and self.type == "string" and not (self.enum or self.string_rules or self.format):
            self.any_of_type = str

    def field(self, name: str) -> CompiledSchema | None:
        """The schema of field ``name``: a declared property, else ``additionalProperties``."""
        return self.properties.get(name, self.additional)

    def has_rules(self) -> bool:
        """Whether this node or any node below carries a CEL rule."""
        return self.rules_below


_TERM: Final = re.compile(r"\(\s*has\(\s*self\.([A-Za-z_][A-Za-z0-9_]*)\s*\)\s*\?\s*1\s*:\s*0\s*\)")


def _compile_rule(rule: Mapping[str, Any]) -> CountRule:
    text = str(rule.get("rule", ""))
    left, sep, right = text.partition("==")
    terms = [term.strip() for term in left.split("+")]
    matches = [_TERM.fullmatch(term) for term in terms]
    if not sep or not right.strip().isdigit() or not all(matches):
        raise SchemaError(f"unsupported x-kubernetes-validations rule {text!r}: only has()-counting rules are known")
    # The API server's ruleMessageOrDefault.
    message = str(rule.get("message") or f"failed rule: {text.strip()}")
    names = tuple(match[1] for match in matches if match is not None)
    return CountRule(fields=names, count=int(right), message=message)


def _optional_int(schema: Mapping[str, Any], key: str) -> int | None:
    value = schema.get(key)
    return int(value) if value is not None else None


def compile_schema(schema: Mapping[str, Any]) -> CompiledSchema:
    """Compile one ``openAPIV3Schema`` (or any node of it)."""
    if not isinstance(schema, Mapping):
        raise SchemaError(f"a schema node must be an object, not {type(schema).__name__}")
    pattern_text = str(schema.get("pattern", ""))
    try:
        pattern = re.compile(go_regex(pattern_text)) if pattern_text else None
    except re.error as err:
        raise SchemaError(f"pattern {pattern_text!r} does not compile: {err}") from err
    additional = schema.get("additionalProperties")
    items = schema.get("items")
    enum = schema.get("enum")
    return CompiledSchema(
        type=schema.get("type"),
        format=schema.get("format"),
        nullable=bool(schema.get("nullable", False)),
        enum=tuple(enum) if enum is not None else None,
        default=Default(schema["default"]) if "default" in schema else None,
        properties={name: compile_schema(sub) for name, sub in schema.get("properties", {}).items()},
        required=tuple(schema.get("required", ())),
        additional=compile_schema(additional) if isinstance(additional, Mapping) else None,
        items=compile_schema(items) if isinstance(items, Mapping) else None,
        any_of=tuple(compile_schema(branch) for branch in schema.get("anyOf", ())),
        preserve_unknown=schema.get(PRESERVE) is True,
        int_or_string=schema.get(INT_OR_STRING) is True,
        pattern=pattern,
        pattern_text=pattern_text,
        min_length=_optional_int(schema, "minLength"),
        max_length=_optional_int(schema, "maxLength"),
        minimum=schema.get("minimum"),
        maximum=schema.get("maximum"),
        exclusive_minimum=bool(schema.get("exclusiveMinimum", False)),
        exclusive_maximum=bool(schema.get("exclusiveMaximum", False)),
        min_items=_optional_int(schema, "minItems"),
        max_items=_optional_int(schema, "maxItems"),
        min_properties=_optional_int(schema, "minProperties"),
        max_properties=_optional_int(schema, "maxProperties"),
        list_type=schema.get(LIST_TYPE),
        list_map_keys=tuple(schema.get(LIST_MAP_KEYS, ())),
        rules=tuple(_compile_rule(rule) for rule in schema.get(VALIDATIONS, ())),
    )


__all__ = ["CompiledSchema", "CountRule", "Default", "compile_schema"]
