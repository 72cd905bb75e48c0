"""When a certificate should be renewed. Pure: times and the ARI jitter are parameters.

Follows cert-manager's ``pkg/util/pki/renewaltime.go``:

* renewBefore = ``renew_before`` if 0 < it < lifetime; else lifetime * pct / 100 in float math if
  0 < pct < 100; else lifetime / 3 (renew two thirds of the way through);
* renewal time = notAfter - renewBefore, truncated to the second (the status field has seconds only;
  an untruncated time once made certificates never renew, cert-manager PR #4399);
* with an ARI suggested window the time is a random point in [start, end) instead, truncated;
* ``renewal.policy: Disabled`` means never (None); ``RenewBefore`` with windows moves the time into a
  window: each cron fire S opens [S, S + windowDuration), fires are searched in [notBefore - duration,
  notAfter + duration]; a desired time inside a window is kept, else the earliest later window start
  is used, else :class:`RenewalWindowError` carries the desired time (the ``WindowError`` reason).

Durations are computed in integer nanoseconds, as Go's ``time.Duration``, so results match exactly.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Final

from certkeeper.pki.cron import CronError, CronSchedule, load_timezone, parse_cron
from certkeeper.pki.errors import RenewalWindowError

_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)
_SECOND_NS: Final = 1_000_000_000
_ONE_SECOND: Final = timedelta(seconds=1)


class RenewalPolicy(enum.StrEnum):
    """``spec.renewal.policy``."""

    RENEW_BEFORE = "RenewBefore"
    DISABLED = "Disabled"


@dataclass(frozen=True, slots=True, kw_only=True)
class RenewalWindow:
    """One ``spec.renewal.windows[]`` item: windows open at each cron fire, in ``timezone``."""

    cron: str
    window_duration: timedelta | None
    timezone: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class Renewal:
    """``spec.renewal``."""

    policy: str = RenewalPolicy.RENEW_BEFORE
    windows: tuple[RenewalWindow, ...] = field(default_factory=tuple)


def _ns(delta: timedelta) -> int:
    return (delta.days * 86_400 + delta.seconds) * _SECOND_NS + delta.microseconds * 1_000


def _truncate_to_second(ns_since_epoch: int) -> datetime:
    return _EPOCH + timedelta(seconds=ns_since_epoch // _SECOND_NS)


def _go_divide(numerator: int, denominator: int) -> int:
    """Integer division truncating toward zero, as Go's."""
    quotient = abs(numerator) // denominator
    return quotient if numerator >= 0 else -quotient


def _renew_before_ns(lifetime_ns: int, renew_before: timedelta | None, percentage: int | None) -> int:
    if renew_before is not None and 0 < _ns(renew_before) < lifetime_ns:
        return _ns(renew_before)
    if percentage is not None and 0 < percentage < 100:
        # float64 math as upstream: lifetime * pct would overflow int64 for long-lived certificates.
        return int(float(lifetime_ns) * float(percentage) / 100)
    return _go_divide(lifetime_ns, 3)


def renew_before_duration(
    lifetime: timedelta, renew_before: timedelta | None = None, renew_before_percentage: int | None = None
) -> timedelta:
    """How long before expiry to renew a certificate living ``lifetime`` (microsecond resolution)."""
    nanoseconds = _renew_before_ns(_ns(lifetime), renew_before, renew_before_percentage)
    return timedelta(microseconds=_go_divide(nanoseconds, 1000))


def _aware(name: str, value: datetime) -> datetime:
    if value.tzinfo is None:
        raise ValueError(f"{name} must be timezone-aware")
    return value.astimezone(UTC)


