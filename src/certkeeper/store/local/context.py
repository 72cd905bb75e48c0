"""What every write of the local store shares: its injected dependencies and the API server's messages.

Pure apart from calling the injected clock.
"""

from __future__ import annotations

import functools
import os
import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import msgspec

from certkeeper.store.local import apply as ssa
from certkeeper.store.local.admission import Admit
from certkeeper.store.local.state import Key
from certkeeper.store.ports import Conflict, NotFound, RawObject, ResourceType

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_SECOND = timedelta(seconds=1)

#: The API server's message for a stale resourceVersion.
OPTIMISTIC_LOCK_MESSAGE = "the object has been modified; please apply your changes to the latest version and try again"


@dataclass(frozen=True, slots=True, kw_only=True)
class WriteContext:
    """What writes need from outside: the clock, admission, and sources of uids and random names."""

    now: Callable[[], datetime]
    admit: Admit | None
    new_uid: Callable[[], str]
    rng: random.Random
    list_types: ssa.ListTypes = ssa.DEFAULT_LIST_TYPES


def rfc3339(moment: datetime) -> str:
    """A timestamp as ``metav1.Time`` serialises it (UTC, whole seconds); naive times are taken as UTC."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    # Exact integer arithmetic (a float timestamp can round up into the next second).
    return _format_second((moment - _EPOCH) // _SECOND)


@functools.lru_cache(maxsize=4)
def _format_second(second: int) -> str:
    # Every write in the same second stamps the same text: format it once.
    return datetime.fromtimestamp(second, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def random_uid() -> str:
    """A random (version 4) UUID in canonical form, as ``str(uuid.uuid4())`` without the ``UUID`` object."""
    octets = bytearray(os.urandom(16))
    octets[6] = (octets[6] & 0x0F) | 0x40  # version 4
    octets[8] = (octets[8] & 0x3F) | 0x80  # RFC 4122 variant
    text = octets.hex()
    return f"{text[:8]}-{text[8:12]}-{text[12:16]}-{text[16:20]}-{text[20:]}"


def key_for(resource: ResourceType, namespace: str | None, name: str) -> Key:
    return (str(resource), (namespace or "") if resource.namespaced else "", name)


def not_found(resource: ResourceType, name: str) -> NotFound:
    return NotFound(f'{resource} "{name}" not found')


def conflict(resource: ResourceType, name: str, detail: str) -> Conflict:
    return Conflict(f'Operation cannot be fulfilled on {resource} "{name}": {detail}')


def copy_in(obj: object) -> RawObject:
    """A private JSON copy of a caller's object (so later changes by the caller cannot reach the store)."""
    result = msgspec.json.decode(msgspec.json.encode(obj))
    if not isinstance(result, dict):
        raise TypeError(f"an object must be a JSON object, not {type(result).__name__}")
    return result
