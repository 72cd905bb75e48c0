"""Secrets as the controllers read them, with cert-manager's SecretsFilteredCaching on the Kubernetes API.

cert-manager caches whole only the Secrets labelled ``controller.cert-manager.io/fao: "true"`` (the ones
it writes) and every other Secret as metadata, GETting one of those when a reconcile needs its data
(``internal/informers/core_filteredsecrets.go``). Here the controllers stay synchronous readers of
caches: ``SecretCache.get`` answers from the whole-object cache, and reading a Secret held as metadata
only raises ``SecretNotCached``; ``loading_secrets_of`` wraps a reconcile so that the Secret is then
fetched and the reconcile run again with it at hand. Controllers decide before they write, so a run
stopped that way has written nothing, and a Secret's data lives only as long as the reconcile that
needed it. Memory then grows with the Secrets certkeeper owns, not with the cluster's other Secrets.

A label change moves a Secret from one filtered watch to the other (DELETED in one, ADDED in the other),
so for a moment neither cache holds it; a Secret that left a cache within ``TRANSIT_SECONDS`` is
fetched rather than reported missing, which would otherwise look like a deleted certificate Secret.
"""

from __future__ import annotations

import contextlib
import sys
import time
from collections.abc import Awaitable, Callable, Iterator
from contextvars import ContextVar
from typing import Final

import msgspec

from certkeeper.api.core import Secret
from certkeeper.api.meta import Resource
from certkeeper.controllers.context import TypedCache
from certkeeper.runtime.controller import Result, RetryAfter
from certkeeper.runtime.informer import Informer, object_key
from certkeeper.store.ports import NotFound, RawObject, Store
from certkeeper.store.resources import SECRETS

#: Secrets one reconcile may load on demand before it is retried later instead.
MAX_SECRET_LOADS: Final = 8


class SecretNotCached(Exception):
    """A reconcile read a Secret cached as metadata only; the engine loads it and runs the reconcile again."""

    def __init__(self, key: str) -> None:
        super().__init__(f"secret {key} is cached as metadata only")
        self.key = key


#: Secrets loaded for the reconcile running in this task (key -> Secret, None when not found).
_LOADED: ContextVar[dict[str, Resource | None] | None] = ContextVar("certkeeper_loaded_secrets", default=None)

#: How long a Secret that left one Secret cache counts as in transit: a label change moves it from one
#: filtered watch to the other, and for a moment neither cache holds it.
TRANSIT_SECONDS: Final = 60.0


@contextlib.contextmanager
def loading_secrets(loaded: dict[str, Resource | None]) -> Iterator[None]:
    """Within the block, ``SecretCache`` answers reads of the keys in ``loaded`` from it."""
    token = _LOADED.set(loaded)
    try:
        yield
    finally:
        _LOADED.reset(token)


class SecretCache:
    """Secrets as controllers read them: from the whole-object cache, or loaded on demand.

    ``metadata`` is the informer over every other Secret (metadata only), or None when the whole-object
    informer sees every Secret (the local store). ``monotonic`` measures the transit window.
    """

    def __init__(
        self, full: TypedCache, metadata: Informer | None, *, monotonic: Callable[[], float] = time.monotonic
    ) -> None:
        self.full = full
        self.metadata = metadata
        self._monotonic = monotonic
        self._in_transit: dict[str, float] = {}

    def note_gone(self, key: str) -> None:
        """A Secret left one of the caches (deleted, or relabelled into the other watch)."""
        if self.metadata is None:
            return
        now = self._monotonic()
        self._in_transit[key] = now
        if len(self._in_transit) > 1024:
            self._in_transit = {k: t for k, t in self._in_transit.items() if now - t < TRANSIT_SECONDS}

    def note_present(self, key: str) -> None:
        """A Secret arrived in one of the caches."""
        self._in_transit.pop(key, None)

    def _must_load(self, key: str) -> bool:
        assert self.metadata is not None
        if self.metadata.cache.get(key) is not None:
            return True
        left = self._in_transit.get(key)
        return left is not None and self._monotonic() - left < TRANSIT_SECONDS

    def get(self, key: str) -> Resource | None:
        found = self.full.get(key)
        if found is not None or self.metadata is None:
            return found
        loaded = _LOADED.get()
        if loaded is not None and key in loaded:
            return loaded[key]
        if self._must_load(key):
            raise SecretNotCached(key)
        return None

    def by_index(self, index: str, value: str) -> list[Resource]:
        out = self.full.by_index(index, value)
        if self.metadata is not None:
            for raw in self.metadata.cache.by_index(index, value):
                found = self.get(object_key(raw))
                if found is not None:
                    out.append(found)
        return out


def compact_secret_metadata(obj: RawObject) -> RawObject:
    """What the metadata-only Secret cache keeps: the name, namespace and owners, about 0.5 KiB a Secret.

    Nothing reads more of a Secret the controller does not own (its resourceVersion included: a read
    of its data always goes to the API server). The namespace string is interned: thousands of Secrets
    share a few namespaces.
    """
    meta = obj.get("metadata") or {}
    kept: dict[str, object] = {
        "name": meta.get("name", ""),
        "namespace": sys.intern(str(meta.get("namespace", ""))),
    }
    owners = meta.get("ownerReferences")
    if owners:
        kept["ownerReferences"] = owners
    return {"metadata": kept}


def loading_secrets_of(
    reconcile: Callable[[str], Awaitable[Result | None]], store: Store
) -> Callable[[str], Awaitable[Result | None]]:
    """``reconcile``, run again after each Secret it reads that is cached as metadata only is loaded from ``store``."""

    async def load(key: str) -> Resource | None:
        namespace, _, name = key.partition("/")
        try:
            raw = await store.get(SECRETS, name, namespace=namespace)
        except NotFound:
            return None
        try:
            return msgspec.convert(raw, Secret)
        except msgspec.ValidationError:
            return None  # as the caches treat an undecodable object

    async def run(key: str) -> Result | None:
        loaded: dict[str, Resource | None] = {}
        with loading_secrets(loaded):
            while True:
                try:
                    return await reconcile(key)
                except SecretNotCached as miss:
                    if miss.key in loaded or len(loaded) >= MAX_SECRET_LOADS:
                        raise RetryAfter(1.0, f"secret {miss.key} changed while loading") from None
                    loaded[miss.key] = await load(miss.key)

    return run