def renewal_time(
    not_before: datetime,
    not_after: datetime,
    *,
    renew_before: timedelta | None = None,
    renew_before_percentage: int | None = None,
    renewal: Renewal | None = None,
    ari_window: tuple[datetime, datetime] | None = None,
    ari_jitter: float = 0.0,
) -> datetime | None:
    """The renewal time of a certificate valid from ``not_before`` to ``not_after`` (UTC, whole second).

    ``ari_window`` is an ACME ARI suggested window (start, end); ``ari_jitter`` in [0, 1) picks the
    point in it and is drawn by the caller (cert-manager uses crypto/rand). Returns None when renewal
    is disabled. Raises :class:`RenewalWindowError` when the windows cannot be honoured (its
    ``desired`` is the time to use anyway, or None when the renewal spec itself is invalid).
    """
    not_before = _aware("not_before", not_before)
    not_after = _aware("not_after", not_after)
    if ari_window is not None:
        if not 0.0 <= ari_jitter < 1.0:
            raise ValueError("ari_jitter must be in [0, 1)")
        start, end = _aware("ARI window start", ari_window[0]), _aware("ARI window end", ari_window[1])
        offset = 0 if start >= end else min(int(_ns(end - start) * ari_jitter), _ns(end - start) - 1)
        desired = _truncate_to_second(_ns(start - _EPOCH) + offset)
    else:
        lifetime_ns = _ns(not_after - not_before)
        renew_before_ns = _renew_before_ns(lifetime_ns, renew_before, renew_before_percentage)
        desired = _truncate_to_second(_ns(not_after - _EPOCH) - renew_before_ns)
    if renewal is None:
        return desired
    if renewal.policy == RenewalPolicy.DISABLED:
        return None
    if renewal.policy == RenewalPolicy.RENEW_BEFORE:
        return _apply_windows(not_before, not_after, desired, renewal.windows)
    raise RenewalWindowError(f"unsupported renewal policy: {renewal.policy}", desired=None)


def format_go_time(value: datetime) -> str:
    """``value`` as Go's ``time.Time.String()`` prints a UTC time (``2026-03-08 10:00:00 +0000 UTC``)."""
    value = value.astimezone(UTC)
    fraction = f".{value.microsecond:06d}".rstrip("0") if value.microsecond else ""
    return value.strftime("%Y-%m-%d %H:%M:%S") + fraction + " +0000 UTC"


def _schedule(window: RenewalWindow) -> CronSchedule:
    try:
        load_timezone(window.timezone)
    except CronError as exc:
        raise RenewalWindowError(f"error parsing timezone in window {exc}", desired=None) from exc
    try:
        return parse_cron(window.cron, window.timezone)
    except CronError as exc:
        raise RenewalWindowError(f"error parsing cron in window {exc}", desired=None) from exc


def _latest_start(schedule: CronSchedule, low: datetime, high: datetime) -> datetime | None:
    """The last fire S with low <= S <= high, found by binary search over ``next`` (as upstream)."""
    if not low < high:
        return None
    upper = high
    first = schedule.next(low - _ONE_SECOND)
    if first is None or first > upper:
        return None
    while high - low > _ONE_SECOND:
        middle = low + (high - low) / 2
        following = schedule.next(middle)
        if following is None or following > upper:
            high = middle
        else:
            low = middle
    last = schedule.next(low - _ONE_SECOND)
    return None if last is None or last > upper else last


def _best_before(
    schedule: CronSchedule, search: tuple[datetime, datetime], desired: datetime, length: timedelta
) -> datetime | None:
    search_min, search_max = search
    if desired < search_min:
        return None
    start = _latest_start(schedule, search_min, min(desired, search_max))
    if start is None:
        return None
    end = start + length
    candidate = desired if start <= desired < end else end
    return candidate if candidate >= desired else None


def _best_after(
    schedule: CronSchedule, search: tuple[datetime, datetime], desired: datetime, length: timedelta
) -> datetime | None:
    search_min, search_max = search
    start = schedule.next(max(desired, search_min) - _ONE_SECOND)
    if start is None or start > search_max:
        return None
    if start <= desired < start + length:
        return desired
    if desired < start:
        return start
    return None


def _apply_windows(
    not_before: datetime, not_after: datetime, desired: datetime, windows: Sequence[RenewalWindow]
) -> datetime:
    if not windows:
        return desired
    befores: list[datetime] = []
    afters: list[datetime] = []
    for window in windows:
        schedule = _schedule(window)
        length = window.window_duration
        if length is None or length <= timedelta(0):
            raise RenewalWindowError(
                f"windowDuration must be a positive duration in window {{{window.timezone} {window.cron} {length}}}",
                desired=None,
            )
        search = (not_before - length, not_after + length)
        before = _best_before(schedule, search, desired, length)
        if before is not None:
            befores.append(before)
        after = _best_after(schedule, search, desired, length)
        if after is not None:
            afters.append(after)
    if befores:
        return max(befores)
    if afters:
        return min(afters)
    raise RenewalWindowError(
        f"cannot find a time with the given windows between {format_go_time(not_before)} and "
        f"{format_go_time(not_after)} for: {format_go_time(desired)}",
        desired=desired,
    )
