"""HTTP-01 on Kubernetes end to end: the engine on the real kube-apiserver, as the controller's
ServiceAccount with deploy/'s RBAC, issues from pebble through solver Pods, Services and Ingresses.

There is no kubelet, so the test plays one: it watches Pods labelled
``acme.cert-manager.io/http01-solver=true`` and runs each one's container (``certkeeper acmesolver``
with the Pod's arguments) as a local process, on the port pebble dials for HTTP-01 instead of 8089.
pebble resolves the domain through BIND (``*.<zone>`` is 127.0.0.1) and validates for real; the
solver's self check resolves through the same BIND. There is no garbage collector either, so the
solver objects must be gone because the solver deleted them.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import os
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

import pytest

from certkeeper.acme.solvers.http01_check import HTTP01SelfCheck, NameserverResolver
from certkeeper.acme.solvers.kube_http01 import INGRESSES, PODS, SERVICES, kube_http01_solver
from certkeeper.acme.solvers.kube_http01_objects import adler32_label
from certkeeper.controllers.context import EngineOptions
from certkeeper.controllers.engine import Engine
from certkeeper.issuers.acme import AccountRegistry, AcmeIssuerBackend
from certkeeper.runtime.clock import SystemClock
from certkeeper.store.kube import KubeStore, MetadataStore
from certkeeper.store.ports import EventType, Gone, LabelSelector, RawObject, ResourceType
from certkeeper.store.resources import CHALLENGES
from tests.harness.bind import Bind, Zone
from tests.harness.kube import REPO_ROOT, ControlPlane, Identity, free_port
from tests.harness.kubeclient import ApiError, KubeClient, load_manifests
from tests.harness.pebble import Pebble, PebbleConfig

pytestmark = [pytest.mark.kube, pytest.mark.slow]

ZONE: Final = "kube-solver.test"
DEPLOY: Final = REPO_ROOT / "deploy" / "manifests"
RBAC_KINDS: Final = frozenset(
    {"Namespace", "ServiceAccount", "ClusterRole", "ClusterRoleBinding", "Role", "RoleBinding"}
)
SOLVER_SELECTOR: Final = LabelSelector(match_labels={"acme.cert-manager.io/http01-solver": "true"})
#: The solver processes' environment: this one without tracemalloc (it slows start-up to a crawl).
SOLVER_ENV: Final = {k: v for k, v in os.environ.items() if k != "PYTHONTRACEMALLOC"}
ACME = "acme.cert-manager.io/v1"
CM = "cert-manager.io/v1"


@pytest.fixture(scope="module")
def bind(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Bind]:
    with Bind(tmp_path_factory.mktemp("bind"), zones=(Zone(name=ZONE),)) as server:
        yield server


@pytest.fixture
def solver_port() -> int:
    """Where the played kubelet runs solver Pods, and where pebble connects for HTTP-01."""
    return free_port()


@pytest.fixture
def validating_pebble(tmp_path: Path, bind: Bind, solver_port: int) -> Iterator[Pebble]:
    config = PebbleConfig(http_port=solver_port, dns_server=bind.nameserver, always_valid=False)
    with Pebble(tmp_path / "pebble", config) as server:
        yield server


@pytest.fixture
async def issuer(kube: KubeClient, namespace: str) -> AsyncIterator[str]:
    """A ClusterIssuer name for this test; the ClusterIssuer is deleted after it (it outlives namespaces)."""
    name = f"pebble-{namespace}"
    yield name
    with contextlib.suppress(ApiError):
        await kube.delete(CM, "ClusterIssuer", name)


@pytest.fixture
async def controller_identity(control_plane: ControlPlane, kube: KubeClient, crds: list[str]) -> Identity:
    """``certkeeper/certkeeper-controller`` with exactly deploy/manifests/controller.yaml's RBAC."""
    rbac = load_manifests(DEPLOY / "00-namespace.yaml", DEPLOY / "controller.yaml")
    await kube.apply([obj for obj in rbac if obj["kind"] in RBAC_KINDS])
    return control_plane.service_account("certkeeper", "certkeeper-controller")


