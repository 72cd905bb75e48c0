import contextlib
from datetime import timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from certkeeper.api.durations import (
    HOUR,
    MAX_DURATION_LENGTH,
    MINUTE,
    SECOND,
    DurationError,
    format_duration,
    format_duration_ns,
    parse_duration,
    parse_duration_ns,
)


@pytest.mark.parametrize(
    ("text", "ns"),
    [
        ("0", 0),
        ("2160h", 2160 * HOUR),
        ("1h30m", HOUR + 30 * MINUTE),
        ("1.5h", 90 * MINUTE),
        (".5s", SECOND // 2),
        ("1.s", SECOND),
        ("-5m", -5 * MINUTE),
        ("+5m", 5 * MINUTE),
        ("100ms", 100_000_000),
        ("10us", 10_000),
        ("10\u00b5s", 10_000),
        ("3ns", 3),
        ("1h1m1s1ms1us1ns", HOUR + MINUTE + SECOND + 1_001_001),
    ],
)
def test_parse_like_go(text: str, ns: int) -> None:
    assert parse_duration_ns(text) == ns


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", 'time: invalid duration ""'),
        ("1", 'time: missing unit in duration "1"'),
        ("1d", 'time: unknown unit "d" in duration "1d"'),
        ("h", 'time: invalid duration "h"'),
        (".h", 'time: invalid duration ".h"'),
        ("-", 'time: invalid duration "-"'),
        ("99999999999999999999h", 'time: invalid duration "99999999999999999999h"'),
    ],
)
def test_parse_errors_are_gos(text: str, message: str) -> None:
    with pytest.raises(DurationError) as err:
        parse_duration_ns(text)
    assert str(err.value) == message


def test_overlong_input_is_refused_before_parsing() -> None:
    with pytest.raises(DurationError, match="longer than"):
        parse_duration_ns("1" * (MAX_DURATION_LENGTH + 1) + "s")


@pytest.mark.parametrize(
    ("ns", "text"),
    [
        (0, "0s"),
        (2160 * HOUR, "2160h0m0s"),
        (HOUR + 30 * MINUTE, "1h30m0s"),
        (5 * MINUTE, "5m0s"),
        (1_500_000_000, "1.5s"),
        (100_000_000, "100ms"),
        (1_500, "1.5\u00b5s"),
        (7, "7ns"),
        (-90 * SECOND, "-1m30s"),
    ],
)
def test_format_like_go(ns: int, text: str) -> None:
    assert format_duration_ns(ns) == text


def test_timedelta_helpers() -> None:
    assert parse_duration("90m") == timedelta(minutes=90)
    assert format_duration(timedelta(days=90)) == "2160h0m0s"


@given(st.integers(min_value=-(2**63) + 1, max_value=2**63 - 1))
def test_format_then_parse_round_trips(ns: int) -> None:
    assert parse_duration_ns(format_duration_ns(ns)) == ns


@given(st.text(max_size=40))
def test_parser_never_crashes(text: str) -> None:
    with contextlib.suppress(DurationError):
        parse_duration_ns(text)
