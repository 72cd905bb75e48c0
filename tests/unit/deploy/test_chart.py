"""The Helm chart: with default values it renders exactly deploy/manifests; its values change what they say."""

from __future__ import annotations

import difflib
import json
from pathlib import Path

import pytest

from tests.unit.deploy.support import (
    CHART,
    Obj,
    by_key,
    container_args,
    flag,
    helm,
    key,
    named,
    of_kind,
    render,
)

DIGEST = "sha256:" + "ab" * 32


def _diff(expected: Obj, actual: Obj) -> str:
    a = json.dumps(expected, indent=1, sort_keys=True).splitlines()
    b = json.dumps(actual, indent=1, sort_keys=True).splitlines()
    return "\n".join(difflib.unified_diff(a, b, "deploy/manifests", "helm template", lineterm="", n=2))


def test_default_values_render_the_manifests(manifests: list[Obj], rendered: list[Obj]) -> None:
    expected, actual = by_key(manifests), by_key(rendered)
    assert sorted(actual) == sorted(expected)
    for object_key, obj in expected.items():
        assert actual[object_key] == obj, f"{object_key} differs:\n{_diff(obj, actual[object_key])}"


def test_chart_crds_are_deploy_crds(helm_bin: str, helm_home: Path, crds: list[Obj], rendered: list[Obj]) -> None:
    with_crds = render(helm_bin, helm_home, crds=True)
    added = [obj for obj in with_crds if key(obj) not in by_key(rendered)]
    assert by_key(added) == by_key(crds)
    assert len(crds) == 6


def test_chart_lints(helm_bin: str, helm_home: Path) -> None:
    output = helm(helm_bin, helm_home, "lint", "--strict", str(CHART))
    assert "0 chart(s) failed" in output


def _deployment(objects: list[Obj], component: str, prefix: str = "certkeeper") -> Obj:
    return named(objects, "Deployment", f"{prefix}-{component}")


@pytest.mark.parametrize(
    ("values", "image"),
    [
        pytest.param(["image.tag=1.2.3"], "certkeeper:1.2.3", id="tag"),
        pytest.param(["image.repository=registry.example/ck"], "registry.example/ck:0.1.0", id="repository"),
        pytest.param(["image.tag=1.2.3", f"image.digest={DIGEST}"], f"certkeeper@{DIGEST}", id="digest"),
    ],
)
def test_image_is_one_for_every_component_and_the_solver(
    helm_bin: str, helm_home: Path, values: list[str], image: str
) -> None:
    objects = render(helm_bin, helm_home, *values)
    for deployment in of_kind(objects, "Deployment"):
        assert deployment["spec"]["template"]["spec"]["containers"][0]["image"] == image
    assert flag(container_args(_deployment(objects, "controller")), "acme-http01-solver-image") == [image]


def test_replicas_resources_args_and_gates_per_component(helm_bin: str, helm_home: Path) -> None:
    objects = render(
        helm_bin,
        helm_home,
        "controller.replicas=2",
        "webhook.replicas=3",
        "cainjector.replicas=4",
        "controller.resources.requests.cpu=50m",
        "webhook.resources.limits.memory=128Mi",
        "controller.extraArgs={--max-concurrent-challenges=30}",
        "webhook.featureGates=NameConstraints=false",
        "cainjector.featureGates=ServerSideApply=true",
    )
    controller, webhook, cainjector = (_deployment(objects, c) for c in ("controller", "webhook", "cainjector"))
    assert [d["spec"]["replicas"] for d in (controller, webhook, cainjector)] == [2, 3, 4]
    assert controller["spec"]["template"]["spec"]["containers"][0]["resources"] == {"requests": {"cpu": "50m"}}
    assert webhook["spec"]["template"]["spec"]["containers"][0]["resources"] == {"limits": {"memory": "128Mi"}}
    assert "resources" not in cainjector["spec"]["template"]["spec"]["containers"][0]
    assert container_args(controller)[-1] == "--max-concurrent-challenges=30"
    assert flag(container_args(webhook), "feature-gates") == ["NameConstraints=false"]
    assert flag(container_args(cainjector), "feature-gates") == ["ServerSideApply=true"]
    assert flag(container_args(controller), "feature-gates") == []


def test_webhook_port_and_timeout(helm_bin: str, helm_home: Path) -> None:
    objects = render(helm_bin, helm_home, "webhook.securePort=8443", "webhook.timeoutSeconds=10")
    webhook = _deployment(objects, "webhook")
    assert flag(container_args(webhook), "secure-port") == ["8443"]
    ports = {p["name"]: p["containerPort"] for p in webhook["spec"]["template"]["spec"]["containers"][0]["ports"]}
    assert ports["https"] == 8443
    for kind in ("ValidatingWebhookConfiguration", "MutatingWebhookConfiguration"):
        assert named(objects, kind, "certkeeper-webhook")["webhooks"][0]["timeoutSeconds"] == 10


