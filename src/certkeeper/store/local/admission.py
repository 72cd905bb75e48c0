"""The admission hook of the local store: where certkeeper's defaulting and validation plug in.

On a cluster, the API server sends every create and update to cert-manager's mutating and validating
webhooks. In local mode there is no API server, so the composition root hands the store one callable
that defaults and validates an object; the store calls it on every write, after its own metadata checks,
and refuses the write (``Invalid``, nothing stored) when it returns errors. The store only knows this
Protocol, never the validation layer. Pure types.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from typing import Protocol

from certkeeper.api.field import FieldError
from certkeeper.store.ports import RawObject, ResourceType


class Operation(enum.StrEnum):
    """The admission operation, as ``AdmissionRequest.operation`` names it."""

    CREATE = "CREATE"
    UPDATE = "UPDATE"


#: ``(mutated object, field errors, warnings)``: errors refuse the write, warnings are logged.
AdmissionResult = tuple[RawObject, Sequence[FieldError], Sequence[str]]


class Admit(Protocol):
    """Defaults and validates one write.

    ``new_obj`` is the object about to be stored; ``old_obj`` is the stored object on UPDATE and None on
    CREATE. Status writes are UPDATEs whose objects differ only in ``status``. The store calls this on the
    event loop, so it must be quick and must not block.

    The callable must not change ``new_obj`` or ``old_obj``, nor keep a reference to either after it
    returns: the store hands in its own objects, not copies (``new_obj`` is what it goes on to store and
    hand back to its caller, ``old_obj`` is the stored entry's). It returns ``new_obj`` itself when it
    leaves the object as it is, or an object of its own (which the store copies before using it).
    """

    def __call__(
        self, resource: ResourceType, operation: Operation, new_obj: RawObject, old_obj: RawObject | None, /
    ) -> AdmissionResult: ...
