"""The metadata checks of the local store: answers stay the same when the format checks are remembered."""

from __future__ import annotations

from typing import Any

import pytest

from certkeeper.store.local import objectmeta

_LIMIT = 256 * 1024


def _errors(meta: dict[str, Any]) -> list[str]:
    return [str(err) for err in objectmeta.validate_create(meta, namespaced=True)]


@pytest.mark.parametrize(
    "meta",
    [
        {"name": "a", "namespace": "ns", "labels": {"k": "bad value", "Bad/Key/x": "v", "good": "yes"}},
        {"name": "a", "namespace": "a.b", "annotations": {"Example.COM/Key": "v", "-bad": "v"}},
        {"name": "a", "namespace": "ns", "finalizers": ["a/b/c", "example.com/ok", "orphan", "foregroundDeletion"]},
    ],
    ids=["labels", "annotations-and-namespace", "finalizers"],
)
def test_repeated_checks_give_the_same_errors(meta: dict[str, Any]) -> None:
    first = _errors(meta)
    assert first
    assert _errors(meta) == first
    # A second object with the same keys and values is judged the same (from what was remembered).
    assert _errors({**meta, "name": "b"}) == first


@pytest.mark.parametrize(
    ("value", "too_long"),
    [
        ("x" * (_LIMIT - 1), False),
        ("x" * _LIMIT, True),
        ("é" * ((_LIMIT - 1) // 2), False),  # two UTF-8 bytes each: 262143 bytes with the key
        ("é" * ((_LIMIT - 1) // 2 + 1), True),  # one more: 262145 bytes, though fewer characters than the limit
    ],
    ids=["ascii-at-limit", "ascii-over", "utf8-at-limit", "utf8-over"],
)
def test_annotation_size_counts_utf8_bytes(value: str, too_long: bool) -> None:
    errors = _errors({"name": "a", "namespace": "ns", "annotations": {"k": value}})
    assert (errors == ["metadata.annotations: Too long: may not be more than 262144 bytes"]) is too_long
    assert too_long or errors == []
