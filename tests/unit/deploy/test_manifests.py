"""deploy/manifests: hardened pods, least-privilege RBAC with a reason per rule, consistent names, CRDs that exist.

Each check runs on the plain manifests and on the chart's default render (the same objects, but a check on
both keeps a template change from slipping past one of them).
"""

from __future__ import annotations

import re
from typing import Any

import pytest

from tests.unit.deploy.support import (
    CHART,
    DEPLOY,
    MANIFESTS,
    NAMESPACE,
    Obj,
    allows,
    container_args,
    flag,
    grants,
    named,
    of_kind,
)

COMPONENTS = ("controller", "webhook", "cainjector")
CM_GROUPS = ("cert-manager.io", "acme.cert-manager.io")


@pytest.fixture(params=["manifests", "chart"])
def objects(request: pytest.FixtureRequest, manifests: list[Obj]) -> list[Obj]:
    if request.param == "manifests":
        return manifests
    rendered: list[Obj] = request.getfixturevalue("rendered")
    return rendered


# --- pods ---------------------------------------------------------------------------------------------


def test_one_deployment_per_component(objects: list[Obj]) -> None:
    names = sorted(d["metadata"]["name"] for d in of_kind(objects, "Deployment"))
    assert names == sorted(f"certkeeper-{c}" for c in COMPONENTS)


