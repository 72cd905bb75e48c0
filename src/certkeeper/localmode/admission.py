"""The local store's admission hook: certkeeper's schema check, defaults and cert-manager's webhook
rules (``certkeeper.validation.admission``), as the API server and webhook apply them on a cluster."""

from __future__ import annotations

from collections.abc import Sequence

from certkeeper.api.features import FeatureGates
from certkeeper.api.field import FieldError
from certkeeper.store.local import Admit, Operation
from certkeeper.store.ports import RawObject, ResourceType
from certkeeper.validation.admission import ADMITTED_KINDS, admit


def store_admission(gates: FeatureGates) -> Admit:
    """The store's ``Admit`` hook for ``gates``.

    It keeps the hook's contract: ``admit`` changes neither object it is given, and the hook hands back
    ``new_obj`` itself for kinds cert-manager does not check and for refused writes, else admission's
    own defaulted object.
    """

    def admit_write(
        resource: ResourceType, operation: Operation, new_obj: RawObject, old_obj: RawObject | None, /
    ) -> tuple[RawObject, Sequence[FieldError], Sequence[str]]:
        if resource.kind not in ADMITTED_KINDS:
            return new_obj, (), ()
        result = admit(resource.kind, operation.value, new_obj, old_obj, gates)
        if result.errors or result.raw is None:
            return new_obj, result.errors, result.warnings
        return result.raw, (), result.warnings

    return admit_write
