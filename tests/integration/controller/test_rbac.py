"""Every rule the controller's RBAC grants is needed: with one rule taken out, a small scenario fails, for
that reason. The other tests show the shipped rules are enough.

Each run gives a fresh identity (``system:serviceaccount:certkeeper:rbac-<n>``) the shipped ClusterRole
``certkeeper-controller`` minus one rule, the shipped approver ClusterRole and the shipped leader-election
Role (in the test's namespace, minus one rule for the Lease cases), runs ``certkeeper controller`` as it
scoped to a fresh namespace, and plays one scenario:

* ``ca``: a SelfSigned Issuer and a Certificate, to Ready;
* ``acme``: an ACME Issuer (pebble) solving DNS-01 through BIND, and a Certificate, to Ready;
* ``http01``: an ACME Issuer solving HTTP-01 with an Ingress: the solver Pod, Service and Ingress are
  created (no kubelet runs the Pod, so the Certificate is never issued);
* ``gateway``: the same with ``gatewayHTTPRoute`` and ``--enable-gateway-api``: an HTTPRoute (the
  Gateway API's HTTPRoute CRD, reduced to an open schema, is installed for it).

With every rule the scenario succeeds (``test_scenario_works_with_every_rule``); without the rule it
fails, and the API server's refusal of exactly that rule's access shows up in the controller's logs, on
the Challenge or in an Event. The approver's ``approve`` on ``signers`` is checked by certkeeper's webhook
(a SubjectAccessReview when a request's Approved condition is set), so that case runs with
``certkeeper webhook`` serving the test's namespace.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import logging
import secrets
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Final

import pytest

from certkeeper.cli.webhook import WebhookConfig, run_webhook
from tests.harness.bind import Bind
from tests.harness.kube import ControlPlane, free_port
from tests.harness.kubeclient import ApiError, KubeClient, run_blocking
from tests.harness.pebble import Pebble
from tests.integration.controller.conftest import NAMESPACE, ZONE, Running, eventually, rbac_objects
from tests.integration.controller.objects import ACME, acme_issuer, certificate, ready, tsig_secret
from tests.integration.controller.test_acme import acme_config

pytestmark = pytest.mark.kube

Start = Callable[..., Awaitable[Running]]
RBAC: Final = "rbac.authorization.k8s.io/v1"
ADMISSION: Final = "admissionregistration.k8s.io/v1"
SOLVER_LABEL: Final = "acme.cert-manager.io/http01-solver=true"


def _named(kind: str, name: str) -> dict[str, Any]:
    (found,) = [o for o in rbac_objects() if o["kind"] == kind and o["metadata"]["name"] == name]
    return found


CLUSTER_ROLE: Final = _named("ClusterRole", "certkeeper-controller")
APPROVER: Final = _named("ClusterRole", "certkeeper-controller-approve:cert-manager-io")
LEASE_ROLE: Final = _named("Role", "certkeeper-controller:leaderelection")


def rule_id(rule: dict[str, Any]) -> str:
    names = f"[{','.join(rule['resourceNames'])}]" if rule.get("resourceNames") else ""
    return f"{'+'.join(rule['resources'])}{names}:{'+'.join(rule['verbs'])}"


@dataclass(frozen=True, slots=True)
class Need:
    """How a missing rule shows: the scenario that needs it, and text of the API server's refusal."""

    scenario: str
    refusal: str
    #: The scenario still succeeds (recording Events is not on the way to a certificate).
    succeeds_anyway: bool = False


BLOCK_OWNER_DELETION: Final = "cannot set blockOwnerDeletion"

