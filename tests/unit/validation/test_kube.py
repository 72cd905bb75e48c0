"""apimachinery's name, label and annotation checks, with its messages."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from certkeeper.api.field import FieldPath
from certkeeper.validation.kube import (
    is_dns1123_subdomain,
    is_label_key,
    is_label_value,
    validate_annotations,
    validate_labels,
)

SUBDOMAIN_MSG = (
    "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start "
    "and end with an alphanumeric character (e.g. 'example.com', regex used for validation is "
    "'[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"
)
NAME_PART = (
    "name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an "
    "alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is "
    "'([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')"
)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("example.com", []),
        ("a", []),
        ("a-b.c-d", []),
        ("Example.com", [SUBDOMAIN_MSG]),
        ("-a", [SUBDOMAIN_MSG]),
        ("a.", [SUBDOMAIN_MSG]),
        ("", [SUBDOMAIN_MSG]),
        ("a\n", [SUBDOMAIN_MSG]),  # $ is the end of the text, not of a line
        ("a" * 254, ["must be no more than 253 characters"]),
        ("A" * 254, ["must be no more than 253 characters", SUBDOMAIN_MSG]),
    ],
)
def test_dns1123_subdomain(value: str, expected: list[str]) -> None:
    assert is_dns1123_subdomain(value) == expected


@pytest.mark.parametrize(
    ("key", "expected"),
    [
        ("app", []),
        ("example.com/app", []),
        ("app.kubernetes.io/part-of", []),
        ("/app", ["prefix part must be non-empty"]),
        ("example.com/", ["name part must be non-empty", NAME_PART]),
        ("Example.com/app", [f"prefix part {SUBDOMAIN_MSG}"]),
        ("x" * 64, ["name part must be no more than 63 bytes"]),
        ("a" * 254 + "/b", ["prefix part must be no more than 253 bytes"]),
        ("-app", [NAME_PART]),
    ],
)
def test_label_key(key: str, expected: list[str]) -> None:
    assert is_label_key(key) == expected


def test_label_values_and_maps() -> None:
    assert is_label_value("") == []
    assert is_label_value("my_value") == []
    assert is_label_value("x" * 64)[0] == "must be no more than 63 bytes"
    path = FieldPath("spec", "secretTemplate", "labels")
    errors = validate_labels({"b": "ok", "a": "not ok"}, path)
    assert [(e.field, e.bad_value) for e in errors] == [("spec.secretTemplate.labels", "not ok")]


def test_annotations_ignore_key_case_and_limit_the_total_size() -> None:
    path = FieldPath("a")
    assert validate_annotations({"Example.COM/Key": "v"}, path) == []
    assert [str(e) for e in validate_annotations({"k": "v" * (256 * 1024 - 1)}, path)] == []
    assert [str(e) for e in validate_annotations({"k": "v" * (256 * 1024)}, path)] == [
        "a: Too long: may not be more than 262144 bytes"
    ]


@given(st.text(max_size=300))
def test_checks_never_crash(text: str) -> None:
    for check in (is_dns1123_subdomain, is_label_key, is_label_value):
        assert all(isinstance(message, str) for message in check(text))
