"""Connecting the ways a deployed certkeeper does: in-cluster service-account tokens and exec plugins."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
import yaml

from certkeeper.runtime.clock import FakeClock
from certkeeper.store.kube import KubeStore, Unauthorized, load_in_cluster
from certkeeper.store.ports import Forbidden
from certkeeper.store.resources import SECRETS
from tests.harness.kube import ControlPlane
from tests.harness.kubeclient import KubeClient

pytestmark = pytest.mark.kube


async def service_account_token(kube: KubeClient, namespace: str, name: str) -> str:
    """A bound token for ServiceAccount ``name``, from the TokenRequest API (no token controller runs)."""
    await kube.apply(
        [{"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": name, "namespace": namespace}}]
    )
    request = {"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest", "spec": {"expirationSeconds": 3600}}
    answer = await kube.request("POST", f"/api/v1/namespaces/{namespace}/serviceaccounts/{name}/token", body=request)
    token: str = answer["status"]["token"]
    return token


def pod_files(tmp_path: Path, control_plane: ControlPlane, namespace: str, token: str) -> Path:
    directory = tmp_path / "serviceaccount"
    directory.mkdir()
    (directory / "token").write_text(token)
    (directory / "ca.crt").write_bytes(control_plane.ca_file.read_bytes())
    (directory / "namespace").write_text(namespace)
    return directory


async def test_in_cluster_as_a_service_account_with_token_rotation(
    control_plane: ControlPlane, kube: KubeClient, namespace: str, tmp_path: Path
) -> None:
    first = await service_account_token(kube, namespace, "certkeeper")
    directory = pod_files(tmp_path, control_plane, namespace, first)
    env = {"KUBERNETES_SERVICE_HOST": "127.0.0.1", "KUBERNETES_SERVICE_PORT": str(control_plane.port)}
    clock = FakeClock()
    config = load_in_cluster(env=env, directory=directory, clock=clock)
    assert config.namespace == namespace
    async with KubeStore.from_config(config, clock=clock) as store:
        # No RBAC for it: Forbidden, and the message proves which identity the token carried.
        user = f"system:serviceaccount:{namespace}:certkeeper"
        with pytest.raises(Forbidden, match=f'User "{user}" cannot list resource "secrets"'):
            await store.list(SECRETS, namespace=namespace)

        # The kubelet rotates the file; after the refresh period the new token is used.
        (directory / "token").write_text(await service_account_token(kube, namespace, "rotated"))
        clock.advance(61)
        with pytest.raises(Forbidden, match=f'"system:serviceaccount:{namespace}:rotated"'):
            await store.list(SECRETS, namespace=namespace)

        # A token the server refuses is a 401 (after one re-read of the file).
        (directory / "token").write_text("not-a-token")
        clock.advance(61)
        with pytest.raises(Unauthorized):
            await store.list(SECRETS, namespace=namespace)


async def test_kubeconfig_with_an_exec_plugin(
    control_plane: ControlPlane, kube: KubeClient, namespace: str, tmp_path: Path
) -> None:
    token = await service_account_token(kube, namespace, "exec-user")
    plugin = tmp_path / "plugin.py"
    credential = {
        "apiVersion": "client.authentication.k8s.io/v1",
        "kind": "ExecCredential",
        "status": {"token": token},
    }
    plugin.write_text(f"#!{sys.executable}\nprint({json.dumps(json.dumps(credential))})\n")
    plugin.chmod(0o700)
    kubeconfig = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [
            {
                "name": "c",
                "cluster": {"server": control_plane.server, "certificate-authority": str(control_plane.ca_file)},
            }
        ],
        "users": [
            {"name": "u", "user": {"exec": {"apiVersion": "client.authentication.k8s.io/v1", "command": str(plugin)}}}
        ],
        "contexts": [{"name": "x", "context": {"cluster": "c", "user": "u", "namespace": namespace}}],
        "current-context": "x",
    }
    path = tmp_path / "kubeconfig"
    path.write_text(yaml.safe_dump(kubeconfig))
    async with KubeStore.from_kubeconfig(path) as store:
        assert store.namespace == namespace
        with pytest.raises(Forbidden, match=f'"system:serviceaccount:{namespace}:exec-user"'):
            await store.get(SECRETS, "x", namespace=namespace)
