"""KubeStore's read and write verbs and their errors against a real kube-apiserver."""

from __future__ import annotations

import copy

import pytest

from certkeeper.api.field import ErrorType
from certkeeper.store.kube import KubeStore
from certkeeper.store.ports import AlreadyExists, Conflict, Gone, Invalid, LabelSelector, NotFound
from certkeeper.store.resources import CERTIFICATES, CLUSTER_ISSUERS, SECRETS
from tests.integration.store.conftest import certificate, secret

pytestmark = pytest.mark.kube


async def test_create_get_update_delete(store: KubeStore, namespace: str) -> None:
    created = await store.create(SECRETS, secret("a", namespace))
    meta = created["metadata"]
    assert meta["uid"]
    assert meta["resourceVersion"]
    assert (created["apiVersion"], created["kind"]) == ("v1", "Secret")
    got = await store.get(SECRETS, "a", namespace=namespace)
    assert got["data"] == {"key": "dmFsdWU="}
    assert got["metadata"]["managedFields"][0]["manager"] == "certkeeper"  # from the User-Agent

    got["data"]["key"] = "Y2hhbmdlZA=="
    updated = await store.update(SECRETS, got)
    assert updated["data"]["key"] == "Y2hhbmdlZA=="
    assert int(updated["metadata"]["resourceVersion"]) > int(meta["resourceVersion"])

    await store.delete(SECRETS, "a", namespace=namespace, uid=meta["uid"])
    with pytest.raises(NotFound, match='secrets "a" not found'):
        await store.get(SECRETS, "a", namespace=namespace)
    with pytest.raises(NotFound):
        await store.delete(SECRETS, "a", namespace=namespace)


async def test_create_of_an_existing_name_is_already_exists(store: KubeStore, namespace: str) -> None:
    await store.create(SECRETS, secret("a", namespace))
    with pytest.raises(AlreadyExists, match='secrets "a" already exists'):
        await store.create(SECRETS, secret("a", namespace))


async def test_a_stale_update_is_a_conflict(store: KubeStore, namespace: str) -> None:
    created = await store.create(SECRETS, secret("a", namespace))
    first = copy.deepcopy(created)
    first["data"]["key"] = "MQ=="
    await store.update(SECRETS, first)
    created["data"]["key"] = "Mg=="
    with pytest.raises(Conflict, match="the object has been modified"):
        await store.update(SECRETS, created)


async def test_delete_with_another_uid_is_a_conflict(store: KubeStore, namespace: str) -> None:
    await store.create(SECRETS, secret("a", namespace))
    with pytest.raises(Conflict, match=r"the UID in the precondition \(0{8}-.*\) does not match the UID in record"):
        await store.delete(SECRETS, "a", namespace=namespace, uid="00000000-0000-0000-0000-000000000000")
    assert await store.get(SECRETS, "a", namespace=namespace)


async def test_invalid_objects_carry_every_field_error(store: KubeStore, namespace: str, crds: list[str]) -> None:
    broken = certificate("c", namespace)
    del broken["spec"]["secretName"]
    del broken["spec"]["issuerRef"]
    with pytest.raises(Invalid) as caught:
        await store.create(CERTIFICATES, broken)
    error = caught.value
    assert str(error).startswith('Certificate.cert-manager.io "c" is invalid: ')
    assert {(e.field, e.type) for e in error.errors} == {
        ("spec.secretName", ErrorType.REQUIRED),
        ("spec.issuerRef", ErrorType.REQUIRED),
    }

    bad_secret = secret("bad", namespace)
    bad_secret["data"] = {"no spaces": "YQ=="}
    with pytest.raises(Invalid) as caught:
        await store.create(SECRETS, bad_secret)
    (field_error,) = caught.value.errors
    assert field_error.field == "data[no spaces]"
    assert field_error.type is ErrorType.INVALID
    assert field_error.bad_value == "no spaces"
    assert str(caught.value) == f'Secret "bad" is invalid: {field_error}'


