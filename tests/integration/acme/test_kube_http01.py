"""HTTP-01 on Kubernetes end to end: the engine on the real kube-apiserver, as the controller's
ServiceAccount with deploy/'s RBAC, issues from pebble through solver Pods, Services and Ingresses.

There is no kubelet, so the test plays one: it watches Pods labelled
``acme.cert-manager.io/http01-solver=true`` and runs each one's container (``certkeeper acmesolver``
with the Pod's arguments) as a local process, on the port pebble dials for HTTP-01 instead of 8089.
pebble resolves the domain through BIND (``*.<zone>`` is 127.0.0.1) and validates for real; the
solver's self check resolves through the same BIND. There is no garbage collector either, so the
solver objects must be gone because the solver deleted them.

The last test runs ``certkeeper controller`` itself (``run_controller`` with a config from its flags), whose
self check dials port 80 as cert-manager's does. There the test also plays the ingress controller: its
address is a loopback address of the test's own on port 80, which BIND gives the test domain and which
forwards every connection to the played solver Pod. pebble validates through the same address.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import os
import random
import socket
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
from certkeeper.cli.controller import run_controller
from certkeeper.cli.controller_config import ControllerConfig, make_config
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
#: The one name in the zone that BIND resolves to the played ingress controller rather than 127.0.0.1.
FRONT_HOST: Final = "app"
ACME = "acme.cert-manager.io/v1"
CM = "cert-manager.io/v1"


@pytest.fixture(scope="module")
def front_address() -> str:
    """A loopback address of this module's own whose port 80 is free: the played ingress controller's."""
    rng = random.Random()
    for _ in range(20):
        address = f"127.{rng.randrange(64, 255)}.{rng.randrange(1, 255)}.{rng.randrange(1, 255)}"
        with socket.socket() as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                probe.bind((address, 80))
            except OSError:
                continue
        return address
    raise AssertionError("no loopback address with port 80 free (binding port 80 needs root or CAP_NET_BIND_SERVICE)")


@pytest.fixture(scope="module")
def bind(tmp_path_factory: pytest.TempPathFactory, front_address: str) -> Iterator[Bind]:
    zone = Zone(name=ZONE, records=(f"{FRONT_HOST} IN A {front_address}",))
    with Bind(tmp_path_factory.mktemp("bind"), zones=(zone,)) as server:
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
def front_pebble(tmp_path: Path, bind: Bind) -> Iterator[Pebble]:
    """pebble validating HTTP-01 on port 80, as a real CA does."""
    config = PebbleConfig(http_port=80, dns_server=bind.nameserver, always_valid=False)
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


# -- the played ingress controller ------------------------------------------------------------------------


@dataclass
class FrontDoor:
    """``<address>:80`` forwarding each connection to the played solver Pod, recording each request's head.

    It stands for the ingress controller a real cluster's DNS points at; it forwards every path, so what
    it proves is that the requests came to the address BIND gave (the Ingress itself is checked as an
    object). Each connection carries one request: the self check and pebble's validations both close.
    """

    address: str
    target: int
    #: Each request's head (request line and headers), lower-cased, in arrival order.
    requests: list[str] = field(default_factory=list)
    handlers: set[asyncio.Task[None]] = field(default_factory=set)

    async def handle(self, client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self.handlers.add(task)
        upstream: asyncio.StreamWriter | None = None
        try:
            head = await client_reader.readuntil(b"\r\n\r\n")
            self.requests.append(head.decode("latin-1").lower())
            # Refused while the Pod is not "running" yet: the client sees the connection close, as it would
            # when a Service has no ready endpoints.
            pod_reader, upstream = await asyncio.open_connection("127.0.0.1", self.target)
            upstream.write(head)
            await asyncio.gather(pipe(client_reader, upstream), pipe(pod_reader, client_writer))
        except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError):
            pass
        finally:
            for writer in (upstream, client_writer):
                if writer is not None:
                    writer.close()
                    with contextlib.suppress(OSError):
                        await writer.wait_closed()
            self.handlers.discard(task)

    def seen(self, host: str, path: str) -> list[str]:
        """The heads of the GET requests for ``http://<host><path>`` (pebble sends Host with ``:80``)."""
        hosts = (f"\r\nhost: {host}\r\n", f"\r\nhost: {host}:80\r\n")
        return [r for r in self.requests if r.startswith(f"get {path.lower()} ") and any(h in r for h in hosts)]


