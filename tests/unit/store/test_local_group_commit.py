"""LocalStore group commit: writes computed during a commit share the next transaction, nothing is seen early."""

from __future__ import annotations

import asyncio
import signal
import sys
from collections.abc import Sequence
from pathlib import Path

import pytest

from certkeeper.store.local import LocalStore
from certkeeper.store.local.persistence import MemoryPersistence, Row
from certkeeper.store.ports import AlreadyExists, Conflict, NotFound, Unavailable

from .conftest import CERTIFICATES, SECRETS, FakeClock, cert


class GatedPersistence(MemoryPersistence):
    """Records every transaction and holds each one until the test opens the gate; may fail them."""

    def __init__(self) -> None:
        self.transactions: list[tuple[list[str], list[str], int]] = []
        self.gate = asyncio.Event()
        self.started = asyncio.Event()
        self.fail_next = False

    async def commit(self, *, upserts: Sequence[Row], deletes: Sequence[tuple[str, str, str]], rv: int) -> None:
        self.started.set()
        await self.gate.wait()
        if self.fail_next:
            self.fail_next = False
            raise Unavailable("disk full")
        self.transactions.append(([row.name for row in upserts], [key[2] for key in deletes], rv))


async def _open(persistence: GatedPersistence, clock: FakeClock) -> LocalStore:
    return await LocalStore.open(persistence, now=clock.now, bookmark_interval=None)


async def test_writes_during_a_commit_share_the_next_transaction(clock: FakeClock) -> None:
    persistence = GatedPersistence()
    async with await _open(persistence, clock) as store:
        first = asyncio.ensure_future(store.create(CERTIFICATES, cert("a")))
        await persistence.started.wait()
        rest = [asyncio.ensure_future(store.create(CERTIFICATES, cert(name))) for name in ("b", "c", "d")]
        deleted = asyncio.ensure_future(store.delete(CERTIFICATES, "b", namespace="ns"))
        await asyncio.sleep(0.01)
        persistence.gate.set()
        created = await asyncio.gather(first, *rest)
        await deleted
        assert [c["metadata"]["resourceVersion"] for c in created] == ["1", "2", "3", "4"]
        # One transaction for "a", one for everything computed while it was in flight ("b" created and
        # deleted in the same group is only a delete).
        assert persistence.transactions == [(["a"], [], 1), (["c", "d"], ["b"], 5)]
        assert [o["metadata"]["name"] for o in (await store.list(CERTIFICATES)).items] == ["a", "c", "d"]


async def test_nothing_is_visible_before_its_transaction_committed(clock: FakeClock) -> None:
    persistence = GatedPersistence()
    async with await _open(persistence, clock) as store:
        events = store.watch(CERTIFICATES, resource_version="0")
        next_event = asyncio.ensure_future(anext(events))
        write = asyncio.ensure_future(store.create(CERTIFICATES, cert("a")))
        await persistence.started.wait()
        await asyncio.sleep(0.01)
        assert not write.done()
        assert not next_event.done()
        assert store.resource_version == "0"
        assert (await store.list(CERTIFICATES)).items == []
        with pytest.raises(NotFound):
            await store.get(CERTIFICATES, "a", namespace="ns")
        persistence.gate.set()
        created = await write
        assert (await asyncio.wait_for(next_event, 2)).object == created
        assert store.resource_version == "1"


async def test_a_refused_write_waits_for_the_commit_it_read(clock: FakeClock) -> None:
    persistence = GatedPersistence()
    async with await _open(persistence, clock) as store:
        first = asyncio.ensure_future(store.create(CERTIFICATES, cert("a")))
        await persistence.started.wait()
        # Computed on the head, which already holds "a": AlreadyExists, but only once "a" is durable.
        again = asyncio.ensure_future(store.create(CERTIFICATES, cert("a")))
        await asyncio.sleep(0.01)
        assert not again.done()
        persistence.gate.set()
        await first
        with pytest.raises(AlreadyExists):
            await again


async def test_a_failed_commit_fails_the_writes_computed_on_it(clock: FakeClock) -> None:
    persistence = GatedPersistence()
    async with await _open(persistence, clock) as store:
        persistence.gate.set()
        base = await store.create(CERTIFICATES, cert("a"))
        persistence.gate.clear()
        persistence.started.clear()
        persistence.fail_next = True
        changed = {**base, "spec": {**base["spec"], "secretName": "first"}}
        first = asyncio.ensure_future(store.update(CERTIFICATES, changed))
        await persistence.started.wait()
        # Computed on top of the failing update: its resourceVersion is the failing one's.
        on_top = {**base, "metadata": {**base["metadata"], "resourceVersion": "2"}, "spec": {"secretName": "x"}}
        second = asyncio.ensure_future(store.update(CERTIFICATES, on_top))
        stale = asyncio.ensure_future(store.update(CERTIFICATES, base))
        await asyncio.sleep(0.01)
        persistence.gate.set()
        with pytest.raises(Unavailable, match="disk full"):
            await first
        with pytest.raises(Unavailable, match="disk full"):
            await second
        # Refused as stale against the head, but the change it read did not persist: Unavailable, not Conflict.
        with pytest.raises(Unavailable, match="disk full"):
            await stale
        assert store.resource_version == "1"
        assert await store.get(CERTIFICATES, "a", namespace="ns") == base
        # The head went back to the committed state: the original version is current again.
        retried = await store.update(CERTIFICATES, changed)
        assert retried["metadata"]["resourceVersion"] == "2"
        assert retried["spec"]["secretName"] == "first"
        with pytest.raises(Conflict):
            await store.update(CERTIFICATES, base)