def test_namespace_moves_every_namespaced_object(helm_bin: str, helm_home: Path) -> None:
    objects = render(helm_bin, helm_home, "namespace.name=pki")
    namespaced = [obj for obj in objects if "namespace" in obj["metadata"]]
    assert namespaced
    assert {obj["metadata"]["namespace"] for obj in namespaced} == {"pki"}
    assert named(objects, "Namespace", "pki")
    for binding in of_kind(objects, "ClusterRoleBinding") + of_kind(objects, "RoleBinding"):
        assert {subject["namespace"] for subject in binding["subjects"]} == {"pki"}
    annotation = "cert-manager.io/inject-ca-from-secret"
    for kind in ("ValidatingWebhookConfiguration", "MutatingWebhookConfiguration"):
        config = named(objects, kind, "certkeeper-webhook")
        assert config["metadata"]["annotations"][annotation] == "pki/certkeeper-webhook-ca"
        assert config["webhooks"][0]["clientConfig"]["service"]["namespace"] == "pki"
    assert flag(container_args(_deployment(objects, "controller")), "leader-election-namespace") == ["pki"]


def test_namespace_object_can_be_left_to_helm(helm_bin: str, helm_home: Path) -> None:
    objects = render(helm_bin, helm_home, "namespace.create=false")
    assert of_kind(objects, "Namespace") == []
    assert of_kind(objects, "Deployment")


def test_leader_election_namespace(helm_bin: str, helm_home: Path) -> None:
    objects = render(helm_bin, helm_home, "leaderElection.namespace=kube-system")
    for component in ("controller", "cainjector"):
        role = named(objects, "Role", f"certkeeper-{component}:leaderelection")
        binding = named(objects, "RoleBinding", f"certkeeper-{component}:leaderelection")
        assert role["metadata"]["namespace"] == binding["metadata"]["namespace"] == "kube-system"
        assert binding["subjects"][0]["namespace"] == "certkeeper"
        args = container_args(_deployment(objects, component))
        assert flag(args, "leader-election-namespace") == ["kube-system"]


def test_disable_auto_approval(helm_bin: str, helm_home: Path, rendered: list[Obj]) -> None:
    objects = render(helm_bin, helm_home, "disableAutoApproval=true")
    approve = "certkeeper-controller-approve:cert-manager-io"
    assert named(rendered, "ClusterRole", approve)
    assert not [obj for obj in objects if obj["metadata"]["name"] == approve]
    assert flag(container_args(_deployment(objects, "controller")), "controllers") == [
        "*,-certificaterequests-approver"
    ]


def test_approve_signer_names(helm_bin: str, helm_home: Path) -> None:
    objects = render(helm_bin, helm_home, "approveSignerNames={issuers.cert-manager.io/team-a.ca}")
    rule = named(objects, "ClusterRole", "certkeeper-controller-approve:cert-manager-io")["rules"][0]
    assert rule["resourceNames"] == ["issuers.cert-manager.io/team-a.ca"]


def test_aggregation_can_be_switched_off(helm_bin: str, helm_home: Path) -> None:
    objects = render(helm_bin, helm_home, "aggregateClusterRoles=false")
    for name in ("certkeeper-view", "certkeeper-edit"):
        labels = named(objects, "ClusterRole", name)["metadata"]["labels"]
        assert not [label for label in labels if label.startswith("rbac.authorization.k8s.io/aggregate-to-")]
    assert not [obj for obj in objects if obj["metadata"]["name"] == "certkeeper-cluster-view"]


@pytest.mark.parametrize(
    ("release", "values", "prefix"),
    [
        pytest.param("pki", [], "pki-certkeeper", id="release-name"),
        pytest.param("certkeeper-prod", [], "certkeeper-prod", id="release-contains-chart"),
        pytest.param("x", ["fullnameOverride=ck"], "ck", id="override"),
    ],
)
def test_names_follow_the_release_and_stay_consistent(
    helm_bin: str, helm_home: Path, release: str, values: list[str], prefix: str
) -> None:
    objects = render(helm_bin, helm_home, *values, release=release)
    service_accounts = {obj["metadata"]["name"] for obj in of_kind(objects, "ServiceAccount")}
    assert service_accounts == {f"{prefix}-{c}" for c in ("controller", "webhook", "cainjector")}
    for binding in of_kind(objects, "ClusterRoleBinding") + of_kind(objects, "RoleBinding"):
        kind = "ClusterRole" if binding["kind"] == "ClusterRoleBinding" else "Role"
        assert named(objects, kind, binding["roleRef"]["name"])
        assert {s["name"] for s in binding["subjects"]} <= service_accounts
    webhook = _deployment(objects, "webhook", prefix)
    ca_secret = f"{prefix}-webhook-ca"
    assert flag(container_args(webhook), "dynamic-serving-ca-secret-name") == [ca_secret]
    role = named(objects, "Role", f"{prefix}-webhook:dynamic-serving")
    assert role["rules"][0]["resourceNames"] == [ca_secret]
    config = named(objects, "ValidatingWebhookConfiguration", f"{prefix}-webhook")
    assert config["metadata"]["annotations"]["cert-manager.io/inject-ca-from-secret"] == f"certkeeper/{ca_secret}"
    assert config["webhooks"][0]["clientConfig"]["service"]["name"] == f"{prefix}-webhook"
    for deployment in of_kind(objects, "Deployment"):
        labels = deployment["spec"]["template"]["metadata"]["labels"]
        assert labels["app.kubernetes.io/instance"] == release
        assert deployment["spec"]["selector"]["matchLabels"] == labels
    # The Leases' names are fixed in the binaries, whatever the release is called.
    lease_names = {
        name
        for role in of_kind(objects, "Role")
        for rule in role["rules"]
        if "leases" in rule["resources"]
        for name in rule.get("resourceNames", [])
    }
    assert lease_names == {"cert-manager-controller", "cert-manager-cainjector-leader-election"}
