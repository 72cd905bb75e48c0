"""Fixtures for ``certkeeper controller`` against a real kube-apiserver, as the identity deploy/ gives it.

The controller tests run on their own control plane (``plane``, one per session), with the
``OwnerReferencesPermissionEnforcement`` admission plugin on, as OpenShift and hardened clusters run
it: an ownerReference with ``blockOwnerDeletion`` then needs ``update`` on the owner's ``finalizers``,
which is what the ClusterRole's ``*/finalizers`` rules are for; and without a watch cache, so that a
test can expire resourceVersions by compacting etcd. At start it gets deploy/'s CRDs and
the RBAC objects of deploy/manifests (namespace, ServiceAccounts, roles, bindings, user roles); no
Deployment runs, there being no kubelet.

* ``admin``: a ``KubeClient`` as ``admin``; ``ns``: a fresh namespace;
* ``controller_identity``: ``system:serviceaccount:certkeeper:certkeeper-controller``, the RBAC deploy/ grants;
* ``start_controller``: runs ``run_controller`` in the background (as an identity, with flags) and stops
  it gracefully at the end of the test; a crash fails the test;
* ``bind`` and ``pebble`` (session): BIND 9 serving ``example.test`` with TSIG-signed RFC 2136 updates, and
  pebble validating DNS-01 against it, for ACME on Kubernetes.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Generator, Iterator
from dataclasses import dataclass, field
from typing import Any, Final

import pytest

from certkeeper.cli.controller import run_controller
from certkeeper.cli.controller_config import ControllerConfig, make_config
from tests.harness.bind import Bind, Zone
from tests.harness.kube import REPO_ROOT, ControlPlane, Identity
from tests.harness.kubeclient import KubeClient, load_manifests, run_blocking
from tests.harness.pebble import Pebble, PebbleConfig

DEPLOY: Final = REPO_ROOT / "deploy"
MANIFESTS: Final = DEPLOY / "manifests"
RBAC_KINDS: Final = frozenset(
    {"Namespace", "ServiceAccount", "ClusterRole", "ClusterRoleBinding", "Role", "RoleBinding"}
)
NAMESPACE: Final = "certkeeper"
SERVICE_ACCOUNT: Final = "certkeeper-controller"
CM: Final = "cert-manager.io/v1"
ZONE: Final = "example.test"


def rbac_objects() -> list[dict[str, Any]]:
    """deploy/manifests' namespace, ServiceAccounts and RBAC (no workloads, Services or webhook configurations)."""
    return [obj for obj in load_manifests(MANIFESTS) if obj["kind"] in RBAC_KINDS]


async def _install(plane: ControlPlane) -> None:
    async with KubeClient(plane.admin) as kube:
        await kube.apply_manifests(DEPLOY / "crds")
        await kube.apply(rbac_objects())


@pytest.fixture(scope="session")
def plane(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ControlPlane]:
    """etcd + kube-apiserver with OwnerReferencesPermissionEnforcement, deploy/'s CRDs and RBAC applied."""
    control = ControlPlane(
        workdir=tmp_path_factory.mktemp("kube-controller"),
        apiserver_args=[
            "--enable-admission-plugins=OwnerReferencesPermissionEnforcement",
            # Watches straight from etcd: compacting etcd then expires a resourceVersion for certain (410),
            # where a watch cache would keep serving it from memory.
            "--watch-cache=false",
        ],
    )
    control.start()
    try:
        run_blocking(_install(control))
        yield control
    finally:
        control.stop()


@pytest.fixture(scope="session")
def bind(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Bind]:
    """BIND 9 authoritative for ``example.test``, taking RFC 2136 updates signed with its TSIG keys."""
    server = Bind(tmp_path_factory.mktemp("bind"), zones=(Zone(name=ZONE),))
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def pebble(tmp_path_factory: pytest.TempPathFactory, bind: Bind) -> Iterator[Pebble]:
    """pebble, validating DNS-01 challenges by asking ``bind``."""
    with Pebble(tmp_path_factory.mktemp("pebble"), PebbleConfig(dns_server=bind.nameserver, always_valid=False)) as ca:
        yield ca