#: Every rule of the ClusterRole certkeeper-controller, by id.
CLUSTER_ROLE_NEEDS: Final = {
    "certificates:get+list+watch": Need("ca", "certificates.cert-manager.io: Forbidden"),
    "certificates/status:update": Need("ca", 'cannot update resource "certificates/status"'),
    "certificates/finalizers:update": Need("ca", BLOCK_OWNER_DELETION),
    "certificaterequests:get+list+watch+create+delete": Need("ca", "certificaterequests.cert-manager.io: Forbidden"),
    "certificaterequests/status:update": Need("ca", 'cannot update resource "certificaterequests/status"'),
    "certificaterequests/finalizers:update": Need("acme", BLOCK_OWNER_DELETION),
    "issuers+clusterissuers:get+list+watch": Need("ca", "issuers.cert-manager.io: Forbidden"),
    "issuers/status+clusterissuers/status:update": Need("ca", 'cannot update resource "issuers/status"'),
    "orders:get+list+watch+create+delete": Need("ca", "orders.acme.cert-manager.io: Forbidden"),
    "orders/status:update": Need("acme", 'cannot update resource "orders/status"'),
    "orders/finalizers:update": Need("acme", BLOCK_OWNER_DELETION),
    "challenges:get+list+watch+create+delete": Need("ca", "challenges.acme.cert-manager.io: Forbidden"),
    "challenges:update": Need("acme", 'cannot update resource "challenges" '),
    # The scheduler's first write: processing=true.
    "challenges/status:update": Need("acme", 'cannot update resource "challenges/status"'),
    "challenges/finalizers:update": Need("http01", BLOCK_OWNER_DELETION),
    "secrets:get+list+watch+create+update+patch+delete": Need("ca", "secrets: Forbidden"),
    "events:create+patch": Need("ca", "could not record event", succeeds_anyway=True),
    "pods+services:get+list+watch+create+delete": Need("http01", 'resource "pods"'),
    "ingresses:get+list+watch+create+delete+update": Need("http01", 'resource "ingresses"'),
    "httproutes:get+list+watch+create+delete": Need("gateway", 'resource "httproutes"'),
}
#: Every rule of the Role certkeeper-controller:leaderelection, by id.
LEASE_ROLE_NEEDS: Final = {
    "leases[cert-manager-controller]:get+update": Need("ca", "leader election: reading lease"),
    "leases:create": Need("ca", "leader election: creating lease"),
}

HTTPROUTE_CRD: Final = {
    "apiVersion": "apiextensions.k8s.io/v1",
    "kind": "CustomResourceDefinition",
    "metadata": {
        "name": "httproutes.gateway.networking.k8s.io",
        # *.k8s.io groups need this (the Gateway API's own CRDs carry their approval).
        "annotations": {"api-approved.kubernetes.io": "https://github.com/kubernetes-sigs/gateway-api/pull/2466"},
    },
    "spec": {
        "group": "gateway.networking.k8s.io",
        "names": {"kind": "HTTPRoute", "listKind": "HTTPRouteList", "plural": "httproutes", "singular": "httproute"},
        "scope": "Namespaced",
        "versions": [
            {
                "name": "v1",
                "served": True,
                "storage": True,
                "schema": {"openAPIV3Schema": {"type": "object", "x-kubernetes-preserve-unknown-fields": True}},
            }
        ],
    },
}


APPROVE_RULE: Final = "signers[issuers.cert-manager.io/*,clusterissuers.cert-manager.io/*]:approve"


def test_every_rule_is_accounted_for() -> None:
    assert sorted(rule_id(rule) for rule in CLUSTER_ROLE["rules"]) == sorted(CLUSTER_ROLE_NEEDS)
    assert sorted(rule_id(rule) for rule in LEASE_ROLE["rules"]) == sorted(LEASE_ROLE_NEEDS)
    assert [rule_id(rule) for rule in APPROVER["rules"]] == [APPROVE_RULE]


@pytest.fixture(scope="session")
def httproutes(plane: ControlPlane) -> None:
    """The HTTPRoute CRD (open schema): enough for the solver to create routes."""

    async def install() -> None:
        async with KubeClient(plane.admin) as kube:
            await kube.apply([HTTPROUTE_CRD])

    run_blocking(install())