# -- the played kubelet -------------------------------------------------------------------------------


def container_command(pod: RawObject, port: int) -> list[str]:
    """The solver container's command line, run from this checkout, listening on ``port``."""
    container = pod["spec"]["containers"][0]
    command = list(container.get("command") or [])
    assert command[:1] == ["certkeeper"], command
    args = [f"--listen-port={port}" if a.startswith("--listen-port=") else a for a in container["args"]]
    return [sys.executable, "-m", "certkeeper", *command[1:], *args]


@dataclass
class Kubelet:
    """Runs solver Pods of one namespace as local processes and records what the API server showed."""

    store: KubeStore
    namespace: str
    port: int
    log_dir: Path
    #: Every event seen for solver Pods, Services, Ingresses and for Challenges: (type, kind, object).
    events: list[tuple[str, str, RawObject]] = field(default_factory=list)
    running: dict[str, asyncio.subprocess.Process] = field(default_factory=dict)
    started: list[list[str]] = field(default_factory=list)
    stopped: list[str] = field(default_factory=list)

    def seen(self, kind: str, event: str = "ADDED") -> list[RawObject]:
        return [obj for (etype, k, obj) in self.events if k == kind and etype == event]

    async def watch(self, resource: ResourceType) -> None:
        """List and watch ``resource`` in the namespace until cancelled (solver objects only); relist on 410."""
        selector = None if resource is CHALLENGES else SOLVER_SELECTOR
        while True:
            listed = await self.store.list(resource, namespace=self.namespace, label_selector=selector)
            for obj in listed.items:
                await self.handle(EventType.ADDED, resource, obj)
            version = listed.resource_version
            try:
                while True:
                    async for event in self.store.watch(
                        resource, resource_version=version, namespace=self.namespace, label_selector=selector
                    ):
                        version = str(event.object.get("metadata", {}).get("resourceVersion") or version)
                        if event.type is not EventType.BOOKMARK:
                            await self.handle(event.type, resource, event.object)
            except Gone:
                continue

    async def handle(self, event: EventType, resource: ResourceType, obj: RawObject) -> None:
        self.events.append((event.value, resource.kind, obj))
        if resource is not PODS:
            return
        name = obj["metadata"]["name"]
        if event is EventType.ADDED and name not in self.running:
            assert not self.running, f"two solver pods at once: {sorted(self.running)} and {name}"
            command = container_command(obj, self.port)
            self.started.append(command)
            # The solver's own output goes to a file next to the test's, for a failing test's report.
            with (self.log_dir / f"{name}.log").open("wb") as log:
                self.running[name] = await asyncio.create_subprocess_exec(
                    *command, stdout=log, stderr=subprocess.STDOUT, env=SOLVER_ENV
                )
        elif event is EventType.DELETED and name in self.running:
            await self.stop(name)

    async def stop(self, name: str) -> None:
        process = self.running.pop(name)
        if process.returncode is None:
            process.terminate()
        await asyncio.wait_for(process.wait(), timeout=10)
        self.stopped.append(name)

    async def close(self) -> None:
        for name in list(self.running):
            await self.stop(name)


@contextlib.asynccontextmanager
async def playing_kubelet(store: KubeStore, namespace: str, port: int, log_dir: Path) -> AsyncIterator[Kubelet]:
    kubelet = Kubelet(store, namespace, port, log_dir)
    tasks = [
        asyncio.create_task(kubelet.watch(r), name=f"kubelet-{r.plural}")
        for r in (PODS, SERVICES, INGRESSES, CHALLENGES)
    ]
    try:
        yield kubelet
    finally:
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await kubelet.close()


# -- the engine as certkeeper controller would run it ------------------------------------------------------