@pytest.mark.parametrize("component", COMPONENTS)
def test_pod_is_hardened(objects: list[Obj], component: str) -> None:
    pod = named(objects, "Deployment", f"certkeeper-{component}")["spec"]["template"]["spec"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    for forbidden in ("hostNetwork", "hostPID", "hostIPC", "initContainers"):
        assert forbidden not in pod
    assert pod["serviceAccountName"] == f"certkeeper-{component}"
    # Every component talks to the API server, so its pod mounts the token its ServiceAccount withholds.
    assert pod["automountServiceAccountToken"] is True
    assert pod["enableServiceLinks"] is False
    for container in pod["containers"]:
        context = container["securityContext"]
        assert context["allowPrivilegeEscalation"] is False
        assert context["readOnlyRootFilesystem"] is True
        assert context["capabilities"] == {"drop": ["ALL"]}
        assert context.get("privileged", False) is False
        assert "runAsUser" not in context or context["runAsUser"] != 0
        assert container["image"] == "certkeeper:0.1.0"
        assert container["args"][0] == component
        # The only writable path is an in-memory /tmp.
        assert [m["mountPath"] for m in container["volumeMounts"]] == ["/tmp"]
    assert pod["volumes"] == [{"name": "tmp", "emptyDir": {"medium": "Memory", "sizeLimit": "16Mi"}}]


def test_service_accounts_withhold_tokens_by_default(objects: list[Obj]) -> None:
    accounts = of_kind(objects, "ServiceAccount")
    assert sorted(a["metadata"]["name"] for a in accounts) == sorted(f"certkeeper-{c}" for c in COMPONENTS)
    for account in accounts:
        assert account["automountServiceAccountToken"] is False
        assert account["metadata"]["namespace"] == NAMESPACE


def test_component_flags(objects: list[Obj]) -> None:
    controller = container_args(named(objects, "Deployment", "certkeeper-controller"))
    assert flag(controller, "cluster-resource-namespace") == ["$(POD_NAMESPACE)"]
    assert flag(controller, "leader-election-namespace") == [NAMESPACE]
    assert flag(controller, "acme-http01-solver-image") == ["certkeeper:0.1.0"]
    webhook = container_args(named(objects, "Deployment", "certkeeper-webhook"))
    assert flag(webhook, "secure-port") == ["10250"]
    assert flag(webhook, "dynamic-serving-ca-secret-name") == ["certkeeper-webhook-ca"]
    assert flag(webhook, "dynamic-serving-ca-secret-namespace") == ["$(POD_NAMESPACE)"]
    assert flag(webhook, "dynamic-serving-dns-names") == [
        "certkeeper-webhook",
        "certkeeper-webhook.$(POD_NAMESPACE)",
        "certkeeper-webhook.$(POD_NAMESPACE).svc",
    ]
    cainjector = container_args(named(objects, "Deployment", "certkeeper-cainjector"))
    assert flag(cainjector, "leader-election-namespace") == [NAMESPACE]
    for component in COMPONENTS:
        pod = named(objects, "Deployment", f"certkeeper-{component}")["spec"]["template"]["spec"]
        env = pod["containers"][0]["env"]
        assert {"name": "POD_NAMESPACE", "valueFrom": {"fieldRef": {"fieldPath": "metadata.namespace"}}} in env


def test_services_reach_their_pods(objects: list[Obj]) -> None:
    services = {s["metadata"]["name"]: s for s in of_kind(objects, "Service")}
    assert sorted(services) == ["certkeeper-controller", "certkeeper-webhook"]
    expected_ports = {"certkeeper-controller": (9402, "http-metrics"), "certkeeper-webhook": (443, "https")}
    for name, service in services.items():
        pod = named(objects, "Deployment", name)["spec"]["template"]
        assert service["spec"]["selector"] == pod["metadata"]["labels"]
        (port,) = service["spec"]["ports"]
        assert (port["port"], port["targetPort"]) == expected_ports[name]
        assert port["targetPort"] in {p["name"] for p in pod["spec"]["containers"][0]["ports"]}
    webhook_ports = named(objects, "Deployment", "certkeeper-webhook")["spec"]["template"]["spec"]["containers"][0]
    assert {p["name"]: p["containerPort"] for p in webhook_ports["ports"]} == {"https": 10250, "healthcheck": 6080}


def test_namespaced_objects_are_in_the_namespace(objects: list[Obj]) -> None:
    cluster_scoped = {
        "Namespace",
        "ClusterRole",
        "ClusterRoleBinding",
        "ValidatingWebhookConfiguration",
        "MutatingWebhookConfiguration",
    }
    for obj in objects:
        if obj["kind"] in cluster_scoped:
            assert "namespace" not in obj["metadata"], obj["metadata"]["name"]
        else:
            assert obj["metadata"]["namespace"] == NAMESPACE, obj["metadata"]["name"]
    assert named(objects, "Namespace", NAMESPACE)


# --- webhook configurations ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "path", "rule", "selector"),
    [
        pytest.param(
            "ValidatingWebhookConfiguration",
            "/validate",
            {
                "apiGroups": ["cert-manager.io", "acme.cert-manager.io"],
                "apiVersions": ["v1"],
                "operations": ["CREATE", "UPDATE"],
                "resources": ["*/*"],
            },
            {
                "matchExpressions": [
                    {"key": "cert-manager.io/disable-validation", "operator": "NotIn", "values": ["true"]}
                ]
            },
            id="validating",
        ),
        pytest.param(
            "MutatingWebhookConfiguration",
            "/mutate",
            {
                "apiGroups": ["cert-manager.io"],
                "apiVersions": ["v1"],
                "operations": ["CREATE"],
                "resources": ["certificaterequests"],
            },
            None,
            id="mutating",
        ),
    ],
)
def test_webhook_configuration(
    objects: list[Obj], kind: str, path: str, rule: dict[str, Any], selector: dict[str, Any] | None
) -> None:
    config = named(objects, kind, "certkeeper-webhook")
    webhook_args = container_args(named(objects, "Deployment", "certkeeper-webhook"))
    (ca_secret,) = flag(webhook_args, "dynamic-serving-ca-secret-name")
    assert config["metadata"]["annotations"] == {"cert-manager.io/inject-ca-from-secret": f"{NAMESPACE}/{ca_secret}"}
    (webhook,) = config["webhooks"]
    assert webhook["name"] == "webhook.cert-manager.io"
    assert webhook["rules"] == [rule]
    assert webhook.get("namespaceSelector") == selector
    assert webhook["failurePolicy"] == "Fail"
    assert webhook["sideEffects"] == "None"
    assert webhook["timeoutSeconds"] == 30
    assert webhook["admissionReviewVersions"] == ["v1"]
    assert webhook["matchPolicy"] == "Equivalent"
    assert webhook["clientConfig"] == {"service": {"name": "certkeeper-webhook", "namespace": NAMESPACE, "path": path}}
    assert "caBundle" not in webhook["clientConfig"]


