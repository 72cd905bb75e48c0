"""structural_fast.passes: the quick yes/no must never say yes where the Checker finds an error."""

from __future__ import annotations

import base64
import copy
from typing import Any

import msgspec
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from certkeeper.api import acme, certmanager
from certkeeper.api.crds import KINDS_BY_MODEL, openapi_schema
from certkeeper.api.gojson import FORMAT_CHECKS, is_base64
from certkeeper.api.meta import Resource
from certkeeper.api.structural import SchemaValidator
from certkeeper.api.structural_fast import _format_ok, _is_base64, passes
from certkeeper.api.structural_schema import CompiledSchema, compile_schema
from certkeeper.api.structural_values import Checker
from tests.unit.api.model_strategies import JSON_VALUES, models

_KINDS: tuple[type[Resource], ...] = (
    certmanager.Certificate,
    certmanager.CertificateRequest,
    certmanager.Issuer,
    certmanager.ClusterIssuer,
    acme.Order,
    acme.Challenge,
)
_VALIDATORS = {kind: SchemaValidator(openapi_schema(KINDS_BY_MODEL[kind])) for kind in _KINDS}
_ROOTS = {kind: compile_schema(openapi_schema(KINDS_BY_MODEL[kind])) for kind in _KINDS}


def _nodes(node: CompiledSchema) -> list[CompiledSchema]:
    below = [*node.properties.values(), node.additional, node.items, *node.any_of]
    return [node, *(found for child in below if child is not None for found in _nodes(child))]


_ALL_NODES = [node for root in _ROOTS.values() for node in _nodes(root)]
_SCALARS = st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=12)
_JSON = st.recursive(
    _SCALARS | st.sampled_from(["True", "Issuer", "2024-02-29T12:00:00Z", "2023-02-29T12:00:00Z", "AAA=", "a", ""]),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=8), children, max_size=3),
    max_leaves=12,
)


def _checker_says_valid(value: object, node: CompiledSchema) -> bool:
    return not Checker().run(value, node)


@st.composite
def _mutated(draw: st.DrawFn, kind: type[Resource]) -> dict[str, Any]:
    """A valid object of ``kind`` with one value somewhere inside replaced by arbitrary JSON."""
    raw = msgspec.to_builtins(draw(models(kind)))
    assert isinstance(raw, dict)
    target: Any = raw
    for _ in range(draw(st.integers(min_value=0, max_value=6))):
        if isinstance(target, dict) and target:
            key = draw(st.sampled_from(sorted(target)))
        elif isinstance(target, list) and target:
            key = draw(st.integers(min_value=0, max_value=len(target) - 1))
        else:
            break
        child = target[key]
        if not isinstance(child, dict | list) or draw(st.booleans()):
            target[key] = draw(_JSON)
            break
        target = child
    return raw


@settings(max_examples=60, deadline=None)
@given(kind=st.sampled_from(_KINDS), data=st.data())
def test_valid_objects_pass_and_agree_with_the_checker(kind: type[Resource], data: st.DataObject) -> None:
    raw = msgspec.to_builtins(data.draw(models(kind)))
    pruned = _VALIDATORS[kind].validate(raw).object
    assert passes(pruned, _ROOTS[kind]) == _checker_says_valid(pruned, _ROOTS[kind])


@settings(max_examples=150, deadline=None)
@given(kind=st.sampled_from(_KINDS), data=st.data())
def test_a_changed_object_passes_only_where_the_checker_finds_nothing(
    kind: type[Resource], data: st.DataObject
) -> None:
    raw = data.draw(_mutated(kind))
    result = _VALIDATORS[kind].validate(raw)
    if result.object is None:
        return
    # What validate reports is exactly the Checker's list, fast path or not.
    assert result.errors == tuple(Checker().run(result.object, _ROOTS[kind]))
    if passes(result.object, _ROOTS[kind]):
        assert result.errors == ()


@settings(max_examples=150, deadline=None)
@given(node=st.sampled_from(_ALL_NODES), value=_JSON | JSON_VALUES)
def test_any_value_at_any_node_passes_only_where_the_checker_finds_nothing(node: CompiledSchema, value: Any) -> None:
    if passes(value, node):
        assert Checker().run(value, node) == []


def test_every_node_kind_the_crds_use_has_a_quick_path() -> None:
    # The quick path falls back to the Checker for some nodes; cert-manager's CRDs have few of them.
    plain = sum(node.plain for node in _ALL_NODES)
    assert plain / len(_ALL_NODES) > 0.9


_CONDITIONS = compile_schema(
    {
        "type": "array",
        "x-kubernetes-list-type": "map",
        "x-kubernetes-list-map-keys": ["type"],
        "items": {"type": "object", "properties": {"type": {"type": "string"}, "n": {"type": "integer"}}},
    }
)
_SET = compile_schema({"type": "array", "x-kubernetes-list-type": "set", "items": {"type": "string"}})
_ANY_SET = compile_schema({"type": "array", "x-kubernetes-list-type": "set"})


