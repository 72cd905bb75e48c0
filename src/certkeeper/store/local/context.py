"""What every write of the local store shares: its injected dependencies and the API server's messages.

Pure apart from calling the injected clock.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

import msgspec

from certkeeper.store.local import apply as ssa
from certkeeper.store.local.admission import Admit
from certkeeper.store.local.state import Key
from certkeeper.store.ports import Conflict, NotFound, RawObject, ResourceType

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
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


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
