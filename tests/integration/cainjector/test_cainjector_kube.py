"""``certkeeper cainjector`` against a real kube-apiserver, as the ServiceAccount deploy/ grants: it injects
into each target kind, follows rotations, owns only the caBundle fields (server-side apply), refuses a
stale read, and hands over through its Lease."""

from __future__ import annotations

import asyncio
import contextlib
import secrets
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest

from certkeeper.cainjector import API_SERVICES, TargetReconciler
from certkeeper.cainjector.gather import LiveSecrets, SourceReader
from certkeeper.cainjector.sources import Scope, SourceKind
from certkeeper.cainjector.targets import API_SERVICE_TARGET
from certkeeper.cli.cainjector import LEASE_NAME, CAInjectorConfig
from certkeeper.runtime.clock import SystemClock
from certkeeper.runtime.informer import Indexer
from certkeeper.store.kube import KubeStore
from certkeeper.store.ports import Conflict, NotFound, StoreError
from tests.harness.kube import ControlPlane, Identity
from tests.harness.kubeclient import ApiError, KubeClient
from tests.integration.cainjector.conftest import NAMESPACE, config_for, eventually
from tests.unit.cainjector.builders import (
    api_service,
    ca_pem,
    crd,
    from_apiserver,
    from_certificate,
    from_secret,
    secret,
    unb64,
    webhook_bundles,
    webhook_configuration,
)

pytestmark = pytest.mark.kube

CA_1 = ca_pem("kube-rotation-1")
CA_2 = ca_pem("kube-rotation-2")
ADMISSION = "admissionregistration.k8s.io/v1"
Start = Callable[..., Awaitable[asyncio.Event]]


@pytest.fixture
async def cluster_objects(kube: KubeClient) -> AsyncIterator[list[tuple[str, str, str]]]:
    """Cluster-scoped objects a test creates, as (apiVersion, kind, name): deleted at its end, since every
    test shares the control plane."""
    created: list[tuple[str, str, str]] = []
    yield created
    for api_version, kind, name in created:
        with contextlib.suppress(ApiError):  # already gone
            await kube.delete(api_version, kind, name)


def _unique(prefix: str) -> str:
    return f"{prefix}-{secrets.token_hex(4)}"


def _webhook_configuration(kind: str, name: str, annotations: dict[str, str]) -> dict[str, Any]:
    obj = webhook_configuration(kind, name, annotations)
    for hook in obj["webhooks"]:
        # Matches nothing real, and never blocks anyone if it did.
        hook["failurePolicy"] = "Ignore"
        hook["rules"][0]["apiGroups"] = [f"{name}.invalid"]
    return obj


async def test_validating_webhook_from_secret_follows_rotation(
    kube: KubeClient,
    namespace: str,
    cainjector_identity: Identity,
    run_cainjector_task: Start,
    cluster_objects: list[tuple[str, str, str]],
) -> None:
    name = _unique("cainjector-vwc")
    await kube.create(secret(namespace, "webhook-ca", ca=CA_1, allow_injection=True))
    vwc = _webhook_configuration("ValidatingWebhookConfiguration", name, from_secret(f"{namespace}/webhook-ca"))
    await kube.create(vwc)
    cluster_objects.append((ADMISSION, "ValidatingWebhookConfiguration", name))
    await run_cainjector_task(config_for(cainjector_identity, namespace=namespace))

    async def bundles() -> dict[str, bytes]:
        return webhook_bundles(await kube.get(ADMISSION, "ValidatingWebhookConfiguration", name))

    async def holds(expected: bytes) -> bool:
        return set((await bundles()).values()) == {expected}

    await eventually(lambda: holds(CA_1), what="the first CA")
    stored = await kube.get(ADMISSION, "ValidatingWebhookConfiguration", name)
    for hook in stored["webhooks"]:
        assert hook["clientConfig"]["service"]["name"] == "webhook"
        assert hook["failurePolicy"] == "Ignore"
    (entry,) = [m for m in stored["metadata"]["managedFields"] if m["manager"] == "cert-manager-cainjector"]
    assert entry["operation"] == "Apply"
    assert set(entry["fieldsV1"]) == {"f:webhooks"}
    for element in entry["fieldsV1"]["f:webhooks"].values():
        assert element == {".": {}, "f:name": {}, "f:clientConfig": {"f:caBundle": {}}}

    rotated = secret(namespace, "webhook-ca", ca=CA_2, allow_injection=True)
    await kube.apply([rotated])
    await eventually(lambda: holds(CA_1 + CA_2), what="the rotated CA merged in")
    settled = await kube.get(ADMISSION, "ValidatingWebhookConfiguration", name)
    await asyncio.sleep(1.0)
    again = await kube.get(ADMISSION, "ValidatingWebhookConfiguration", name)
    assert again["metadata"]["resourceVersion"] == settled["metadata"]["resourceVersion"]  # nothing more written