# --- RBAC ------------------------------------------------------------------------------------------------


def _roles(objects: list[Obj]) -> list[Obj]:
    return of_kind(objects, "ClusterRole") + of_kind(objects, "Role")


def test_bindings_tie_roles_to_component_accounts(objects: list[Obj]) -> None:
    expected = {
        ("ClusterRoleBinding", "certkeeper-controller"): "certkeeper-controller",
        ("ClusterRoleBinding", "certkeeper-controller-approve:cert-manager-io"): "certkeeper-controller",
        ("RoleBinding", "certkeeper-controller:leaderelection"): "certkeeper-controller",
        ("RoleBinding", "certkeeper-webhook:dynamic-serving"): "certkeeper-webhook",
        ("ClusterRoleBinding", "certkeeper-webhook:subjectaccessreviews"): "certkeeper-webhook",
        ("ClusterRoleBinding", "certkeeper-cainjector"): "certkeeper-cainjector",
        ("RoleBinding", "certkeeper-cainjector:leaderelection"): "certkeeper-cainjector",
    }
    bindings = of_kind(objects, "ClusterRoleBinding") + of_kind(objects, "RoleBinding")
    assert {(b["kind"], b["metadata"]["name"]): None for b in bindings}.keys() == expected.keys()
    for binding in bindings:
        account = expected[(binding["kind"], binding["metadata"]["name"])]
        assert binding["subjects"] == [{"kind": "ServiceAccount", "name": account, "namespace": NAMESPACE}]
        role_kind = "ClusterRole" if binding["kind"] == "ClusterRoleBinding" else "Role"
        assert binding["roleRef"] == {
            "apiGroup": "rbac.authorization.k8s.io",
            "kind": role_kind,
            "name": binding["metadata"]["name"],
        }
        role = named(objects, role_kind, binding["roleRef"]["name"])
        assert role["metadata"].get("namespace") == binding["metadata"].get("namespace")
    # The user-facing roles are bound by cluster admins, never to a component.
    for user_role in ("certkeeper-view", "certkeeper-edit", "certkeeper-cluster-view"):
        assert not [b for b in bindings if b["roleRef"]["name"] == user_role]


def test_no_role_has_wildcards_or_escalation_verbs(objects: list[Obj]) -> None:
    for role in _roles(objects):
        for rule in role["rules"]:
            for field in ("apiGroups", "resources", "verbs"):
                assert "*" not in rule[field], (role["metadata"]["name"], rule)
            assert not {"escalate", "bind", "impersonate"} & set(rule["verbs"]), role["metadata"]["name"]
            assert "nonResourceURLs" not in rule


def _component_grants(objects: list[Obj], account: str) -> set[tuple[str, str, str, str, str]]:
    """(scope, group, resource, verb, resourceName) granted to a component's ServiceAccount; scope is
    "cluster" or the Role's namespace."""
    result: set[tuple[str, str, str, str, str]] = set()
    for binding in of_kind(objects, "ClusterRoleBinding") + of_kind(objects, "RoleBinding"):
        if binding["subjects"][0]["name"] != account:
            continue
        role_kind = "ClusterRole" if binding["kind"] == "ClusterRoleBinding" else "Role"
        role = named(objects, role_kind, binding["roleRef"]["name"])
        scope = role["metadata"].get("namespace", "cluster")
        result |= {(scope, *grant) for grant in grants(role["rules"])}
    return result


