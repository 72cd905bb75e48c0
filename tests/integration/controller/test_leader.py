"""``certkeeper controller`` processes electing a leader on the Lease ``cert-manager-controller``: only the
leader runs the engine; a killed leader's standby takes over within the lease duration; SIGTERM releases
the Lease. Also what the leader serves on its metrics and health ports."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

import certkeeper
from certkeeper.cli.controller import LEASE_NAME
from tests.harness.kube import Identity, free_port
from tests.harness.kubeclient import ApiError, KubeClient
from tests.harness.processes import Process
from tests.integration.controller.conftest import eventually, rbac_objects
from tests.integration.controller.objects import certificate, ready

pytestmark = pytest.mark.kube

LEASE = "coordination.k8s.io/v1"
LEASE_SECONDS = 4
RETRY_SECONDS = 1


class ControllerProcess:
    """``python -m certkeeper controller`` as a child process, with its metrics and health ports."""

    def __init__(self, workdir: Path, name: str, identity: Identity, lease_namespace: str, namespace: str) -> None:
        self.metrics_port = free_port()
        self.health_port = free_port()
        self.process = Process(
            name,
            [
                sys.executable,
                "-m",
                "certkeeper",
                "controller",
                f"--kubeconfig={identity.kubeconfig}",
                f"--namespace={namespace}",
                f"--leader-election-namespace={lease_namespace}",
                f"--leader-election-lease-duration={LEASE_SECONDS}s",
                "--leader-election-renew-deadline=3s",
                f"--leader-election-retry-period={RETRY_SECONDS}s",
                f"--metrics-listen-address=127.0.0.1:{self.metrics_port}",
                f"--internal-healthz-listen-address=127.0.0.1:{self.health_port}",
            ],
            workdir / f"{name}.log",
        )

    def start(self) -> None:
        self.process.spawn()

    @property
    def pid(self) -> int:
        assert self.process.popen is not None
        return self.process.popen.pid

    def log(self) -> str:
        return self.process.tail(200)

    async def get(self, port: int, path: str) -> tuple[int, str]:
        async with aiohttp.ClientSession() as session, session.get(f"http://127.0.0.1:{port}{path}") as answer:
            return answer.status, await answer.text()


@pytest.fixture
def processes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[..., ControllerProcess]]:
    """``processes(name, identity, lease_namespace, namespace)``: controllers as children, stopped at the end."""
    # The children import the certkeeper this test imports.
    source = str(Path(certkeeper.__file__).resolve().parents[1])
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(filter(None, [source, os.environ.get("PYTHONPATH")])))
    started: list[ControllerProcess] = []

    def start(name: str, identity: Identity, lease_namespace: str, namespace: str) -> ControllerProcess:
        child = ControllerProcess(tmp_path, name, identity, lease_namespace, namespace)
        child.start()
        started.append(child)
        return child

    yield start
    for child in started:
        child.process.stop(grace=20)


@pytest.fixture
async def lease_namespace(admin: KubeClient, ns: str) -> str:
    """The shipped leader-election Role and RoleBinding, copied into this test's namespace (a Lease of its own)."""
    role = [o for o in rbac_objects() if o["kind"] in ("Role", "RoleBinding") and "controller" in o["metadata"]["name"]]
    assert {o["kind"] for o in role} == {"Role", "RoleBinding"}
    copies: list[dict[str, Any]] = [{**o, "metadata": {**o["metadata"], "namespace": ns}} for o in role]
    await admin.apply(copies)
    return ns


async def _holder(admin: KubeClient, namespace: str) -> str:
    try:
        lease = await admin.get(LEASE, "Lease", LEASE_NAME, namespace=namespace)
    except ApiError as error:
        if error.status == 404:
            return ""
        raise
    holder: str = lease["spec"].get("holderIdentity") or ""
    return holder


async def _wait_holder(admin: KubeClient, namespace: str, *, not_in: set[str], timeout: float) -> str:
    found = ""

    async def new_holder() -> bool:
        nonlocal found
        found = await _holder(admin, namespace)
        return bool(found) and found not in not_in

    await eventually(new_holder, timeout=timeout, what="a new Lease holder")
    return found


async def test_standby_takes_over_from_a_killed_leader(
    admin: KubeClient,
    ns: str,
    lease_namespace: str,
    controller_identity: Identity,
    processes: Callable[..., ControllerProcess],
) -> None:
    first = processes("first", controller_identity, lease_namespace, ns)
    try:
        leader = await _wait_holder(admin, lease_namespace, not_in=set(), timeout=30)
        second = processes("second", controller_identity, lease_namespace, ns)
        # With --namespace there are no ClusterIssuers: a namespaced SelfSigned Issuer roots the chain.
        selfsigned = {"apiVersion": "cert-manager.io/v1", "kind": "Issuer", "spec": {"selfSigned": {}}}
        await admin.create({**selfsigned, "metadata": {"name": "selfsigned", "namespace": ns}})
        await admin.create(certificate("one", ns, {"name": "selfsigned"}, dnsNames=["one.example.test"]))
        await eventually(lambda: ready(admin, "Certificate", "one", ns), what="one issued by the leader")

        status, metrics = await first.get(first.metrics_port, "/metrics")
        assert status == 200
        ready_lines = [
            line
            for line in metrics.splitlines()
            if line.startswith("certmanager_certificate_ready_status{")
            and 'name="one"' in line
            and f'namespace="{ns}"' in line
            and 'condition="True"' in line
        ]
        assert [line.rsplit(" ", 1)[1] for line in ready_lines] == ["1.0"]
        assert "# HELP certmanager_http_acme_client_request_count_total " in metrics
        await eventually(lambda: _metrics_up(second), what="the standby's metrics server")
        _, standby_metrics = await second.get(second.metrics_port, "/metrics")
        assert "certmanager_certificate_ready_status{" not in standby_metrics  # no engine, no caches
        for child in (first, second):
            for path in ("/livez", "/healthz"):
                assert await child.get(child.health_port, path) == (200, "ok\n")

        # The leader dies without a word: the standby waits for the Lease to expire, then leads.
        os.kill(first.pid, signal.SIGKILL)
        killed = time.monotonic()
        new_leader = await _wait_holder(admin, lease_namespace, not_in={leader}, timeout=30)
        took = time.monotonic() - killed
        assert took <= LEASE_SECONDS + 2.2 * RETRY_SECONDS + 1.5, f"took over after {took:.1f}s"
        lease = await admin.get(LEASE, "Lease", LEASE_NAME, namespace=lease_namespace)
        assert lease["spec"]["leaseTransitions"] >= 1
        assert new_leader != leader

        await admin.create(certificate("two", ns, {"name": "selfsigned"}, dnsNames=["two.example.test"]))
        await eventually(lambda: ready(admin, "Certificate", "two", ns), what="two issued by the new leader")

        # SIGTERM: the new leader stops gracefully and gives the Lease up at once.
        popen = second.process.popen
        assert popen is not None
        popen.send_signal(signal.SIGTERM)
        assert await asyncio.to_thread(popen.wait, 20) == 0
        assert await _holder(admin, lease_namespace) == ""
        assert "released lease" in second.log()
    except BaseException:
        print(first.log())
        raise


async def _metrics_up(child: ControllerProcess) -> bool:
    try:
        status, _ = await child.get(child.metrics_port, "/metrics")
    except aiohttp.ClientError:
        return False
    return status == 200
