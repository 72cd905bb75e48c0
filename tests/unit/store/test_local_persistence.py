"""LocalStore persistence: restart, file modes, exclusive use, failed commits, cancelled writes, SIGKILL."""

from __future__ import annotations

import asyncio
import base64
import os
import random
import signal
import sqlite3
import stat
import sys
from collections.abc import Sequence
from pathlib import Path

import pytest

from certkeeper.store.local import LocalStore
from certkeeper.store.local.persistence import MemoryPersistence, Row
from certkeeper.store.ports import Gone, NotFound, PatchType, Unavailable

from .conftest import CERTIFICATES, SECRETS, FakeClock, cert, secret


async def test_everything_survives_a_restart(clock: FakeClock, db_path: Path) -> None:
    async with await LocalStore.open(db_path, now=clock.now, bookmark_interval=None) as store:
        a = await store.create(CERTIFICATES, cert("a"))
        a["spec"]["secretName"] = "changed"
        a = await store.update(CERTIFICATES, a)
        a = await store.update_status(CERTIFICATES, {**a, "status": {"revision": 3}})
        await store.create(CERTIFICATES, cert("gone"))
        await store.delete(CERTIFICATES, "gone", namespace="ns")
        s = await store.create(SECRETS, secret("s", data={"tls.key": base64.b64encode(b"key").decode()}))
        before = store.resource_version
    async with await LocalStore.open(db_path, now=clock.now, bookmark_interval=None) as store:
        assert store.resource_version == before == "6"
        assert await store.get(CERTIFICATES, "a", namespace="ns") == a
        assert await store.get(SECRETS, "s", namespace="ns") == s
        with pytest.raises(NotFound):
            await store.get(CERTIFICATES, "gone", namespace="ns")
        # Versions continue from the persisted counter, not from the highest object.
        assert (await store.create(CERTIFICATES, cert("b")))["metadata"]["resourceVersion"] == "7"
        # The watch history starts empty: an older version must relist, the current one may watch.
        with pytest.raises(Gone):
            await anext(store.watch(CERTIFICATES, resource_version="5"))
        events = store.watch(CERTIFICATES, resource_version="7")
        pending = asyncio.ensure_future(anext(events))
        await asyncio.sleep(0.01)
        await store.create(CERTIFICATES, cert("c"))
        assert (await asyncio.wait_for(pending, 2)).object["metadata"]["name"] == "c"


async def test_apply_field_sets_survive_a_restart(clock: FakeClock, db_path: Path) -> None:
    config = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s", "labels": {"a": "1"}}, "data": {}}
    async with await LocalStore.open(db_path, now=clock.now, bookmark_interval=None) as store:
        await store.patch(SECRETS, "s", config, namespace="ns", patch_type=PatchType.APPLY, field_manager="me")
    config["metadata"] = {"name": "s"}
    async with await LocalStore.open(db_path, now=clock.now, bookmark_interval=None) as store:
        applied = await store.patch(
            SECRETS, "s", config, namespace="ns", patch_type=PatchType.APPLY, field_manager="me"
        )
        assert "labels" not in applied["metadata"]


async def test_database_files_are_private_and_durable(disk_store: LocalStore, db_path: Path) -> None:
    await disk_store.create(SECRETS, secret("s"))
    assert stat.S_IMODE(db_path.parent.stat().st_mode) == 0o700
    for path in (db_path, db_path.with_name(db_path.name + "-wal"), db_path.with_name(db_path.name + ".lock")):
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path
    with sqlite3.connect(db_path) as other:
        assert other.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    persistence = disk_store._persistence
    synchronous = await persistence._run(lambda: persistence._conn.execute("PRAGMA synchronous").fetchone()[0])  # type: ignore[attr-defined]
    assert synchronous == 2  # FULL


async def test_state_is_used_by_one_store_at_a_time(clock: FakeClock, disk_store: LocalStore, db_path: Path) -> None:
    with pytest.raises(Unavailable, match="in use by another process"):
        await LocalStore.open(db_path, now=clock.now, bookmark_interval=None)
    await disk_store.close()
    async with await LocalStore.open(db_path, now=clock.now, bookmark_interval=None) as again:
        assert again.resource_version == "0"


class FailingPersistence(MemoryPersistence):
    async def commit(self, *, upserts: Sequence[Row], deletes: Sequence[tuple[str, str, str]], rv: int) -> None:
        raise Unavailable("disk full")


async def test_a_failed_commit_changes_nothing(clock: FakeClock) -> None:
    async with await LocalStore.open(FailingPersistence(), now=clock.now, bookmark_interval=None) as store:
        events = store.watch(CERTIFICATES, resource_version="0")
        pending = asyncio.ensure_future(anext(events))
        await asyncio.sleep(0.01)
        with pytest.raises(Unavailable, match="disk full"):
            await store.create(CERTIFICATES, cert("a"))
        assert store.resource_version == "0"
        assert (await store.list(CERTIFICATES)).items == []
        assert not pending.done()
        pending.cancel()


