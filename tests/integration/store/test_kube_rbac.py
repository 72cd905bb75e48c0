"""What an identity without the rights gets: Forbidden, on every verb."""

from __future__ import annotations

import pytest

from certkeeper.store.kube import KubeStore
from certkeeper.store.ports import Forbidden
from certkeeper.store.resources import SECRETS
from tests.harness.kubeclient import KubeClient
from tests.integration.store.conftest import StoreFactory, once_allowed, secret

pytestmark = pytest.mark.kube


async def test_without_rights_every_verb_is_forbidden(store_for: StoreFactory, namespace: str) -> None:
    nobody = store_for("nobody")
    message = (
        'secrets "a" is forbidden: User "nobody" cannot get resource "secrets" in API group "" '
        f'in the namespace "{namespace}"'
    )
    with pytest.raises(Forbidden) as caught:
        await nobody.get(SECRETS, "a", namespace=namespace)
    assert str(caught.value) == message
    with pytest.raises(Forbidden):
        await nobody.list(SECRETS, namespace=namespace)
    with pytest.raises(Forbidden):
        async for _ in nobody.watch(SECRETS, resource_version="", namespace=namespace):
            pass
    with pytest.raises(Forbidden):
        await nobody.create(SECRETS, secret("a", namespace))
    with pytest.raises(Forbidden):
        await nobody.delete(SECRETS, "a", namespace=namespace)


async def test_a_role_grants_exactly_its_verbs(
    store_for: StoreFactory, store: KubeStore, kube: KubeClient, namespace: str
) -> None:
    await store.create(SECRETS, secret("a", namespace))
    await kube.apply(
        [
            {
                "apiVersion": "rbac.authorization.k8s.io/v1",
                "kind": "Role",
                "metadata": {"name": "reader", "namespace": namespace},
                "rules": [{"apiGroups": [""], "resources": ["secrets"], "verbs": ["get"]}],
            },
            {
                "apiVersion": "rbac.authorization.k8s.io/v1",
                "kind": "RoleBinding",
                "metadata": {"name": "reader", "namespace": namespace},
                "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "reader"},
                "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "Group", "name": "readers"}],
            },
        ]
    )
    reader = store_for("some-reader", ["readers"])
    got = await once_allowed(lambda: reader.get(SECRETS, "a", namespace=namespace))
    assert got is not None
    assert got["metadata"]["name"] == "a"
    with pytest.raises(Forbidden, match='cannot list resource "secrets"'):
        await reader.list(SECRETS, namespace=namespace)
    with pytest.raises(Forbidden, match='cannot get resource "secrets" in API group "" in the namespace "default"'):
        await reader.get(SECRETS, "a", namespace="default")
