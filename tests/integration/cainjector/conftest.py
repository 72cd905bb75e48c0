"""Fixtures for the cainjector against a real kube-apiserver, as the identity deploy/ gives it.

* ``cainjector_identity``: the ServiceAccount ``certkeeper/certkeeper-cainjector`` with exactly the RBAC
  of ``deploy/manifests/cainjector.yaml`` (its ClusterRole, Role and bindings, applied once per test,
  idempotently);
* ``run_cainjector_task``: starts ``certkeeper cainjector``'s ``run_cainjector`` as that identity in the
  background and stops it gracefully at the end of the test.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, Final

import pytest

from certkeeper.cli.cainjector import CAInjectorConfig, make_config, run_cainjector
from tests.harness.kube import REPO_ROOT, ControlPlane, Identity
from tests.harness.kubeclient import KubeClient, load_manifests

DEPLOY: Final = REPO_ROOT / "deploy" / "manifests"
RBAC_KINDS: Final = frozenset({"Namespace", "ClusterRole", "ClusterRoleBinding", "Role", "RoleBinding"})
NAMESPACE: Final = "certkeeper"
SERVICE_ACCOUNT: Final = "certkeeper-cainjector"


@pytest.fixture
async def cainjector_identity(control_plane: ControlPlane, kube: KubeClient, crds: list[str]) -> Identity:
    """The cainjector's ServiceAccount identity with deploy/'s RBAC."""
    rbac = load_manifests(DEPLOY / "00-namespace.yaml", DEPLOY / "cainjector.yaml")
    await kube.apply([obj for obj in rbac if obj["kind"] in RBAC_KINDS])
    return control_plane.service_account(NAMESPACE, SERVICE_ACCOUNT)


def config_for(identity: Identity, **flags: Any) -> CAInjectorConfig:
    """The config ``certkeeper cainjector`` flags would give, as ``identity``; no metrics server by default."""
    values: dict[str, Any] = {
        "kubeconfig": identity.kubeconfig,
        "namespace": "",
        "ignore_namespaces": (),
        "leader_elect": False,
        "leader_election_namespace": NAMESPACE,
        "leader_election_lease_duration": "60s",
        "leader_election_renew_deadline": "40s",
        "leader_election_retry_period": "15s",
        "enable_certificates_data_source": True,
        "enabled_targets": (
            "validatingwebhookconfiguration",
            "mutatingwebhookconfiguration",
            "customresourcedefinition",
            "apiservice",
        ),
        "feature_gates": "",
        "metrics_listen_address": "0",
    }
    values.update(flags)
    return make_config(**values)


@pytest.fixture
async def run_cainjector_task() -> AsyncIterator[Callable[[CAInjectorConfig], Awaitable[asyncio.Event]]]:
    """``await start(config, identity=...)``: run the cainjector in the background; returns its stop event.

    Every one started is stopped (gracefully) and awaited at the end of the test; a crash fails the test.
    """
    running: list[tuple[asyncio.Event, asyncio.Task[None]]] = []

    async def start(config: CAInjectorConfig, *, identity: str | None = None) -> asyncio.Event:
        stop = asyncio.Event()
        task = asyncio.create_task(run_cainjector(config, stop, identity=identity), name="cainjector-under-test")
        running.append((stop, task))
        return stop

    yield start
    for stop, _ in running:
        stop.set()
    for _, task in running:
        await asyncio.wait_for(task, timeout=30)
    # KubeStore.close() closes its aiohttp session, but TLS connections (the open watches) finish their
    # shutdown on later loop iterations; closing the test's loop first leaves their sockets unclosed.
    await asyncio.sleep(0.5)


async def eventually(check: Callable[[], Awaitable[bool]], *, timeout: float = 30.0, what: str = "") -> None:
    """Poll ``check`` until it is true (every 0.1 s), or fail after ``timeout`` seconds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not await check():
        if loop.time() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what or check}")
        await asyncio.sleep(0.1)