class SlowPersistence(MemoryPersistence):
    async def commit(self, *, upserts: Sequence[Row], deletes: Sequence[tuple[str, str, str]], rv: int) -> None:
        await asyncio.sleep(0.05)


async def test_a_cancelled_write_still_completes(clock: FakeClock) -> None:
    async with await LocalStore.open(SlowPersistence(), now=clock.now, bookmark_interval=None) as store:
        write = asyncio.ensure_future(store.create(CERTIFICATES, cert("a")))
        await asyncio.sleep(0.01)
        write.cancel()
        with pytest.raises(asyncio.CancelledError):
            await write
        # Memory and disk agree: the commit that was under way is published.
        await store.create(CERTIFICATES, cert("b"))
        assert [o["metadata"]["name"] for o in (await store.list(CERTIFICATES)).items] == ["a", "b"]


async def test_closed_store_refuses_work(clock: FakeClock) -> None:
    store = await LocalStore.open(None, now=clock.now, bookmark_interval=None)
    await store.close()
    await store.close()
    with pytest.raises(Unavailable, match="closed"):
        await store.get(CERTIFICATES, "a", namespace="ns")
    with pytest.raises(Unavailable, match="closed"):
        await store.create(CERTIFICATES, cert("a"))


_WRITER = """
import asyncio, base64, datetime, sys
from pathlib import Path
from certkeeper.store.local import LocalStore
from certkeeper.store.ports import NotFound, ResourceType

SECRETS = ResourceType(group="", version="v1", kind="Secret", plural="secrets")

def data(i):
    return {"n": base64.b64encode(str(i).encode()).decode(),
            "blob": base64.b64encode(str(i).encode() * 200).decode()}

async def main():
    store = await LocalStore.open(Path(sys.argv[1]), now=lambda: datetime.datetime.now(datetime.UTC),
                                  bookmark_interval=None)
    i = int(sys.argv[2])
    while True:
        name = f"s{i % 13}"
        try:
            obj = await store.get(SECRETS, name, namespace="ns")
        except NotFound:
            obj = await store.create(SECRETS, {"metadata": {"name": name, "namespace": "ns"}, "data": data(i)})
        else:
            obj["data"] = data(i)
            obj = await store.update(SECRETS, obj)
        print(name, obj["metadata"]["resourceVersion"], i, flush=True)
        i += 1

asyncio.run(main())
"""


async def _run_and_kill(db_path: Path, start: int, rng: random.Random) -> list[tuple[str, int, int]]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-c", _WRITER, str(db_path), str(start), stdout=asyncio.subprocess.PIPE
    )
    assert proc.stdout is not None
    target = rng.randint(5, 60)
    reported: list[tuple[str, int, int]] = []
    try:
        while len(reported) < target:
            line = await asyncio.wait_for(proc.stdout.readline(), timeout=30)
            assert line, "the writer stopped early"
            name, rv, i = line.decode().split()
            reported.append((name, int(rv), int(i)))
        await asyncio.sleep(rng.uniform(0, 0.02))
    finally:
        proc.send_signal(signal.SIGKILL)
    # Lines already written before the kill were committed too.
    for text in (await proc.stdout.read()).decode().splitlines():
        parts = text.split()
        if len(parts) == 3:
            reported.append((parts[0], int(parts[1]), int(parts[2])))
    assert await proc.wait() == -signal.SIGKILL
    return reported


async def test_sigkill_loses_no_committed_write(clock: FakeClock, db_path: Path) -> None:
    rng = random.Random(os.getpid())
    start = 0
    for _round in range(2):
        reported = await _run_and_kill(db_path, start, rng)
        last: dict[str, tuple[int, int]] = {}
        for name, rv, i in reported:
            last[name] = (rv, i)
        async with await LocalStore.open(db_path, now=clock.now, bookmark_interval=None) as store:
            assert int(store.resource_version) >= max(rv for _, rv, _ in reported)
            for name, (rv, i) in last.items():
                obj = await store.get(SECRETS, name, namespace="ns")
                stored = int(base64.b64decode(obj["data"]["n"]))
                # Intact, and at least as new as what the writer saw committed.
                assert base64.b64decode(obj["data"]["blob"]) == str(stored).encode() * 200
                assert stored >= i
                assert int(obj["metadata"]["resourceVersion"]) >= rv
            for obj in (await store.list(SECRETS)).items:
                stored = int(base64.b64decode(obj["data"]["n"]))
                assert base64.b64decode(obj["data"]["blob"]) == str(stored).encode() * 200
        start = max(i for _, _, i in reported) + 1000
