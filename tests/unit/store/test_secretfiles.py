"""SecretFileSink: layout, modes, atomic version swaps, removal, unsafe names, and driving it from a store."""

from __future__ import annotations

import asyncio
import base64
import logging
import os
import stat
import threading
from collections.abc import Callable
from pathlib import Path

import pytest

from certkeeper.store.local import LocalStore
from certkeeper.store.local.secretfiles import SecretFileSink
from certkeeper.store.ports import RawObject

from .conftest import SECRETS, FakeClock


def b64(text: str | bytes) -> str:
    return base64.b64encode(text.encode() if isinstance(text, str) else text).decode()


def tls_secret(rv: int, crt: str, key: str, name: str = "web", **extra: str) -> RawObject:
    data = {"tls.crt": b64(crt), "tls.key": b64(key), **{k: b64(v) for k, v in extra.items()}}
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": name, "namespace": "ns", "resourceVersion": str(rv), "uid": "u1"},
        "type": "kubernetes.io/tls",
        "data": data,
    }


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def sink(tmp_path: Path) -> SecretFileSink:
    return SecretFileSink(tmp_path / "out")


def test_write_lays_out_files_with_private_modes(sink: SecretFileSink) -> None:
    assert sink.write(tls_secret(1, "CERT", "KEY", **{"ca.crt": "CA", "keystore.jks": "JKS"}))
    current = sink.path_of("ns", "web")
    assert current.is_symlink()
    assert os.readlink(current) == ".versions/web/1-u1"
    assert (current / "tls.crt").read_bytes() == b"CERT"
    assert (current / "tls.key").read_bytes() == b"KEY"
    assert sorted(p.name for p in current.iterdir()) == ["ca.crt", "keystore.jks", "tls.crt", "tls.key"]
    for file in current.iterdir():
        assert mode(file) == 0o600, file
    out = sink.out_dir
    for directory in (out, out / "ns", out / "ns" / ".versions", out / "ns" / ".versions" / "web", current.resolve()):
        assert mode(directory) == 0o700, directory
    assert not sink.write(tls_secret(1, "CERT", "KEY"))  # already current


def test_new_versions_replace_old_ones(sink: SecretFileSink) -> None:
    sink.write(tls_secret(1, "C1", "K1", extra="gone later"))
    sink.write(tls_secret(2, "C2", "K2"))
    sink.write(tls_secret(3, "C3", "K3"))
    current = sink.path_of("ns", "web")
    assert (current / "tls.crt").read_bytes() == b"C3"
    assert not (current / "extra").exists()
    versions = sink.out_dir / "ns" / ".versions" / "web"
    # The previous version stays for readers that resolved it just before the swap; older ones go.
    assert sorted(p.name for p in versions.iterdir()) == ["2-u1", "3-u1"]


def test_leftovers_of_an_interrupted_write_are_cleaned(sink: SecretFileSink) -> None:
    sink.write(tls_secret(1, "C1", "K1"))
    versions = sink.out_dir / "ns" / ".versions" / "web"
    (versions / ".tmp-crashed").mkdir()
    (versions / ".tmp-crashed" / "tls.key").write_bytes(b"half")
    (sink.out_dir / "ns" / ".web.link-deadbeef").symlink_to(".versions/web/1-u1")
    sink.write(tls_secret(2, "C2", "K2"))
    assert sorted(p.name for p in versions.iterdir()) == ["1-u1", "2-u1"]
    # A resync also drops a symlink left half-way through a swap.
    sink.reconcile([tls_secret(2, "C2", "K2")])
    assert sorted(p.name for p in (sink.out_dir / "ns").iterdir()) == [".versions", "web"]


def test_remove_deletes_everything_of_the_secret(sink: SecretFileSink) -> None:
    sink.write(tls_secret(1, "C", "K"))
    sink.write(tls_secret(1, "C", "K", name="other"))
    assert sink.remove("ns", "web")
    assert not sink.path_of("ns", "web").exists()
    assert not (sink.out_dir / "ns" / ".versions" / "web").exists()
    assert sink.path_of("ns", "other").exists()
    assert sink.remove("ns", "other")
    assert not (sink.out_dir / "ns").exists()
    assert not sink.remove("ns", "other")


