"""Many concurrent writers: optimistic concurrency resolves every race through Conflict and retry."""

from __future__ import annotations

import asyncio

import pytest

from certkeeper.store.local import LocalStore
from certkeeper.store.ports import AlreadyExists, Conflict, EventType

from .conftest import CERTIFICATES, WIDGETS, cert


async def test_concurrent_increments_reach_a_consistent_total(disk_store: LocalStore) -> None:
    await disk_store.create(WIDGETS, {"metadata": {"name": "counter", "namespace": "ns"}, "spec": {"count": 0}})
    events = disk_store.watch(WIDGETS, resource_version=disk_store.resource_version)
    conflicts = 0
    written: list[int] = []

    async def increment(times: int) -> None:
        nonlocal conflicts
        for _ in range(times):
            while True:
                current = await disk_store.get(WIDGETS, "counter", namespace="ns")
                await asyncio.sleep(0)  # let the others read the same version
                current["spec"]["count"] += 1
                try:
                    stored = await disk_store.update(WIDGETS, current)
                except Conflict:
                    conflicts += 1
                    continue
                written.append(int(stored["metadata"]["resourceVersion"]))
                break

    await asyncio.gather(*(increment(8) for _ in range(8)))
    final = await disk_store.get(WIDGETS, "counter", namespace="ns")
    assert final["spec"]["count"] == 64
    assert final["metadata"]["generation"] == 65
    assert conflicts > 0
    assert sorted(written) == list(range(2, 66))
    # Watchers saw every successful write once, in order, each with the count it wrote.
    seen = [await asyncio.wait_for(anext(events), 2) for _ in range(64)]
    assert [e.type for e in seen] == [EventType.MODIFIED] * 64
    assert [e.object["spec"]["count"] for e in seen] == list(range(1, 65))


async def test_concurrent_creates_of_one_name_admit_exactly_one(store: LocalStore) -> None:
    results = await asyncio.gather(
        *(store.create(CERTIFICATES, cert("same")) for _ in range(10)), return_exceptions=True
    )
    assert sum(isinstance(r, dict) for r in results) == 1
    assert sum(isinstance(r, AlreadyExists) for r in results) == 9


async def test_concurrent_generated_names_are_distinct(store: LocalStore) -> None:
    def request() -> dict[str, object]:
        return {"metadata": {"generateName": "req-", "namespace": "ns"}, "spec": {}}

    created = await asyncio.gather(*(store.create(CERTIFICATES, request()) for _ in range(30)))
    assert len({c["metadata"]["name"] for c in created}) == 30


@pytest.mark.parametrize("writers", [2, 16], ids=["two", "sixteen"])
async def test_concurrent_deletes_delete_once(store: LocalStore, writers: int) -> None:
    await store.create(CERTIFICATES, cert("a"))
    results = await asyncio.gather(
        *(store.delete(CERTIFICATES, "a", namespace="ns") for _ in range(writers)), return_exceptions=True
    )
    assert results.count(None) == 1
    assert store.resource_version == "2"
