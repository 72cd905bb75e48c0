"""The test control plane itself: it starts and serves the pinned version, identities are who they
claim, RBAC is enforced, the generated CRDs are accepted and every kind round-trips, restarts keep
data, and a failed start leaves no process behind."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import aiohttp
import psutil
import pytest
from kubernetes_asyncio import client as k8s_client
from kubernetes_asyncio import config as k8s_config

from tests.harness.kube import REPO_ROOT, ControlPlane, ControlPlaneError, find_binaries
from tests.harness.kubeclient import CRD_DIR, ApiError, KubeClient, load_manifests
from tests.harness.processes import remove_orphaned_etcd_data

pytestmark = pytest.mark.kube

FIXTURES = REPO_ROOT / "tests" / "fixtures" / "manifests"
#: Metadata the server owns: a create carrying a resourceVersion is refused, the rest is overwritten.
SERVER_METADATA = ("uid", "resourceVersion", "generation", "creationTimestamp", "managedFields")


def _pinned_kubernetes_version() -> str:
    go_mod = (REPO_ROOT / "tools" / "envtest" / "kube-apiserver" / "go.mod").read_text()
    match = re.search(r"^\s*k8s\.io/kubernetes (v1\.\d+\.\d+)", go_mod, re.MULTILINE)
    assert match is not None
    return match.group(1)


async def test_control_plane_is_ready_and_serves_the_pinned_version(kube: KubeClient) -> None:
    assert await kube.request("GET", "/readyz") == "ok"
    version = await kube.request("GET", "/version")
    pinned = _pinned_kubernetes_version()
    assert version["gitVersion"] == pinned
    assert (version["major"], version["minor"]) == ("1", pinned.split(".")[1])


async def _whoami(control_plane: ControlPlane, identity_user: str, groups: list[str]) -> dict[str, Any]:
    identity = control_plane.client_for(identity_user, groups)
    async with KubeClient(identity) as client:
        review = await client.request(
            "POST",
            "/apis/authentication.k8s.io/v1/selfsubjectreviews",
            body={"apiVersion": "authentication.k8s.io/v1", "kind": "SelfSubjectReview"},
        )
    user_info: dict[str, Any] = review["status"]["userInfo"]
    return user_info


@pytest.mark.parametrize(
    ("user", "groups"),
    [
        pytest.param("admin", ["system:masters"], id="admin"),
        pytest.param("alice", [], id="plain-user"),
        pytest.param("bob", ["team-a", "team-b"], id="user-in-groups"),
    ],
)
async def test_minted_identity_is_the_user_and_groups_asked_for(
    control_plane: ControlPlane, user: str, groups: list[str]
) -> None:
    info = await _whoami(control_plane, user, groups)
    assert info["username"] == user
    assert info["groups"] == [*groups, "system:authenticated"]


async def test_service_account_identity_matches_a_token_user(control_plane: ControlPlane) -> None:
    identity = control_plane.service_account("cert-manager", "certkeeper-controller")
    async with KubeClient(identity) as client:
        review = await client.request(
            "POST",
            "/apis/authentication.k8s.io/v1/selfsubjectreviews",
            body={"apiVersion": "authentication.k8s.io/v1", "kind": "SelfSubjectReview"},
        )
    info = review["status"]["userInfo"]
    assert info["username"] == "system:serviceaccount:cert-manager:certkeeper-controller"
    assert info["groups"] == [
        "system:serviceaccounts",
        "system:serviceaccounts:cert-manager",
        "system:authenticated",
    ]


async def test_rbac_denies_until_a_role_grants(control_plane: ControlPlane, kube: KubeClient, namespace: str) -> None:
    other = await kube.create_namespace("other")
    alice = control_plane.client_for("alice")
    configmaps = f"/api/v1/namespaces/{namespace}/configmaps"
    async with KubeClient(alice) as as_alice:
        assert await as_alice.status_of("GET", configmaps) == 403
        with pytest.raises(ApiError) as denied:
            await as_alice.request("GET", configmaps)
        assert denied.value.status == 403
        assert denied.value.reason == "Forbidden"
        assert 'User "alice" cannot list resource "configmaps"' in denied.value.message
        with pytest.raises(TimeoutError, match="still answers 403, not 200"):
            await as_alice.wait_for_status("GET", configmaps, 200, timeout=0.2)

        await kube.apply(
            [
                {
                    "apiVersion": "rbac.authorization.k8s.io/v1",
                    "kind": "Role",
                    "metadata": {"name": "read-configmaps"},
                    "rules": [{"apiGroups": [""], "resources": ["configmaps"], "verbs": ["get", "list"]}],
                },
                {
                    "apiVersion": "rbac.authorization.k8s.io/v1",
                    "kind": "RoleBinding",
                    "metadata": {"name": "alice-reads-configmaps"},
                    "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "read-configmaps"},
                    "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": "alice"}],
                },
            ],
            namespace=namespace,
        )
        # The authorizer reads RBAC objects through an informer: a new binding applies within moments.
        await as_alice.wait_for_status("GET", configmaps, 200)
        # Only what the Role names, only where it is bound.
        assert await as_alice.status_of("GET", f"/api/v1/namespaces/{namespace}/secrets") == 403
        assert await as_alice.status_of("GET", f"/api/v1/namespaces/{other}/configmaps") == 403
        body = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x"}}
        assert await as_alice.status_of("POST", configmaps, body=body) == 403


async def test_kubeconfig_works_with_kubernetes_asyncio(control_plane: ControlPlane, namespace: str) -> None:
    identity = control_plane.client_for("admin-via-kubeconfig", ["system:masters"])
    path = identity.write_kubeconfig(control_plane.workdir / "kubeconfig-asyncio", namespace=namespace)
    assert path.stat().st_mode & 0o777 == 0o600
    configuration = k8s_client.Configuration()
    await k8s_config.load_kube_config(config_file=str(path), client_configuration=configuration)
    async with k8s_client.ApiClient(configuration) as api:
        listed = await k8s_client.CoreV1Api(api).list_namespaced_config_map(namespace)
    # Every namespace gets its kube-root-ca.crt ConfigMap only from a controller, which does not run here.
    assert listed.items == []


async def test_generated_crds_are_established(crds: list[str], kube: KubeClient) -> None:
    expected = sorted(obj["metadata"]["name"] for obj in load_manifests(CRD_DIR))
    assert sorted(crds) == expected
    assert len(expected) == 6
    # Applying them again changes nothing and draws no warning (deprecated or unknown schema fields).
    await kube.apply_manifests(CRD_DIR)
    assert kube.warnings == []
    for name in expected:
        crd = await kube.request("GET", f"/apis/apiextensions.k8s.io/v1/customresourcedefinitions/{name}")
        conditions = {c["type"]: c["status"] for c in crd["status"]["conditions"]}
        assert conditions["Established"] == "True", name
        assert conditions["NamesAccepted"] == "True", name
        # A structural schema the server had to prune or could not use would show up here.
        assert "NonStructuralSchema" not in conditions, crd["status"]["conditions"]


def _fixture_objects() -> list[Any]:
    """Every object of a CRD kind in tests/fixtures/manifests, as ``pytest.param`` with a readable id."""
    kinds = {obj["spec"]["names"]["kind"] for obj in load_manifests(CRD_DIR)}
    params = []
    covered = set()
    for path in sorted(FIXTURES.glob("*.yaml")):
        for index, obj in enumerate(load_manifests(path)):
            if obj.get("kind") in kinds:
                covered.add(obj["kind"])
                params.append(pytest.param(obj, id=f"{path.stem}-{index}-{obj['kind']}"))
    assert covered == kinds, "every kind needs at least one fixture object"
    return params


def _missing(sent: object, stored: object, path: str = "") -> list[str]:
    """Paths where ``stored`` lacks or changed what ``sent`` had (server defaults may add more)."""
    if isinstance(sent, dict) and isinstance(stored, dict):
        return [p for key, value in sent.items() for p in _missing(value, stored.get(key), f"{path}.{key}")]
    if isinstance(sent, list) and isinstance(stored, list) and len(sent) == len(stored):
        return [p for i, (a, b) in enumerate(zip(sent, stored, strict=True)) for p in _missing(a, b, f"{path}[{i}]")]
    return [] if sent == stored else [f"{path}: sent {sent!r}, stored {stored!r}"]


@pytest.mark.parametrize("fixture_object", _fixture_objects())
async def test_every_kind_round_trips_through_the_api_server(
    crds: list[str], kube: KubeClient, namespace: str, fixture_object: dict[str, Any]
) -> None:
    metadata = {k: v for k, v in fixture_object["metadata"].items() if k not in SERVER_METADATA}
    metadata.pop("namespace", None)
    if fixture_object["kind"] == "ClusterIssuer":  # cluster-scoped: keep names from different tests apart
        metadata["name"] = f"{metadata['name']}-{namespace}"
    status = fixture_object.get("status")
    obj = {k: v for k, v in fixture_object.items() if k != "status"} | {"metadata": metadata}

    created = await kube.create(obj, namespace=namespace)
    assert created["metadata"]["uid"]
    # The server warns about every field the schema does not know (fieldValidation defaults to Warn).
    assert kube.warnings == []
    assert _missing(obj["spec"], created["spec"]) == []
    assert _missing(metadata, created["metadata"]) == []

    if status is not None:
        path = await kube.path_of(created, namespace=namespace)
        updated = await kube.request("PUT", f"{path}/status", body={**created, "status": status})
        assert _missing(status, updated["status"]) == []
        assert kube.warnings == []
        assert updated["spec"] == created["spec"]

    fetched = await kube.get(obj["apiVersion"], obj["kind"], metadata["name"], namespace=namespace)
    assert _missing(obj["spec"], fetched["spec"]) == []


async def test_schema_rejects_an_invalid_object(crds: list[str], kube: KubeClient, namespace: str) -> None:
    bad = {
        "apiVersion": "cert-manager.io/v1",
        "kind": "Certificate",
        "metadata": {"name": "no-secret-name"},
        "spec": {"issuerRef": {"name": "ca"}, "dnsNames": "not-a-list"},
    }
    with pytest.raises(ApiError) as rejected:
        await kube.create(bad, namespace=namespace)
    assert rejected.value.status == 422
    assert "spec.dnsNames" in rejected.value.message
    assert "spec.secretName: Required value" in rejected.value.message


async def test_unknown_fields_are_pruned_with_a_warning(crds: list[str], kube: KubeClient, namespace: str) -> None:
    obj = {
        "apiVersion": "cert-manager.io/v1",
        "kind": "Certificate",
        "metadata": {"name": "with-unknown-field"},
        "spec": {"secretName": "s", "issuerRef": {"name": "ca"}, "dnsNames": ["a.example"], "bogus": 1},
    }
    created = await kube.create(obj, namespace=namespace)
    assert "bogus" not in created["spec"]
    assert _missing(obj["spec"], created["spec"]) == [".bogus: sent 1, stored None"]
    assert any('unknown field "spec.bogus"' in warning for warning in kube.warnings), kube.warnings


async def test_apiserver_restart_keeps_data(control_plane: ControlPlane, kube: KubeClient, namespace: str) -> None:
    created = await kube.create(
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "survivor"}, "data": {"k": "v"}},
        namespace=namespace,
    )
    starts_before = control_plane.apiserver_log().count("==== harness: starting kube-apiserver")

    await control_plane.astop_apiserver()
    with pytest.raises(aiohttp.ClientConnectionError):
        await kube.request("GET", "/readyz")
    await control_plane.astart_apiserver()

    after = await kube.get("v1", "ConfigMap", "survivor", namespace=namespace)
    assert after["metadata"]["resourceVersion"] == created["metadata"]["resourceVersion"]
    assert after["data"] == {"k": "v"}
    log = control_plane.apiserver_log()
    assert log.count("==== harness: starting kube-apiserver") == starts_before + 1
    assert f"127.0.0.1:{control_plane.port}" in log


async def test_paused_apiserver_times_out_then_answers_again(control_plane: ControlPlane, kube: KubeClient) -> None:
    control_plane.pause_apiserver()
    try:
        async with KubeClient(control_plane.admin, timeout=1.0) as impatient:
            with pytest.raises(TimeoutError):
                await impatient.request("GET", "/readyz")
    finally:
        control_plane.resume_apiserver()
    assert await kube.request("GET", "/readyz") == "ok"


def test_sync_restart_and_log_tail(control_plane: ControlPlane) -> None:
    control_plane.restart_apiserver()
    tail = control_plane.log_tail(5)
    assert "--- kube-apiserver (" in tail
    assert "--- etcd (" in tail


def _children_named(name: str) -> set[int]:
    return {p.pid for p in psutil.Process().children(recursive=True) if p.name() == name}


def test_failed_start_raises_with_the_log_and_stops_etcd(tmp_path: Path) -> None:
    etcd_before = _children_named("etcd")
    plane = ControlPlane(workdir=tmp_path, apiserver_args=["--no-such-flag=1"], start_timeout=60)
    with pytest.raises(ControlPlaneError, match=r"kube-apiserver exited with status \d+[\s\S]*no-such-flag"):
        plane.start()
    assert _children_named("etcd") == etcd_before
    assert "unknown flag: --no-such-flag" in plane.apiserver_log()


async def test_async_context_manager_starts_and_stops(tmp_path: Path) -> None:
    async with ControlPlane(workdir=tmp_path) as plane, KubeClient(plane.admin) as client:
        assert await client.request("GET", "/readyz") == "ok"
        assert _children_named("kube-apiserver")
    with pytest.raises(aiohttp.ClientConnectionError):
        async with KubeClient(plane.admin) as client:
            await client.request("GET", "/readyz")


def test_find_binaries_prefers_the_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    found = find_binaries()
    monkeypatch.setenv("CERTKEEPER_KUBE_APISERVER", str(found.kube_apiserver))
    monkeypatch.setenv("CERTKEEPER_ETCD", str(tmp_path / "missing-etcd"))
    with pytest.raises(ControlPlaneError, match="missing-etcd is not an executable file"):
        find_binaries()


_KILLED_RUNNER = """
import os, signal, sys
from pathlib import Path
from tests.harness.kube import ControlPlane
plane = ControlPlane(workdir=Path(sys.argv[1]))
plane.start()
print(" ".join(str(pid) for pid in plane.pids.values()), flush=True)
os.kill(os.getpid(), signal.SIGKILL)
"""


def test_killed_test_process_leaves_no_control_plane_behind(tmp_path: Path) -> None:
    run = subprocess.run(
        [sys.executable, "-c", _KILLED_RUNNER, str(tmp_path)],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert run.returncode == -signal.SIGKILL, run.stderr
    pids = [int(p) for p in run.stdout.split()]
    assert len(pids) == 2
    deadline = time.monotonic() + 20
    while any(psutil.pid_exists(p) and psutil.Process(p).status() != psutil.STATUS_ZOMBIE for p in pids):
        assert time.monotonic() < deadline, f"still running: {pids}"
        time.sleep(0.1)


def test_orphaned_etcd_data_is_removed_and_live_data_kept(tmp_path: Path) -> None:
    exited = subprocess.Popen(["true"])
    exited.wait()
    orphan = tmp_path / f"certkeeper-etcd-{exited.pid}-abc"
    live = tmp_path / f"certkeeper-etcd-{os.getpid()}-def"
    unrelated = tmp_path / "something-else"
    for directory in (orphan, live, unrelated):
        (directory / "member").mkdir(parents=True)
    remove_orphaned_etcd_data(tmp_path)
    assert not orphan.exists()
    assert live.exists()
    assert unrelated.exists()