@dataclass
class Scenario:
    admin: KubeClient
    ns: str
    pebble: Pebble
    bind: Bind
    kind: str

    async def create(self) -> None:
        if self.kind == "ca":
            selfsigned = {"apiVersion": "cert-manager.io/v1", "kind": "Issuer", "spec": {"selfSigned": {}}}
            await self.admin.create({**selfsigned, "metadata": {"name": "issuer", "namespace": self.ns}})
            await self.admin.create(certificate("leaf", self.ns, {"name": "issuer"}, dnsNames=[f"leaf.{ZONE}"]))
            return
        key = self.bind.key("hmac-sha256")
        await self.admin.create(tsig_secret(self.ns, key.secret))
        issuer = acme_issuer(
            "issuer",
            self.ns,
            server=self.pebble.directory_url,
            ca_bundle=self.pebble.ca_bundle,
            nameserver=self.bind.nameserver,
            key_name=key.name,
            algorithm=key.cert_manager_algorithm,
        )
        if self.kind == "http01":
            issuer["spec"]["acme"]["solvers"] = [{"http01": {"ingress": {"ingressClassName": "nginx"}}}]
        elif self.kind == "gateway":
            parent = {"name": "gateway", "namespace": self.ns, "kind": "Gateway"}
            issuer["spec"]["acme"]["solvers"] = [{"http01": {"gatewayHTTPRoute": {"parentRefs": [parent]}}}]
        await self.admin.create(issuer)
        await self.admin.create(certificate("leaf", self.ns, {"name": "issuer"}, dnsNames=[f"leaf.{ZONE}"]))

    async def solver_objects(self) -> set[str]:
        found = set()
        for path, kind in (
            (f"/api/v1/namespaces/{self.ns}/pods", "Pod"),
            (f"/api/v1/namespaces/{self.ns}/services", "Service"),
            (f"/apis/networking.k8s.io/v1/namespaces/{self.ns}/ingresses", "Ingress"),
            (f"/apis/gateway.networking.k8s.io/v1/namespaces/{self.ns}/httproutes", "HTTPRoute"),
        ):
            try:
                listed = await self.admin.request("GET", path, params={"labelSelector": SOLVER_LABEL})
            except ApiError:
                continue  # no HTTPRoute CRD in this cluster
            if listed["items"]:
                found.add(kind)
        return found

    async def succeeded(self) -> bool:
        if self.kind == "http01":
            return await self.solver_objects() == {"Pod", "Service", "Ingress"}
        if self.kind == "gateway":
            return await self.solver_objects() == {"Pod", "Service", "HTTPRoute"}
        return await ready(self.admin, "Certificate", "leaf", self.ns)

    async def refusals(self, caplog: pytest.LogCaptureFixture) -> str:
        """Everything that could carry the API server's refusal: logs, Challenge reasons, Event messages."""
        texts = [record.getMessage() for record in caplog.records]
        challenges = await self.admin.request("GET", f"/apis/{ACME}/namespaces/{self.ns}/challenges")
        texts += [str((c.get("status") or {}).get("reason", "")) for c in challenges["items"]]
        events = await self.admin.request("GET", f"/api/v1/namespaces/{self.ns}/events")
        texts += [str(e.get("message", "")) for e in events["items"]]
        return "\n".join(texts)