@pytest.mark.parametrize(
    ("node", "value", "answer", "valid"),
    [
        pytest.param(_CONDITIONS, [{"type": "A"}, {"type": "B"}], True, True, id="map-distinct"),
        pytest.param(_CONDITIONS, [{"type": "A"}, {"type": "A", "n": 1}], False, False, id="map-duplicate"),
        pytest.param(_CONDITIONS, [{"n": 1}, {"n": 2}], False, False, id="map-both-without-key"),
        pytest.param(_CONDITIONS, [{"n": 1}, {"type": "A"}], True, True, id="map-one-without-key"),
        pytest.param(_CONDITIONS, [None, {"n": 1}], False, False, id="map-null-and-keyless"),
        pytest.param(_CONDITIONS, [{"type": "A"}, 3], False, False, id="map-non-object"),
        pytest.param(_CONDITIONS, [{"type": 1}, {"type": "1"}], False, False, id="map-integer-key-type-error"),
        pytest.param(_CONDITIONS, [{"type": "A", "n": 2**63}], False, False, id="beyond-int64"),
        pytest.param(_CONDITIONS, [{"type": "A", "n": True}], False, False, id="bool-for-integer"),
        pytest.param(_SET, ["a", "b"], True, True, id="set-distinct"),
        pytest.param(_SET, ["a", "a"], False, False, id="set-duplicate"),
        pytest.param(_ANY_SET, [1, "1"], False, True, id="set-mixed-kinds-left-to-the-checker"),
        pytest.param(_ANY_SET, [1, 1], False, False, id="set-number-duplicate"),
        pytest.param(_SET, ("a", "b"), True, True, id="tuple-left-to-the-checker"),
    ],
)
def test_lists(node: CompiledSchema, value: object, answer: bool, valid: bool) -> None:
    assert _checker_says_valid(value, node) is valid
    assert passes(value, node) is answer


_ENUM = compile_schema({"type": "string", "enum": ["True", "False", 1]})
_BOUNDED = compile_schema({"type": "string", "minLength": 2, "maxLength": 4, "pattern": "^[a-z]+$"})


@pytest.mark.parametrize(
    ("node", "value", "valid"),
    [
        pytest.param(_ENUM, "True", True, id="enum-member"),
        pytest.param(_ENUM, "true", False, id="enum-non-member"),
        pytest.param(_ENUM, "1", False, id="enum-number-is-not-its-string"),
        pytest.param(_BOUNDED, "abc", True, id="within-bounds"),
        pytest.param(_BOUNDED, "a", False, id="too-short"),
        pytest.param(_BOUNDED, "abcde", False, id="too-long"),
        pytest.param(_BOUNDED, "ab1", False, id="pattern"),
        pytest.param(_BOUNDED, None, False, id="null"),
    ],
)
def test_strings(node: CompiledSchema, value: object, valid: bool) -> None:
    assert _checker_says_valid(value, node) is valid
    assert passes(value, node) is valid


def test_a_node_the_quick_path_does_not_handle_gets_the_checkers_answer() -> None:
    node = compile_schema({"anyOf": [{"type": "integer"}, {"type": "string"}], "x-kubernetes-int-or-string": True})
    assert not node.plain
    assert passes(5, node)
    assert passes("5", node)
    assert not passes(5.5, node)


@given(text=st.text(max_size=40) | st.sampled_from(["2024-02-29T23:59:59Z", "2023-02-29T00:00:00+01:00", "AAAA"]))
def test_memoised_format_checks_answer_as_the_checks_do(text: str) -> None:
    for fmt, check in FORMAT_CHECKS.items():
        node = compile_schema({"type": "string", "format": fmt})
        assert _format_ok(node, text) is check(text)
        assert passes(text, node) is check(text)


@given(
    text=st.text(alphabet="A0+/=", max_size=14)
    | st.text(alphabet="Aa0+/=-_\n é", max_size=14)
    | st.binary(max_size=40).map(lambda data: base64.b64encode(data).decode())
)
@example(text="AAAAAA")
@example(text="AA=A")
@example(text="A===")
@example(text="AAA=")
@example(text="AA==")
@example(text="A=A=")
@example(text="AA-=")
@example(text="")
def test_the_quick_base64_check_answers_as_the_pattern_does(text: str) -> None:
    assert _is_base64(text) is is_base64(text)
    assert _is_base64(text + "\n") is is_base64(text + "\n")


def test_passes_does_not_change_its_input() -> None:
    raw = {"type": "A", "n": 1}
    value = [raw, copy.deepcopy(raw) | {"type": "B"}]
    snapshot = copy.deepcopy(value)
    assert passes(value, _CONDITIONS)
    assert value == snapshot
