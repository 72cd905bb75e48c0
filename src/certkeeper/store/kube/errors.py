"""The API server's ``Status`` answers turned into the Store's typed errors. Pure.

Follows apimachinery's ``pkg/api/errors`` (which reason and code mean what) and ``metav1.Status``:

* 404 NotFound; 409 AlreadyExists or Conflict, told apart by ``reason``; 410 Gone (a compacted
  resourceVersion or an expired continue token); 401 Unauthorized and 403 Forbidden; 429
  TooManyRequests with the delay the server asked for (``Retry-After`` or ``details.retryAfterSeconds``);
  400 and 422 Invalid; 5xx Unavailable;
* a 422's ``details.causes`` become ``FieldError``s with their field paths, parsed back from the
  messages the server printed with ``field.Error.ErrorBody`` (type, then the bad value, then the
  detail), so ``Invalid.errors`` compares equal to what local validation produces;
* ``str(error)`` is the server's own message, unchanged, whatever the class.

A body that is not a Status (a proxy's HTML page) yields a message made of the HTTP status and at most
256 characters of the body: error text is never an unbounded copy of what a peer sent.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from typing import Any, Final

from certkeeper.api.field import OMIT, ErrorType, FieldError
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

_MAX_QUOTED_BODY: Final = 256
#: The delay a 429 implies when the server names none (client-go waits one second too).
DEFAULT_RETRY_AFTER: Final = 1.0
#: A server asking for more than this is obeyed only this long; the caller retries again later anyway.
MAX_RETRY_AFTER: Final = 60.0

#: metav1.CauseType -> the field error type it was made from (apimachinery's field.ErrorType).
_CAUSE_TYPES: Final[Mapping[str, ErrorType]] = {
    "FieldValueNotFound": ErrorType.NOT_FOUND,
    "FieldValueRequired": ErrorType.REQUIRED,
    "FieldValueDuplicate": ErrorType.DUPLICATE,
    "FieldValueInvalid": ErrorType.INVALID,
    "FieldValueNotSupported": ErrorType.NOT_SUPPORTED,
    "FieldValueForbidden": ErrorType.FORBIDDEN,
    "FieldValueTooLong": ErrorType.TOO_LONG,
    "FieldValueTooMany": ErrorType.TOO_MANY,
    "InternalError": ErrorType.INTERNAL,
    "FieldValueTypeInvalid": ErrorType.INVALID,
}


class Unauthorized(Forbidden):
    """401: the credentials were refused (an expired token, an unknown client certificate)."""


def parse_retry_after(value: str | None) -> float | None:
    """Seconds from a ``Retry-After`` header given as a number (what the API server sends); else None."""
    if not value:
        return None
    try:
        seconds = float(value.strip())
    except ValueError:
        return None
    if not math.isfinite(seconds) or seconds < 0:
        return None
    return min(seconds, MAX_RETRY_AFTER)


def field_error_from_cause(cause: Mapping[str, Any]) -> FieldError:
    """One ``StatusCause`` as a ``FieldError`` whose ``str`` is the line the server printed.

    The bad value is recovered when the message starts with a JSON-readable one (Go prints strings
    with %q and numbers plainly) and re-printing gives back the same text; otherwise the whole text
    after the type becomes the detail, which prints identically.
    """
    reason = cause.get("reason")
    error_type = _CAUSE_TYPES.get(reason, ErrorType.INVALID) if isinstance(reason, str) else ErrorType.INVALID
    field = cause.get("field")
    field = field if isinstance(field, str) else ""
    message = cause.get("message")
    message = message if isinstance(message, str) else ""
    prefix = error_type.value
    if message == prefix:
        return FieldError(error_type, field, OMIT, "")
    if not message.startswith(prefix + ": "):
        return FieldError(error_type, field, OMIT, message)
    rest = message[len(prefix) + 2 :]
    try:
        value, end = json.JSONDecoder().raw_decode(rest)
    except ValueError:
        value, end = OMIT, -1
    if end >= 0 and (end == len(rest) or rest.startswith(": ", end)):
        candidate = FieldError(error_type, field, value, rest[end + 2 :] if end < len(rest) else "")
        if candidate.body() == message:
            return candidate
    return FieldError(error_type, field, OMIT, rest)


def _quote_body(body: bytes) -> str:
    text = body[:_MAX_QUOTED_BODY].decode("utf-8", "replace").strip()
    return text + ("..." if len(body) > _MAX_QUOTED_BODY else "")


def decode_status(body: bytes) -> dict[str, Any] | None:
    """The ``Status`` object in a response body, or None when the body is something else."""
    try:
        status = json.loads(body)
    except (ValueError, RecursionError):
        return None
    if isinstance(status, dict) and status.get("kind") == "Status":
        return status
    return None


def _invalid(status: Mapping[str, Any], message: str, qualified_kind: str, name: str) -> Invalid:
    details = status.get("details")
    details = details if isinstance(details, dict) else {}
    kind, group = details.get("kind"), details.get("group")
    if isinstance(kind, str) and kind:
        qualified_kind = f"{kind}.{group}" if isinstance(group, str) and group else kind
    if isinstance(details.get("name"), str) and details["name"]:
        name = details["name"]
    causes = details.get("causes")
    errors = [field_error_from_cause(c) for c in causes if isinstance(c, dict)] if isinstance(causes, list) else []
    if not errors:
        errors = [FieldError(ErrorType.INVALID, "", OMIT, message)]
    error = Invalid(qualified_kind, name, errors)
    error.args = (message,)
    return error


def error_from_status(
    code: int,
    status: Mapping[str, Any] | None,
    *,
    body: bytes = b"",
    retry_after: str | None = None,
    qualified_kind: str = "",
    name: str = "",
) -> StoreError:
    """The Store error for an HTTP ``code`` and the ``Status`` the server sent with it (None if it sent none).

    ``qualified_kind`` and ``name`` describe the request, for an Invalid whose Status names no object.
    """
    status = status or {}
    message = status.get("message")
    if not isinstance(message, str) or not message:
        quoted = _quote_body(body)
        message = f"the server responded with HTTP {code}" + (f": {quoted}" if quoted else "")
    reason = status.get("reason") if isinstance(status.get("reason"), str) else ""
    status_code = status.get("code")
    if isinstance(status_code, int) and not isinstance(status_code, bool) and 400 <= status_code <= 599:
        code = status_code  # a watch ERROR event carries its code only in the Status
    if code == 404:
        return NotFound(message)
    if code == 409:
        return AlreadyExists(message) if reason == "AlreadyExists" else Conflict(message)
    if code == 410:
        return Gone(message)
    if code == 401:
        return Unauthorized(message)
    if code == 403:
        return Forbidden(message)
    if code in (400, 422):
        return _invalid(status, message, qualified_kind, name)
    if code == 429:
        delay = parse_retry_after(retry_after)
        if delay is None:
            details = status.get("details")
            seconds = details.get("retryAfterSeconds") if isinstance(details, dict) else None
            valid = isinstance(seconds, int) and not isinstance(seconds, bool)
            delay = parse_retry_after(str(seconds)) if valid else None
        return TooManyRequests(message, DEFAULT_RETRY_AFTER if delay is None else delay)
    if code >= 500:
        return Unavailable(message)
    return StoreError(message)
