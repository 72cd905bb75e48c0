"""Go's view of JSON values: type names, %q, %v of floats, go-openapi formats, RE2 anchors."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from certkeeper.api.gojson import (
    as_go_number,
    fits_integer_format,
    go_float,
    go_format_float_f,
    go_quote,
    go_regex,
    is_base64,
    is_date,
    is_date_time,
    json_type,
)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        pytest.param(None, ("null", ""), id="null"),
        pytest.param(True, ("boolean", ""), id="bool"),
        pytest.param(3, ("integer", "int64"), id="int"),
        pytest.param(2**63, ("number", "float64"), id="beyond-int64"),
        pytest.param(1.5, ("number", "float64"), id="float"),
        pytest.param("x", ("string", ""), id="string"),
        pytest.param([1], ("array", ""), id="list"),
        pytest.param((1,), ("array", ""), id="tuple"),
        pytest.param({}, ("object", ""), id="dict"),
        pytest.param(b"x", ("bytes", ""), id="not-json"),
    ],
)
def test_json_type(value: object, expected: tuple[str, str]) -> None:
    assert json_type(value) == expected


def test_huge_integers_become_floats_as_in_go() -> None:
    assert as_go_number(2**63 - 1) == 2**63 - 1
    assert as_go_number(2**63) == float(2**63)
    assert as_go_number(-(10**400)) == float("-inf")


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        pytest.param("plain", '"plain"', id="plain"),
        pytest.param('a"b\\c', '"a\\"b\\\\c"', id="escapes"),
        pytest.param("\n\t\x00\x7f", '"\\n\\t\\x00\\x7f"', id="control"),
        pytest.param("é✓", '"é✓"', id="printable-unicode"),
        pytest.param("\u200b", '"\\u200b"', id="non-printable"),
    ],
)
def test_go_quote(value: str, expected: str) -> None:
    assert go_quote(value) == expected


@pytest.mark.parametrize(
    ("value", "v", "f"),
    [
        pytest.param(1.0, "1", "1", id="integral"),
        pytest.param(1.5, "1.5", "1.5", id="fraction"),
        pytest.param(1e20, "100000000000000000000", "100000000000000000000", id="below-1e21"),
        pytest.param(1e21, "1e+21", "1000000000000000000000", id="1e21"),
        pytest.param(0.0001, "0.0001", "0.0001", id="1e-4"),
        pytest.param(0.00001, "1e-05", "0.00001", id="1e-5"),
        pytest.param(-0.0, "-0", "-0", id="negative-zero"),
        pytest.param(float("inf"), "+Inf", "+Inf", id="inf"),
    ],
)
def test_go_float_formats(value: float, v: str, f: str) -> None:
    assert go_float(value) == v
    assert go_format_float_f(value) == f


@pytest.mark.parametrize(
    ("value", "fmt", "fits"),
    [
        pytest.param(2**31 - 1, "int32", True, id="int32-max"),
        pytest.param(2**31, "int32", False, id="int32-over"),
        pytest.param(-(2**31), "int32", True, id="int32-min"),
        pytest.param(2**31, "", True, id="default-int64"),
        pytest.param(3.0, "int32", True, id="integral-float"),
        pytest.param(3.5, "", False, id="fraction"),
        pytest.param(1e19, "int64", False, id="float-over-int64"),
    ],
)
def test_integer_format_ranges(value: int | float, fmt: str, fits: bool) -> None:
    assert fits_integer_format(value, fmt) is fits


@pytest.mark.parametrize(
    ("text", "valid"),
    [
        pytest.param("2026-01-31T23:59:59Z", True, id="utc"),
        pytest.param("2026-01-31t23:59:59z", True, id="lower-case"),
        pytest.param("2026-01-31T23:59:59.123456+02:00", True, id="fraction-offset"),
        pytest.param("2024-02-29T00:00:00Z", True, id="leap-day"),
        pytest.param("2026-02-29T00:00:00Z", False, id="not-leap"),
        pytest.param("2026-13-01T00:00:00Z", False, id="month"),
        pytest.param("2026-01-01T24:00:00Z", False, id="hour"),
        pytest.param("2026-01-01T10:00:00", False, id="no-zone"),
        pytest.param("2026-01-01 10:00:00Z", False, id="space"),
        pytest.param("2026-01-01T10:00:00Z\n", False, id="trailing-newline"),
        pytest.param("", False, id="empty"),
    ],
)
def test_date_time(text: str, valid: bool) -> None:
    assert is_date_time(text) is valid


def test_date_and_base64() -> None:
    assert is_date("2026-12-31")
    assert not is_date("2026-1-31")
    assert not is_date("20261231")
    assert is_base64("YQ==")
    assert is_base64("YWJj")
    assert not is_base64("")
    assert not is_base64("YQ")
    assert not is_base64("YQ==\n")
    assert not is_base64("Y-_=")


def test_go_regex_anchors_at_the_end_of_text() -> None:
    assert re.search(go_regex("^a$"), "a")
    assert not re.search(go_regex("^a$"), "a\n")
    assert go_regex(r"^[$]\$x$") == r"^[$]\$x\Z"


@given(st.floats() | st.integers(min_value=-(10**30), max_value=10**30))
def test_number_helpers_never_crash(value: float | int) -> None:
    number = as_go_number(value)
    assert isinstance(go_float(float(number)), str)
    assert isinstance(fits_integer_format(number, "int32"), bool)


@given(st.text(max_size=40))
def test_string_helpers_never_crash(text: str) -> None:
    assert go_quote(text).startswith('"')
    assert isinstance(is_date_time(text), bool)
    assert isinstance(is_base64(text), bool)