async def pipe(source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
    """Copy until end of stream, then half-close ``sink`` so the other side sees it too."""
    with contextlib.suppress(OSError):
        while data := await source.read(65536):
            sink.write(data)
            await sink.drain()
        if sink.can_write_eof():
            sink.write_eof()


@contextlib.asynccontextmanager
async def front_door(address: str, target: int) -> AsyncIterator[FrontDoor]:
    door = FrontDoor(address, target)
    server = await asyncio.start_server(door.handle, host=address, port=80)
    try:
        yield door
    finally:
        server.close()
        for task in list(door.handlers):
            task.cancel()
        await asyncio.gather(*door.handlers, return_exceptions=True)
        await server.wait_closed()


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


@contextlib.asynccontextmanager
async def certkeeper_controller(config: ControllerConfig) -> AsyncIterator[asyncio.Task[None]]:
    """``run_controller`` in the background as ``certkeeper controller`` runs it, stopped as SIGTERM stops it
    (a crash is re-raised on exit)."""
    stop = asyncio.Event()
    task = asyncio.create_task(run_controller(config, stop), name="certkeeper-controller")
    try:
        yield task
    finally:
        stop.set()
        await asyncio.wait_for(task, timeout=30)


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


async def test_certkeeper_controller_solves_http01_with_its_solver_flags(
    kube: KubeClient,
    namespace: str,
    controller_identity: Identity,
    front_pebble: Pebble,
    bind: Bind,
    front_address: str,
    solver_port: int,
    issuer: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """``certkeeper controller`` as its flags configure it: the solver Pods' image and extra labels, and the
    self check resolving through ``--acme-http01-solver-nameservers`` (only BIND knows the domain) on port 80."""
    # The self check honours HTTP(S)_PROXY as Go's does; the test's requests must not go to a proxy.
    for proxy in ("HTTP_PROXY", "http_proxy", "HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.delenv(proxy, raising=False)
    domain = f"{FRONT_HOST}.{ZONE}"
    image = "registry.example/certkeeper-solver:flags"
    config = make_config(
        kubeconfig=controller_identity.kubeconfig,
        cluster_resource_namespace=namespace,
        leader_elect=False,
        metrics_listen_address="0",
        internal_healthz_listen_address="0",
        acme_http01_solver_image=image,
        # The second label would take the Pod out of its own Service's selector: it must be ignored.
        acme_http01_solver_extra_labels=("team=web", "acme.cert-manager.io/http01-solver=false"),
        acme_http01_solver_nameservers=(bind.nameserver,),
    )
    async with (
        KubeStore.from_kubeconfig(kube.identity.kubeconfig) as admin,
        playing_kubelet(admin, namespace, solver_port, tmp_path) as kubelet,
        front_door(front_address, solver_port) as door,
        certkeeper_controller(config),
    ):
        await kube.create(cluster_issuer(issuer, front_pebble, {"ingress": {"ingressClassName": "nginx"}}))
        await kube.create(certificate("app", issuer, domain), namespace=namespace)
        await wait_ready(kube, namespace, "app", tmp_path)

        secret = await kube.get("v1", "Secret", "app-tls", namespace=namespace)
        san = verify_chain(front_pebble, tmp_path, base64.b64decode(secret["data"]["tls.crt"]))
        assert f"DNS:{domain}" in san
        await wait_cleaned_up(kube, namespace)
        assert await list_in(kube, ACME, "Challenge", namespace) == []

    [challenge] = kubelet.seen("Challenge")
    assert [c["status"].get("state") for c in kubelet.seen("Challenge", "MODIFIED") if c.get("status")][-1] == "valid"
    token = challenge["spec"]["token"]
    labels = {
        "acme.cert-manager.io/http-domain": adler32_label(domain),
        "acme.cert-manager.io/http-token": adler32_label(token),
        "acme.cert-manager.io/http01-solver": "true",
        "team": "web",
    }
    [pod], [service], [ingress] = (kubelet.seen(kind) for kind in ("Pod", "Service", "Ingress"))
    assert [obj["metadata"]["labels"] for obj in (pod, service, ingress)] == [labels] * 3
    [container] = pod["spec"]["containers"]
    assert container["image"] == image
    assert container["args"][1:] == [f"--domain={domain}", f"--token={token}", f"--key={challenge['spec']['key']}"]
    assert (
        [o["metadata"]["name"] for o in kubelet.seen("Pod", "DELETED")] == kubelet.stopped == [pod["metadata"]["name"]]
    )

    # Both the self check (cert-manager's five passes, as "certkeeper") and pebble fetched the challenge from
    # the address only BIND gives the domain, on port 80.
    fetched = door.seen(domain, f"/.well-known/acme-challenge/{token}")
    from_self_check = [r for r in fetched if "\r\nuser-agent: certkeeper\r\n" in r]
    assert len(from_self_check) >= 5, door.requests
    assert len(fetched) > len(from_self_check), door.requests
