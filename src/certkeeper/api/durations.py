"""Go ``time.Duration`` strings (``2160h``, ``1h30m``, ``90m0.5s``) as Kubernetes' metav1.Duration carries them.

Parsing follows Go's ``time.ParseDuration``: an optional sign, then one or more decimal numbers each with
a unit (ns, us, µs, ms, s, m, h), with the same error messages. Formatting follows
``Duration.String()`` (``2160h0m0s``). Input is bounded in length so a parse is O(n) over a short
string. Pure.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Final

#: Longest duration string accepted; Go has no limit, but nothing legitimate comes near it.
MAX_DURATION_LENGTH: Final = 128

NANOSECOND: Final = 1
MICROSECOND: Final = 1000 * NANOSECOND
MILLISECOND: Final = 1000 * MICROSECOND
SECOND: Final = 1000 * MILLISECOND
MINUTE: Final = 60 * SECOND
HOUR: Final = 60 * MINUTE

_UNITS: Final = {
    "ns": NANOSECOND,
    "us": MICROSECOND,
    "\u00b5s": MICROSECOND,  # micro sign
    "\u03bcs": MICROSECOND,  # Greek mu
    "ms": MILLISECOND,
    "s": SECOND,
    "m": MINUTE,
    "h": HOUR,
}
_MAX_INT64: Final = (1 << 63) - 1


class DurationError(ValueError):
    """A string that is not a Go duration; the message is Go's."""


def parse_duration_ns(text: str) -> int:
    """Parse a Go duration string into integer nanoseconds."""
    quoted = '"' + text + '"'
    if len(text) > MAX_DURATION_LENGTH:
        raise DurationError(f"time: invalid duration (longer than {MAX_DURATION_LENGTH} characters)")
    s = text
    negative = False
    if s and s[0] in "+-":
        negative = s[0] == "-"
        s = s[1:]
    if s == "0":
        return 0
    if not s:
        raise DurationError(f"time: invalid duration {quoted}")
    total = 0
    while s:
        if not (s[0] == "." or (s[0].isascii() and s[0].isdigit())):
            raise DurationError(f"time: invalid duration {quoted}")
        i = 0
        while i < len(s) and s[i].isascii() and s[i].isdigit():
            i += 1
        whole_digits = s[:i]
        frac_digits = ""
        if i < len(s) and s[i] == ".":
            j = i + 1
            while j < len(s) and s[j].isascii() and s[j].isdigit():
                j += 1
            frac_digits = s[i + 1 : j]
            i = j
        if not whole_digits and not frac_digits:
            raise DurationError(f"time: invalid duration {quoted}")
        s = s[i:]
        u = 0
        while u < len(s) and s[u] != "." and not (s[u].isascii() and s[u].isdigit()):
            u += 1
        if u == 0:
            raise DurationError(f"time: missing unit in duration {quoted}")
        unit_name = s[:u]
        s = s[u:]
        unit = _UNITS.get(unit_name)
        if unit is None:
            raise DurationError(f'time: unknown unit "{unit_name}" in duration {quoted}')
        value = int(whole_digits or "0") * unit
        if frac_digits:
            # Exact: scale the fraction by the unit and truncate toward zero, as Go does.
            value += int(frac_digits) * unit // (10 ** len(frac_digits))
        total += value
        if total > _MAX_INT64 + (1 if negative else 0):
            raise DurationError(f"time: invalid duration {quoted}")
    return -total if negative else total


def parse_duration(text: str) -> timedelta:
    """Parse a Go duration string; sub-microsecond precision is truncated."""
    ns = parse_duration_ns(text)
    sign = -1 if ns < 0 else 1
    return sign * timedelta(microseconds=abs(ns) // MICROSECOND)


def _format_fraction(value: int, precision: int) -> tuple[str, int]:
    """Digits after the point for ``value`` with ``precision`` decimals, trailing zeros dropped."""
    digits = f"{value % 10**precision:0{precision}d}".rstrip("0")
    return ("." + digits if digits else ""), value // 10**precision


def format_duration_ns(ns: int) -> str:
    """Format nanoseconds as Go's ``Duration.String()`` does."""
    if ns == 0:
        return "0s"
    sign = "-" if ns < 0 else ""
    u = abs(ns)
    if u < SECOND:
        if u < MICROSECOND:
            return f"{sign}{u}ns"
        if u < MILLISECOND:
            frac, whole = _format_fraction(u, 3)
            return f"{sign}{whole}{frac}\u00b5s"
        frac, whole = _format_fraction(u, 6)
        return f"{sign}{whole}{frac}ms"
    frac, seconds_total = _format_fraction(u, 9)
    hours, rem = divmod(seconds_total, 3600)
    minutes, seconds = divmod(rem, 60)
    text = f"{seconds}{frac}s"
    if hours or minutes:
        text = f"{minutes}m{text}"
    if hours:
        text = f"{hours}h{text}"
    return sign + text


def format_duration(delta: timedelta) -> str:
    """Format a timedelta as a Go duration string."""
    micros = (delta.days * 86400 + delta.seconds) * 1_000_000 + delta.microseconds
    return format_duration_ns(micros * MICROSECOND)