def _expand(scope: str, group: str, resources: str, verbs: str, names: str = "") -> set[tuple[str, ...]]:
    return {
        (scope, group, resource, verb, name)
        for resource in resources.split()
        for verb in verbs.split()
        for name in names.split() or [""]
    }


APPROVED_SIGNERS = "issuers.cert-manager.io/* clusterissuers.cert-manager.io/*"

#: Exactly what each component may do; a change here is a security review (deploy/README.md says why).
EXPECTED_GRANTS: dict[str, list[tuple[str, ...]]] = {
    "certkeeper-controller": [
        ("cluster", "cert-manager.io", "certificates", "get list watch"),
        ("cluster", "cert-manager.io", "certificates/status certificates/finalizers", "update"),
        ("cluster", "cert-manager.io", "certificaterequests", "get list watch create delete"),
        ("cluster", "cert-manager.io", "certificaterequests/status certificaterequests/finalizers", "update"),
        ("cluster", "cert-manager.io", "issuers clusterissuers", "get list watch"),
        ("cluster", "cert-manager.io", "issuers/status clusterissuers/status", "update"),
        ("cluster", "cert-manager.io", "signers", "approve", APPROVED_SIGNERS),
        ("cluster", "acme.cert-manager.io", "orders", "get list watch create delete"),
        ("cluster", "acme.cert-manager.io", "orders/status orders/finalizers", "update"),
        ("cluster", "acme.cert-manager.io", "challenges", "get list watch create delete update"),
        ("cluster", "acme.cert-manager.io", "challenges/status challenges/finalizers", "update"),
        ("cluster", "", "secrets", "get list watch create update patch delete"),
        ("cluster", "", "events", "create patch"),
        ("cluster", "", "pods services", "get list watch create delete"),
        ("cluster", "networking.k8s.io", "ingresses", "get list watch create delete update"),
        ("cluster", "gateway.networking.k8s.io", "httproutes", "get list watch create delete"),
        (NAMESPACE, "coordination.k8s.io", "leases", "get update", "cert-manager-controller"),
        (NAMESPACE, "coordination.k8s.io", "leases", "create"),
    ],
    "certkeeper-webhook": [
        ("cluster", "authorization.k8s.io", "subjectaccessreviews", "create"),
        (NAMESPACE, "", "secrets", "get update", "certkeeper-webhook-ca"),
        (NAMESPACE, "", "secrets", "create"),
    ],
    "certkeeper-cainjector": [
        ("cluster", "cert-manager.io", "certificates", "get list watch"),
        ("cluster", "", "secrets", "get list watch"),
        (
            "cluster",
            "admissionregistration.k8s.io",
            "validatingwebhookconfigurations mutatingwebhookconfigurations",
            "get list watch patch",
        ),
        ("cluster", "apiregistration.k8s.io", "apiservices", "get list watch patch"),
        ("cluster", "apiextensions.k8s.io", "customresourcedefinitions", "get list watch patch"),
        (NAMESPACE, "coordination.k8s.io", "leases", "get update", "cert-manager-cainjector-leader-election"),
        (NAMESPACE, "coordination.k8s.io", "leases", "create"),
    ],
}


@pytest.mark.parametrize("account", sorted(EXPECTED_GRANTS))
def test_component_grants_are_exactly_the_reviewed_ones(objects: list[Obj], account: str) -> None:
    expected = set().union(*(_expand(*row) for row in EXPECTED_GRANTS[account]))
    assert _component_grants(objects, account) == expected


def test_only_the_controller_reads_secrets_cluster_wide_and_only_it_writes_them(objects: list[Obj]) -> None:
    webhook = _component_grants(objects, "certkeeper-webhook")
    # The webhook's Secret rights are in its namespace, and all but create are limited to its CA Secret.
    assert not [g for g in webhook if g[2] == "secrets" and (g[0] == "cluster" or (g[3] != "create" and not g[4]))]
    cainjector = _component_grants(objects, "certkeeper-cainjector")
    assert not [g for g in cainjector if g[2] == "secrets" and g[3] not in {"get", "list", "watch"}]


