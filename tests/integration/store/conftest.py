"""Fixtures for the kube backend's integration tests: KubeStores on the session's real API server."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from typing import Any, TypeVar

import pytest

from certkeeper.store.kube import ClientOptions, KubeStore
from certkeeper.store.ports import Forbidden, NotFound, RawObject
from tests.harness.kube import ControlPlane

#: Watches in these tests end (and get their pre-timeout bookmark) within seconds.
WATCH_TIMEOUT_SECONDS = 4.0

StoreFactory = Callable[..., KubeStore]

_T = TypeVar("_T")


async def once_allowed(call: Callable[[], Awaitable[_T]], *, timeout: float = 10.0) -> _T | None:
    """``call()`` repeated while it is Forbidden: RBAC objects reach the authorizer through an informer,
    so a fresh RoleBinding can still be refused for a moment. NotFound counts as allowed (None)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        try:
            return await call()
        except NotFound:
            return None
        except Forbidden:
            if loop.time() > deadline:
                raise
            await asyncio.sleep(0.05)


@pytest.fixture(scope="session")
def forgetful_apiserver(control_plane: ControlPlane) -> ControlPlane:
    """The API server restarted once, so its watch caches start after everything written before.

    A fresh API server's caches can reach back to resourceVersion 1, which etcd has not compacted;
    after a restart each cache starts at the revision it first listed, and a watch from any older
    resourceVersion (say "1") is answered 410 "too old resource version", deterministically.
    """
    control_plane.restart_apiserver()
    return control_plane


@pytest.fixture
async def store(control_plane: ControlPlane) -> AsyncIterator[KubeStore]:
    """A KubeStore as ``admin``, built from the identity's kubeconfig file."""
    async with KubeStore.from_kubeconfig(control_plane.admin.kubeconfig, watch_timeout_seconds=30) as kube_store:
        yield kube_store


@pytest.fixture
async def store_for(control_plane: ControlPlane) -> AsyncIterator[StoreFactory]:
    """``store_for(user, groups, **store_options)``: a KubeStore as a freshly minted identity."""
    opened: list[KubeStore] = []

    def make(user: str, groups: Sequence[str] = (), **kwargs: Any) -> KubeStore:
        identity = control_plane.client_for(user, groups)
        kube_store = KubeStore.from_kubeconfig(identity.kubeconfig, **kwargs)
        opened.append(kube_store)
        return kube_store

    yield make
    for kube_store in opened:
        await kube_store.close()


@pytest.fixture
async def admin_store_with(control_plane: ControlPlane) -> AsyncIterator[StoreFactory]:
    """``admin_store_with(**store_options)``: more admin KubeStores, closed at the end."""
    opened: list[KubeStore] = []

    def make(**kwargs: Any) -> KubeStore:
        options = kwargs.pop("options", ClientOptions())
        kube_store = KubeStore.from_kubeconfig(control_plane.admin.kubeconfig, options=options, **kwargs)
        opened.append(kube_store)
        return kube_store

    yield make
    for kube_store in opened:
        await kube_store.close()


def secret(name: str, namespace: str, *, labels: dict[str, str] | None = None, value: str = "dmFsdWU=") -> RawObject:
    obj: RawObject = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": name, "namespace": namespace},
        "type": "Opaque",
        "data": {"key": value},
    }
    if labels:
        obj["metadata"]["labels"] = labels
    return obj


def certificate(name: str, namespace: str, **spec: Any) -> RawObject:
    return {
        "apiVersion": "cert-manager.io/v1",
        "kind": "Certificate",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {
            "secretName": f"{name}-tls",
            "dnsNames": [f"{name}.example.com"],
            "issuerRef": {"name": "ca", "kind": "Issuer"},
            **spec,
        },
    }