async def test_status_subresource(store: KubeStore, namespace: str, crds: list[str]) -> None:
    created = await store.create(CERTIFICATES, {**certificate("c", namespace), "status": {"revision": 3}})
    assert "status" not in created  # dropped on create
    assert created["metadata"]["generation"] == 1

    with_status = {**created, "status": {"revision": 1}}
    after_status = await store.update_status(CERTIFICATES, with_status)
    assert after_status["status"] == {"revision": 1}
    assert after_status["metadata"]["generation"] == 1

    changed = copy.deepcopy(after_status)
    changed["spec"]["dnsNames"] = ["other.example.com"]
    changed["status"] = {"revision": 99}
    after_update = await store.update(CERTIFICATES, changed)
    assert after_update["status"] == {"revision": 1}  # update leaves status alone
    assert after_update["metadata"]["generation"] == 2

    again = copy.deepcopy(after_update)
    again["spec"]["dnsNames"] = ["ignored.example.com"]
    again["status"] = {"revision": 2}
    after = await store.update_status(CERTIFICATES, again)
    assert after["spec"]["dnsNames"] == ["other.example.com"]  # the status write leaves spec alone
    assert after["status"] == {"revision": 2}
    assert after["metadata"]["generation"] == 2

    with pytest.raises(NotFound):
        await store.update_status(SECRETS, secret("a", namespace))


async def test_cluster_scoped_objects(store: KubeStore, crds: list[str]) -> None:
    issuer = {
        "apiVersion": "cert-manager.io/v1",
        "kind": "ClusterIssuer",
        "metadata": {"name": "kube-crud-selfsigned"},
        "spec": {"selfSigned": {}},
    }
    created = await store.create(CLUSTER_ISSUERS, issuer)
    try:
        assert "namespace" not in created["metadata"]
        assert (await store.get(CLUSTER_ISSUERS, "kube-crud-selfsigned"))["spec"] == {"selfSigned": {}}
        names = [i["metadata"]["name"] for i in (await store.list(CLUSTER_ISSUERS)).items]
        assert "kube-crud-selfsigned" in names
    finally:
        await store.delete(CLUSTER_ISSUERS, "kube-crud-selfsigned")


async def test_list_pages_through_everything(store: KubeStore, namespace: str) -> None:
    for i in range(7):
        await store.create(SECRETS, secret(f"s{i}", namespace, labels={"n": str(i % 2)}))
    pages = []
    token = ""
    while True:
        page = await store.list(SECRETS, namespace=namespace, limit=3, continue_token=token)
        pages.append(page)
        token = page.continue_token
        if not token:
            break
    assert [len(p.items) for p in pages] == [3, 3, 1]
    assert len({p.resource_version for p in pages}) == 1  # one consistent snapshot
    names = [item["metadata"]["name"] for p in pages for item in p.items]
    assert names == [f"s{i}" for i in range(7)]
    assert all(item["kind"] == "Secret" and item["apiVersion"] == "v1" for p in pages for item in p.items)


async def test_list_with_label_selectors(store: KubeStore, namespace: str) -> None:
    await store.create(SECRETS, secret("a", namespace, labels={"app": "web", "tier": "front"}))
    await store.create(SECRETS, secret("b", namespace, labels={"app": "db"}))
    await store.create(SECRETS, secret("c", namespace))

    async def names(selector: LabelSelector) -> list[str]:
        page = await store.list(SECRETS, namespace=namespace, label_selector=selector)
        return sorted(i["metadata"]["name"] for i in page.items)

    assert await names(LabelSelector(match_labels={"app": "web"})) == ["a"]
    assert await names(LabelSelector(exists=frozenset({"app"}))) == ["a", "b"]
    assert await names(LabelSelector(not_exists=frozenset({"app"}))) == ["c"]
    assert await names(LabelSelector(in_={"app": frozenset({"web", "db"})})) == ["a", "b"]
    assert await names(LabelSelector(not_in={"app": frozenset({"web"})})) == ["b", "c"]
    assert await names(LabelSelector(match_labels={"app": "web"}, not_exists=frozenset({"tier"}))) == []


async def test_a_garbage_continue_token_is_refused(store: KubeStore, namespace: str) -> None:
    with pytest.raises((Invalid, Gone)):
        await store.list(SECRETS, namespace=namespace, limit=1, continue_token="bm90IGEgdG9rZW4")


async def test_generate_name(store: KubeStore, namespace: str) -> None:
    obj = secret("", namespace)
    obj["metadata"] = {"generateName": "gen-", "namespace": namespace}
    created = await store.create(SECRETS, obj)
    assert created["metadata"]["name"].startswith("gen-")
