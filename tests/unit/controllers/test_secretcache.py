"""Metadata-only caching of the Secrets controllers do not own (SecretsFilteredCaching), through the engine.

The local store serves as both the whole-object store and the "metadata" store here: the metadata
informer compacts what it gets to name, namespace, resourceVersion and owners, so a Secret's data can
only come from the on-demand GET, as on the Kubernetes API.
"""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest

from certkeeper.api.annotations import PART_OF_CERT_MANAGER_CONTROLLER_LABEL
from certkeeper.api.core import Secret
from certkeeper.api.meta import Resource
from certkeeper.controllers.context import EngineOptions, TypedCache
from certkeeper.controllers.engine import Engine
from certkeeper.controllers.secretcache import (
    MAX_SECRET_LOADS,
    TRANSIT_SECONDS,
    SecretCache,
    SecretNotCached,
    compact_secret_metadata,
    loading_secrets,
    loading_secrets_of,
)
from certkeeper.issuers.ca import CAIssuer
from certkeeper.issuers.selfsigned import SelfSignedIssuer
from certkeeper.runtime.clock import FakeClock
from certkeeper.runtime.controller import Result, RetryAfter
from certkeeper.runtime.informer import Informer
from certkeeper.store.local import LocalStore
from certkeeper.store.ports import RawObject, Store
from tests.unit.controllers.harness import CERTIFICATES, ISSUERS, SECRETS, Harness, defaulting_admit
from tests.unit.controllers.test_engine import NS, certificate, make_ca_chain


def opaque(name: str, *, labels: dict[str, str] | None = None, data: dict[str, str] | None = None) -> RawObject:
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": name, "namespace": NS, "labels": labels or {}},
        "type": "Opaque",
        "data": data or {"key": base64.b64encode(b"value").decode()},
    }


@asynccontextmanager
async def filtered_engine() -> AsyncIterator[Harness]:
    """An engine whose Secrets are split by the fao label, the unlabelled ones held as metadata only."""
    clock = FakeClock()
    store = await LocalStore.open(None, now=clock.now, admit=defaulting_admit, bookmark_interval=None)
    engine = Engine(
        store,
        clock=clock,
        options=EngineOptions(cluster_resource_namespace="cert-manager"),
        issuer_backends={"selfsigned": SelfSignedIssuer(), "ca": CAIssuer()},
        secret_metadata_store=store,
    )
    await engine.start()
    try:
        yield Harness(store, engine, clock)
    finally:
        await engine.stop()
        await store.close()


def test_compact_metadata_keeps_identity_and_owners_only() -> None:
    owners = [{"apiVersion": "cert-manager.io/v1", "kind": "Certificate", "name": "c", "uid": "u", "controller": True}]
    raw = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {
            "name": "s",
            "namespace": "ns",
            "resourceVersion": "7",
            "uid": "x",
            "labels": {"a": "b"},
            "annotations": {"c": "d"},
            "ownerReferences": owners,
            "managedFields": [{"manager": "m"}],
        },
        "data": {"tls.key": "c2VjcmV0"},
    }
    assert compact_secret_metadata(raw) == {"metadata": {"name": "s", "namespace": "ns", "ownerReferences": owners}}
    assert compact_secret_metadata({"metadata": {"name": "t", "namespace": "ns", "resourceVersion": "8"}}) == {
        "metadata": {"name": "t", "namespace": "ns"}
    }


async def test_only_owned_secrets_are_held_whole() -> None:
    async with filtered_engine() as h:
        await h.apply(SECRETS, opaque("unrelated"))
        await make_ca_chain(h)
        await h.apply(CERTIFICATES, certificate("leaf", "leaf-tls", {"name": "ca"}, commonName="leaf.example"))
        await h.settle(lambda: h.ready(NS, "leaf") and h.ready(NS, "root-ca"))
        metadata = h.engine.secret_metadata
        assert metadata is not None
        whole = {raw["metadata"]["name"] for raw in h.engine.secrets.cache.items()}
        assert {"root-ca", "leaf-tls"} <= whole
        assert "unrelated" not in whole
        for raw in h.engine.secrets.cache.items():
            assert raw["metadata"]["labels"][PART_OF_CERT_MANAGER_CONTROLLER_LABEL] == "true"
        held = metadata.cache.get(f"{NS}/unrelated")
        assert held is not None
        assert held == {"metadata": {"name": "unrelated", "namespace": NS}}


