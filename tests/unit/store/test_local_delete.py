"""LocalStore delete: preconditions, finalizers, and cascading deletion through owner references."""

from __future__ import annotations

import asyncio

import pytest

from certkeeper.store.local import LocalStore
from certkeeper.store.ports import Conflict, Invalid, NotFound, RawObject, ResourceType

from .conftest import CERTIFICATES, CLUSTER_ISSUERS, SECRETS, FakeClock, cert, owner_ref, secret

REQUESTS = ResourceType(
    group="cert-manager.io", version="v1", kind="CertificateRequest", plural="certificaterequests",
    status_subresource=True,
)  # fmt: skip
ORDERS = ResourceType(
    group="acme.cert-manager.io", version="v1", kind="Order", plural="orders", status_subresource=True
)


def owned(kind: ResourceType, name: str, namespace: str, *owners: RawObject, **meta: object) -> RawObject:
    return {
        "apiVersion": kind.api_version,
        "kind": kind.kind,
        "metadata": {"name": name, "namespace": namespace, "ownerReferences": [owner_ref(o) for o in owners], **meta},
        **({"data": {}} if kind == SECRETS else {"spec": {}}),
    }


async def exists(store: LocalStore, kind: ResourceType, name: str, namespace: str = "ns") -> bool:
    try:
        await store.get(kind, name, namespace=namespace)
    except NotFound:
        return False
    return True


async def test_delete_removes_the_object(store: LocalStore) -> None:
    await store.create(CERTIFICATES, cert("a"))
    await store.delete(CERTIFICATES, "a", namespace="ns")
    assert not await exists(store, CERTIFICATES, "a")
    assert store.resource_version == "2"
    with pytest.raises(NotFound, match=r'certificates\.cert-manager\.io "a" not found'):
        await store.delete(CERTIFICATES, "a", namespace="ns")
    # The name is free again; the new object is another one.
    again = await store.create(CERTIFICATES, cert("a"))
    assert again["metadata"]["resourceVersion"] == "3"


async def test_delete_with_uid_precondition(store: LocalStore) -> None:
    created = await store.create(CERTIFICATES, cert("a"))
    uid = created["metadata"]["uid"]
    with pytest.raises(Conflict) as caught:
        await store.delete(CERTIFICATES, "a", namespace="ns", uid="other-uid")
    assert str(caught.value) == (
        'Operation cannot be fulfilled on certificates.cert-manager.io "a": '
        f"Precondition failed: UID in precondition: other-uid, UID in object meta: {uid}"
    )
    assert await exists(store, CERTIFICATES, "a")
    await store.delete(CERTIFICATES, "a", namespace="ns", uid=uid)
    assert not await exists(store, CERTIFICATES, "a")


async def test_finalizers_hold_the_object_until_removed(store: LocalStore, clock: FakeClock) -> None:
    created = await store.create(
        CERTIFICATES, cert("a", metadata={"name": "a", "namespace": "ns", "finalizers": ["x.io/f"]})
    )
    clock.advance(30)
    await store.delete(CERTIFICATES, "a", namespace="ns")
    deleting = await store.get(CERTIFICATES, "a", namespace="ns")
    assert deleting["metadata"]["deletionTimestamp"] == "2024-05-01T12:00:30Z"
    assert deleting["metadata"]["deletionGracePeriodSeconds"] == 0
    assert deleting["metadata"]["generation"] == created["metadata"]["generation"] + 1
    # Deleting again changes nothing.
    await store.delete(CERTIFICATES, "a", namespace="ns")
    assert await store.get(CERTIFICATES, "a", namespace="ns") == deleting
    # No finalizer may be added while deleting.
    deleting["metadata"]["finalizers"] = ["x.io/f", "y.io/g"]
    with pytest.raises(Invalid) as caught:
        await store.update(CERTIFICATES, deleting)
    assert (
        "metadata.finalizers: Forbidden: no new finalizers can be added if the object is being deleted, "
        'found new finalizers []string{"y.io/g"}'
    ) in str(caught.value)
    # Spec and status may still change.
    deleting["metadata"]["finalizers"] = ["x.io/f"]
    deleting["spec"]["secretName"] = "other"
    deleting = await store.update(CERTIFICATES, deleting)
    assert deleting["metadata"]["deletionTimestamp"] == "2024-05-01T12:00:30Z"
    events = store.watch(CERTIFICATES, resource_version=deleting["metadata"]["resourceVersion"])
    pending = asyncio.ensure_future(anext(events))
    deleting["metadata"]["finalizers"] = []
    final = await store.update(CERTIFICATES, deleting)
    assert not await exists(store, CERTIFICATES, "a")
    event = await asyncio.wait_for(pending, 2)
    assert event.type.value == "DELETED"
    assert event.object == final
    assert final["metadata"]["finalizers"] == []


