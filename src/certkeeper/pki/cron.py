"""Cron schedules for renewal windows: parsed as cert-manager parses them, evaluated with croniter. Pure
(zoneinfo reads the IANA database, which we treat as part of the runtime, like Go's LoadLocation).

Follows cert-manager's ``CronParse`` (``pkg/util/util.go``) over its fork of robfig/cron
(``internal/cron/parser.go``, ``spec.go``, ``constantdelay.go``): five fields (minute, hour,
day-of-month, month, day-of-week) with ``*``, ``?``, lists, ranges, steps and month/day names, or a
descriptor (``@yearly``, ``@annually``, ``@monthly``, ``@weekly``, ``@daily``, ``@midnight``,
``@hourly``, ``@every <duration>``); evaluated in the window's timezone (UTC when unset).

The grammar is checked here, with robfig's bounds and messages, before croniter sees the
expression, because croniter accepts more (seconds and years fields, ``L``, ``W``, ``#``, dow 7).
Where a DST change skips a wall-clock time croniter fires at the first instant after the gap;
robfig skips that day, and so do we (a fire whose local hour or minute is not in the schedule is
passed over). ``next`` returns the first fire strictly after a time, like robfig's ``Next``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo
from typing import Final, Protocol
from zoneinfo import ZoneInfo

from croniter import CroniterBadDateError, CroniterError, croniter

from certkeeper.api.durations import DurationError, parse_duration
from certkeeper.pki.errors import InvalidTemplate

MAX_CRON_LENGTH: Final = 1024
_INTEGER: Final = re.compile(r"[+-]?[0-9]{1,18}")
_MONTH_NAMES: Final = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
_MONTHS: Final = {name: i + 1 for i, name in enumerate(_MONTH_NAMES)}
_DAYS: Final = {name: i for i, name in enumerate(["sun", "mon", "tue", "wed", "thu", "fri", "sat"])}
#: (min, max, names) for minute, hour, day of month, month, day of week.
_FIELDS: Final[tuple[tuple[int, int, dict[str, int]], ...]] = (
    (0, 59, {}),
    (0, 23, {}),
    (1, 31, {}),
    (1, 12, _MONTHS),
    (0, 6, _DAYS),
)
_DESCRIPTORS: Final = {
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
    "@monthly": "0 0 1 * *",
    "@weekly": "0 0 * * 0",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@hourly": "0 * * * *",
}
#: croniter gives up after this many fires that fall into DST gaps (a few per year at most).
_MAX_SKIPPED: Final = 64


class CronSchedule(Protocol):
    """A parsed schedule."""

    def next(self, after: datetime) -> datetime | None:
        """The first fire strictly after ``after`` (aware, returned in UTC), or None if there is none."""
        ...


class CronError(InvalidTemplate):
    """A cron expression or timezone cert-manager would not accept."""


def _parse_int(text: str, expression: str) -> int:
    if _INTEGER.fullmatch(text) is None:
        raise CronError(f'failed to parse int from {text}: strconv.Atoi: parsing "{text}": invalid syntax')
    value = int(text)
    if value < 0:
        raise CronError(f"negative number ({value}) not allowed: {expression}")
    return value


def _parse_value(text: str, names: dict[str, int], expression: str) -> int:
    named = names.get(text.lower())
    return named if named is not None else _parse_int(text, expression)


def _parse_field(field: str, minimum: int, maximum: int, names: dict[str, int]) -> tuple[frozenset[int], bool]:
    """(values, star) for one field; ``star`` is robfig's star bit (a ``*``/``?`` item without a step)."""
    values: set[int] = set()
    star = False
    for expression in field.split(","):
        range_and_step = expression.split("/")
        if len(range_and_step) > 2:
            raise CronError(f"too many slashes: {expression}")
        low_and_high = range_and_step[0].split("-")
        if len(low_and_high) > 2:
            raise CronError(f"too many hyphens: {expression}")
        item_star = low_and_high[0] in ("*", "?")
        if item_star:
            start, end = minimum, maximum
        else:
            start = _parse_value(low_and_high[0], names, expression)
            end = _parse_value(low_and_high[1], names, expression) if len(low_and_high) == 2 else start
        step = 1
        if len(range_and_step) == 2:
            step = _parse_int(range_and_step[1], expression)
            if step == 0:
                raise CronError(f"step of range should be a positive number: {expression}")
            if len(low_and_high) == 1 and not item_star:
                end = maximum
            if step > 1:
                item_star = False
        if start < minimum:
            raise CronError(f"beginning of range ({start}) below minimum ({minimum}): {expression}")
        if end > maximum:
            raise CronError(f"end of range ({end}) above maximum ({maximum}): {expression}")
        if start > end:
            raise CronError(f"beginning of range ({start}) beyond end of range ({end}): {expression}")
        values.update(range(start, end + 1, step))
        star = star or item_star
    return frozenset(values), star


