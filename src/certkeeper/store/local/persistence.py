"""Durable state of the local store: one SQLite row per object, plus the resourceVersion counter.

The store writes a change here first and makes it visible only after the transaction committed, so what
a caller saw succeed survives a crash or SIGKILL at any point; SQLite's atomic commit means an object is
never half-written. The database runs in WAL mode with ``synchronous=FULL`` (a commit is on disk when
``commit`` returns). All SQLite calls run on one dedicated worker thread, which keeps the event loop free
and serialises writes. The database and its WAL hold Secrets, so they are created mode 0600, and an
advisory lock (``<db>.lock``) keeps a second process from opening the same state. ``MemoryPersistence``
keeps nothing, for tests of components built on the store.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import os
import sqlite3
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Protocol, TypeVar

from certkeeper.store.ports import Unavailable

_T = TypeVar("_T")

SCHEMA_VERSION = 1

_SCHEMA = """
CREATE TABLE IF NOT EXISTS objects (
    resource TEXT NOT NULL,
    namespace TEXT NOT NULL,
    name TEXT NOT NULL,
    rv INTEGER NOT NULL,
    body TEXT NOT NULL,
    managers TEXT,
    PRIMARY KEY (resource, namespace, name)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS counters (
    name TEXT PRIMARY KEY,
    value INTEGER NOT NULL
) WITHOUT ROWID;
INSERT OR IGNORE INTO counters (name, value) VALUES ('resourceVersion', 0);
"""


@dataclass(frozen=True, slots=True)
class Row:
    """One stored object: its key, resourceVersion, JSON body and (optional) apply field sets as JSON."""

    resource: str
    namespace: str
    name: str
    rv: int
    body: bytes
    managers: bytes | None = None


class Persistence(Protocol):
    async def load(self) -> tuple[int, list[Row]]:
        """The persisted resourceVersion counter and every stored object."""
        ...

    async def commit(self, *, upserts: Sequence[Row], deletes: Sequence[tuple[str, str, str]], rv: int) -> None:
        """Write the rows, delete the keys and set the counter to ``rv``, in one transaction."""
        ...

    async def close(self) -> None: ...


class MemoryPersistence:
    """Keeps nothing: the store lives only in memory."""

    async def load(self) -> tuple[int, list[Row]]:
        return 0, []

    async def commit(self, *, upserts: Sequence[Row], deletes: Sequence[tuple[str, str, str]], rv: int) -> None:
        return None

    async def close(self) -> None:
        return None


def _touch_private(path: Path) -> None:
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        os.fchmod(fd, 0o600)
    finally:
        os.close(fd)


def _text(value: bytes | None) -> str | None:
    return value.decode() if value is not None else None


class SqlitePersistence:
    """SQLite in WAL mode with ``synchronous=FULL``, driven from one worker thread."""

    def __init__(self, path: Path) -> None:
        self._path = path
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="certkeeper-sqlite")
        self._conn: sqlite3.Connection | None = None
        self._lock_file: IO[bytes] | None = None

    async def _run(self, fn: Callable[[], _T]) -> _T:
        return await asyncio.get_running_loop().run_in_executor(self._executor, fn)

    async def load(self) -> tuple[int, list[Row]]:
        return await self._run(self._load)

    def _open(self) -> sqlite3.Connection:
        self._path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        lock_path = self._path.with_name(self._path.name + ".lock")
        _touch_private(lock_path)
        lock_file = lock_path.open("rb")
        try:
            fcntl.flock(lock_file, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            lock_file.close()
            raise Unavailable(f"the state database {self._path} is in use by another process") from None
        self._lock_file = lock_file
        _touch_private(self._path)
        for suffix in ("-wal", "-shm"):
            sidecar = self._path.with_name(self._path.name + suffix)
            if sidecar.exists():
                os.chmod(sidecar, 0o600)
        # isolation_level=None: transactions are explicit (BEGIN IMMEDIATE ... COMMIT) below.
        conn = sqlite3.connect(self._path, isolation_level=None)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=FULL")
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        if version > SCHEMA_VERSION:
            conn.close()
            raise Unavailable(f"the state database {self._path} has schema {version}, newer than {SCHEMA_VERSION}")
        conn.executescript(f"BEGIN IMMEDIATE; {_SCHEMA} PRAGMA user_version = {SCHEMA_VERSION}; COMMIT;")
        return conn

    def _load(self) -> tuple[int, list[Row]]:
        if self._conn is None:
            self._conn = self._open()
        conn = self._conn
        rv = conn.execute("SELECT value FROM counters WHERE name = 'resourceVersion'").fetchone()[0]
        rows = [
            Row(resource, namespace, name, int(obj_rv), body.encode(), managers.encode() if managers else None)
            for resource, namespace, name, obj_rv, body, managers in conn.execute(
                "SELECT resource, namespace, name, rv, body, managers FROM objects ORDER BY resource, namespace, name"
            )
        ]
        return int(rv), rows

    async def commit(self, *, upserts: Sequence[Row], deletes: Sequence[tuple[str, str, str]], rv: int) -> None:
        try:
            await self._run(lambda: self._commit(upserts, deletes, rv))
        except sqlite3.Error as exc:
            raise Unavailable(f"local store: could not persist the change: {exc}") from exc

    def _commit(self, upserts: Sequence[Row], deletes: Sequence[tuple[str, str, str]], rv: int) -> None:
        conn = self._conn
        if conn is None:
            raise sqlite3.ProgrammingError("the state database is not open")
        conn.execute("BEGIN IMMEDIATE")
        try:
            conn.executemany(
                "INSERT INTO objects (resource, namespace, name, rv, body, managers) VALUES (?, ?, ?, ?, ?, ?) "
                "ON CONFLICT (resource, namespace, name) DO UPDATE SET "
                "rv = excluded.rv, body = excluded.body, managers = excluded.managers",
                [(r.resource, r.namespace, r.name, r.rv, r.body.decode(), _text(r.managers)) for r in upserts],
            )
            conn.executemany("DELETE FROM objects WHERE resource = ? AND namespace = ? AND name = ?", deletes)
            conn.execute("UPDATE counters SET value = ? WHERE name = 'resourceVersion'", (rv,))
            conn.execute("COMMIT")
        except BaseException:
            with contextlib.suppress(sqlite3.Error):
                conn.execute("ROLLBACK")
            raise

    async def close(self) -> None:
        try:
            await self._run(self._close)
        finally:
            self._executor.shutdown(wait=True)

    def _close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None
        if self._lock_file is not None:
            self._lock_file.close()
            self._lock_file = None