async def test_each_source_into_each_other_target_kind(
    kube: KubeClient,
    namespace: str,
    cainjector_identity: Identity,
    run_cainjector_task: Start,
    cluster_objects: list[tuple[str, str, str]],
    control_plane: ControlPlane,
) -> None:
    await kube.create(
        {
            "apiVersion": "cert-manager.io/v1",
            "kind": "Certificate",
            "metadata": {"name": "serving", "namespace": namespace},
            "spec": {"secretName": "serving-tls", "dnsNames": ["x.example.com"], "issuerRef": {"name": "ca"}},
        }
    )
    await kube.create(secret(namespace, "serving-tls", ca=CA_1, certificate="serving"))
    await kube.create(secret(namespace, "direct", ca=CA_2, allow_injection=True))
    mutating = _unique("cainjector-mwc")
    annotations = from_certificate(f"{namespace}/serving")
    await kube.create(_webhook_configuration("MutatingWebhookConfiguration", mutating, annotations))
    cluster_objects.append((ADMISSION, "MutatingWebhookConfiguration", mutating))
    group = f"{_unique('cainjector')}.example.com"
    widgets = crd("widgets", group, from_secret(f"{namespace}/direct"))
    await kube.create(widgets)
    cluster_objects.append(("apiextensions.k8s.io/v1", "CustomResourceDefinition", f"widgets.{group}"))
    # Not the CRD's group: the API server registers an APIService for that one itself.
    api_group = f"{_unique('cainjector-api')}.example.com"
    await kube.create(api_service(f"v1.{api_group}", from_apiserver()))
    cluster_objects.append(("apiregistration.k8s.io/v1", "APIService", f"v1.{api_group}"))
    await run_cainjector_task(config_for(cainjector_identity, namespace=namespace))
    apiserver_ca = control_plane.ca_file.read_bytes()

    async def injected() -> bool:
        mwc = await kube.get(ADMISSION, "MutatingWebhookConfiguration", mutating)
        definition = await kube.get("apiextensions.k8s.io/v1", "CustomResourceDefinition", f"widgets.{group}")
        aggregated = await kube.get("apiregistration.k8s.io/v1", "APIService", f"v1.{api_group}")
        client_config = definition["spec"]["conversion"]["webhook"]["clientConfig"]
        return (
            set(webhook_bundles(mwc).values()) == {CA_1}
            and unb64(client_config.get("caBundle")) == CA_2
            and unb64(aggregated["spec"].get("caBundle")) == apiserver_ca
        )

    await eventually(injected, what="every target injected")


async def test_a_stale_read_is_a_conflict_and_a_deleted_target_is_not_recreated(
    kube: KubeClient, namespace: str, cainjector_identity: Identity, cluster_objects: list[tuple[str, str, str]]
) -> None:
    await kube.create(secret(namespace, "direct", ca=CA_1, allow_injection=True))
    group = f"{_unique('cainjector-stale')}.example.com"
    name = f"v1.{group}"
    stale = await kube.create(api_service(name, from_secret(f"{namespace}/direct")))
    cluster_objects.append(("apiregistration.k8s.io/v1", "APIService", name))
    changed = api_service(name, from_secret(f"{namespace}/direct"), bundle=CA_2)
    await kube.apply([changed])
    async with KubeStore.from_kubeconfig(cainjector_identity.kubeconfig) as store:
        cache = Indexer()
        cache.upsert(stale)
        reconcile = TargetReconciler(
            API_SERVICE_TARGET,
            cache=cache,
            reader=SourceReader(scope=Scope(), secrets=LiveSecrets(store), certificates=None, apiserver_ca=None),
            sources=frozenset(SourceKind),
            store=store,
            clock=SystemClock(),
        )
        with pytest.raises(Conflict):
            await reconcile(name)
        current = await kube.get("apiregistration.k8s.io/v1", "APIService", name)
        assert unb64(current["spec"]["caBundle"]) == CA_2
        await kube.delete("apiregistration.k8s.io/v1", "APIService", name)
        with pytest.raises(StoreError):
            await reconcile(name)
        with pytest.raises(NotFound):
            await store.get(API_SERVICES, name)