@contextlib.asynccontextmanager
async def running_controller(identity: Identity, namespace: str, bind: Bind, solver_port: int) -> AsyncIterator[Engine]:
    store = KubeStore.from_kubeconfig(identity.kubeconfig, watch_timeout_seconds=30)
    registry = AccountRegistry()
    self_check = HTTP01SelfCheck(
        required_passes=2,
        pass_interval=0.5,
        port=solver_port,
        resolver=NameserverResolver([bind.nameserver]),
        trust_env=False,
    )
    solver = kube_http01_solver(store, image="certkeeper:test", self_check=self_check)
    engine = Engine(
        store,
        clock=SystemClock(),
        options=EngineOptions(cluster_resource_namespace=namespace),
        issuer_backends={"acme": AcmeIssuerBackend(registry)},
        acme_accounts=registry,
        solvers={"HTTP-01": solver},
        secret_metadata_store=MetadataStore(store),
    )
    await engine.start()
    try:
        yield engine
    finally:
        await engine.stop()
        await registry.aclose()
        await store.close()


def cluster_issuer(name: str, pebble: Pebble, http01: dict[str, Any]) -> RawObject:
    return {
        "apiVersion": CM,
        "kind": "ClusterIssuer",
        "metadata": {"name": name},
        "spec": {
            "acme": {
                "server": pebble.directory_url,
                "caBundle": base64.b64encode(pebble.ca_bundle).decode(),
                "privateKeySecretRef": {"name": f"{name}-account"},
                "solvers": [{"http01": http01}],
            }
        },
    }


def certificate(name: str, issuer: str, dns_name: str) -> RawObject:
    return {
        "apiVersion": CM,
        "kind": "Certificate",
        "metadata": {"name": name},
        "spec": {
            "secretName": f"{name}-tls",
            "dnsNames": [dns_name],
            "privateKey": {"algorithm": "ECDSA"},
            "issuerRef": {"name": issuer, "kind": "ClusterIssuer"},
        },
    }


async def list_in(kube: KubeClient, api_version: str, kind: str, namespace: str, query: str = "") -> list[RawObject]:
    info = await kube.resource(api_version, kind)
    path = info.path(namespace=namespace) + (f"?labelSelector={query}" if query else "")
    items: list[RawObject] = (await kube.request("GET", path))["items"]
    return items


