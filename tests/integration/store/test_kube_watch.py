"""Watches against a real kube-apiserver: event order, bookmarks, timeouts, 410, metadata-only Secrets."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from certkeeper.store.kube import OTHER_SECRETS, OWNED_SECRETS, KubeStore, MetadataStore
from certkeeper.store.ports import EventType, Gone, WatchEvent
from certkeeper.store.resources import SECRETS
from tests.harness.kube import ControlPlane
from tests.harness.kubeclient import KubeClient
from tests.integration.store.conftest import WATCH_TIMEOUT_SECONDS, StoreFactory, secret

pytestmark = pytest.mark.kube


async def collect(events: AsyncIterator[WatchEvent], into: list[WatchEvent], until: int) -> None:
    """Append events to ``into`` until it holds ``until`` of them that are not bookmarks."""
    async for event in events:
        into.append(event)
        if sum(e.type is not EventType.BOOKMARK for e in into) >= until:
            return


async def test_watch_from_a_list_sees_every_change_in_order(store: KubeStore, namespace: str) -> None:
    await store.create(SECRETS, secret("before", namespace))
    listed = await store.list(SECRETS, namespace=namespace)
    seen: list[WatchEvent] = []
    watcher = asyncio.create_task(
        collect(store.watch(SECRETS, resource_version=listed.resource_version, namespace=namespace), seen, 3)
    )
    created = await store.create(SECRETS, secret("a", namespace))
    created["data"]["key"] = "Yg=="
    await store.update(SECRETS, created)
    await store.delete(SECRETS, "a", namespace=namespace)
    await asyncio.wait_for(watcher, 20)
    changes = [(e.type, e.object["metadata"]["name"]) for e in seen if e.type is not EventType.BOOKMARK]
    assert changes == [(EventType.ADDED, "a"), (EventType.MODIFIED, "a"), (EventType.DELETED, "a")]
    assert all(e.object["kind"] == "Secret" for e in seen if e.type is not EventType.BOOKMARK)


async def test_watch_from_empty_starts_with_the_current_objects(store: KubeStore, namespace: str) -> None:
    await store.create(SECRETS, secret("x", namespace))
    await store.create(SECRETS, secret("y", namespace))
    seen: list[WatchEvent] = []
    await asyncio.wait_for(collect(store.watch(SECRETS, resource_version="", namespace=namespace), seen, 2), 20)
    assert sorted((e.type, e.object["metadata"]["name"]) for e in seen) == [
        (EventType.ADDED, "x"),
        (EventType.ADDED, "y"),
    ]


async def test_a_watch_that_sees_nothing_gets_bookmarks_then_ends(
    admin_store_with: StoreFactory, store: KubeStore, kube: KubeClient, namespace: str
) -> None:
    short = admin_store_with(watch_timeout_seconds=WATCH_TIMEOUT_SECONDS)
    created = await short.create(SECRETS, secret("a", namespace))
    rv = created["metadata"]["resourceVersion"]
    elsewhere = await kube.create_namespace("elsewhere")

    async def change_elsewhere() -> str:
        await asyncio.sleep(0.5)
        other = await store.create(SECRETS, secret("b", elsewhere))
        return str(other["metadata"]["resourceVersion"])

    change = asyncio.create_task(change_elsewhere())
    loop = asyncio.get_running_loop()
    started = loop.time()
    events = [e async for e in short.watch(SECRETS, resource_version=rv, namespace=namespace)]
    elapsed = loop.time() - started
    other_rv = await change
    # The server ended the watch at its timeout (between WATCH_TIMEOUT_SECONDS and twice that).
    assert WATCH_TIMEOUT_SECONDS - 1 <= elapsed < 2 * WATCH_TIMEOUT_SECONDS + 5
    assert events
    assert {e.type for e in events} == {EventType.BOOKMARK}
    # A bookmark carries the resourceVersion of the change this watch was not shown, before the timeout.
    assert events[-1].object["metadata"]["resourceVersion"] == other_rv
    assert events[-1].object["kind"] == "Secret"


async def test_watching_from_a_forgotten_resource_version_is_gone(
    forgetful_apiserver: ControlPlane, store: KubeStore, namespace: str
) -> None:
    with pytest.raises(Gone, match=r"too old resource version: 1 \(\d+\)"):
        async for _ in store.watch(SECRETS, resource_version="1", namespace=namespace):
            pass
    with pytest.raises(Gone):
        async for _ in store.watch(SECRETS, resource_version="1"):
            pass


async def test_a_selector_watch_sees_objects_leave_and_enter(store: KubeStore, namespace: str) -> None:
    listed = await store.list(SECRETS, namespace=namespace)
    owned: list[WatchEvent] = []
    others: list[WatchEvent] = []
    rv = listed.resource_version
    owned_task = asyncio.create_task(
        collect(store.watch(SECRETS, resource_version=rv, namespace=namespace, label_selector=OWNED_SECRETS), owned, 1)
    )
    other_task = asyncio.create_task(
        collect(
            MetadataStore(store).watch(SECRETS, resource_version=rv, namespace=namespace, label_selector=OTHER_SECRETS),
            others,
            2,
        )
    )
    created = await store.create(SECRETS, secret("s", namespace))
    created["metadata"]["labels"] = {"controller.cert-manager.io/fao": "true"}
    await store.update(SECRETS, created)
    await asyncio.wait_for(asyncio.gather(owned_task, other_task), 20)
    assert [(e.type, e.object["metadata"]["name"]) for e in others if e.type is not EventType.BOOKMARK] == [
        (EventType.ADDED, "s"),
        (EventType.DELETED, "s"),
    ]
    (added,) = [e for e in owned if e.type is not EventType.BOOKMARK]
    assert added.type is EventType.ADDED
    assert added.object["data"] == {"key": "dmFsdWU="}
    # The metadata-only watch never carried the data.
    for event in others:
        assert event.object["kind"] == "PartialObjectMetadata"
        assert "data" not in event.object


async def test_metadata_only_list_and_get(store: KubeStore, namespace: str) -> None:
    await store.create(SECRETS, secret("plain", namespace, labels={"app": "x"}))
    await store.create(SECRETS, secret("ours", namespace, labels={"controller.cert-manager.io/fao": "true"}))
    page = await store.list_metadata(SECRETS, namespace=namespace, label_selector=OTHER_SECRETS)
    (item,) = page.items
    assert item["kind"] == "PartialObjectMetadata"
    assert item["apiVersion"] == "meta.k8s.io/v1"
    assert item["metadata"]["name"] == "plain"
    assert item["metadata"]["labels"] == {"app": "x"}
    assert set(item) == {"kind", "apiVersion", "metadata"}
    assert page.resource_version
    got = await MetadataStore(store).get(SECRETS, "ours", namespace=namespace)
    assert got["kind"] == "PartialObjectMetadata"
    assert "data" not in got
