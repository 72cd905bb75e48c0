"""Schema generation from msgspec models."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, ClassVar, Literal

import msgspec
import pytest

from certkeeper.api.meta import Model, Resource
from certkeeper.api.openapi import SchemaError, SchemaOptions, struct_schema
from certkeeper.api.schema_rules import structural_violations


class Condition(Model, kw_only=True, frozen=True):
    type: str
    status: Literal["True", "False", "Unknown"]
    observed_generation: int | None = None


class Sample(Model, kw_only=True, frozen=True):
    name: Annotated[str, msgspec.Meta(pattern="^[a-z]+$", min_length=1, max_length=8)]
    algorithm: Literal["RSA", "ECDSA", "Ed25519"] | None = None
    is_ca: bool | None = msgspec.field(default=None, name="isCA")
    ca_bundle: bytes | None = None
    not_after: datetime | None = None
    labels: dict[str, str] | None = None
    config: dict[str, Any] | None = None
    anything: Any = None
    quantity: Annotated[str, msgspec.Meta(pattern="^[0-9]+m?$")] | int | None = None
    port: Annotated[int, msgspec.Meta(ge=1, le=65535)] | None = None
    ratio: Annotated[float, msgspec.Meta(gt=0, lt=1)] | None = None
    names: Annotated[list[str], msgspec.Meta(min_length=1, max_length=3)] | None = None
    conditions: list[Condition] | None = None
    extra: dict[str, list[str]] | None = None


class SampleKind(Resource, tag="SampleKind", kw_only=True, frozen=True):
    API_VERSION: ClassVar[str] = "example.com/v1"
    PLURAL: ClassVar[str] = "samplekinds"

    spec: Sample


class Loop(Model, kw_only=True, frozen=True):
    child: Loop | None = None


class BadUnion(Model, kw_only=True, frozen=True):
    value: str | bool


class MixedEnum(Model, kw_only=True, frozen=True):
    value: Literal["a", 1]


OPTIONS = SchemaOptions(list_map_keys={"conditions": ("type",)})


def test_fields_types_and_wire_names() -> None:
    spec = struct_schema(Sample, OPTIONS)
    props = spec["properties"]
    assert spec["type"] == "object"
    assert spec["required"] == ["name"]
    assert props["name"] == {"type": "string", "pattern": "^[a-z]+$", "minLength": 1, "maxLength": 8}
    assert props["isCA"] == {"type": "boolean"}
    assert props["caBundle"] == {"type": "string", "format": "byte"}
    assert props["notAfter"] == {"type": "string", "format": "date-time"}
    assert props["labels"] == {"type": "object", "additionalProperties": {"type": "string"}}
    assert props["config"] == {"type": "object", "x-kubernetes-preserve-unknown-fields": True}
    assert props["anything"] == {"x-kubernetes-preserve-unknown-fields": True}
    assert props["port"] == {"type": "integer", "minimum": 1, "maximum": 65535}
    assert props["ratio"] == {
        "type": "number",
        "minimum": 0,
        "exclusiveMinimum": True,
        "maximum": 1,
        "exclusiveMaximum": True,
    }
    assert props["names"] == {
        "type": "array",
        "items": {"type": "string"},
        "x-kubernetes-list-type": "atomic",
        "minItems": 1,
        "maxItems": 3,
    }


def test_enum_keeps_declaration_order() -> None:
    # msgspec.inspect sorts literal values; the CRD (and the API server's message) must not.
    assert struct_schema(Sample)["properties"]["algorithm"] == {"type": "string", "enum": ["RSA", "ECDSA", "Ed25519"]}


def test_int_or_string_carries_the_string_pattern() -> None:
    assert struct_schema(Sample)["properties"]["quantity"] == {
        "x-kubernetes-int-or-string": True,
        "anyOf": [{"type": "integer"}, {"type": "string"}],
        "pattern": "^[0-9]+m?$",
    }


def test_conditions_are_a_map_list_keyed_by_type() -> None:
    conditions = struct_schema(Sample, OPTIONS)["properties"]["conditions"]
    assert conditions["x-kubernetes-list-type"] == "map"
    assert conditions["x-kubernetes-list-map-keys"] == ["type"]
    assert conditions["items"]["required"] == ["status", "type"]


def test_resource_root_has_kind_and_opaque_metadata() -> None:
    root = struct_schema(SampleKind)
    assert root["properties"]["kind"] == {"type": "string"}
    assert root["properties"]["apiVersion"] == {"type": "string"}
    assert root["properties"]["metadata"] == {"type": "object"}
    assert "$ref" not in repr(root)


def test_patches_deep_merge_and_remove() -> None:
    options = SchemaOptions(
        patches={
            Condition: {"observedGeneration": {"format": "int64"}, "": {"x-kubernetes-map-type": "atomic"}},
            Sample: {"extra": {"additionalProperties": {"x-kubernetes-list-type": None}}, "port": {"format": "int32"}},
        }
    )
    spec = struct_schema(Sample, options)
    condition = spec["properties"]["conditions"]["items"]
    assert condition["properties"]["observedGeneration"] == {"type": "integer", "format": "int64"}
    assert condition["x-kubernetes-map-type"] == "atomic"
    assert spec["properties"]["extra"] == {
        "type": "object",
        "additionalProperties": {"type": "array", "items": {"type": "string"}},
    }
    assert spec["properties"]["port"]["format"] == "int32"


@pytest.mark.parametrize(
    ("model", "options", "message"),
    [
        pytest.param(Loop, SchemaOptions(), "contains itself", id="recursion"),
        pytest.param(BadUnion, SchemaOptions(), "no structural schema", id="union"),
        pytest.param(MixedEnum, SchemaOptions(), "mixes types", id="mixed-enum"),
        pytest.param(Sample, SchemaOptions(patches={Sample: {"nmae": {"format": "x"}}}), "unknown fields", id="stale"),
    ],
)
def test_inexpressible_models_are_refused(model: type[msgspec.Struct], options: SchemaOptions, message: str) -> None:
    with pytest.raises(SchemaError, match=message):
        struct_schema(model, options)


def test_generated_schema_is_structural() -> None:
    assert structural_violations(struct_schema(SampleKind, OPTIONS)) == ()
