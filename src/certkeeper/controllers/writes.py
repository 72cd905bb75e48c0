"""Small helpers controllers use to turn a decided object into the raw write the runtime performs."""

from __future__ import annotations

from datetime import datetime

from certkeeper.api.meta import OwnerReference, Resource
from certkeeper.runtime.clock import Clock
from certkeeper.store.ports import RawObject
from certkeeper.store.resources import encode


def now_seconds(clock: Clock) -> datetime:
    """Kubernetes timestamps have whole seconds; truncate so comparisons with stored times hold."""
    return clock.now().replace(microsecond=0)


def status_write(obj: Resource) -> RawObject:
    """The raw form of ``obj`` for ``update_status`` (it carries the resourceVersion it was read at)."""
    return encode(obj)


def controller_ref(owner: Resource) -> OwnerReference:
    """An ownerReference marking ``owner`` as the managing controller (``metav1.NewControllerRef``)."""
    return OwnerReference(
        api_version=owner.api_version,
        kind=owner.kind_name(),
        name=owner.name,
        uid=owner.metadata.uid or "",
        controller=True,
        block_owner_deletion=True,
    )
