"""Merge, JSON and server-side apply patches with field managers against a real kube-apiserver."""

from __future__ import annotations

from typing import Any

import pytest

from certkeeper.store.kube import KubeStore
from certkeeper.store.ports import Conflict, Invalid, NotFound, PatchType, RawObject
from certkeeper.store.resources import CERTIFICATES, SECRETS
from tests.integration.store.conftest import certificate, secret

pytestmark = pytest.mark.kube


def managers(obj: RawObject) -> dict[tuple[str, str], dict[str, Any]]:
    """managedFields by (manager, subresource)."""
    return {(m["manager"], m.get("subresource", "")): m for m in obj["metadata"].get("managedFields") or []}


def applied_secret(namespace: str, **data: str) -> RawObject:
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "tls", "namespace": namespace},
        "data": data,
    }


async def test_merge_and_json_patches(store: KubeStore, namespace: str) -> None:
    await store.create(SECRETS, secret("a", namespace))
    merged = await store.patch(SECRETS, "a", {"metadata": {"labels": {"x": "1"}}}, namespace=namespace)
    assert merged["metadata"]["labels"] == {"x": "1"}
    assert ("certkeeper", "") in managers(merged)
    patched = await store.patch(
        SECRETS,
        "a",
        [{"op": "add", "path": "/metadata/annotations", "value": {"y": "2"}}, {"op": "remove", "path": "/data/key"}],
        namespace=namespace,
        patch_type=PatchType.JSON,
        field_manager="jsonpatcher",
    )
    assert patched["metadata"]["annotations"] == {"y": "2"}
    assert "data" not in patched or "key" not in patched["data"]
    assert managers(patched)[("jsonpatcher", "")]["operation"] == "Update"
    with pytest.raises(Invalid):
        await store.patch(
            SECRETS,
            "a",
            [{"op": "test", "path": "/metadata/name", "value": "b"}],
            namespace=namespace,
            patch_type=PatchType.JSON,
        )
    with pytest.raises(NotFound):
        await store.patch(SECRETS, "missing", {"data": {}}, namespace=namespace)


async def test_apply_creates_and_removes_fields_it_no_longer_applies(store: KubeStore, namespace: str) -> None:
    first = await store.patch(
        SECRETS,
        "tls",
        applied_secret(namespace, a="YQ==", b="Yg=="),
        namespace=namespace,
        patch_type=PatchType.APPLY,
        field_manager="issuing",
        force=True,
    )
    assert first["data"] == {"a": "YQ==", "b": "Yg=="}
    entry = managers(first)[("issuing", "")]
    assert entry["operation"] == "Apply"
    assert set(entry["fieldsV1"]["f:data"]) == {"f:a", "f:b"}

    second = await store.patch(
        SECRETS,
        "tls",
        applied_secret(namespace, a="YQ=="),
        namespace=namespace,
        patch_type=PatchType.APPLY,
        field_manager="issuing",
        force=True,
    )
    assert second["data"] == {"a": "YQ=="}  # b was owned by issuing alone: removed
    assert set(managers(second)[("issuing", "")]["fieldsV1"]["f:data"]) == {"f:a"}


async def test_a_field_another_manager_also_applies_stays(store: KubeStore, namespace: str) -> None:
    async def apply(manager: str, **data: str) -> RawObject:
        return await store.patch(
            SECRETS,
            "tls",
            applied_secret(namespace, **data),
            namespace=namespace,
            patch_type=PatchType.APPLY,
            field_manager=manager,
            force=True,
        )

    await apply("one", shared="cw==", mine="bQ==")
    await apply("two", shared="cw==")
    after = await apply("one", mine="bQ==")
    assert after["data"] == {"shared": "cw==", "mine": "bQ=="}


async def test_apply_conflicts_without_force(store: KubeStore, namespace: str) -> None:
    await store.patch(
        SECRETS,
        "tls",
        applied_secret(namespace, a="YQ=="),
        namespace=namespace,
        patch_type=PatchType.APPLY,
        field_manager="owner",
    )
    with pytest.raises(Conflict, match="conflict"):
        await store.patch(
            SECRETS,
            "tls",
            applied_secret(namespace, a="Yg=="),
            namespace=namespace,
            patch_type=PatchType.APPLY,
            field_manager="intruder",
        )
    taken = await store.patch(
        SECRETS,
        "tls",
        applied_secret(namespace, a="Yg=="),
        namespace=namespace,
        patch_type=PatchType.APPLY,
        field_manager="intruder",
        force=True,
    )
    assert taken["data"] == {"a": "Yg=="}
    owned = managers(taken)
    assert "f:a" in owned[("intruder", "")]["fieldsV1"]["f:data"]
    assert ("owner", "") not in owned  # it owned nothing else


async def test_apply_to_the_status_subresource(store: KubeStore, namespace: str, crds: list[str]) -> None:
    await store.create(CERTIFICATES, certificate("c", namespace))
    condition = {"type": "Ready", "status": "False", "reason": "Pending", "message": "waiting"}
    status_patch = {"apiVersion": "cert-manager.io/v1", "kind": "Certificate", "status": {"conditions": [condition]}}
    applied = await store.patch(
        CERTIFICATES,
        "c",
        status_patch,
        namespace=namespace,
        patch_type=PatchType.APPLY,
        field_manager="readiness",
        force=True,
        subresource="status",
    )
    assert applied["status"]["conditions"] == [condition]
    assert managers(applied)[("readiness", "status")]["operation"] == "Apply"
    assert applied["metadata"]["generation"] == 1

    other = {"type": "Issuing", "status": "True", "reason": "Requested", "message": "now"}
    other_patch = {**status_patch, "status": {"conditions": [other]}}
    await store.patch(
        CERTIFICATES,
        "c",
        other_patch,
        namespace=namespace,
        patch_type=PatchType.APPLY,
        field_manager="trigger",
        force=True,
        subresource="status",
    )
    dropped = await store.patch(
        CERTIFICATES,
        "c",
        {**status_patch, "status": {}},
        namespace=namespace,
        patch_type=PatchType.APPLY,
        field_manager="readiness",
        force=True,
        subresource="status",
    )
    assert dropped["status"]["conditions"] == [other]  # conditions merge by type; readiness's went away


async def test_apply_without_kind_is_invalid(store: KubeStore, namespace: str) -> None:
    with pytest.raises(Invalid):
        await store.patch(
            SECRETS,
            "x",
            {"metadata": {"name": "x"}},
            namespace=namespace,
            patch_type=PatchType.APPLY,
            field_manager="m",
        )
