"""Decoding a watch response: newline-delimited JSON events, each ``{"type": ..., "object": ...}``. Pure.

Follows apimachinery's ``watch.StreamWatcher`` and ``metav1.WatchEvent``: ADDED, MODIFIED, DELETED and
BOOKMARK events carry an object; an ERROR event carries a ``Status``, which becomes the Store error its
code means (410: ``Gone``, so the caller relists). Lines are bounded in size: a peer cannot make the
client buffer without limit while it waits for a newline.
"""

from __future__ import annotations

from typing import Any, Final

import msgspec

from certkeeper.store.kube.errors import error_from_status
from certkeeper.store.ports import EventType, WatchEvent

#: Larger than any object etcd stores (1.5 MiB by default) even after JSON escaping.
DEFAULT_MAX_EVENT_BYTES: Final = 32 * 1024 * 1024

_TYPES: Final = {t.value: t for t in EventType}


class MalformedEvent(ValueError):
    """A line of the watch stream that is not a watch event (the stream is then abandoned)."""


class LineSplitter:
    """Cuts a byte stream into lines; holds at most ``max_line_bytes`` of an unfinished one."""

    def __init__(self, max_line_bytes: int = DEFAULT_MAX_EVENT_BYTES) -> None:
        self._max = max_line_bytes
        self._buffer = bytearray()

    def feed(self, chunk: bytes) -> list[bytes]:
        """The complete, non-blank lines that ``chunk`` finishes, in order."""
        self._buffer += chunk
        if b"\n" not in chunk:
            self._check_size()
            return []
        *lines, rest = self._buffer.split(b"\n")
        self._buffer = bytearray(rest)
        self._check_size()
        return [bytes(line) for line in lines if line.strip()]

    def finish(self) -> bytes | None:
        """What remains once the stream has ended (a last line without a newline), if anything."""
        rest, self._buffer = bytes(self._buffer), bytearray()
        return rest if rest.strip() else None

    def _check_size(self) -> None:
        if len(self._buffer) > self._max:
            raise MalformedEvent(f"a watch event is longer than {self._max} bytes")


def decode_event(line: bytes) -> WatchEvent | None:
    """The event on one line; None for an event type this client does not know (skipped).

    Raises the mapped Store error for an ERROR event, and ``MalformedEvent`` for anything unreadable.
    """
    try:
        event: Any = msgspec.json.decode(line)
    except (msgspec.DecodeError, RecursionError) as exc:
        raise MalformedEvent(f"unreadable watch event: {exc}") from None
    if not isinstance(event, dict) or not isinstance(event.get("type"), str):
        raise MalformedEvent("a watch event must be an object with a type")
    obj = event.get("object")
    if not isinstance(obj, dict):
        raise MalformedEvent(f"a {event['type']} watch event must carry an object")
    if event["type"] == "ERROR":
        raise error_from_status(500, obj)
    event_type = _TYPES.get(event["type"])
    return WatchEvent(event_type, obj) if event_type is not None else None