async def test_a_cancelled_writer_leaves_the_writes_waiting_on_it_alone(clock: FakeClock) -> None:
    persistence = GatedPersistence()
    async with await _open(persistence, clock) as store:
        first = asyncio.ensure_future(store.create(CERTIFICATES, cert("a")))
        await persistence.started.wait()
        # Refused against the head, so it waits for the commit of "a", as "a"'s own writer does.
        again = asyncio.ensure_future(store.create(CERTIFICATES, cert("a")))
        also = asyncio.ensure_future(store.create(CERTIFICATES, cert("a")))
        await asyncio.sleep(0.01)
        first.cancel()
        also.cancel()
        await asyncio.sleep(0.01)
        assert not again.done()
        persistence.gate.set()
        with pytest.raises(AlreadyExists):
            await again
        for cancelled in (first, also):
            with pytest.raises(asyncio.CancelledError):
                await cancelled
        assert persistence.transactions == [(["a"], [], 1)]
        assert (await store.get(CERTIFICATES, "a", namespace="ns"))["metadata"]["resourceVersion"] == "1"


async def test_a_failed_commit_of_a_cancelled_writer_is_reported_to_the_others_only(
    clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    persistence = GatedPersistence()
    async with await _open(persistence, clock) as store:
        persistence.fail_next = True
        first = asyncio.ensure_future(store.create(CERTIFICATES, cert("a")))
        await persistence.started.wait()
        on_top = asyncio.ensure_future(store.create(CERTIFICATES, cert("b")))
        refused = asyncio.ensure_future(store.create(CERTIFICATES, cert("a")))
        await asyncio.sleep(0.01)
        first.cancel()
        on_top.cancel()
        await asyncio.sleep(0.01)
        persistence.gate.set()
        with pytest.raises(Unavailable, match=r"a change this request read was not persisted: .*disk full"):
            await refused
        for cancelled in (first, on_top):
            with pytest.raises(asyncio.CancelledError):
                await cancelled
        assert store.resource_version == "0"
        assert (await store.list(CERTIFICATES)).items == []
    # Nobody was left holding an exception nobody retrieved.
    assert "never retrieved" not in caplog.text


_CONCURRENT_WRITER = """
import asyncio, base64, datetime, sys
from pathlib import Path
from certkeeper.store.local import LocalStore
from certkeeper.store.ports import ResourceType

SECRETS = ResourceType(group="", version="v1", kind="Secret", plural="secrets")

async def writer(store, w):
    i = 0
    while True:
        name = f"w{w}-{i}"
        data = {"n": base64.b64encode(name.encode()).decode()}
        await store.create(SECRETS, {"metadata": {"name": name, "namespace": "ns"}, "data": data})
        print(name, flush=True)
        i += 1

async def main():
    store = await LocalStore.open(Path(sys.argv[1]), now=lambda: datetime.datetime.now(datetime.UTC),
                                  bookmark_interval=None)
    await asyncio.gather(*(writer(store, w) for w in range(8)))

asyncio.run(main())
"""


async def test_sigkill_loses_no_write_of_a_group(clock: FakeClock, db_path: Path) -> None:
    # Eight writers at once: their writes share transactions; every write reported done must survive.
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-c", _CONCURRENT_WRITER, str(db_path), stdout=asyncio.subprocess.PIPE
    )
    assert proc.stdout is not None
    reported: list[str] = []
    try:
        while len(reported) < 120:
            line = await asyncio.wait_for(proc.stdout.readline(), timeout=30)
            assert line, "the writer stopped early"
            reported.append(line.decode().strip())
    finally:
        proc.send_signal(signal.SIGKILL)
    reported += [line for line in (await proc.stdout.read()).decode().splitlines() if line.strip()]
    assert await proc.wait() == -signal.SIGKILL
    async with await LocalStore.open(db_path, now=clock.now, bookmark_interval=None) as store:
        stored = {obj["metadata"]["name"] for obj in (await store.list(SECRETS)).items}
        assert set(reported) <= stored
        assert int(store.resource_version) == len(stored)
