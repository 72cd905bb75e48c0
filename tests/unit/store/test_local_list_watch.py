"""LocalStore list (selectors, consistent pages, Gone) and watch (replay, live, bookmarks, Gone, slow watchers)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, AsyncIterator
from typing import cast

import pytest

from certkeeper.store.local import LocalStore
from certkeeper.store.ports import EventType, Gone, Invalid, LabelSelector, WatchEvent

from .conftest import CERTIFICATES, SECRETS, FakeClock, cert, secret


def labelled(name: str, namespace: str = "ns", **labels: str) -> dict[str, object]:
    obj = cert(name, namespace)
    obj["metadata"]["labels"] = labels
    return obj


async def take(events: AsyncIterator[WatchEvent], count: int) -> list[WatchEvent]:
    return [await asyncio.wait_for(anext(events), timeout=2) for _ in range(count)]


def summary(events: list[WatchEvent]) -> list[tuple[str, str, str]]:
    return [
        (e.type.value, e.object["metadata"].get("name", ""), e.object["metadata"]["resourceVersion"]) for e in events
    ]


async def watching(store: LocalStore, count: int = 1) -> None:
    """Wait until ``count`` watches are registered (a watch registers on its first iteration)."""
    for _ in range(1000):
        if store._hub.watcher_count >= count:
            return
        await asyncio.sleep(0)
    raise AssertionError("watch did not start")


async def close(events: AsyncIterator[WatchEvent]) -> None:
    await cast(AsyncGenerator[WatchEvent, None], events).aclose()


@pytest.fixture
async def small_store(clock: FakeClock) -> AsyncIterator[LocalStore]:
    async with await LocalStore.open(
        None, now=clock.now, history_size=3, watch_queue_size=3, bookmark_interval=None
    ) as s:
        yield s


# -- list -----------------------------------------------------------------------------------------------


async def test_list_orders_by_namespace_and_name_and_filters(store: LocalStore) -> None:
    for ns, name in [("b", "x"), ("a", "z"), ("a", "y")]:
        await store.create(CERTIFICATES, cert(name, ns))
    await store.create(SECRETS, secret("s", "a"))
    everything = await store.list(CERTIFICATES)
    assert [(o["metadata"]["namespace"], o["metadata"]["name"]) for o in everything.items] == [
        ("a", "y"),
        ("a", "z"),
        ("b", "x"),
    ]
    assert everything.resource_version == "4"
    assert everything.continue_token == ""
    assert [o["metadata"]["name"] for o in (await store.list(CERTIFICATES, namespace="a")).items] == ["y", "z"]


@pytest.mark.parametrize(
    ("selector", "names"),
    [
        (LabelSelector(match_labels={"tier": "web"}), ["a", "b"]),
        (LabelSelector(match_labels={"tier": "web", "env": "prod"}), ["a"]),
        (LabelSelector(exists=frozenset({"env"})), ["a", "c"]),
        (LabelSelector(not_exists=frozenset({"env"})), ["b", "d"]),
        (LabelSelector(in_={"env": frozenset({"prod", "dev"})}), ["a", "c"]),
        (LabelSelector(not_in={"env": frozenset({"prod"})}), ["b", "c", "d"]),
        (LabelSelector(), ["a", "b", "c", "d"]),
    ],
    ids=["equal", "two-equal", "exists", "not-exists", "in", "not-in", "empty"],
)
async def test_list_with_label_selectors(store: LocalStore, selector: LabelSelector, names: list[str]) -> None:
    await store.create(CERTIFICATES, labelled("a", tier="web", env="prod"))
    await store.create(CERTIFICATES, labelled("b", tier="web"))
    await store.create(CERTIFICATES, labelled("c", tier="db", env="dev"))
    await store.create(CERTIFICATES, labelled("d"))
    found = await store.list(CERTIFICATES, label_selector=selector)
    assert [o["metadata"]["name"] for o in found.items] == names


async def test_pages_show_the_store_as_of_the_first_page(store: LocalStore) -> None:
    for name in "abcde":
        await store.create(CERTIFICATES, cert(name))
    first = await store.list(CERTIFICATES, limit=2)
    assert [o["metadata"]["name"] for o in first.items] == ["a", "b"]
    assert first.continue_token
    # Changes after the first page are not seen by the following pages.
    c = await store.get(CERTIFICATES, "c", namespace="ns")
    c["spec"]["secretName"] = "changed"
    await store.update(CERTIFICATES, c)
    await store.delete(CERTIFICATES, "d", namespace="ns")
    await store.create(CERTIFICATES, cert("f"))
    second = await store.list(CERTIFICATES, limit=2, continue_token=first.continue_token)
    assert [o["metadata"]["name"] for o in second.items] == ["c", "d"]
    assert second.items[0]["spec"]["secretName"] == "c-tls"
    assert second.resource_version == first.resource_version == "5"
    third = await store.list(CERTIFICATES, limit=2, continue_token=second.continue_token)
    assert [o["metadata"]["name"] for o in third.items] == ["e"]
    assert third.continue_token == ""
    fresh = await store.list(CERTIFICATES)
    assert [o["metadata"]["name"] for o in fresh.items] == ["a", "b", "c", "e", "f"]


async def test_pagination_with_filters(store: LocalStore) -> None:
    for i in range(6):
        await store.create(CERTIFICATES, labelled(f"c{i}", keep="yes" if i % 2 else "no"))
    selector = LabelSelector(match_labels={"keep": "yes"})
    names: list[str] = []
    token = ""
    pages = 0
    while True:
        page = await store.list(CERTIFICATES, label_selector=selector, limit=1, continue_token=token)
        names += [o["metadata"]["name"] for o in page.items]
        pages += 1
        token = page.continue_token
        if not token:
            break
    assert names == ["c1", "c3", "c5"]
    assert pages == 3
    assert len((await store.list(CERTIFICATES, limit=0)).items) == 6


async def test_continue_token_from_a_compacted_version_is_gone(small_store: LocalStore) -> None:
    for name in "abc":
        await small_store.create(CERTIFICATES, cert(name))
    first = await small_store.list(CERTIFICATES, limit=1)
    for name in "defg":
        await small_store.create(CERTIFICATES, cert(name))
    with pytest.raises(Gone, match="The provided continue parameter is too old"):
        await small_store.list(CERTIFICATES, limit=1, continue_token=first.continue_token)


@pytest.mark.parametrize(
    "token", ["garbage", "e30", "eyJ2IjoieCJ9"], ids=["not-base64-json", "empty-object", "version"]
)
async def test_bad_continue_token_is_invalid(store: LocalStore, token: str) -> None:
    with pytest.raises(Invalid, match="continue"):
        await store.list(CERTIFICATES, continue_token=token)


# -- watch ----------------------------------------------------------------------------------------------


async def test_watch_from_a_list_sees_live_changes(store: LocalStore) -> None:
    await store.create(CERTIFICATES, cert("before"))
    listed = await store.list(CERTIFICATES)
    events = store.watch(CERTIFICATES, resource_version=listed.resource_version)
    pending = asyncio.ensure_future(take(events, 4))
    await watching(store)
    a = await store.create(CERTIFICATES, cert("a"))
    await store.create(SECRETS, secret("unrelated"))
    a["spec"]["secretName"] = "x"
    await store.update(CERTIFICATES, a)
    await store.update(CERTIFICATES, await store.get(CERTIFICATES, "a", namespace="ns"))  # no-op: no event
    await store.delete(CERTIFICATES, "before", namespace="ns")
    await store.delete(CERTIFICATES, "a", namespace="ns")
    assert summary(await pending) == [
        ("ADDED", "a", "2"),
        ("MODIFIED", "a", "4"),
        ("DELETED", "before", "5"),
        ("DELETED", "a", "6"),
    ]
    await close(events)


async def test_watch_replays_history_then_goes_live(store: LocalStore) -> None:
    for name in "abc":
        await store.create(CERTIFICATES, cert(name))
    events = store.watch(CERTIFICATES, resource_version="1")
    assert summary(await take(events, 2)) == [("ADDED", "b", "2"), ("ADDED", "c", "3")]
    await store.create(CERTIFICATES, cert("d"))
    assert summary(await take(events, 1)) == [("ADDED", "d", "4")]
    await close(events)


async def test_watch_without_version_starts_with_the_current_objects(store: LocalStore) -> None:
    await store.create(CERTIFICATES, cert("b"))
    await store.create(CERTIFICATES, cert("a"))
    for start in ("", "0"):
        events = store.watch(CERTIFICATES, resource_version=start)
        assert summary(await take(events, 2)) == [("ADDED", "a", "2"), ("ADDED", "b", "1")]
        await close(events)


async def test_watch_from_a_compacted_version_is_gone(small_store: LocalStore) -> None:
    for name in "abcde":
        await small_store.create(CERTIFICATES, cert(name))
    with pytest.raises(Gone, match=r"too old resource version: 1 \(2\)"):
        await anext(small_store.watch(CERTIFICATES, resource_version="1"))
    events = small_store.watch(CERTIFICATES, resource_version="2")
    assert [e.object["metadata"]["name"] for e in await take(events, 3)] == ["c", "d", "e"]
    await close(events)
    with pytest.raises(Invalid):
        await anext(small_store.watch(CERTIFICATES, resource_version="abc"))


async def test_bookmarks_on_request_and_periodically(clock: FakeClock, store: LocalStore) -> None:
    await store.create(CERTIFICATES, cert("a"))
    events = store.watch(CERTIFICATES, resource_version="0")
    await take(events, 1)
    await store.create(SECRETS, secret("s"))
    store.request_bookmarks()
    [bookmark] = await take(events, 1)
    assert bookmark.type is EventType.BOOKMARK
    assert bookmark.object == {
        "apiVersion": "cert-manager.io/v1",
        "kind": "Certificate",
        "metadata": {"resourceVersion": "2"},
    }
    await close(events)
    async with await LocalStore.open(None, now=clock.now, bookmark_interval=0.01) as ticking:
        events = ticking.watch(CERTIFICATES, resource_version="0")
        first, second = await take(events, 2)
        assert first.type is second.type is EventType.BOOKMARK
        assert first.object["metadata"]["resourceVersion"] == "0"
        await close(events)


async def test_slow_watcher_is_closed_with_gone_and_never_blocks_writers(small_store: LocalStore) -> None:
    await small_store.create(CERTIFICATES, cert("first"))
    slow = small_store.watch(CERTIFICATES, resource_version="0")
    fast = small_store.watch(CERTIFICATES, resource_version="1")
    await take(slow, 1)
    collected: list[WatchEvent] = []

    async def keep_up() -> None:
        async for event in fast:
            collected.append(event)
            if len(collected) == 10:
                return

    follower = asyncio.ensure_future(keep_up())
    await watching(small_store, 2)
    for i in range(10):
        await asyncio.wait_for(small_store.create(CERTIFICATES, cert(f"c{i}")), timeout=2)
        await asyncio.sleep(0)
    await asyncio.wait_for(follower, timeout=2)
    assert len(collected) == 10
    with pytest.raises(Gone, match="fell more than 3 events behind"):
        await take(slow, 1)


async def test_label_selector_watch_reports_objects_entering_and_leaving(store: LocalStore) -> None:
    events = store.watch(CERTIFICATES, resource_version="0", label_selector=LabelSelector(match_labels={"w": "y"}))
    pending = asyncio.ensure_future(take(events, 3))
    await watching(store)
    obj = await store.create(CERTIFICATES, labelled("a", w="n"))
    obj["metadata"]["labels"] = {"w": "y"}
    obj = await store.update(CERTIFICATES, obj)
    obj["spec"]["secretName"] = "x"
    obj = await store.update(CERTIFICATES, obj)
    obj["metadata"]["labels"] = {"w": "n"}
    await store.update(CERTIFICATES, obj)
    got = await pending
    assert summary(got) == [("ADDED", "a", "2"), ("MODIFIED", "a", "3"), ("DELETED", "a", "4")]
    # The object that left is shown as it was while it matched, at the version of its change.
    assert got[2].object["metadata"]["labels"] == {"w": "y"}
    await close(events)


async def test_namespace_filtered_watch(store: LocalStore) -> None:
    events = store.watch(CERTIFICATES, resource_version="0", namespace="b")
    pending = asyncio.ensure_future(take(events, 1))
    await watching(store)
    await store.create(CERTIFICATES, cert("x", "a"))
    await store.create(CERTIFICATES, cert("y", "b"))
    assert summary(await pending) == [("ADDED", "y", "2")]
    await close(events)


async def test_many_watchers_see_the_same_sequence(store: LocalStore) -> None:
    watchers = [store.watch(CERTIFICATES, resource_version="0") for _ in range(50)]
    tasks = [asyncio.ensure_future(take(w, 5)) for w in watchers]
    await watching(store, 50)
    await asyncio.gather(*(store.create(CERTIFICATES, cert(f"c{i}")) for i in range(5)))
    results = [summary(r) for r in await asyncio.gather(*tasks)]
    assert all(r == results[0] for r in results)
    assert [rv for _, _, rv in results[0]] == ["1", "2", "3", "4", "5"]
    for w in watchers:
        await close(w)
    assert store._hub.watcher_count == 0


async def test_watch_events_are_private_copies(store: LocalStore) -> None:
    a = store.watch(CERTIFICATES, resource_version="0")
    b = store.watch(CERTIFICATES, resource_version="0")
    pending = asyncio.gather(take(a, 1), take(b, 1))
    await watching(store, 2)
    await store.create(CERTIFICATES, cert("x"))
    [[first], [second]] = await pending
    first.object["spec"]["secretName"] = "mutated"
    assert second.object["spec"]["secretName"] == "x-tls"
    assert (await store.get(CERTIFICATES, "x", namespace="ns"))["spec"]["secretName"] == "x-tls"


async def test_watches_end_when_the_store_closes(clock: FakeClock) -> None:
    store = await LocalStore.open(None, now=clock.now, bookmark_interval=None)
    events = store.watch(CERTIFICATES, resource_version="0")
    pending = asyncio.ensure_future(take(events, 1))
    await watching(store)
    await store.close()
    with pytest.raises(StopAsyncIteration):
        await pending
