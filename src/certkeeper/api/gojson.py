"""How kube-apiserver sees and prints JSON values: Go's type names, quoting, number formatting, formats.

The API server's schema errors embed values printed by Go (``%q``, ``%v``) and name JSON types as
go-openapi does (``integer``, ``object``...); the formats it checks (``date-time``, ``date``,
``byte``) follow go-openapi's strfmt and govalidator. Helpers for :mod:`certkeeper.api.structural`,
following ``k8s.io/kube-openapi/pkg/validation/{validate/type.go,strfmt/time.go,strfmt/date.go}``.
Pure.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from decimal import Decimal
from typing import Final

#: Go decodes JSON integers into int64; larger ones become float64.
INT64_MIN: Final = -(1 << 63)
INT64_MAX: Final = (1 << 63) - 1
INT32_MIN: Final = -(1 << 31)
INT32_MAX: Final = (1 << 31) - 1
#: swag.IsFloat64AJSONInteger: floats beyond 2**53 are not exact JSON integers.
_MAX_JSON_FLOAT: Final = float(1 << 53)


def as_go_number(value: int | float) -> int | float:
    """The number as Go's JSON decoding holds it: int64 when it fits, else float64 (±inf if huge)."""
    if isinstance(value, int) and not INT64_MIN <= value <= INT64_MAX:
        try:
            return float(value)
        except OverflowError:
            return math.inf if value > 0 else -math.inf
    return value


def json_type(value: object) -> tuple[str, str]:
    """go-openapi's (type, format) of a decoded JSON value: ``("integer", "int64")``, ``("object", "")``.

    Values JSON cannot hold (a ``datetime`` from a YAML loader) are named by their Python type, so
    they fail every typed schema with a readable message instead of crashing.
    """
    if value is None:
        return "null", ""
    if isinstance(value, bool):
        return "boolean", ""
    if isinstance(value, int | float):
        number = as_go_number(value)
        return ("integer", "int64") if isinstance(number, int) else ("number", "float64")
    if isinstance(value, str):
        return "string", ""
    if isinstance(value, list | tuple):
        return "array", ""
    if isinstance(value, dict):
        return "object", ""
    return type(value).__name__, ""


def is_json_integer(value: float) -> bool:
    """swag.IsFloat64AJSONInteger: an integral float within ±2**53."""
    return math.isfinite(value) and abs(value) <= _MAX_JSON_FLOAT and value.is_integer()


_NAMED_ESCAPES: Final = {"\a": "\\a", "\b": "\\b", "\f": "\\f", "\n": "\\n", "\r": "\\r", "\t": "\\t", "\v": "\\v"}


def go_quote(text: str) -> str:
    """Go's ``%q`` (strconv.Quote) of a string."""
    out = ['"']
    for char in text:
        code = ord(char)
        if char in ('"', "\\"):
            out.append("\\" + char)
        elif char in _NAMED_ESCAPES:
            out.append(_NAMED_ESCAPES[char])
        elif code < 0x20 or code == 0x7F:
            out.append(f"\\x{code:02x}")
        elif not char.isprintable():
            out.append(f"\\u{code:04x}" if code <= 0xFFFF else f"\\U{code:08x}")
        else:
            out.append(char)
    out.append('"')
    return "".join(out)


def go_float(value: float) -> str:
    """Go's ``%v`` of a float64: shortest digits, exponent only below 1e-4 or from 1e21 up."""
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    shortest = repr(value)
    exponent = Decimal(shortest).adjusted()
    if exponent < -4 or exponent >= 21:
        # Python's repr uses the exponent form in this range too, with Go's two-digit exponent.
        return shortest
    return _fixed(shortest)


def _fixed(shortest: str) -> str:
    text = format(Decimal(shortest), "f")
    return text.rstrip("0").rstrip(".") if "." in text else text


def go_number(value: int | float) -> str:
    """Go's ``%v`` of an int64 or float64."""
    return str(value) if isinstance(value, int) else go_float(value)


def go_format_float_f(value: float) -> str:
    """strconv.FormatFloat(v, 'f', -1, 64), as swag.FormatFloat64 writes a number for range checks."""
    if not math.isfinite(value):
        return go_float(value)
    return _fixed(repr(value))


def fits_integer_format(value: int | float, fmt: str) -> bool:
    """kube-openapi's IsValueValidAgainstRange for ``type: integer`` (int32, else int64)."""
    if isinstance(value, float):
        text = go_format_float_f(value)
        if not re.fullmatch(r"-?[0-9]+", text):
            return False
        value = int(text)
    low, high = (INT32_MIN, INT32_MAX) if fmt == "int32" else (INT64_MIN, INT64_MAX)
    return low <= value <= high


def go_regex(pattern: str) -> str:
    """An RE2 pattern as Python ``re`` reads it: ``$`` means end of text, as in Go, not before a final newline."""
    out: list[str] = []
    escaped = in_class = False
    for char in pattern:
        if escaped:
            out.append(char)
            escaped = False
        elif char == "\\":
            out.append(char)
            escaped = True
        elif in_class:
            out.append(char)
            in_class = char != "]"
        elif char == "[":
            out.append(char)
            in_class = True
        elif char == "$":
            out.append(r"\Z")
        else:
            out.append(char)
    return "".join(out)


# --- formats (go-openapi strfmt) -----------------------------------------------------------------

_DATE: Final = re.compile(r"([+-]?[0-9]{3}|[0-9]{4})-([0-9]{2})-([0-9]{2})\Z")
_TIME: Final = re.compile(r"^([0-9]{2}):([0-9]{2}):([0-9]{2})(.[0-9]+)?(z|([+-][0-9]{2}:[0-9]{2}))\Z")
_BASE64: Final = re.compile(r"^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=|[A-Za-z0-9+/]{4})\Z")
_DAYS: Final = (31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)


def is_date(text: str) -> bool:
    """strfmt.IsDate: Go's ``time.Parse("2006-01-02", text)`` succeeds."""
    match = _DATE.match(text)
    if match is None:
        return False
    year, month, day = (int(group) for group in match.groups())
    if not 1 <= month <= 12:
        return False
    leap = year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)
    return 1 <= day <= _DAYS[month - 1] + (1 if month == 2 and leap else 0)


def is_date_time(text: str) -> bool:
    """strfmt.IsDateTime: a full date, ``T`` (any case), and a time with ``Z`` or an offset."""
    if len(text) < 4:
        return False
    parts = text.lower().split("t")
    if len(parts) < 2 or not is_date(parts[0]):
        return False
    match = _TIME.match(parts[1])
    return match is not None and match[1] <= "23" and match[2] <= "59" and match[3] <= "59"


def is_base64(text: str) -> bool:
    """govalidator.IsBase64: padded standard base64 of at least one byte."""
    return _BASE64.match(text) is not None


#: The string formats whose values are checked, by name (others pass, as unknown formats do).
FORMAT_CHECKS: Final[dict[str, Callable[[str], bool]]] = {
    "date-time": is_date_time,
    "date": is_date,
    "byte": is_base64,
}

__all__ = [
    "FORMAT_CHECKS",
    "INT32_MAX",
    "INT32_MIN",
    "INT64_MAX",
    "INT64_MIN",
    "as_go_number",
    "fits_integer_format",
    "go_float",
    "go_format_float_f",
    "go_number",
    "go_quote",
    "go_regex",
    "is_base64",
    "is_date",
    "is_date_time",
    "is_json_integer",
    "json_type",
]
