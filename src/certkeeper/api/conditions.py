"""Reading and setting status conditions the way cert-manager's ``pkg/api/util/conditions.go`` does.

``set_condition`` replaces the condition of the same type, keeping ``lastTransitionTime`` when the
status did not change (so it records when the status last flipped, not when a message changed), and
stamps ``observedGeneration`` where the kind has one. Pure: ``now`` is a parameter.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Protocol, TypeVar

import msgspec

from certkeeper.api.constants import ConditionStatus


class _Condition(Protocol):
    @property
    def type(self) -> str: ...
    @property
    def status(self) -> ConditionStatus: ...
    @property
    def last_transition_time(self) -> datetime | None: ...
    @property
    def reason(self) -> str | None: ...
    @property
    def message(self) -> str | None: ...


C = TypeVar("C", bound=_Condition)


def get_condition(conditions: Sequence[C] | None, condition_type: str) -> C | None:
    for condition in conditions or ():
        if condition.type == condition_type:
            return condition
    return None


def has_condition(conditions: Sequence[C] | None, condition_type: str, status: ConditionStatus) -> bool:
    condition = get_condition(conditions, condition_type)
    return condition is not None and condition.status == status


def set_condition(
    conditions: Sequence[C] | None,
    new: C,
    *,
    now: datetime,
) -> list[C]:
    """Return ``conditions`` with ``new`` in place of any condition of its type.

    ``new.last_transition_time`` is ignored: it becomes ``now`` when the status changed (or the
    condition is new) and stays as it was otherwise.
    """
    result: list[C] = []
    replaced = False
    transition = now.replace(microsecond=0)
    for condition in conditions or ():
        if condition.type != new.type:
            result.append(condition)
            continue
        replaced = True
        if condition.status == new.status and condition.last_transition_time is not None:
            transition = condition.last_transition_time
        result.append(_with_transition(new, transition))
    if not replaced:
        result.append(_with_transition(new, transition))
    return result


def _with_transition(condition: C, when: datetime) -> C:
    # Every condition model is a msgspec Struct; the Protocol bound cannot say so to mypy.
    return msgspec.structs.replace(condition, last_transition_time=when)  # type: ignore[type-var]


def remove_condition(conditions: Sequence[C] | None, condition_type: str) -> list[C]:
    return [c for c in conditions or () if c.type != condition_type]
