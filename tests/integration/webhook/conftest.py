"""Fixtures for ``certkeeper webhook`` called by a real kube-apiserver.

* ``webhook``: ``run_webhook`` in the background as the ServiceAccount ``certkeeper/certkeeper-webhook``
  with exactly the RBAC of ``deploy/manifests/webhook.yaml``, serving a dynamic certificate for
  ``localhost`` from its CA Secret; a Validating- and a MutatingWebhookConfiguration point the API server
  at it (``https://localhost:<port>``, ``caBundle`` from the Secret). They select only objects labelled
  with this test's id, so objects of other tests (ClusterIssuers too: a namespaceSelector does not apply
  to cluster-scoped kinds) never reach it, and are deleted at the end of the test.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import secrets
import socket
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any, Final

import pytest

from certkeeper.cli.webhook import WebhookConfig, run_webhook
from tests.harness.kube import REPO_ROOT, ControlPlane, Identity
from tests.harness.kubeclient import ApiError, KubeClient, load_manifests

DEPLOY: Final = REPO_ROOT / "deploy" / "manifests"
RBAC_KINDS: Final = frozenset({"Namespace", "ClusterRole", "ClusterRoleBinding", "Role", "RoleBinding"})
NAMESPACE: Final = "certkeeper"
SERVICE_ACCOUNT: Final = "certkeeper-webhook"
CA_SECRET: Final = "certkeeper-webhook-ca"
LABEL: Final = "certkeeper.test/webhook"
WEBHOOK_NAME: Final = "webhook.cert-manager.io"
ADMISSION: Final = "admissionregistration.k8s.io/v1"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@dataclass(frozen=True, slots=True)
class RunningWebhook:
    """The webhook under test and what a test needs to aim objects at it."""

    port: int
    ca_pem: bytes
    #: Put this on every object (and namespace) the webhook should see.
    labels: dict[str, str]
    namespace: str
    identity: Identity


@pytest.fixture
async def webhook_identity(control_plane: ControlPlane, kube: KubeClient, crds: list[str]) -> Identity:
    """The webhook's ServiceAccount identity with deploy/'s RBAC."""
    rbac = load_manifests(DEPLOY / "00-namespace.yaml", DEPLOY / "webhook.yaml")
    await kube.apply([obj for obj in rbac if obj["kind"] in RBAC_KINDS])
    return control_plane.service_account(NAMESPACE, SERVICE_ACCOUNT)


def _configurations(test_id: str, port: int, ca_pem: bytes) -> list[dict[str, Any]]:
    selector = {"matchLabels": {LABEL: test_id}}
    common: dict[str, Any] = {
        "name": WEBHOOK_NAME,
        "objectSelector": selector,
        "matchPolicy": "Equivalent",
        "admissionReviewVersions": ["v1"],
        "failurePolicy": "Fail",
        "sideEffects": "None",
        "timeoutSeconds": 10,
    }
    ca_bundle = base64.b64encode(ca_pem).decode()
    validating = {
        "apiVersion": ADMISSION,
        "kind": "ValidatingWebhookConfiguration",
        "metadata": {"name": f"certkeeper-webhook-{test_id}"},
        "webhooks": [
            {
                **common,
                "rules": [
                    {
                        "apiGroups": ["cert-manager.io", "acme.cert-manager.io"],
                        "apiVersions": ["v1"],
                        "operations": ["CREATE", "UPDATE"],
                        "resources": ["*/*"],
                    }
                ],
                "clientConfig": {"url": f"https://localhost:{port}/validate", "caBundle": ca_bundle},
            }
        ],
    }
    mutating = {
        "apiVersion": ADMISSION,
        "kind": "MutatingWebhookConfiguration",
        "metadata": {"name": f"certkeeper-webhook-{test_id}"},
        "webhooks": [
            {
                **common,
                "rules": [
                    {
                        "apiGroups": ["cert-manager.io"],
                        "apiVersions": ["v1"],
                        "operations": ["CREATE"],
                        "resources": ["certificaterequests"],
                    }
                ],
                "clientConfig": {"url": f"https://localhost:{port}/mutate", "caBundle": ca_bundle},
            }
        ],
    }
    return [validating, mutating]


async def _wait_healthy(port: int, task: asyncio.Task[None]) -> None:
    async with asyncio.timeout(30):
        while True:
            if task.done():
                task.result()  # raises what stopped it
                raise AssertionError("the webhook stopped before it was healthy")
            with contextlib.suppress(OSError):
                reader, writer = await asyncio.open_connection("127.0.0.1", port)
                writer.write(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
                answer = await reader.read()
                writer.close()
                if answer.startswith(b"HTTP/1.1 200"):
                    return
            await asyncio.sleep(0.1)


async def _wait_enforced(kube: KubeClient, namespace: str, labels: dict[str, str]) -> None:
    """Until the API server calls the webhook: a dry-run create of an invalid Certificate is refused by it."""
    probe = {
        "apiVersion": "cert-manager.io/v1",
        "kind": "Certificate",
        "metadata": {"name": "probe", "namespace": namespace, "labels": labels},
        "spec": {"secretName": "probe", "issuerRef": {"name": "probe"}},
    }
    path = f"/apis/cert-manager.io/v1/namespaces/{namespace}/certificates"
    async with asyncio.timeout(30):
        while True:
            try:
                await kube.request("POST", path, params={"dryRun": "All"}, body=probe)
            except ApiError as error:
                if WEBHOOK_NAME in error.message:
                    return
                raise
            await asyncio.sleep(0.1)


@pytest.fixture
async def webhook(
    webhook_identity: Identity, kube: KubeClient, request: pytest.FixtureRequest
) -> AsyncIterator[RunningWebhook]:
    """The webhook running as its ServiceAccount and registered with the API server for this test's objects."""
    test_id = secrets.token_hex(4)
    labels = {LABEL: test_id}
    namespace = await kube.create_namespace(request.node.name.split("[")[0][5:30].replace("_", "-"), labels=labels)
    port, health = _free_port(), _free_port()
    config = WebhookConfig(
        bind_address="127.0.0.1",
        secure_port=port,
        healthz_port=health,
        ca_secret_name=CA_SECRET,
        ca_secret_namespace=NAMESPACE,
        dns_names=("localhost",),
        kubeconfig=webhook_identity.kubeconfig,
    )
    stop = asyncio.Event()
    task = asyncio.create_task(run_webhook(config, stop), name="webhook-under-test")
    registered: list[dict[str, Any]] = []
    try:
        await _wait_healthy(health, task)
        secret = await kube.get("v1", "Secret", CA_SECRET, namespace=NAMESPACE)
        ca_pem = base64.b64decode(secret["data"]["ca.crt"])
        for configuration in _configurations(test_id, port, ca_pem):
            registered.append(await kube.create(configuration))
        await _wait_enforced(kube, namespace, labels)
        yield RunningWebhook(port=port, ca_pem=ca_pem, labels=labels, namespace=namespace, identity=webhook_identity)
    finally:
        for configuration in registered:
            with contextlib.suppress(ApiError):
                await kube.delete(ADMISSION, configuration["kind"], configuration["metadata"]["name"])
        stop.set()
        await asyncio.wait_for(task, 30)