@pytest.fixture
async def admin(plane: ControlPlane) -> AsyncIterator[KubeClient]:
    async with KubeClient(plane.admin) as client:
        yield client


@pytest.fixture
async def ns(admin: KubeClient, request: pytest.FixtureRequest) -> str:
    """A namespace of this test's own (left behind: nothing finalises namespaces without a controller manager)."""
    return await admin.create_namespace(request.node.name.split("[")[0].removeprefix("test_").replace("_", "-")[:30])


@pytest.fixture
def controller_identity(plane: ControlPlane) -> Identity:
    return plane.service_account(NAMESPACE, SERVICE_ACCOUNT)


def config_for(identity: Identity, **flags: Any) -> ControllerConfig:
    """The config ``certkeeper controller`` flags give, as ``identity``: no servers, and leader election on
    the shipped Role in ``certkeeper`` with short timings unless the flags say otherwise."""
    values: dict[str, Any] = {
        "kubeconfig": identity.kubeconfig,
        "metrics_listen_address": "0",
        "internal_healthz_listen_address": "0",
        "leader_election_lease_duration": "6s",
        "leader_election_renew_deadline": "4s",
        "leader_election_retry_period": "1s",
        # Failed requests are retried after seconds, not the production hour, so tests can see a retry.
        "certificate_request_minimum_backoff_duration": "2s",
        "certificate_request_maximum_backoff_duration": "10s",
    }
    values.update(flags)
    return make_config(**values)


@dataclass
class Running:
    """A controller started by ``start_controller``."""

    stop: asyncio.Event
    task: asyncio.Task[None]
    identity: str

    async def stopped(self, timeout: float = 30.0) -> None:
        """Stop it gracefully and wait (re-raising what ended it)."""
        self.stop.set()
        await asyncio.wait_for(asyncio.shield(self.task), timeout)


@dataclass
class Controllers:
    running: list[Running] = field(default_factory=list)

    async def start(self, config: ControllerConfig, *, identity: str = "under-test") -> Running:
        stop = asyncio.Event()
        task = asyncio.create_task(run_controller(config, stop, identity=identity), name=f"controller-{identity}")
        handle = Running(stop, task, identity)
        self.running.append(handle)
        return handle


@pytest.fixture
async def start_controller() -> AsyncIterator[Callable[..., Awaitable[Running]]]:
    """``await start_controller(config, identity=...)``: the controller in the background, stopped at the end."""
    controllers = Controllers()
    yield controllers.start
    for handle in controllers.running:
        handle.stop.set()
    for handle in controllers.running:
        if not handle.task.done():
            await asyncio.wait_for(asyncio.shield(handle.task), 30)
        elif not handle.task.cancelled():
            handle.task.result()
    # Let the closed sessions' TLS connections finish their shutdown before the test's loop closes.
    await asyncio.sleep(0.5)


async def eventually(check: Callable[[], Awaitable[bool]], *, timeout: float = 60.0, what: str = "") -> None:
    """Poll ``check`` until it is true (every 0.2 s), or fail after ``timeout`` seconds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not await check():
        if loop.time() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what or check}")
        await asyncio.sleep(0.2)


@pytest.fixture(autouse=True)
def _controller_logs(caplog: pytest.LogCaptureFixture) -> Iterator[None]:
    """Keep the controller's warnings (and the engine's debug notes on conflicts and relists) in the report;
    and fail a test whose logs carry anything that looks like key material."""
    caplog.set_level(logging.INFO, logger="certkeeper")
    caplog.set_level(logging.DEBUG, logger="certkeeper.runtime")
    yield
    # A PEM block, or one base64-encoded (as in a Secret's data).
    leaked = [
        r.getMessage() for r in caplog.records if any(m in r.getMessage() for m in ("PRIVATE KEY", "LS0tLS1CRUdJTi"))
    ]
    assert not leaked, f"key material in the logs: {leaked[:1]}"


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    """Attach the control plane's log tails to a failing test's report."""
    report = yield
    control = getattr(item, "funcargs", {}).get("plane")
    if report.failed and isinstance(control, ControlPlane):
        with contextlib.suppress(OSError):
            report.sections.append(("control plane logs", control.log_tail()))
    return report
