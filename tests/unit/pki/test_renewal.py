"""Renewal time, following renewaltime_test.go's tables (with a fixed clock) and its edge cases."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from certkeeper.pki.errors import RenewalWindowError
from certkeeper.pki.renewal import (
    Renewal,
    RenewalPolicy,
    RenewalWindow,
    format_go_time,
    renew_before_duration,
    renewal_time,
)

H = timedelta(hours=1)
SECOND = timedelta(seconds=1)
NOW = datetime(2026, 6, 10, 12, 34, 56, tzinfo=UTC)


def midnight(value: datetime) -> datetime:
    return datetime(value.year, value.month, value.day, tzinfo=UTC)


RENEWAL_TIME = [
    ("short lived cert, renewBefore unset", 3 * H, None, None, 2 * H),
    ("long lived cert, renewBefore unset", 4380 * H, None, None, 2920 * H),
    ("renewBefore set", 24 * H, 20 * H, None, 4 * H),
    ("long lived cert, renew every day", 730 * H, 706 * H, None, 24 * H),
    ("renewBefore after expiry falls back to a third", 24 * H, 25 * H, None, 16 * H),
    ("renewBefore equal to the lifetime falls back too", 24 * H, 24 * H, None, 16 * H),
    ("renewBeforePercentage 30", 730 * H, None, 30, 511 * H),
    ("renewBefore slightly less than the lifetime", 24 * H + timedelta(minutes=3), 24 * H, None, timedelta(minutes=3)),
    ("lifetime skewed by a second is truncated", 24 * H - SECOND, None, None, 16 * H - SECOND),
    ("renewBefore wins over percentage", 24 * H, 6 * H, 50, 18 * H),
    ("invalid renewBefore lets percentage apply", 24 * H, 30 * H, 50, 12 * H),
    ("zero renewBefore is ignored", 24 * H, timedelta(0), None, 16 * H),
    ("negative renewBefore is ignored", 24 * H, -H, None, 16 * H),
]  # fmt: skip


@pytest.mark.parametrize(
    ("lifetime", "renew_before", "pct", "after_not_before"),
    [c[1:] for c in RENEWAL_TIME],
    ids=[c[0] for c in RENEWAL_TIME],
)
def test_renewal_time(
    lifetime: timedelta, renew_before: timedelta | None, pct: int | None, after_not_before: timedelta
) -> None:
    result = renewal_time(NOW, NOW + lifetime, renew_before=renew_before, renew_before_percentage=pct)
    assert result == NOW + after_not_before


RENEW_BEFORE = [
    ("unset", None, None, None, H),
    ("percentage 25", None, 25, None, 45 * timedelta(minutes=1)),
    ("percentage 100 is too large", None, 100, None, H),
    ("percentage 0 is too small", None, 0, None, H),
    ("percentage -5 is too small", None, -5, None, H),
    ("renewBefore valid", H, None, None, H),
    ("renewBefore too long", 4 * H, None, None, H),
]


@pytest.mark.parametrize(
    ("renew_before", "pct", "lifetime", "expected"), [c[1:] for c in RENEW_BEFORE], ids=[c[0] for c in RENEW_BEFORE]
)
def test_renew_before_duration(
    renew_before: timedelta | None, pct: int | None, lifetime: timedelta | None, expected: timedelta
) -> None:
    assert renew_before_duration(lifetime or 3 * H, renew_before, pct) == expected


@pytest.mark.parametrize("years", [10, 3], ids=["10y", "3y"])
def test_percentage_uses_float_math_without_overflow(years: int) -> None:
    lifetime_ns = years * 365 * 24 * 3600 * 10**9
    expected_ns = int(float(lifetime_ns) * 99.0 / 100)
    assert renew_before_duration(timedelta(days=365 * years), None, 99) == timedelta(microseconds=expected_ns // 1000)
    result = renewal_time(NOW, NOW + timedelta(days=365 * years), renew_before_percentage=99)
    not_after_ns = int((NOW + timedelta(days=365 * years)).timestamp()) * 10**9
    assert result == datetime.fromtimestamp((not_after_ns - expected_ns) // 10**9, UTC)


def test_sub_second_validity_is_truncated() -> None:
    not_after = NOW + 3 * H + timedelta(microseconds=999_999)
    result = renewal_time(NOW, not_after)
    assert result is not None
    assert result.microsecond == 0
    assert result == NOW + 2 * H


def test_negative_lifetime_divides_like_go() -> None:
    assert renewal_time(NOW, NOW - 3 * H) == NOW - 2 * H


def test_naive_times_are_refused() -> None:
    with pytest.raises(ValueError, match="not_after must be timezone-aware"):
        renewal_time(NOW, NOW.replace(tzinfo=None) + H)


@pytest.mark.parametrize(
    ("jitter", "expected"),
    [(0.0, NOW + 5 * H), (0.5, NOW + 5 * H + timedelta(minutes=30)), (0.9999999999999, NOW + 6 * H - SECOND)],
    ids=["start", "middle", "end"],
)  # fmt: skip
def test_ari_window_overrides_renew_before(jitter: float, expected: datetime) -> None:
    window = (NOW + 5 * H + timedelta(microseconds=1), NOW + 6 * H)
    result = renewal_time(NOW, NOW + 24 * H, renew_before=24 * H, ari_window=window, ari_jitter=jitter)
    assert result == expected


def test_ari_window_that_is_empty_uses_its_start() -> None:
    window = (NOW + 5 * H, NOW + 5 * H)
    assert renewal_time(NOW, NOW + 24 * H, ari_window=window, ari_jitter=0.7) == NOW + 5 * H


@pytest.mark.parametrize("jitter", [-0.1, 1.0], ids=str)
def test_ari_jitter_must_be_a_fraction(jitter: float) -> None:
    with pytest.raises(ValueError, match="ari_jitter"):
        renewal_time(NOW, NOW + H, ari_window=(NOW, NOW + H), ari_jitter=jitter)


def test_disabled_policy_never_renews() -> None:
    assert renewal_time(NOW, NOW + 24 * H, renew_before=20 * H, renewal=Renewal(policy=RenewalPolicy.DISABLED)) is None


def test_renew_before_policy_without_windows_is_the_desired_time() -> None:
    assert renewal_time(NOW, NOW + 3 * H, renewal=Renewal()) == NOW + 2 * H


def test_unsupported_policy() -> None:
    with pytest.raises(RenewalWindowError) as caught:
        renewal_time(NOW, NOW + H, renewal=Renewal(policy="Sometimes"))
    assert str(caught.value) == "unsupported renewal policy: Sometimes"
    assert caught.value.desired is None


FUTURE = midnight(NOW + timedelta(days=5))  # Monday 2026-06-15
NOT_BEFORE = midnight(NOW - timedelta(days=10))
SATURDAY = FUTURE + timedelta(days=5)
PHOENIX = ZoneInfo("America/Phoenix")
DENVER = ZoneInfo("America/Denver")
DENVER_MST = datetime(2026, 11, 1, tzinfo=UTC)
DENVER_MDT = datetime(2026, 3, 8, tzinfo=UTC)


def window(cron: str, hours: float, timezone: str = "UTC") -> RenewalWindow:
    return RenewalWindow(cron=cron, window_duration=timedelta(hours=hours), timezone=timezone)


WINDOWS = [
    (
        "renewal time within window",
        NOT_BEFORE, FUTURE + 48 * H, FUTURE + timedelta(hours=10, minutes=30),
        [window("0 10 * * *", 2)], FUTURE + timedelta(hours=10, minutes=30),
    ),
    (
        "renewal time after the window: next day's window",
        NOT_BEFORE, FUTURE + 48 * H, FUTURE + 13 * H, [window("0 10 * * *", 2)], FUTURE + 34 * H,
    ),
    (
        "renewal time before the window",
        NOT_BEFORE, FUTURE + 24 * H, FUTURE + 9 * H, [window("0 15 * * *", 2)], FUTURE + 15 * H,
    ),
    (
        "multiple windows, weekday and weekend",
        NOT_BEFORE, SATURDAY + 24 * H, SATURDAY + 6 * H,
        [window("0 23 * * 1-5", 2), window("0 10 * * 6,0", 4)], SATURDAY + 10 * H,
    ),
    (
        "within window, other timezone",
        NOT_BEFORE, FUTURE + 48 * H,
        datetime(FUTURE.year, FUTURE.month, FUTURE.day, 10, 30, tzinfo=PHOENIX).astimezone(UTC),
        [window("0 10 * * *", 2, "America/Phoenix")],
        datetime(FUTURE.year, FUTURE.month, FUTURE.day, 10, 30, tzinfo=PHOENIX).astimezone(UTC),
    ),
    (
        "daylight saving ends (on to off)",
        midnight(DENVER_MDT - timedelta(days=10)), DENVER_MST + 48 * H,
        datetime(2026, 10, 31, 15, 30, tzinfo=DENVER).astimezone(UTC),
        [window("0 10 * * *", 2, "America/Denver")],
        datetime(2026, 10, 31, 0, 0, tzinfo=DENVER).astimezone(UTC) + 35 * H,
    ),
    (
        "daylight saving starts: the skipped 02:30 fires the next day",
        NOT_BEFORE - timedelta(days=120), DENVER_MDT + 72 * H,
        datetime(2026, 3, 8, 0, 0, tzinfo=UTC),
        [window("30 2 * * *", 1, "America/Denver")],
        datetime(2026, 3, 9, 2, 30, tzinfo=DENVER).astimezone(UTC),
    ),
    (
        "the window end itself counts, as upstream",
        NOT_BEFORE, FUTURE + 48 * H, FUTURE + 12 * H, [window("0 10 * * *", 2)], FUTURE + 12 * H,
    ),
]  # fmt: skip


@pytest.mark.parametrize(
    ("not_before", "not_after", "target", "windows", "expected"),
    [c[1:] for c in WINDOWS],
    ids=[c[0] for c in WINDOWS],
)
def test_windows(
    not_before: datetime, not_after: datetime, target: datetime, windows: list[RenewalWindow], expected: datetime
) -> None:
    result = renewal_time(
        not_before, not_after, renew_before=not_after - target, renewal=Renewal(windows=tuple(windows))
    )
    assert result == expected


def test_no_window_fits() -> None:
    not_after, target = FUTURE + 24 * H, FUTURE + timedelta(hours=13, minutes=30)
    with pytest.raises(RenewalWindowError) as caught:
        renewal_time(
            NOT_BEFORE,
            not_after,
            renew_before=not_after - target,
            renewal=Renewal(windows=(window("0 10 * * *", 2),)),
        )
    assert str(caught.value) == (
        "cannot find a time with the given windows between 2026-05-31 00:00:00 +0000 UTC and "
        "2026-06-16 00:00:00 +0000 UTC for: 2026-06-15 13:30:00 +0000 UTC"
    )
    assert caught.value.desired == target


def test_windows_apply_on_top_of_ari() -> None:
    ari = (FUTURE + 10 * H, FUTURE + 11 * H)
    result = renewal_time(
        NOT_BEFORE,
        FUTURE + 48 * H,
        renew_before=H,
        renewal=Renewal(windows=(window("0 10 * * *", 2),)),
        ari_window=ari,
        ari_jitter=0.25,
    )
    assert result == FUTURE + timedelta(hours=10, minutes=15)


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        (window("0 10 * * *", 2, "Mars/Olympus"), "error parsing timezone in window unknown time zone Mars/Olympus"),
        (
            window("0 10 * *", 2),
            "error parsing cron in window failed to parse cron spec '0 10 * *': expected exactly 5 fields, found 4: "
            "[0 10 * *]",
        ),
        (window("0 10 * * *", 0), "windowDuration must be a positive duration in window {UTC 0 10 * * * 0:00:00}"),
        (
            RenewalWindow(cron="0 10 * * *", window_duration=None),
            "windowDuration must be a positive duration in window { 0 10 * * * None}",
        ),
    ],
    ids=["timezone", "cron", "zero-duration", "no-duration"],
)
def test_invalid_windows(bad: RenewalWindow, message: str) -> None:
    with pytest.raises(RenewalWindowError) as caught:
        renewal_time(NOW, NOW + 24 * H, renewal=Renewal(windows=(bad,)))
    assert str(caught.value) == message
    assert caught.value.desired is None


def test_format_go_time() -> None:
    assert format_go_time(datetime(2026, 3, 8, 1, 2, 3, tzinfo=UTC)) == "2026-03-08 01:02:03 +0000 UTC"
    assert format_go_time(datetime(2026, 3, 8, 1, 2, 3, 500000, tzinfo=UTC)) == "2026-03-08 01:02:03.5 +0000 UTC"
    assert format_go_time(datetime(2026, 3, 8, 1, 2, 3, tzinfo=DENVER)) == "2026-03-08 08:02:03 +0000 UTC"
