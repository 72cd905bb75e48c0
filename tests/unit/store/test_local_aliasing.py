"""LocalStore: what a write returns, and what its caller sent, are the caller's to change.

The store hands a write's caller the very dict it stored (encoded) instead of decoding a second copy,
so these tests change every map and list of what a write returned, and of what was sent, and check
that the store, its indexes (labels for watch selectors, owners for cascading deletion) and the next
write do not see it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from certkeeper.store.local import LocalStore
from certkeeper.store.ports import EventType, LabelSelector, NotFound, PatchType, RawObject

from .conftest import CERTIFICATES, SECRETS, cert, owner_ref, secret


def deface(node: Any) -> None:
    """Change every map and list inside ``node`` in place (strings too, where they are values)."""
    if isinstance(node, dict):
        for key, value in list(node.items()):
            if isinstance(value, dict | list):
                deface(value)
            else:
                node[key] = "defaced"
        node["defaced"] = "yes"
    elif isinstance(node, list):
        for item in node:
            deface(item)
        node.append("defaced")


Write = Callable[[LocalStore, RawObject], Awaitable[RawObject]]


async def _create(store: LocalStore, owner: RawObject) -> RawObject:
    return await store.create(SECRETS, secret("s", labels={"app": "x"}, ownerReferences=[owner_ref(owner)]))


async def _update(store: LocalStore, owner: RawObject) -> RawObject:
    current = await _create(store, owner)
    current["data"] = {"b": "Yg=="}
    return await store.update(SECRETS, current)


async def _merge_patch(store: LocalStore, owner: RawObject) -> RawObject:
    await _create(store, owner)
    return await store.patch(SECRETS, "s", {"data": {"b": "Yg=="}}, namespace="ns")


async def _apply_create(store: LocalStore, owner: RawObject) -> RawObject:
    body = secret("s", labels={"app": "x"}, ownerReferences=[owner_ref(owner)])
    return await store.patch(SECRETS, "s", body, namespace="ns", patch_type=PatchType.APPLY, field_manager="m")


async def _apply_update(store: LocalStore, owner: RawObject) -> RawObject:
    await _apply_create(store, owner)
    body = secret("s", data={"b": "Yg=="}, labels={"app": "x"}, ownerReferences=[owner_ref(owner)])
    return await store.patch(SECRETS, "s", body, namespace="ns", patch_type=PatchType.APPLY, field_manager="m")


async def _unchanged_update(store: LocalStore, owner: RawObject) -> RawObject:
    current = await _create(store, owner)
    return await store.update(SECRETS, current)


WRITES: dict[str, Write] = {
    "create": _create,
    "update": _update,
    "merge-patch": _merge_patch,
    "apply-create": _apply_create,
    "apply-update": _apply_update,
    "update-that-changes-nothing": _unchanged_update,
}


@pytest.mark.parametrize("write", WRITES.values(), ids=WRITES.keys())
async def test_changing_what_a_write_returned_reaches_nothing_stored(store: LocalStore, write: Write) -> None:
    owner = await store.create(CERTIFICATES, cert("owner"))
    returned = await write(store, owner)
    stored = await store.get(SECRETS, "s", namespace="ns")
    assert returned == stored
    app_x = LabelSelector(match_labels={"app": "x"})
    selected = store.watch(SECRETS, resource_version=store.resource_version, label_selector=app_x)

    deface(returned)

    assert await store.get(SECRETS, "s", namespace="ns") == stored
    # The label index still says app=x: dropping the label is seen as leaving the selection.
    stored["metadata"]["labels"] = {"app": "y"}
    relabelled = await store.update(SECRETS, stored)
    event = await asyncio.wait_for(anext(selected), 5)
    assert (event.type, event.object["metadata"]["resourceVersion"]) == (
        EventType.DELETED,
        relabelled["metadata"]["resourceVersion"],
    )
    assert event.object["metadata"]["labels"] == {"app": "x"}
    # The owner index still names the Certificate: deleting it collects the Secret.
    await store.delete(CERTIFICATES, "owner", namespace="ns")
    with pytest.raises(NotFound):
        await store.get(SECRETS, "s", namespace="ns")


async def test_changing_what_a_status_update_returned_reaches_nothing_stored(store: LocalStore) -> None:
    created = await store.create(CERTIFICATES, cert("a"))
    created["status"] = {"conditions": [{"type": "Ready", "status": "True"}]}
    returned = await store.update_status(CERTIFICATES, created)
    stored = await store.get(CERTIFICATES, "a", namespace="ns")
    assert returned == stored
    deface(returned)
    assert await store.get(CERTIFICATES, "a", namespace="ns") == stored
    stored["spec"]["dnsNames"] = ["b.example.com"]
    updated = await store.update(CERTIFICATES, stored)
    assert updated["status"] == {"conditions": [{"type": "Ready", "status": "True"}]}
    assert updated["metadata"]["generation"] == 2


async def test_changing_what_was_sent_to_an_apply_reaches_nothing_stored(store: LocalStore) -> None:
    body = secret("s", labels={"app": "x"})
    returned = await store.patch(SECRETS, "s", body, namespace="ns", patch_type=PatchType.APPLY, field_manager="m")
    deface(body)
    assert await store.get(SECRETS, "s", namespace="ns") == returned


async def test_the_deleted_object_a_finalizer_removal_returns_is_the_callers(store: LocalStore) -> None:
    created = await store.create(SECRETS, secret("s", finalizers=["example.com/f"], labels={"app": "x"}))
    await store.delete(SECRETS, "s", namespace="ns")
    deleting = await store.get(SECRETS, "s", namespace="ns")
    watch = store.watch(SECRETS, resource_version=store.resource_version)
    deleting["metadata"]["finalizers"] = []
    gone = await store.update(SECRETS, deleting)
    deface(gone)
    event = await asyncio.wait_for(anext(watch), 5)
    assert event.type is EventType.DELETED
    assert event.object["metadata"]["labels"] == {"app": "x"}
    assert event.object["metadata"]["uid"] == created["metadata"]["uid"]
    with pytest.raises(NotFound):
        await store.get(SECRETS, "s", namespace="ns")
