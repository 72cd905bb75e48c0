"""Compiled schema nodes: what is known of the nodes below is computed once, and agrees with the schema."""

from __future__ import annotations

from typing import Any

import pytest

from certkeeper.api import certmanager
from certkeeper.api.crds import KINDS_BY_MODEL, openapi_schema
from certkeeper.api.structural import Limits, SchemaValidator
from certkeeper.api.structural_schema import CompiledSchema, compile_schema

RULE = {"rule": "(has(self.a) ? 1 : 0) + (has(self.b) ? 1 : 0) == 1"}
RULED = {"type": "object", "x-kubernetes-validations": [RULE]}
MODELS = [certmanager.Certificate, certmanager.Issuer, certmanager.CertificateRequest]


def _walk(node: CompiledSchema) -> list[CompiledSchema]:
    below = [*node.properties.values(), *(n for n in (node.additional, node.items) if n is not None)]
    return [node, *(n for child in below for n in _walk(child)), *(n for b in node.any_of for n in _walk(b))]


def _rules_anywhere(node: CompiledSchema) -> bool:
    return any(n.rules for n in _walk(node))


@pytest.mark.parametrize(
    ("schema", "rules_below", "walks", "defaults_below"),
    [
        ({"type": "object", "properties": {"a": {"type": "string"}}}, False, False, False),
        (
            {"type": "object", "properties": {"x": {"type": "object", "x-kubernetes-validations": [RULE]}}},
            True,
            True,
            False,
        ),
        ({"type": "array", "items": {"type": "string"}, "x-kubernetes-list-type": "set"}, False, True, False),
        ({"type": "array", "items": {"type": "string"}, "x-kubernetes-list-type": "atomic"}, False, False, False),
        ({"type": "object", "additionalProperties": {"type": "string", "default": "d"}}, False, False, True),
        ({"anyOf": [RULED]}, True, False, False),
    ],
    ids=["plain", "rule-below", "set-list", "atomic-list", "default-below", "rule-in-anyof"],
)
def test_what_lies_below_a_node(schema: dict[str, Any], rules_below: bool, walks: bool, defaults_below: bool) -> None:
    node = compile_schema(schema)
    assert (node.has_rules(), node.walks, node.defaults_below) == (rules_below, walks, defaults_below)


@pytest.mark.parametrize(
    "model", [certmanager.Certificate, certmanager.Issuer, certmanager.CertificateRequest], ids=str
)
def test_flags_agree_with_a_full_walk_of_the_crds(model: type) -> None:
    root = compile_schema(openapi_schema(KINDS_BY_MODEL[model]))
    for node in _walk(root):
        assert node.has_rules() == _rules_anywhere(node)
    assert root.has_rules() == (model is certmanager.Issuer)


def test_a_value_nested_past_the_limit_is_reported_with_its_path() -> None:
    validator = SchemaValidator(
        {"type": "object", "x-kubernetes-preserve-unknown-fields": True}, limits=Limits(max_depth=3)
    )
    ok = validator.validate({"a": {"b": {"c": 1}}}, resource_root=False)
    deep = validator.validate({"a": [{"b": {"c": 1}}], "z": 1}, resource_root=False)
    assert ok.errors == ()
    assert [str(e) for e in deep.errors] == ["a[0].b: Forbidden: must not be nested more than 3 levels deep"]
