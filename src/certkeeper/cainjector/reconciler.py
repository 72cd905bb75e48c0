"""Reconcile one injectable: find its CA source, read the CA, and apply the CA bundles it should hold.

Follows cert-manager's ``pkg/controller/cainjector/reconciler.go`` (``Reconcile``), one reconciler per
target kind, keyed by the target's name::

    target from cache ──gone / deleting──► nothing
        │
        ▼
    configured source? ──none──► nothing (debug log)
        │
        ▼
    read CA (gather.py) ──Refusal──► nothing (logged; the fix triggers the next reconcile)
        │                 store error ──► raised: retried with backoff
        ▼
    decide (pure) ──bundles already current──► nothing written
        │
        ▼
    server-side apply of the caBundle fields (forced, field manager cert-manager-cainjector)

Not done, on purpose: cert-manager's one-off patch that converts a client-side (``Update``) managed
fields entry of its manager into an ``Apply`` one (``csaupgrade``); certkeeper never wrote the bundles
with updates. Beyond cert-manager: a merged bundle is reconciled again when its first certificate
expires (cert-manager relies on its 10-hour resync to prune it), and nothing is written when the
target is already current.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import datetime
from typing import Any, Final

from certkeeper.cainjector.gather import SourceReader
from certkeeper.cainjector.sources import Refusal, SourceKind, annotations_of, configured_source
from certkeeper.cainjector.targets import InjectTarget
from certkeeper.runtime.clock import Clock
from certkeeper.runtime.controller import Result
from certkeeper.runtime.informer import Indexer
from certkeeper.runtime.outcome import NOTHING, Apply, Outcome, apply_outcome
from certkeeper.store.ports import Store

log = logging.getLogger(__name__)

#: cert-manager's field manager for the cainjector's applies (``PrefixFromUserAgent`` of its user agent).
FIELD_MANAGER: Final = "cert-manager-cainjector"

#: How long after a certificate's notAfter the bundle is pruned (notAfter has second precision, and the
#: certificate is still valid at notAfter itself).
_EXPIRY_MARGIN_SECONDS: Final = 1.0


def decide(
    target: InjectTarget,
    obj: Mapping[str, Any],
    ca: bytes,
    *,
    now: datetime,
    merge: bool = True,
    field_manager: str = FIELD_MANAGER,
) -> Outcome:
    """What injecting ``ca`` into ``obj`` takes: an apply of its caBundle fields, or nothing. Pure."""
    injection = target.inject(obj, ca, now=now, merge=merge)
    if injection is None:
        return NOTHING
    requeue = None
    if injection.next_expiry is not None:
        requeue = max((injection.next_expiry - now).total_seconds(), 0.0) + _EXPIRY_MARGIN_SECONDS
    if injection.current:
        return Outcome(requeue_after=requeue)
    write = Apply(resource=target.resource, object=injection.apply, field_manager=field_manager)
    return Outcome(applies=(write,), requeue_after=requeue)


class TargetReconciler:
    """The reconcile function of one target kind's controller (key: the target's name)."""

    def __init__(
        self,
        target: InjectTarget,
        *,
        cache: Indexer,
        reader: SourceReader,
        sources: frozenset[SourceKind],
        store: Store,
        clock: Clock,
        merge: bool = True,
        field_manager: str = FIELD_MANAGER,
    ) -> None:
        self.target = target
        self._cache = cache
        self._reader = reader
        self._sources = sources
        self._store = store
        self._clock = clock
        self._merge = merge
        self._field_manager = field_manager
        #: Applies written, for metrics and tests.
        self.writes = 0

    async def __call__(self, name: str) -> Result | None:
        obj = self._cache.get(name)
        kind = self.target.name
        if obj is None or obj.get("metadata", {}).get("deletionTimestamp"):
            return None
        annotations = annotations_of(obj)
        source = configured_source(annotations, self._sources)
        if source is None:
            log.debug("%s %s: could not determine ca data source for resource", kind, name)
            return None
        found = await self._reader.read_ca(source, annotations)
        if isinstance(found, Refusal):
            self._log_refusal(name, source, found)
            return None
        outcome = decide(
            self.target, obj, found.data, now=self._clock.now(), merge=self._merge, field_manager=self._field_manager
        )
        if outcome.applies:
            await apply_outcome(self._store, self.target.resource, obj, outcome)
            self.writes += 1
            log.info("%s %s: updated object (CA from %s)", kind, name, source.value)
        return Result(requeue_after=outcome.requeue_after)

    def _log_refusal(self, name: str, source: SourceKind, refusal: Refusal) -> None:
        if refusal.forbidden:
            log.info(
                "%s %s: cainjector was forbidden to retrieve the ca data source: %s",
                self.target.name,
                name,
                refusal.message,
            )
        else:
            log.warning("%s %s: not injecting from %s: %s", self.target.name, name, source.value, refusal.message)


__all__ = ["FIELD_MANAGER", "TargetReconciler", "decide"]