async def test_leader_hands_over_through_the_lease(
    kube: KubeClient,
    namespace: str,
    cainjector_identity: Identity,
    run_cainjector_task: Start,
    cluster_objects: list[tuple[str, str, str]],
) -> None:
    name = _unique("cainjector-le")
    await kube.create(secret(namespace, "webhook-ca", ca=CA_1, allow_injection=True))
    annotations = from_secret(f"{namespace}/webhook-ca")
    await kube.create(_webhook_configuration("ValidatingWebhookConfiguration", name, annotations))
    cluster_objects.append((ADMISSION, "ValidatingWebhookConfiguration", name))
    lease_namespace = namespace  # a Lease per test: tests elect independently
    await kube.apply(_lease_rbac(lease_namespace))
    config: CAInjectorConfig = config_for(
        cainjector_identity,
        namespace=namespace,
        leader_elect=True,
        leader_election_namespace=lease_namespace,
        leader_election_lease_duration="3s",
        leader_election_renew_deadline="2s",
        leader_election_retry_period="0.5s",
    )
    first = await run_cainjector_task(config, identity="first")

    async def lease_holder() -> str:
        lease = await kube.get("coordination.k8s.io/v1", "Lease", LEASE_NAME, namespace=lease_namespace)
        holder: str = lease["spec"].get("holderIdentity") or ""
        return holder

    async def holds(expected: bytes) -> bool:
        bundles = webhook_bundles(await kube.get(ADMISSION, "ValidatingWebhookConfiguration", name))
        return set(bundles.values()) == {expected}

    await eventually(lambda: holds(CA_1), what="injection by the leader")
    assert await lease_holder() == "first"
    lease = await kube.get("coordination.k8s.io/v1", "Lease", LEASE_NAME, namespace=lease_namespace)
    assert lease["metadata"]["labels"] == {"app.kubernetes.io/managed-by": "cert-manager-cainjector"}
    assert lease["spec"]["leaseDurationSeconds"] == 3

    await run_cainjector_task(config, identity="second")
    await asyncio.sleep(1.5)
    assert await lease_holder() == "first"  # the standby waits
    first.set()  # graceful stop: the first releases the Lease, the second takes it

    async def second_leads() -> bool:
        return await lease_holder() == "second"

    await eventually(second_leads, what="the standby to take the Lease")
    await kube.apply([secret(namespace, "webhook-ca", ca=CA_2, allow_injection=True)])
    await eventually(lambda: holds(CA_1 + CA_2), what="the new leader to follow a rotation")


def _lease_rbac(namespace: str) -> list[dict[str, Any]]:
    """The leader election Role of deploy/manifests/cainjector.yaml, in ``namespace``, for the Lease name the
    cainjector elects on: deploy/ names ``certkeeper-cainjector-leader-election``, while the cainjector uses
    cert-manager's ``cert-manager-cainjector-leader-election`` (the issue's name) until the two agree."""
    return [
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "Role",
            "metadata": {"name": "cainjector-leaderelection", "namespace": namespace},
            "rules": [
                {
                    "apiGroups": ["coordination.k8s.io"],
                    "resources": ["leases"],
                    "resourceNames": [LEASE_NAME],
                    "verbs": ["get", "update"],
                },
                {"apiGroups": ["coordination.k8s.io"], "resources": ["leases"], "verbs": ["create"]},
            ],
        },
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "RoleBinding",
            "metadata": {"name": "cainjector-leaderelection", "namespace": namespace},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "cainjector-leaderelection"},
            "subjects": [{"kind": "ServiceAccount", "name": "certkeeper-cainjector", "namespace": NAMESPACE}],
        },
    ]
