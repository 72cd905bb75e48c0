"""Status answers of the API server mapped to Store errors, and 422 causes parsed into field errors."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from certkeeper.api.field import OMIT, ErrorType, FieldError, FieldPath, invalid, not_supported, required, too_many
from certkeeper.store.kube.errors import (
    Unauthorized,
    decode_status,
    error_from_status,
    field_error_from_cause,
    parse_retry_after,
)
from certkeeper.store.ports import (
    AlreadyExists,
    Conflict,
    Forbidden,
    Gone,
    Invalid,
    NotFound,
    StoreError,
    TooManyRequests,
    Unavailable,
)


def status(code: int, reason: str, message: str, **details: Any) -> dict[str, Any]:
    return {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": message,
        "reason": reason,
        "details": details,
        "code": code,
    }


@pytest.mark.parametrize(
    ("code", "reason", "expected"),
    [
        (404, "NotFound", NotFound),
        (409, "AlreadyExists", AlreadyExists),
        (409, "Conflict", Conflict),
        (409, "", Conflict),
        (410, "Expired", Gone),
        (410, "Gone", Gone),
        (401, "Unauthorized", Unauthorized),
        (403, "Forbidden", Forbidden),
        (422, "Invalid", Invalid),
        (400, "BadRequest", Invalid),
        (429, "TooManyRequests", TooManyRequests),
        (500, "InternalError", Unavailable),
        (503, "ServiceUnavailable", Unavailable),
        (504, "Timeout", Unavailable),
        (405, "MethodNotAllowed", StoreError),
        (415, "UnsupportedMediaType", StoreError),
    ],
    ids=lambda v: str(v),
)
def test_code_and_reason_choose_the_error(code: int, reason: str, expected: type[StoreError]) -> None:
    error = error_from_status(code, status(code, reason, "the message"))
    assert type(error) is expected
    assert str(error) == "the message"


def test_unauthorized_is_a_forbidden() -> None:
    assert isinstance(error_from_status(401, None), Forbidden)


def test_a_watch_error_event_carries_its_code_only_in_the_status() -> None:
    error = error_from_status(500, status(410, "Expired", "too old resource version: 1 (3006)"))
    assert isinstance(error, Gone)
    assert str(error) == "too old resource version: 1 (3006)"


def test_a_body_that_is_not_a_status_is_quoted_bounded() -> None:
    body = b"<html>" + b"x" * 5000 + b"</html>"
    error = error_from_status(502, decode_status(body), body=body)
    assert isinstance(error, Unavailable)
    assert str(error).startswith("the server responded with HTTP 502: <html>xxx")
    assert len(str(error)) < 320


@pytest.mark.parametrize(
    ("header", "details", "expected"),
    [
        ("3", {}, 3.0),
        (None, {"retryAfterSeconds": 7}, 7.0),
        ("2", {"retryAfterSeconds": 7}, 2.0),
        (None, {}, 1.0),
        ("soon", {}, 1.0),
        ("100000", {}, 60.0),
        (None, {"retryAfterSeconds": True}, 1.0),
    ],
    ids=["header", "details", "header-wins", "default", "unreadable", "capped", "bool-is-not-a-number"],
)
def test_too_many_requests_carries_the_delay(header: str | None, details: dict[str, Any], expected: float) -> None:
    error = error_from_status(429, status(429, "TooManyRequests", "slow down", **details), retry_after=header)
    assert isinstance(error, TooManyRequests)
    assert error.retry_after_seconds == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [("1", 1.0), (" 2.5 ", 2.5), ("-1", None), ("nan", None), ("inf", None), ("", None), (None, None)],
    ids=["int", "float", "negative", "nan", "inf", "empty", "none"],
)
def test_parse_retry_after(value: str | None, expected: float | None) -> None:
    assert parse_retry_after(value) == expected


# Messages as kube-apiserver 1.34 prints them (field.Error.ErrorBody), with the FieldError we expect back.
CAUSES = [
    (
        {
            "reason": "FieldValueInvalid",
            "message": 'Invalid value: "x_y": a lowercase RFC 1123 subdomain',
            "field": "metadata.name",
        },
        invalid(FieldPath("metadata", "name"), "x_y", "a lowercase RFC 1123 subdomain"),
    ),
    (
        {"reason": "FieldValueRequired", "message": "Required value", "field": "spec.secretName"},
        required(FieldPath("spec", "secretName")),
    ),
    (
        {"reason": "FieldValueRequired", "message": "Required value: name is required", "field": "metadata.name"},
        required(FieldPath("metadata", "name"), "name is required"),
    ),
    (
        {
            "reason": "FieldValueNotSupported",
            "message": 'Unsupported value: "Bogus": supported values: "RSA", "ECDSA", "Ed25519"',
            "field": "spec.privateKey.algorithm",
        },
        not_supported(FieldPath("spec", "privateKey", "algorithm"), "Bogus", ["RSA", "ECDSA", "Ed25519"]),
    ),
    (
        {"reason": "FieldValueTooMany", "message": "Too many: 5: must have at most 3 items", "field": "spec.x"},
        too_many(FieldPath("spec", "x"), 5, 3),
    ),
    (
        {"reason": "FieldValueInvalid", "message": "Invalid value: 3: must be at least 5", "field": "spec.n"},
        invalid(FieldPath("spec", "n"), 3, "must be at least 5"),
    ),
    (
        {
            "reason": "FieldValueTypeInvalid",
            "message": 'Invalid value: "string": spec.duration in body must be of type integer: "string"',
            "field": "spec.duration",
        },
        invalid(FieldPath("spec", "duration"), "string", 'spec.duration in body must be of type integer: "string"'),
    ),
    (
        # Go's %#v of a slice is not JSON: kept whole as the detail, which prints the same.
        {"reason": "FieldValueInvalid", "message": 'Invalid value: []string{"a"}: bad', "field": "spec.l"},
        FieldError(ErrorType.INVALID, "spec.l", OMIT, '[]string{"a"}: bad'),
    ),
    (
        {"reason": "FieldValueForbidden", "message": "Forbidden: may not be set", "field": "spec.f"},
        FieldError(ErrorType.FORBIDDEN, "spec.f", OMIT, "may not be set"),
    ),
]


@pytest.mark.parametrize(("cause", "expected"), CAUSES, ids=lambda v: v["reason"] if isinstance(v, dict) else "")
def test_causes_become_field_errors(cause: dict[str, str], expected: FieldError) -> None:
    got = field_error_from_cause(cause)
    assert got == expected
    assert got.body() == cause["message"]
    assert str(got) == f"{cause['field']}: {cause['message']}"


def test_an_unknown_cause_keeps_its_field_and_message() -> None:
    got = field_error_from_cause({"reason": "FieldManagerConflict", "message": 'conflict with "other"', "field": ".x"})
    assert got.field == ".x"
    assert 'conflict with "other"' in str(got)


def test_invalid_carries_every_cause_and_the_servers_message() -> None:
    message = (
        'Certificate.cert-manager.io "web" is invalid: [spec.secretName: Required value, spec.n: Invalid value: 3: low]'
    )
    body = status(
        422,
        "Invalid",
        message,
        name="web",
        group="cert-manager.io",
        kind="Certificate",
        causes=[
            {"reason": "FieldValueRequired", "message": "Required value", "field": "spec.secretName"},
            {"reason": "FieldValueInvalid", "message": "Invalid value: 3: low", "field": "spec.n"},
        ],
    )
    error = error_from_status(422, body, qualified_kind="ignored", name="ignored")
    assert isinstance(error, Invalid)
    assert error.errors == (required(FieldPath("spec", "secretName")), invalid(FieldPath("spec", "n"), 3, "low"))
    assert str(error) == message
    # What ports.Invalid would have printed from the errors is the same text.
    assert str(Invalid("Certificate.cert-manager.io", "web", error.errors)) == message


def test_invalid_without_causes_still_has_one_error() -> None:
    error = error_from_status(400, status(400, "BadRequest", "the body of the request was in an unknown format"))
    assert isinstance(error, Invalid)
    assert len(error.errors) == 1
    assert "unknown format" in str(error.errors[0])


JSONISH = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4),
    max_leaves=20,
)


@given(code=st.integers(min_value=0, max_value=999), body=st.dictionaries(st.text(max_size=12), JSONISH, max_size=6))
def test_any_status_maps_to_some_store_error(code: int, body: dict[str, Any]) -> None:
    body = {"kind": "Status", **body}
    error = error_from_status(code, decode_status(json.dumps(body).encode()), body=b"")
    assert isinstance(error, StoreError)
    assert isinstance(str(error), str)


@given(st.binary(max_size=2000))
def test_decode_status_never_crashes(body: bytes) -> None:
    decoded = decode_status(body)
    assert decoded is None or decoded["kind"] == "Status"


def test_decode_status_survives_deep_nesting() -> None:
    assert decode_status(b"[" * 100_000 + b"]" * 100_000) is None


@given(st.dictionaries(st.sampled_from(["reason", "message", "field"]), JSONISH))
def test_any_cause_parses(cause: dict[str, Any]) -> None:
    assert isinstance(field_error_from_cause(cause), FieldError)
