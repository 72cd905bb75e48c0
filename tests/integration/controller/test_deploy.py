"""deploy/manifests and the Helm chart's rendered output apply cleanly to a real kube-apiserver.

Every object goes through server-side apply with ``dryRun=All`` (full validation and admission, nothing
stored), so the webhook configurations, which would send every cert-manager.io request to a webhook
that does not run here, change nothing. The Deployments and Services are then applied for real: the API
server accepts them, though without a kubelet no Pod ever runs.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.harness.kubeclient import KubeClient, load_manifests
from tests.integration.controller.conftest import MANIFESTS
from tests.unit.deploy.support import helm_binary, render

pytestmark = pytest.mark.kube

FIELD_MANAGER = "certkeeper-deploy-test"


def _order(obj: dict[str, Any]) -> int:
    return {"Namespace": 0, "CustomResourceDefinition": 1}.get(obj["kind"], 2)


async def dry_run_apply(kube: KubeClient, objects: list[dict[str, Any]]) -> list[str]:
    """Server-side apply each object with dryRun=All; the kinds/names the API server accepted."""
    accepted = []
    for obj in sorted(objects, key=_order):
        path = await kube.path_of(obj)
        answer = await kube.request(
            "PATCH",
            path,
            params={"fieldManager": FIELD_MANAGER, "force": "true", "dryRun": "All"},
            body=obj,
            content_type="application/apply-patch+yaml",
        )
        assert answer["kind"] == obj["kind"]
        assert answer["metadata"]["name"] == obj["metadata"]["name"]
        accepted.append(f"{obj['kind']}/{obj['metadata']['name']}")
    return accepted


async def test_manifests_apply_cleanly(admin: KubeClient) -> None:
    objects = load_manifests(MANIFESTS)
    kinds = {obj["kind"] for obj in objects}
    assert {"Deployment", "Service", "ValidatingWebhookConfiguration", "MutatingWebhookConfiguration"} <= kinds
    admin.warnings.clear()
    accepted = await dry_run_apply(admin, objects)
    assert len(accepted) == len(objects)
    assert admin.warnings == []
    workloads = [obj for obj in objects if obj["kind"] in ("Deployment", "Service")]
    stored = await admin.apply(workloads, field_manager=FIELD_MANAGER)
    assert sorted(o["metadata"]["name"] for o in stored) == sorted(o["metadata"]["name"] for o in workloads)
    controller = await admin.get("apps/v1", "Deployment", "certkeeper-controller", namespace="certkeeper")
    pod = controller["spec"]["template"]["spec"]
    assert pod["serviceAccountName"] == "certkeeper-controller"
    assert pod["containers"][0]["args"][0] == "controller"


async def test_helm_chart_renders_what_applies_cleanly(admin: KubeClient, ns: str, tmp_path: Path) -> None:
    rendered = render(helm_binary(), tmp_path, crds=True)
    kinds = {obj["kind"] for obj in rendered}
    assert {"CustomResourceDefinition", "Deployment", "ClusterRole", "ValidatingWebhookConfiguration"} <= kinds
    admin.warnings.clear()
    accepted = await dry_run_apply(admin, rendered)
    assert len(accepted) == len(rendered)
    assert admin.warnings == []
    # A release with its own name, into a namespace that exists already, applies as well.
    other = render(helm_binary(), tmp_path, "namespace.create=false", f"namespace.name={ns}", release="other")
    assert "Namespace" not in {obj["kind"] for obj in other}
    assert {obj["metadata"].get("namespace") for obj in other if obj["kind"] == "Deployment"} == {ns}
    await dry_run_apply(admin, other)