def _rules_with_comments(text: str) -> list[tuple[str, str | None]]:
    """(first line of each rule, the comment line just above it or None) for every `rules:` list."""
    lines = text.splitlines()
    found: list[tuple[str, str | None]] = []
    in_rules = False
    for index, line in enumerate(lines):
        if re.match(r"^rules:\s*$", line):
            in_rules = True
            continue
        if in_rules and re.match(r"^\S", line):
            in_rules = False
        if in_rules and re.match(r"^  - ", line):
            above = lines[index - 1].strip()
            found.append((line.strip(), above if above.startswith("# ") and len(above) > 12 else None))
    return found


@pytest.mark.parametrize(
    "path",
    [
        *(MANIFESTS / f"{c}.yaml" for c in COMPONENTS),
        MANIFESTS / "user-roles.yaml",
        CHART / "templates" / "controller-rbac.yaml",
        CHART / "templates" / "webhook-rbac.yaml",
        CHART / "templates" / "cainjector.yaml",
        CHART / "templates" / "user-roles.yaml",
    ],
    ids=lambda p: str(p.relative_to(DEPLOY)),
)
def test_every_rule_says_why(path: Any) -> None:
    rules = _rules_with_comments(path.read_text())
    assert rules, f"no rules found in {path}"
    undocumented = [rule for rule, comment in rules if comment is None]
    assert undocumented == [], f"rules without a comment above them in {path}"


def test_controller_role_has_a_comment_per_rule_counted(manifests: list[Obj]) -> None:
    """The comment check sees every rule of the controller's ClusterRole (the parser does not skip any)."""
    text = (MANIFESTS / "controller.yaml").read_text()
    role = named(manifests, "ClusterRole", "certkeeper-controller")
    approve = named(manifests, "ClusterRole", "certkeeper-controller-approve:cert-manager-io")
    leases = named(manifests, "Role", "certkeeper-controller:leaderelection")
    total = len(role["rules"]) + len(approve["rules"]) + len(leases["rules"])
    assert len(_rules_with_comments(text)) == total


def test_view_role_reads_only(objects: list[Obj]) -> None:
    view = named(objects, "ClusterRole", "certkeeper-view")
    for resource in ("certificates", "certificaterequests", "issuers"):
        for verb in ("get", "list", "watch"):
            assert allows(view["rules"], "cert-manager.io", resource, verb)
    for resource in ("orders", "challenges"):
        for verb in ("get", "list", "watch"):
            assert allows(view["rules"], "acme.cert-manager.io", resource, verb)
    assert {verb for (_, _, verb, _) in grants(view["rules"])} == {"get", "list", "watch"}
    assert not allows(view["rules"], "cert-manager.io", "clusterissuers", "get")
    labels = view["metadata"]["labels"]
    for role in ("view", "edit", "admin", "cluster-reader"):
        assert labels[f"rbac.authorization.k8s.io/aggregate-to-{role}"] == "true"