async def wait_ready(kube: KubeClient, namespace: str, name: str, logs: Path, timeout: float = 120.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while loop.time() < deadline:
        cert = await kube.get(CM, "Certificate", name, namespace=namespace)
        conditions = (cert.get("status") or {}).get("conditions") or []
        if any(c["type"] == "Ready" and c["status"] == "True" for c in conditions):
            return
        await asyncio.sleep(0.5)
    challenges = await list_in(kube, ACME, "Challenge", namespace)
    orders = await list_in(kube, ACME, "Order", namespace)
    raise AssertionError(
        f"Certificate {name} not Ready: {cert.get('status')}\norders: {[o.get('status') for o in orders]}\n"
        f"challenges: {[c.get('status') for c in challenges]}\n"
        + "\n".join(f"--- {log.name}\n{log.read_text(errors='replace')[-4000:]}" for log in logs.glob("*.log"))
    )


async def wait_for_challenge_path(kube: KubeClient, namespace: str, name: str, timeout: float = 60.0) -> RawObject:
    """The Ingress ``name`` once the solver has added a challenge path to it."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while loop.time() < deadline:
        ingress = await kube.get("networking.k8s.io/v1", "Ingress", name, namespace=namespace)
        if "/.well-known/acme-challenge/" in str(ingress["spec"]):
            return ingress
        await asyncio.sleep(0.2)
    raise AssertionError(f"no challenge path was added to Ingress {name}: {ingress['spec']}")


async def solver_objects(kube: KubeClient, namespace: str) -> dict[str, list[str]]:
    query = "acme.cert-manager.io/http01-solver%3Dtrue"
    return {
        kind: [o["metadata"]["name"] for o in await list_in(kube, version, kind, namespace, query)]
        for version, kind in (("v1", "Pod"), ("v1", "Service"), ("networking.k8s.io/v1", "Ingress"))
    }


async def wait_cleaned_up(kube: KubeClient, namespace: str, timeout: float = 30.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    left = await solver_objects(kube, namespace)
    while any(left.values()) and loop.time() < deadline:
        await asyncio.sleep(0.5)
        left = await solver_objects(kube, namespace)
    assert not any(left.values()), f"solver objects left after the Challenge ended: {left}"


def verify_chain(pebble: Pebble, tmp_path: Path, chain_pem: bytes) -> str:
    (tmp_path / "roots.pem").write_bytes(pebble.root_pem())
    (tmp_path / "chain.pem").write_bytes(chain_pem)
    chain = str(tmp_path / "chain.pem")
    result = subprocess.run(
        ["openssl", "verify", "-CAfile", str(tmp_path / "roots.pem"), "-untrusted", chain, chain],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return subprocess.run(
        ["openssl", "x509", "-in", chain, "-noout", "-ext", "subjectAltName"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout


# -- tests ------------------------------------------------------------------------------------------------


async def test_http01_through_solver_pod_service_and_ingress(
    kube: KubeClient,
    namespace: str,
    controller_identity: Identity,
    validating_pebble: Pebble,
    bind: Bind,
    solver_port: int,
    issuer: str,
    tmp_path: Path,
) -> None:
    domain = f"web.{ZONE}"
    async with (
        KubeStore.from_kubeconfig(kube.identity.kubeconfig) as admin,
        playing_kubelet(admin, namespace, solver_port, tmp_path) as kubelet,
        running_controller(controller_identity, namespace, bind, solver_port),
    ):
        await kube.create(cluster_issuer(issuer, validating_pebble, {"ingress": {"ingressClassName": "nginx"}}))
        await kube.create(certificate("web", issuer, domain), namespace=namespace)
        await wait_ready(kube, namespace, "web", tmp_path)

        secret = await kube.get("v1", "Secret", "web-tls", namespace=namespace)
        san = verify_chain(validating_pebble, tmp_path, base64.b64decode(secret["data"]["tls.crt"]))
        assert f"DNS:{domain}" in san

        # The Challenge ended (valid, then deleted with its Order done): the solver deleted its Pod, Service
        # and Ingress itself.
        await wait_cleaned_up(kube, namespace)
        assert await list_in(kube, ACME, "Challenge", namespace) == []

    [challenge] = kubelet.seen("Challenge")
    assert [c["status"].get("state") for c in kubelet.seen("Challenge", "MODIFIED") if c.get("status")][-1] == "valid"
    assert [c["metadata"]["name"] for c in kubelet.seen("Challenge", "DELETED")] == [challenge["metadata"]["name"]]

    # What the API server held while the challenge was solved, as cert-manager builds it.
    token = challenge["spec"]["token"]
    identity = {
        "acme.cert-manager.io/http-domain": adler32_label(domain),
        "acme.cert-manager.io/http-token": adler32_label(token),
        "acme.cert-manager.io/http01-solver": "true",
    }
    [pod], [service], [ingress] = (kubelet.seen(kind) for kind in ("Pod", "Service", "Ingress"))
    for obj in (pod, service, ingress):
        assert obj["metadata"]["name"].startswith("cm-acme-http-solver-")
        assert obj["metadata"]["labels"] == identity
        [owner] = obj["metadata"]["ownerReferences"]
        assert (owner["kind"], owner["name"], owner["uid"], owner["controller"]) == (
            "Challenge",
            challenge["metadata"]["name"],
            challenge["metadata"]["uid"],
            True,
        )
    container = pod["spec"]["containers"][0]
    assert container["args"] == [
        "--listen-port=8089",
        f"--domain={domain}",
        f"--token={token}",
        f"--key={challenge['spec']['key']}",
    ]
    assert pod["spec"]["automountServiceAccountToken"] is False
    assert container["securityContext"]["capabilities"] == {"drop": ["ALL"]}
    assert service["spec"]["type"] == "NodePort"
    assert service["spec"]["selector"] == identity
    assert service["spec"]["ports"][0]["port"] == 8089
    assert 30000 <= service["spec"]["ports"][0]["nodePort"] <= 32767
    assert ingress["spec"]["ingressClassName"] == "nginx"
    [rule] = ingress["spec"]["rules"]
    assert rule["host"] == domain
    assert rule["http"]["paths"] == [
        {
            "path": f"/.well-known/acme-challenge/{token}",
            "pathType": "Exact",
            "backend": {"service": {"name": service["metadata"]["name"], "port": {"number": 8089}}},
        }
    ]
    assert ingress["metadata"]["annotations"]["nginx.ingress.kubernetes.io/whitelist-source-range"] == "0.0.0.0/0,::/0"
    # Each deletion was seen, and the played kubelet stopped the solver process when its Pod went away.
    deleted = {
        kind: [o["metadata"]["name"] for o in kubelet.seen(kind, "DELETED")] for kind in ("Pod", "Service", "Ingress")
    }
    assert deleted == {
        kind: [o["metadata"]["name"]] for kind, o in (("Pod", pod), ("Service", service), ("Ingress", ingress))
    }
    assert kubelet.stopped == [pod["metadata"]["name"]]


async def test_http01_through_an_existing_ingress(
    kube: KubeClient,
    namespace: str,
    controller_identity: Identity,
    validating_pebble: Pebble,
    bind: Bind,
    solver_port: int,
    issuer: str,
    tmp_path: Path,
) -> None:
    domain = f"shop.{ZONE}"
    web = {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "Ingress",
        "metadata": {"name": "shop"},
        "spec": {
            "rules": [
                {
                    "host": domain,
                    "http": {
                        "paths": [
                            {
                                "path": "/",
                                "pathType": "Prefix",
                                "backend": {"service": {"name": "shop", "port": {"number": 80}}},
                            }
                        ]
                    },
                }
            ]
        },
    }
    original = await kube.create(web, namespace=namespace)
    async with (
        KubeStore.from_kubeconfig(kube.identity.kubeconfig) as admin,
        playing_kubelet(admin, namespace, solver_port, tmp_path) as kubelet,
        running_controller(controller_identity, namespace, bind, solver_port),
    ):
        await kube.create(cluster_issuer(issuer, validating_pebble, {"ingress": {"name": "shop"}}))
        await kube.create(certificate("shop", issuer, domain), namespace=namespace)
        edited = await wait_for_challenge_path(kube, namespace, "shop")
        await wait_ready(kube, namespace, "shop", tmp_path)
        await wait_cleaned_up(kube, namespace)
        final = await kube.get("networking.k8s.io/v1", "Ingress", "shop", namespace=namespace)

    secret = await kube.get("v1", "Secret", "shop-tls", namespace=namespace)
    assert f"DNS:{domain}" in verify_chain(validating_pebble, tmp_path, base64.b64decode(secret["data"]["tls.crt"]))
    [challenge] = kubelet.seen("Challenge")
    [service] = kubelet.seen("Service")
    # No solver Ingress of its own: the user's Ingress carried the path, first in the domain's rule...
    assert kubelet.seen("Ingress") == []
    assert edited["spec"]["rules"][0]["http"]["paths"] == [
        {
            "path": f"/.well-known/acme-challenge/{challenge['spec']['token']}",
            "pathType": "Exact",
            "backend": {"service": {"name": service["metadata"]["name"], "port": {"number": 8089}}},
        },
        *original["spec"]["rules"][0]["http"]["paths"],
    ]
    # ...and lost it again on cleanup.
    assert final["spec"] == original["spec"]
    assert [o["metadata"]["name"] for o in kubelet.seen("Pod", "DELETED")] == kubelet.stopped