async def test_secret_with_finalizer_has_no_generation(store: LocalStore) -> None:
    await store.create(SECRETS, secret("s", finalizers=["x.io/f"]))
    await store.delete(SECRETS, "s", namespace="ns")
    deleting = await store.get(SECRETS, "s", namespace="ns")
    assert "generation" not in deleting["metadata"]
    assert "deletionTimestamp" in deleting["metadata"]


async def test_cascading_deletion_through_several_levels(store: LocalStore) -> None:
    certificate = await store.create(CERTIFICATES, cert("a"))
    request = await store.create(REQUESTS, owned(REQUESTS, "a-1", "ns", certificate))
    order = await store.create(ORDERS, owned(ORDERS, "a-1-1", "ns", request))
    await store.create(SECRETS, owned(SECRETS, "order-key", "ns", order))
    await store.create(SECRETS, owned(SECRETS, "unowned", "ns"))
    await store.create(SECRETS, owned(SECRETS, "other-ns", "elsewhere", certificate))
    events = store.watch(SECRETS, resource_version=store.resource_version)
    pending = asyncio.ensure_future(anext(events))
    await store.delete(CERTIFICATES, "a", namespace="ns")
    assert not await exists(store, REQUESTS, "a-1")
    assert not await exists(store, ORDERS, "a-1-1")
    assert not await exists(store, SECRETS, "order-key")
    assert await exists(store, SECRETS, "unowned")
    # A namespaced owner owns nothing in another namespace.
    assert await exists(store, SECRETS, "other-ns", "elsewhere")
    event = await asyncio.wait_for(pending, 2)
    assert (event.type.value, event.object["metadata"]["name"]) == ("DELETED", "order-key")
    # Owner first, then each level, each with its own resourceVersion.
    assert event.object["metadata"]["resourceVersion"] == "10"


async def test_cluster_scoped_owner_collects_dependents_in_every_namespace(store: LocalStore) -> None:
    issuer = await store.create(CLUSTER_ISSUERS, {"metadata": {"name": "ca"}, "spec": {}})
    await store.create(SECRETS, owned(SECRETS, "s1", "a", issuer))
    await store.create(SECRETS, owned(SECRETS, "s2", "b", issuer))
    await store.delete(CLUSTER_ISSUERS, "ca")
    assert (await store.list(SECRETS)).items == []


async def test_dependent_with_another_owner_only_loses_the_reference(store: LocalStore) -> None:
    first = await store.create(CERTIFICATES, cert("a"))
    second = await store.create(CERTIFICATES, cert("b"))
    await store.create(SECRETS, owned(SECRETS, "shared", "ns", first, second))
    await store.delete(CERTIFICATES, "a", namespace="ns")
    shared = await store.get(SECRETS, "shared", namespace="ns")
    assert [r["name"] for r in shared["metadata"]["ownerReferences"]] == ["b"]
    await store.delete(CERTIFICATES, "b", namespace="ns")
    assert not await exists(store, SECRETS, "shared")


async def test_dependent_with_finalizer_is_marked_and_cascades_once_finalized(store: LocalStore) -> None:
    certificate = await store.create(CERTIFICATES, cert("a"))
    request = await store.create(REQUESTS, owned(REQUESTS, "a-1", "ns", certificate, finalizers=["x.io/hold"]))
    await store.create(SECRETS, owned(SECRETS, "req-key", "ns", request))
    await store.delete(CERTIFICATES, "a", namespace="ns")
    held = await store.get(REQUESTS, "a-1", namespace="ns")
    assert "deletionTimestamp" in held["metadata"]
    assert await exists(store, SECRETS, "req-key")
    held["metadata"]["finalizers"] = []
    await store.update(REQUESTS, held)
    assert not await exists(store, REQUESTS, "a-1")
    assert not await exists(store, SECRETS, "req-key")
