"""Helpers shared by the validation tests: models from camelCase dicts, and errors as the API prints them."""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any, TypeVar

import msgspec

from certkeeper.api.field import ValidationResult
from certkeeper.api.meta import Resource

R = TypeVar("R", bound=Resource)

#: cert-manager's tests use this reference for objects that should otherwise be valid.
VALID_ISSUER_REF: Mapping[str, str] = {"name": "name", "kind": "ClusterIssuer"}


def merge(base: Mapping[str, Any], changes: Mapping[str, Any]) -> dict[str, Any]:
    """``base`` with ``changes`` merged in (nested dicts merged; a value of None removes the key)."""
    out = copy.deepcopy(dict(base))
    for key, value in changes.items():
        if value is None:
            out.pop(key, None)
        elif isinstance(value, Mapping) and isinstance(out.get(key), Mapping):
            out[key] = merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def build(model: type[R], spec: Mapping[str, Any], **top: Any) -> R:
    """A typed object of ``model`` with ``spec`` (camelCase, as in a manifest) and other top-level fields."""
    raw = {"apiVersion": model.API_VERSION, "kind": model.kind_name(), "metadata": {"name": "test"}, "spec": spec}
    raw.update(top)
    return msgspec.convert(raw, model)


def messages(result: ValidationResult) -> list[str]:
    """Every error of ``result`` as the API server prints it, in order."""
    return [str(error) for error in result.errors]