@pytest.mark.parametrize(
    ("group", "resource", "verb", "allowed"),
    [
        ("cert-manager.io", "certificates", "create", True),
        ("cert-manager.io", "certificates", "update", True),
        ("cert-manager.io", "certificates/status", "update", True),
        ("cert-manager.io", "certificaterequests", "create", True),
        ("cert-manager.io", "certificaterequests", "delete", True),
        ("cert-manager.io", "issuers", "patch", True),
        ("cert-manager.io", "clusterissuers", "create", False),
        ("cert-manager.io", "certificaterequests/status", "update", False),
        ("cert-manager.io", "signers", "approve", False),
        # GHSA-8rvj-mm4h-c258: a user-made Challenge or an edited Order leaks another issuer's credentials.
        ("acme.cert-manager.io", "challenges", "create", False),
        ("acme.cert-manager.io", "orders", "create", False),
        ("acme.cert-manager.io", "orders", "update", False),
        ("acme.cert-manager.io", "orders", "patch", False),
        ("acme.cert-manager.io", "orders/status", "update", False),
        ("acme.cert-manager.io", "challenges/status", "update", False),
        # Deleting makes the controller start over; Challenge spec is immutable (the webhook refuses changes).
        ("acme.cert-manager.io", "orders", "delete", True),
        ("acme.cert-manager.io", "challenges", "delete", True),
        ("acme.cert-manager.io", "challenges", "patch", True),
        ("", "secrets", "get", False),
    ],
)
def test_edit_role(objects: list[Obj], group: str, resource: str, verb: str, allowed: bool) -> None:
    edit = named(objects, "ClusterRole", "certkeeper-edit")
    assert allows(edit["rules"], group, resource, verb) is allowed
    labels = edit["metadata"]["labels"]
    assert labels["rbac.authorization.k8s.io/aggregate-to-edit"] == "true"
    assert labels["rbac.authorization.k8s.io/aggregate-to-admin"] == "true"
    assert "rbac.authorization.k8s.io/aggregate-to-view" not in labels


def test_cluster_view_role(objects: list[Obj]) -> None:
    role = named(objects, "ClusterRole", "certkeeper-cluster-view")
    assert grants(role["rules"]) == {("cert-manager.io", "clusterissuers", v, "") for v in ("get", "list", "watch")}
    assert role["metadata"]["labels"]["rbac.authorization.k8s.io/aggregate-to-cluster-reader"] == "true"


# --- CRDs ------------------------------------------------------------------------------------------------


def _crd_index(crds: list[Obj]) -> dict[tuple[str, str], Obj]:
    return {(crd["spec"]["group"], crd["spec"]["names"]["plural"]): crd for crd in crds}


def test_every_referenced_resource_of_our_groups_has_a_crd(objects: list[Obj], crds: list[Obj]) -> None:
    index = _crd_index(crds)
    referenced: set[tuple[str, str]] = set()
    for role in _roles(objects):
        for group, resource, _, _ in grants(role["rules"]):
            if group in CM_GROUPS and resource != "signers":  # signers: a virtual resource for `approve`
                referenced.add((group, resource))
    assert referenced
    for group, resource in sorted(referenced):
        plural, _, subresource = resource.partition("/")
        assert (group, plural) in index, f"no CRD for {group}/{plural} in deploy/crds"
        if subresource == "status":
            crd = index[(group, plural)]
            assert all("status" in v.get("subresources", {}) for v in crd["spec"]["versions"]), resource
    mutating = named(objects, "MutatingWebhookConfiguration", "certkeeper-webhook")
    validating = named(objects, "ValidatingWebhookConfiguration", "certkeeper-webhook")
    for rule in mutating["webhooks"][0]["rules"]:
        for group in rule["apiGroups"]:
            for resource in rule["resources"]:
                assert (group, resource) in index
    for group in validating["webhooks"][0]["rules"][0]["apiGroups"]:
        versions = [
            v["name"] for crd in crds if crd["spec"]["group"] == group for v in crd["spec"]["versions"] if v["served"]
        ]
        assert versions
        assert set(versions) == {"v1"}
    assert {group for group, _ in index} == set(CM_GROUPS)


def test_readme_documents_every_object_name(manifests: list[Obj]) -> None:
    readme = (DEPLOY / "README.md").read_text()
    for obj in manifests:
        assert f"`{obj['metadata']['name']}`" in readme, f"deploy/README.md does not name {obj['metadata']['name']}"
    for lease in ("cert-manager-controller", "cert-manager-cainjector-leader-election"):
        assert f"`{lease}`" in readme