@pytest.mark.parametrize(
    ("namespace", "name"),
    [("..", "web"), ("ns", ".."), ("ns", "../../etc"), ("a/b", "web"), ("ns", ".versions"), ("", "web")],
    ids=["dotdot-ns", "dotdot-name", "traversal", "slash-ns", "versions-dir", "empty-ns"],
)
def test_unsafe_names_are_refused(sink: SecretFileSink, namespace: str, name: str) -> None:
    secret = tls_secret(1, "C", "K")
    secret["metadata"].update(namespace=namespace, name=name)
    with pytest.raises(ValueError, match="refusing"):
        sink.write(secret)
    with pytest.raises(ValueError, match="refusing"):
        sink.remove(namespace, name)


def test_unsafe_keys_and_bad_data_are_skipped_without_logging_data(
    sink: SecretFileSink, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    secret = tls_secret(1, "C", "PRIVATE-KEY-MATERIAL")
    secret["data"]["../escape"] = b64("PRIVATE-KEY-MATERIAL")
    secret["data"]["broken"] = "PRIVATE-KEY-MATERIAL!"
    with caplog.at_level(logging.DEBUG):
        sink.write(secret)
    assert sorted(p.name for p in sink.path_of("ns", "web").iterdir()) == ["tls.crt", "tls.key"]
    assert not (tmp_path / "out" / "ns" / ".versions" / "escape").exists()
    assert "../escape" in caplog.text
    assert "PRIVATE-KEY-MATERIAL" not in caplog.text


def test_readers_never_see_a_mix_of_two_versions(sink: SecretFileSink) -> None:
    sink.write(tls_secret(0, "cert-0", "key-0"))
    stop = threading.Event()
    mixed: list[tuple[bytes, bytes]] = []
    reads = 0

    def reader() -> None:
        nonlocal reads
        link = sink.path_of("ns", "web")
        while not stop.is_set():
            try:
                directory = Path(os.path.realpath(link))
                crt = (directory / "tls.crt").read_bytes()
                key = (directory / "tls.key").read_bytes()
            except FileNotFoundError:
                continue  # resolved a version that was pruned two swaps later: resolve again
            reads += 1
            if crt.split(b"-")[1] != key.split(b"-")[1]:
                mixed.append((crt, key))

    thread = threading.Thread(target=reader)
    thread.start()
    try:
        for rv in range(1, 150):
            sink.write(tls_secret(rv, f"cert-{rv}", f"key-{rv}"))
    finally:
        stop.set()
        thread.join()
    assert reads > 0
    assert mixed == []


async def _eventually(check: Callable[[], bool]) -> None:
    for _ in range(200):
        if check():
            return
        await asyncio.sleep(0.01)
    raise AssertionError("condition not reached")


async def test_run_follows_the_store(clock: FakeClock, tmp_path: Path) -> None:
    sink = SecretFileSink(tmp_path / "out")
    stale = tls_secret(1, "old", "old", name="deleted-while-down")
    sink.write(stale)
    async with await LocalStore.open(None, now=clock.now, bookmark_interval=None) as store:
        await store.create(SECRETS, {"metadata": {"name": "present", "namespace": "ns"}, "data": {"a": b64("A")}})
        task = asyncio.create_task(sink.run(store))
        try:
            web = sink.path_of("ns", "web")
            # The first reconcile writes what exists, then removes what is gone: wait for both.
            await _eventually(
                lambda: (
                    (sink.path_of("ns", "present") / "a").exists()
                    and not sink.path_of("ns", "deleted-while-down").exists()
                )
            )
            secret = tls_secret(0, "C1", "K1")
            del secret["metadata"]["resourceVersion"], secret["metadata"]["uid"]
            created = await store.create(SECRETS, secret)
            await _eventually(lambda: (web / "tls.crt").exists())
            created["data"]["tls.crt"] = b64("C2")
            await store.update(SECRETS, created)
            await _eventually(lambda: (web / "tls.crt").read_bytes() == b"C2")
            await store.delete(SECRETS, "web", namespace="ns")
            await _eventually(lambda: not web.exists())
        finally:
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