@dataclass(frozen=True, slots=True)
class _Every:
    delay: timedelta

    def next(self, after: datetime) -> datetime | None:
        return after.astimezone(UTC).replace(microsecond=0) + self.delay


@dataclass(frozen=True, slots=True)
class _Spec:
    expression: str
    zone: tzinfo
    minutes: frozenset[int]
    hours: frozenset[int]

    def next(self, after: datetime) -> datetime | None:
        schedule = croniter(self.expression, after.astimezone(self.zone))
        for _ in range(_MAX_SKIPPED):
            try:
                fire: datetime = schedule.get_next(datetime)
            except CroniterBadDateError:
                return None
            local = fire.astimezone(self.zone)
            if local.minute in self.minutes and local.hour in self.hours:
                return fire.astimezone(UTC)
        return None


def load_timezone(name: str) -> tzinfo:
    """The IANA zone ``name`` (UTC for "" or "UTC"); :class:`CronError` if it is unknown."""
    if name in ("", "UTC"):
        return UTC
    try:
        return ZoneInfo(name)
    except (KeyError, ValueError, OSError) as exc:
        raise CronError(f"unknown time zone {name}") from exc


def _parse(expression: str, zone: tzinfo) -> CronSchedule:
    if not expression:
        raise CronError("empty spec string")
    if expression.startswith("@"):
        if expression.startswith("@every "):
            try:
                delay = parse_duration(expression[len("@every ") :])
            except DurationError as exc:
                raise CronError(f"failed to parse duration {expression}: {exc}") from exc
            return _Every(max(timedelta(seconds=int(delay.total_seconds())), timedelta(seconds=1)))
        if expression not in _DESCRIPTORS:
            raise CronError(f"unrecognized descriptor: {expression}")
        expression = _DESCRIPTORS[expression]
    fields = expression.split()
    if len(fields) != 5:
        raise CronError(f"expected exactly 5 fields, found {len(fields)}: [{' '.join(fields)}]")
    parsed = [_parse_field(field, *bounds) for field, bounds in zip(fields, _FIELDS, strict=True)]
    # Hand croniter a normalised expression: star fields as "*" (robfig's day-of-month/day-of-week
    # rule then matches croniter's), the rest as explicit sorted value lists.
    normalised = " ".join("*" if star else ",".join(str(v) for v in sorted(values)) for values, star in parsed)
    try:
        croniter(normalised)
    except CroniterError as exc:
        raise CronError(str(exc)) from exc
    return _Spec(normalised, zone, parsed[0][0], parsed[1][0])


def parse_cron(expression: str, timezone: str = "") -> CronSchedule:
    """Parse a renewal window's cron in ``timezone`` (cert-manager's ``CronParse``)."""
    zone = load_timezone(timezone)
    if len(expression) > MAX_CRON_LENGTH:
        raise CronError(f"failed to parse cron spec '{expression[:64]}...': longer than {MAX_CRON_LENGTH} characters")
    try:
        return _parse(expression, zone)
    except CronError as exc:
        raise CronError(f"failed to parse cron spec '{expression}': {exc}") from exc
