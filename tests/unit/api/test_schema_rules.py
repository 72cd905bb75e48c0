"""The API server's structural-schema rules, on deliberately broken schemas."""

from __future__ import annotations

from typing import Any

import pytest

from certkeeper.api.schema_rules import structural_violations

_GOOD = {"type": "object", "properties": {"spec": {"type": "object", "properties": {"a": {"type": "string"}}}}}


def _spec(**a: object) -> dict[str, Any]:
    return {"type": "object", "properties": {"spec": {"type": "object", "properties": {"a": a}}}}


@pytest.mark.parametrize(
    ("schema", "expected"),
    [
        pytest.param(_spec(), "properties[spec].properties[a].type: Required value", id="untyped-field"),
        pytest.param(
            _spec(type="array"), "properties[a].items: Required value: must be specified as one schema", id="no-items"
        ),
        pytest.param(
            _spec(type="object", properties={"b": {"type": "string"}}, additionalProperties={"type": "string"}),
            "additionalProperties and properties are mutual exclusive",
            id="props-and-additional",
        ),
        pytest.param(_spec(**{"$ref": "#/x", "type": "string"}), "$ref is not supported", id="ref"),
        pytest.param(_spec(type="null"), 'Unsupported value: "null"', id="null-type"),
        pytest.param(_spec(type="string", format="int32"), "is not a format of string", id="bad-format"),
        pytest.param(_spec(type="string", enum=[1]), "must be of type string", id="enum-type"),
        pytest.param(_spec(type="string", pattern="("), "must be a valid regular expression", id="bad-pattern"),
        pytest.param(
            _spec(type="string", **{"x-kubernetes-preserve-unknown-fields": False}),
            "must be true or undefined",
            id="preserve-false",
        ),
        pytest.param(
            _spec(
                type="array",
                items={"type": "object", "properties": {"k": {"type": "string"}}},
                **{"x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["k"]},
            ),
            "properties[k]: Required value: must be required or defaulted",
            id="map-key-optional",
        ),
        pytest.param(
            _spec(type="array", items={"type": "string"}, **{"x-kubernetes-list-type": "map"}),
            "must not be empty if x-kubernetes-list-type is map",
            id="map-without-keys",
        ),
        pytest.param(
            _spec(anyOf=[{"type": "string"}, {"type": "object"}]),
            "anyOf[0].type: Forbidden: must be undefined to be structural",
            id="typed-anyof",
        ),
        pytest.param(_spec(type="string", uniqueItems=True), "uniqueItems", id="unique-items"),
        pytest.param(_spec(type="string", bogus=1), "is not an OpenAPI v3 keyword", id="unknown-keyword"),
        pytest.param(
            {"type": "object", "properties": {"metadata": {"type": "object", "properties": {}}}},
            "properties[metadata]: Forbidden",
            id="metadata-restricted",
        ),
        pytest.param({"type": "string"}, "must be object at the root", id="root-not-object"),
        pytest.param({"type": "object", "default": {}}, "are allowed at the root", id="root-keyword"),
    ],
)
def test_structural_rules_catch_broken_schemas(schema: dict[str, Any], expected: str) -> None:
    problems = [str(problem) for problem in structural_violations(schema)]
    assert any(expected in problem for problem in problems), problems


def test_a_good_schema_has_no_violations() -> None:
    assert structural_violations(_GOOD) == ()
    int_or_string = _spec(**{"x-kubernetes-int-or-string": True, "anyOf": [{"type": "integer"}, {"type": "string"}]})
    assert structural_violations(int_or_string) == ()