@dataclass
class Grant:
    """One identity with the shipped RBAC minus (at most) one rule."""

    admin: KubeClient
    plane: ControlPlane
    ns: str
    user: str
    made: list[tuple[str, str]]

    async def apply(self, *, without: str | None) -> None:
        cluster_role = copy.deepcopy(CLUSTER_ROLE)
        cluster_role["metadata"] = {"name": self.user}
        cluster_role["rules"] = [r for r in CLUSTER_ROLE["rules"] if rule_id(r) != without]
        lease_role = copy.deepcopy(LEASE_ROLE)
        lease_role["metadata"] = {"name": "leaderelection", "namespace": self.ns}
        lease_role["rules"] = [r for r in LEASE_ROLE["rules"] if rule_id(r) != without]
        subject = [{"kind": "ServiceAccount", "name": self.user, "namespace": NAMESPACE}]
        approve = f"{self.user}-approve"
        objects: list[dict[str, Any]] = [
            cluster_role,
            self._binding("ClusterRoleBinding", self.user, "ClusterRole", self.user, subject),
            lease_role,
            self._binding("RoleBinding", "leaderelection", "Role", "leaderelection", subject, namespace=self.ns),
        ]
        if without != APPROVE_RULE:
            objects.append(
                self._binding("ClusterRoleBinding", approve, "ClusterRole", APPROVER["metadata"]["name"], subject)
            )
        await self.admin.apply(objects)
        self.made += [("ClusterRole", self.user), ("ClusterRoleBinding", self.user), ("ClusterRoleBinding", approve)]
        # RBAC reaches the authorizer through an informer: wait until the grant is in force.
        async with KubeClient(self.plane.service_account(NAMESPACE, self.user)) as probe:
            # Something this grant allows for certain.
            readable = (
                "/api/v1/namespaces/{}/secrets"
                if without == "certificates:get+list+watch"
                else ("/apis/cert-manager.io/v1/namespaces/{}/certificates")
            )
            path = readable.format(self.ns)
            await probe.wait_for_status("GET", path, 200)

    @staticmethod
    def _binding(
        kind: str, name: str, role_kind: str, role: str, subjects: list[dict[str, str]], namespace: str | None = None
    ) -> dict[str, Any]:
        metadata: dict[str, str] = {"name": name}
        if namespace is not None:
            metadata["namespace"] = namespace
        return {
            "apiVersion": RBAC,
            "kind": kind,
            "metadata": metadata,
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": role_kind, "name": role},
            "subjects": subjects,
        }


@pytest.fixture
async def grant(admin: KubeClient, plane: ControlPlane, ns: str) -> AsyncIterator[Grant]:
    made: list[tuple[str, str]] = []
    yield Grant(admin, plane, ns, f"rbac-{secrets.token_hex(4)}", made)
    for kind, name in made:
        try:
            await admin.delete(RBAC, kind, name)
        except ApiError as error:
            if error.status != 404:
                raise


async def _run(grant: Grant, scenario: Scenario, start: Start, *, without: str | None) -> None:
    await grant.apply(without=without)
    flags: dict[str, Any] = {"namespace": scenario.ns, "leader_election_namespace": scenario.ns}
    if scenario.kind == "gateway":
        flags["enable_gateway_api"] = True
    await start(acme_config(grant.plane.service_account(NAMESPACE, grant.user), scenario.bind, **flags))
    await scenario.create()


SCENARIOS: Final = ("ca", "acme", "http01", "gateway")


@pytest.mark.parametrize("kind", SCENARIOS)
async def test_scenario_works_with_every_rule(
    kind: str,
    admin: KubeClient,
    ns: str,
    pebble: Pebble,
    bind: Bind,
    grant: Grant,
    httproutes: None,
    start_controller: Start,
) -> None:
    scenario = Scenario(admin, ns, pebble, bind, kind)
    await _run(grant, scenario, start_controller, without=None)
    await eventually(scenario.succeeded, timeout=90, what=f"the {kind} scenario to succeed")


NEEDS: Final = {**CLUSTER_ROLE_NEEDS, **LEASE_ROLE_NEEDS}


@pytest.mark.parametrize("rule", sorted(NEEDS))
async def test_rule_is_needed(
    rule: str,
    admin: KubeClient,
    ns: str,
    pebble: Pebble,
    bind: Bind,
    grant: Grant,
    httproutes: None,
    start_controller: Start,
    caplog: pytest.LogCaptureFixture,
) -> None:
    need = NEEDS[rule]
    caplog.set_level(logging.INFO, logger="certkeeper")
    scenario = Scenario(admin, ns, pebble, bind, need.scenario)
    await _run(grant, scenario, start_controller, without=rule)

    async def refused() -> bool:
        return need.refusal in await scenario.refusals(caplog)

    await eventually(refused, timeout=60, what=f"the API server to refuse what {rule} grants ({need.refusal!r})")
    if need.succeeds_anyway:
        await eventually(scenario.succeeded, timeout=60, what="the scenario to succeed without Events")
    else:
        await asyncio.sleep(1.0)
        assert not await scenario.succeeded()


