"""Fixtures for ``certkeeper webhook`` and ``certkeeper cainjector`` working together behind a real API server.

``deployment``: both components started as processes (``python -m certkeeper webhook|cainjector``), each as
its own ServiceAccount with exactly the RBAC of ``deploy/manifests`` (the cainjector elects its leader on
deploy/'s Lease in ``certkeeper``). The webhook serves a dynamic certificate for ``localhost`` from its CA
Secret ``certkeeper/certkeeper-webhook-ca``. The Validating- and MutatingWebhookConfiguration are deploy/'s,
renamed for the test, with a URL ``clientConfig`` (``https://localhost:<port>/validate`` and ``/mutate``),
deploy/'s ``cert-manager.io/inject-ca-from-secret`` annotation and no ``caBundle``: the fixture waits until
the cainjector has filled it in and the API server enforces the webhook. An objectSelector on this test's
label keeps other tests' objects away from it.

Why ``localhost`` rather than ``127.0.0.1``: the dynamic serving certificate carries only DNS names (as
cert-manager's ``--dynamic-serving-dns-names``), and Go matches an IP address in a URL only against IP SANs.
``localhost`` resolves to the same loopback address.

Both processes are stopped with SIGTERM at the end, and must exit 0 (their graceful shutdown).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import copy
import secrets
import ssl
import subprocess
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import pytest
from cryptography import x509
from cryptography.exceptions import InvalidSignature

from tests.harness.kube import REPO_ROOT, ControlPlane
from tests.harness.kubeclient import ApiError, KubeClient, load_manifests
from tests.harness.processes import Process, free_port

DEPLOY: Final = REPO_ROOT / "deploy" / "manifests"
RBAC_KINDS: Final = frozenset({"Namespace", "ClusterRole", "ClusterRoleBinding", "Role", "RoleBinding"})
NAMESPACE: Final = "certkeeper"
CA_SECRET: Final = "certkeeper-webhook-ca"
INJECT_ANNOTATION: Final = "cert-manager.io/inject-ca-from-secret"
WEBHOOK_NAME: Final = "webhook.cert-manager.io"
ADMISSION: Final = "admissionregistration.k8s.io/v1"
LABEL: Final = "certkeeper.test/webhook-cainjector"
DENIED: Final = f'admission webhook "{WEBHOOK_NAME}" denied the request: '
CONFIGURATION_KINDS: Final = ("ValidatingWebhookConfiguration", "MutatingWebhookConfiguration")


@dataclass(frozen=True, slots=True)
class Deployment:
    """The two running components and what a test needs to aim objects at the webhook."""

    port: int
    healthz_port: int
    namespace: str
    #: Put these on every object the webhook should see.
    labels: dict[str, str]
    #: The webhook configurations' names (the same for both kinds).
    configuration_name: str
    webhook: Process
    cainjector: Process

    def logs(self) -> str:
        """The tails of both components' logs, for an assertion message."""
        return f"--- webhook ---\n{self.webhook.tail(40)}\n--- cainjector ---\n{self.cainjector.tail(40)}"


def webhook_configurations(name: str, port: int, test_id: str) -> list[dict[str, Any]]:
    """deploy/'s two webhook configurations, named ``name``, calling ``localhost:port`` by URL, for this test."""
    configurations = []
    for obj in load_manifests(DEPLOY / "webhook.yaml"):
        if obj["kind"] not in CONFIGURATION_KINDS:
            continue
        configuration = copy.deepcopy(obj)
        configuration["metadata"]["name"] = name
        assert configuration["metadata"]["annotations"][INJECT_ANNOTATION] == f"{NAMESPACE}/{CA_SECRET}"
        for hook in configuration["webhooks"]:
            service = hook["clientConfig"]["service"]
            assert "caBundle" not in hook["clientConfig"]
            hook["clientConfig"] = {"url": f"https://localhost:{port}{service['path']}"}
            hook["objectSelector"] = {"matchLabels": {LABEL: test_id}}
        configurations.append(configuration)
    assert sorted(c["kind"] for c in configurations) == sorted(CONFIGURATION_KINDS)
    return configurations


def bundles_of(configuration: dict[str, Any]) -> list[bytes]:
    """Each webhook's decoded caBundle (empty when none)."""
    return [base64.b64decode(hook["clientConfig"].get("caBundle", "")) for hook in configuration["webhooks"]]


def certificates_in(bundle: bytes) -> list[x509.Certificate]:
    return x509.load_pem_x509_certificates(bundle) if bundle.strip() else []


async def ca_in_secret(kube: KubeClient) -> bytes:
    """The webhook's CA certificate (PEM) as its Secret holds it now; b"" when the Secret is missing."""
    try:
        secret = await kube.get("v1", "Secret", CA_SECRET, namespace=NAMESPACE)
    except ApiError as error:
        if error.status == 404:
            return b""
        raise
    return base64.b64decode((secret.get("data") or {}).get("ca.crt", ""))


async def served_leaf(port: int) -> x509.Certificate:
    """The certificate the webhook presents to a new connection right now (chain not verified here)."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE  # only reading which leaf is served
    _, writer = await asyncio.open_connection("127.0.0.1", port, ssl=context, server_hostname="localhost")
    try:
        der = writer.get_extra_info("ssl_object").getpeercert(binary_form=True)
    finally:
        writer.close()
        with contextlib.suppress(OSError, ssl.SSLError):
            await writer.wait_closed()
    return x509.load_der_x509_certificate(der)


def issued_by(leaf: x509.Certificate, ca_pem: bytes) -> bool:
    """Whether ``ca_pem`` (one certificate) signed ``leaf``."""
    ca = x509.load_pem_x509_certificate(ca_pem)
    try:
        leaf.verify_directly_issued_by(ca)
    except (ValueError, TypeError, InvalidSignature):  # another issuer name; key type; signature
        return False
    return True


async def eventually(
    check: Callable[[], Awaitable[bool]], *, timeout: float, what: str, deployment: Deployment | None = None
) -> None:
    """Poll ``check`` until it returns true (every 0.1 s), or fail after ``timeout``."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not await check():
        if loop.time() > deadline:
            logs = f"\n{deployment.logs()}" if deployment is not None else ""
            raise AssertionError(f"timed out after {timeout}s waiting for {what}{logs}")
        await asyncio.sleep(0.1)


