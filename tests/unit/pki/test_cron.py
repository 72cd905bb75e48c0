"""Cron schedules: robfig's grammar and messages, next-fire semantics, timezones and DST, fuzzing."""

from __future__ import annotations

import contextlib
import time
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from certkeeper.pki.cron import MAX_CRON_LENGTH, CronError, CronSchedule, load_timezone, parse_cron

START = datetime(2026, 6, 10, 12, 34, 56, 250000, tzinfo=UTC)  # a Wednesday


def fires(schedule: CronSchedule, start: datetime, count: int) -> list[datetime]:
    out: list[datetime] = []
    current = start
    for _ in range(count):
        following = schedule.next(current)
        assert following is not None
        out.append(following)
        current = following
    return out


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, second, tzinfo=UTC)


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("0 10 * * *", [utc(2026, 6, 11, 10), utc(2026, 6, 12, 10)]),
        ("*/20 * * * *", [utc(2026, 6, 10, 12, 40), utc(2026, 6, 10, 13, 0)]),
        ("5/20 13 * * *", [utc(2026, 6, 10, 13, 5), utc(2026, 6, 10, 13, 25)]),
        ("0 0 * * MON-FRI", [utc(2026, 6, 11), utc(2026, 6, 12)]),
        ("0 0 1 jan,Jul *", [utc(2026, 7, 1), utc(2027, 1, 1)]),
        ("0 0 13 * 5", [utc(2026, 6, 12), utc(2026, 6, 13)]),
        ("0 0 * * 5", [utc(2026, 6, 12), utc(2026, 6, 19)]),
        ("? 13 ? ? ?", [utc(2026, 6, 10, 13, 0), utc(2026, 6, 10, 13, 1)]),
        ("@daily", [utc(2026, 6, 11), utc(2026, 6, 12)]),
        ("@weekly", [utc(2026, 6, 14), utc(2026, 6, 21)]),
        ("@every 90m", [utc(2026, 6, 10, 14, 4, 56), utc(2026, 6, 10, 15, 34, 56)]),
        ("@every 100ms", [utc(2026, 6, 10, 12, 34, 57), utc(2026, 6, 10, 12, 34, 58)]),
    ],
    ids=[
        "daily",
        "step",
        "start-step",
        "weekday-names",
        "month-names",
        "dom-or-dow",
        "dow-only",
        "question-marks",
        "descriptor",
        "weekly",
        "every",
        "every-at-least-a-second",
    ],
)
def test_fires(expression: str, expected: list[datetime]) -> None:
    assert fires(parse_cron(expression), START, len(expected)) == expected


def test_next_is_strictly_after() -> None:
    schedule = parse_cron("0 10 * * *")
    assert schedule.next(utc(2026, 6, 10, 10)) == utc(2026, 6, 11, 10)
    assert schedule.next(utc(2026, 6, 10, 9, 59, 59)) == utc(2026, 6, 10, 10)


def test_timezone_is_honoured() -> None:
    schedule = parse_cron("0 10 * * *", "America/Phoenix")
    following = schedule.next(START)
    assert following == utc(2026, 6, 10, 17)
    assert following is not None
    assert following.tzinfo is UTC


def test_dst_gap_is_skipped_like_robfig() -> None:
    schedule = parse_cron("30 2 * * *", "America/Denver")
    assert schedule.next(utc(2026, 3, 7, 12)) == datetime(2026, 3, 9, 2, 30, tzinfo=ZoneInfo("America/Denver"))


def test_dst_overlap_fires_twice_like_robfig() -> None:
    schedule = parse_cron("30 1 * * *", "America/Denver")
    assert fires(schedule, utc(2026, 10, 31, 18), 3) == [
        utc(2026, 11, 1, 7, 30),
        utc(2026, 11, 1, 8, 30),
        utc(2026, 11, 2, 8, 30),
    ]


def test_impossible_dates_never_fire() -> None:
    assert parse_cron("0 0 30 2 *").next(START) is None


@pytest.mark.parametrize(
    ("expression", "detail"),
    [
        ("", "empty spec string"),
        ("* * * *", "expected exactly 5 fields, found 4: [* * * *]"),
        ("* * * * * *", "expected exactly 5 fields, found 6: [* * * * * *]"),
        ("0 0 * * 7", "end of range (7) above maximum (6): 7"),
        ("60 * * * *", "end of range (60) above maximum (59): 60"),
        ("0 0 0 * *", "beginning of range (0) below minimum (1): 0"),
        ("5-1 * * * *", "beginning of range (5) beyond end of range (1): 5-1"),
        ("*/0 * * * *", "step of range should be a positive number: */0"),
        ("1/2/3 * * * *", "too many slashes: 1/2/3"),
        ("1-2-3 * * * *", "too many hyphens: 1-2-3"),
        ("0 0 L * *", 'failed to parse int from L: strconv.Atoi: parsing "L": invalid syntax'),
        ("0 0 1W * *", 'failed to parse int from 1W: strconv.Atoi: parsing "1W": invalid syntax'),
        ("0 0 * * 1#2", 'failed to parse int from 1#2: strconv.Atoi: parsing "1#2": invalid syntax'),
        ("0 0 * jan-foo *", 'failed to parse int from foo: strconv.Atoi: parsing "foo": invalid syntax'),
        ("@fortnightly", "unrecognized descriptor: @fortnightly"),
        ("@every soon", 'failed to parse duration @every soon: time: invalid duration "soon"'),
    ],
    ids=[
        "empty",
        "four-fields",
        "seconds-field",
        "dow-7",
        "minute-60",
        "dom-0",
        "reversed-range",
        "zero-step",
        "slashes",
        "hyphens",
        "last-day",
        "weekday",
        "nth-weekday",
        "bad-name",
        "bad-descriptor",
        "bad-every",
    ],
)
def test_invalid_expressions(expression: str, detail: str) -> None:
    with pytest.raises(CronError) as caught:
        parse_cron(expression)
    assert str(caught.value) == f"failed to parse cron spec '{expression}': {detail}"


def test_unknown_timezone() -> None:
    with pytest.raises(CronError, match="unknown time zone Mars/Olympus"):
        parse_cron("* * * * *", "Mars/Olympus")
    with pytest.raises(CronError, match="unknown time zone"):
        load_timezone("../../etc/passwd")
    assert load_timezone("") is UTC


def test_length_is_bounded() -> None:
    with pytest.raises(CronError, match=f"longer than {MAX_CRON_LENGTH} characters"):
        parse_cron("0," * MAX_CRON_LENGTH + "0 * * * *")


@given(st.text(max_size=80))
def test_random_text_only_raises_cron_error(text: str) -> None:
    started = time.perf_counter()
    with contextlib.suppress(CronError):
        schedule = parse_cron(text)
        schedule.next(START)
    assert time.perf_counter() - started < 1.0


FIELD = st.text(alphabet="0123456789*?,-/LW#janfebmonsu", min_size=1, max_size=8)


@given(st.lists(FIELD, min_size=5, max_size=5))
def test_cron_shaped_text_parses_or_fails_cleanly(fields: list[str]) -> None:
    started = time.perf_counter()
    try:
        schedule = parse_cron(" ".join(fields))
    except CronError:
        return
    following = schedule.next(START)
    assert following is None or following > START
    assert time.perf_counter() - started < 1.0


def test_next_is_cheap_enough_for_binary_search() -> None:
    schedule = parse_cron("0 10 * * 1-5", "Europe/Berlin")
    started = time.perf_counter()
    for hour in range(200):
        schedule.next(START + timedelta(hours=hour))
    assert time.perf_counter() - started < 2.0