async def _healthy(port: int, task: asyncio.Task[None]) -> None:
    async with asyncio.timeout(30):
        while True:
            if task.done():
                task.result()
                raise AssertionError("the webhook stopped before it was healthy")
            try:
                reader, writer = await asyncio.open_connection("127.0.0.1", port)
            except OSError:
                await asyncio.sleep(0.1)
                continue
            writer.write(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            answer = await reader.read()
            writer.close()
            if answer.startswith(b"HTTP/1.1 200"):
                return
            await asyncio.sleep(0.1)


@pytest.fixture
async def webhook(admin: KubeClient, plane: ControlPlane, ns: str) -> AsyncIterator[None]:
    """``certkeeper webhook`` as its ServiceAccount (deploy/'s RBAC), called by the API server for ``ns`` only."""
    port, health = free_port(), free_port()
    config = WebhookConfig(
        bind_address="127.0.0.1",
        secure_port=port,
        healthz_port=health,
        ca_secret_name="certkeeper-webhook-ca",
        ca_secret_namespace=NAMESPACE,
        dns_names=("localhost",),
        kubeconfig=plane.service_account(NAMESPACE, "certkeeper-webhook").kubeconfig,
    )
    stop = asyncio.Event()
    task = asyncio.create_task(run_webhook(config, stop), name="webhook")
    name = f"certkeeper-webhook-{ns}"
    try:
        await _healthy(health, task)
        ca = (await admin.get("v1", "Secret", "certkeeper-webhook-ca", namespace=NAMESPACE))["data"]["ca.crt"]
        common = {
            "name": "webhook.cert-manager.io",
            "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": ns}},
            "admissionReviewVersions": ["v1"],
            "failurePolicy": "Fail",
            "sideEffects": "None",
            "timeoutSeconds": 10,
        }
        rules = [
            {
                "apiGroups": ["cert-manager.io", "acme.cert-manager.io"],
                "apiVersions": ["v1"],
                "operations": ["CREATE", "UPDATE"],
                "resources": ["*/*"],
            }
        ]
        configurations = []
        for kind, path in (("ValidatingWebhookConfiguration", "validate"), ("MutatingWebhookConfiguration", "mutate")):
            client = {"url": f"https://localhost:{port}/{path}", "caBundle": ca}
            hook = {**common, "rules": rules, "clientConfig": client}
            configurations.append(
                {"apiVersion": ADMISSION, "kind": kind, "metadata": {"name": name}, "webhooks": [hook]}
            )
        await admin.apply(configurations)
        probe = certificate("probe", ns, {"name": "issuer"})  # no names: the webhook refuses it

        async def enforced() -> bool:
            try:
                await admin.request(
                    "POST",
                    f"/apis/cert-manager.io/v1/namespaces/{ns}/certificates",
                    params={"dryRun": "All"},
                    body=probe,
                )
            except ApiError as error:
                return "webhook.cert-manager.io" in error.message
            return False

        await eventually(enforced, timeout=30, what="the API server to call the webhook")
        yield
    finally:
        for kind in ("ValidatingWebhookConfiguration", "MutatingWebhookConfiguration"):
            with contextlib.suppress(ApiError):
                await admin.delete(ADMISSION, kind, name)
        stop.set()
        await asyncio.wait_for(task, 30)


@pytest.mark.parametrize("granted", [True, False], ids=["approver-bound", "approver-not-bound"])
async def test_approve_on_signers_is_needed_where_the_webhook_checks_it(
    granted: bool,
    admin: KubeClient,
    ns: str,
    pebble: Pebble,
    bind: Bind,
    grant: Grant,
    webhook: None,
    start_controller: Start,
    caplog: pytest.LogCaptureFixture,
) -> None:
    scenario = Scenario(admin, ns, pebble, bind, "ca")
    await _run(grant, scenario, start_controller, without=None if granted else APPROVE_RULE)
    if granted:
        await eventually(scenario.succeeded, timeout=60, what="issuance with the webhook checking approval")
        return

    async def refused() -> bool:
        return "does not have permissions to set approved/denied conditions for issuer" in await scenario.refusals(
            caplog
        )

    await eventually(refused, timeout=60, what="the webhook to refuse the controller's approval")
    await asyncio.sleep(1.0)
    assert not await scenario.succeeded()