def _component(name: str, argv: list[str], workdir: Path) -> Process:
    process = Process(name, [sys.executable, "-m", "certkeeper", *argv], workdir / f"{name}.log")
    process.spawn()
    return process


def _stop(process: Process) -> int | None:
    """SIGTERM and wait (SIGKILL after 15 s); the exit status, None when it had to be killed."""
    popen = process.popen
    if popen is None:
        return None
    if popen.poll() is None:
        popen.terminate()
        try:
            popen.wait(15)
        except subprocess.TimeoutExpired:
            process.stop(grace=0)
            return None
    return popen.returncode


async def _healthy(port: int) -> bool:
    with contextlib.suppress(OSError):
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        answer = await reader.read()
        writer.close()
        return answer.startswith(b"HTTP/1.1 200")
    return False


async def probe_enforced(kube: KubeClient, deployment: Deployment) -> bool:
    """Whether the API server calls the webhook: a dry-run create of an invalid Certificate is denied by it."""
    probe = {
        "apiVersion": "cert-manager.io/v1",
        "kind": "Certificate",
        "metadata": {"name": "probe", "namespace": deployment.namespace, "labels": deployment.labels},
        "spec": {"secretName": "probe", "issuerRef": {"name": "probe"}},
    }
    path = f"/apis/cert-manager.io/v1/namespaces/{deployment.namespace}/certificates"
    try:
        await kube.request("POST", path, params={"dryRun": "All"}, body=probe)
    except ApiError as error:
        return error.message.startswith(DENIED)
    return False


@pytest.fixture
async def deployment(
    control_plane: ControlPlane, kube: KubeClient, crds: list[str], tmp_path: Path, request: pytest.FixtureRequest
) -> AsyncIterator[Deployment]:
    """The webhook and the cainjector running as their ServiceAccounts, the webhook enforced by the API server."""
    rbac = load_manifests(DEPLOY / "00-namespace.yaml", DEPLOY / "webhook.yaml", DEPLOY / "cainjector.yaml")
    await kube.apply([obj for obj in rbac if obj["kind"] in RBAC_KINDS])
    webhook_identity = control_plane.service_account(NAMESPACE, "certkeeper-webhook")
    cainjector_identity = control_plane.service_account(NAMESPACE, "certkeeper-cainjector")
    test_id = secrets.token_hex(4)
    labels = {LABEL: test_id}
    namespace = await kube.create_namespace(request.node.name.split("[")[0][5:30].replace("_", "-"), labels=labels)
    port, healthz_port = free_port(), free_port()
    webhook = _component(
        "webhook",
        [
            "webhook",
            f"--kubeconfig={webhook_identity.kubeconfig}",
            "--bind-address=127.0.0.1",
            f"--secure-port={port}",
            f"--healthz-port={healthz_port}",
            f"--dynamic-serving-ca-secret-namespace={NAMESPACE}",
            f"--dynamic-serving-ca-secret-name={CA_SECRET}",
            "--dynamic-serving-dns-names=localhost",
        ],
        tmp_path,
    )
    cainjector = _component(
        "cainjector",
        [
            "cainjector",
            f"--kubeconfig={cainjector_identity.kubeconfig}",
            f"--leader-election-namespace={NAMESPACE}",
            # Short, so a Lease a crashed earlier test left held is taken over quickly.
            "--leader-election-lease-duration=6s",
            "--leader-election-renew-deadline=4s",
            "--leader-election-retry-period=1s",
            "--metrics-listen-address=0",
        ],
        tmp_path,
    )
    name = f"certkeeper-webhook-{test_id}"
    running = Deployment(
        port=port,
        healthz_port=healthz_port,
        namespace=namespace,
        labels=labels,
        configuration_name=name,
        webhook=webhook,
        cainjector=cainjector,
    )
    registered: list[str] = []
    try:

        async def healthy() -> bool:
            for process in (webhook, cainjector):
                if process.exited() is not None:
                    raise AssertionError(f"{process.name} exited with {process.exited()}\n{running.logs()}")
            return await _healthy(healthz_port)

        await eventually(healthy, timeout=60, what="the webhook's /healthz", deployment=running)
        for configuration in webhook_configurations(name, port, test_id):
            await kube.create(configuration)
            registered.append(configuration["kind"])

        async def injected() -> bool:
            ca = await ca_in_secret(kube)
            if not ca:
                return False
            wanted = x509.load_pem_x509_certificate(ca)
            for kind in CONFIGURATION_KINDS:
                stored = await kube.get(ADMISSION, kind, name)
                if not all(wanted in certificates_in(bundle) for bundle in bundles_of(stored)):
                    return False
            return True

        await eventually(injected, timeout=60, what="the cainjector to fill caBundle", deployment=running)
        await eventually(lambda: probe_enforced(kube, running), timeout=30, what="the API server to call the webhook")
        yield running
    finally:
        for kind in registered:
            with contextlib.suppress(ApiError):
                await kube.delete(ADMISSION, kind, name)
        codes = {process.name: await asyncio.to_thread(_stop, process) for process in (webhook, cainjector)}
    assert codes == {"webhook": 0, "cainjector": 0}, f"unclean shutdown {codes}\n{running.logs()}"