async def test_an_unlabelled_ca_secret_is_read_on_demand() -> None:
    async with filtered_engine() as h:
        await make_ca_chain(h)
        await h.settle(lambda: h.ready(NS, "root-ca"))
        issued = await h.get(SECRETS, "root-ca", NS)
        # The same key pair, copied by a person into a Secret certkeeper does not own.
        await h.apply(SECRETS, opaque("user-ca", data=issued["data"]))
        await h.apply(
            ISSUERS,
            {
                "apiVersion": "cert-manager.io/v1",
                "kind": "Issuer",
                "metadata": {"name": "user-ca", "namespace": NS},
                "spec": {"ca": {"secretName": "user-ca"}},
            },
        )
        await h.apply(CERTIFICATES, certificate("leaf", "leaf-tls", {"name": "user-ca"}, commonName="leaf.example"))
        await h.settle(lambda: h.ready(NS, "leaf"))
        assert h.engine.secrets.cache.get(f"{NS}/user-ca") is None
        assert h.engine.secret_metadata is not None
        assert h.engine.secret_metadata.cache.get(f"{NS}/user-ca") is not None
        leaf = await h.get(SECRETS, "leaf-tls", NS)
        assert leaf["data"]["ca.crt"] == issued["data"]["ca.crt"]


async def _cache(store: Store, clock: FakeClock, now: list[float]) -> tuple[SecretCache, Informer, Informer]:
    full = Informer(store, SECRETS, clock=clock, label_selector=None)
    metadata = Informer(store, SECRETS, clock=clock, transform=compact_secret_metadata)
    return SecretCache(TypedCache(full, Secret), metadata, monotonic=lambda: now[0]), full, metadata


async def test_secret_cache_reads() -> None:
    clock = FakeClock()
    store = await LocalStore.open(None, now=clock.now, bookmark_interval=None)
    now = [100.0]
    try:
        cache, full, metadata = await _cache(store, clock, now)
        whole = await store.create(SECRETS, opaque("whole"))
        partial = await store.create(SECRETS, opaque("partial"))
        full.cache.upsert(whole)
        metadata.cache.upsert(compact_secret_metadata(partial))
        found = cache.get(f"{NS}/whole")
        assert isinstance(found, Secret)
        with pytest.raises(SecretNotCached) as miss:
            cache.get(f"{NS}/partial")
        assert miss.value.key == f"{NS}/partial"
        assert cache.get(f"{NS}/absent") is None
        loaded: dict[str, Resource | None] = {f"{NS}/partial": None}
        with loading_secrets(loaded):
            assert cache.get(f"{NS}/partial") is None
        # A Secret that just left a cache (relabelled, or deleted) is in transit for a while.
        cache.note_gone(f"{NS}/moving")
        with pytest.raises(SecretNotCached):
            cache.get(f"{NS}/moving")
        now[0] += TRANSIT_SECONDS + 1
        assert cache.get(f"{NS}/moving") is None
        cache.note_gone(f"{NS}/back")
        cache.note_present(f"{NS}/back")
        assert cache.get(f"{NS}/back") is None
    finally:
        await store.close()


async def test_loading_reruns_the_reconcile_with_each_secret_loaded() -> None:
    clock = FakeClock()
    store = await LocalStore.open(None, now=clock.now, bookmark_interval=None)
    now = [0.0]
    try:
        cache, _, metadata = await _cache(store, clock, now)
        names = [f"s{i}" for i in range(MAX_SECRET_LOADS + 1)]
        for name in names:
            metadata.cache.upsert(compact_secret_metadata(await store.create(SECRETS, opaque(name))))
        metadata.cache.upsert({"metadata": {"name": "deleted", "namespace": NS, "resourceVersion": "1"}})
        runs: list[int] = []

        async def reads(count: int) -> Result | None:
            runs.append(count)
            for name in [*names[:count], "deleted"]:
                found = cache.get(f"{NS}/{name}")
                assert (found is None) == (name == "deleted")
            return Result(requeue_after=float(count))

        async def reconcile(key: str) -> Result | None:
            return await reads(int(key))

        wrapped = loading_secrets_of(reconcile, store)
        assert await wrapped("2") == Result(requeue_after=2.0)
        assert runs == [2, 2, 2, 2]  # two Secrets and one deleted one loaded, one at a time
        with pytest.raises(RetryAfter):
            await wrapped(str(MAX_SECRET_LOADS + 1))
        with pytest.raises(SecretNotCached):
            cache.get(f"{NS}/s0")  # nothing loaded outlives the reconcile
    finally:
        await store.close()
