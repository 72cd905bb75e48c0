"""Mirror every Secret into files, for the programs on a single host (nginx, haproxy, ...).

Layout under the output directory (which the sink owns)::

    <out>/<namespace>/<secretName>            -> .versions/<secretName>/<rv>-<uid>   (symlink)
    <out>/<namespace>/.versions/<secretName>/<rv>-<uid>/<dataKey>                 (tls.crt, tls.key, ...)

so ``<out>/<namespace>/<secretName>/tls.crt`` names the current certificate. Every version is written
into a fresh temporary directory (each file created 0600, written, fsynced; the directory fsynced and
renamed into place), then the ``<secretName>`` symlink is swapped atomically with ``rename(2)`` and its
directory fsynced. Directories are 0700. A reader that resolves ``<out>/<ns>/<name>`` once (``realpath``,
or opening the directory) and reads every file from there sees one version, never a mix of two; the
version before the current one is kept until the next change, so a reader that resolved just before a
swap can still finish. Reading each file through the symlink separately can straddle a swap: that is
the same guarantee Kubernetes gives for mounted Secrets. Keys that disappear disappear with the old
version; a deleted Secret loses its symlink and versions. Names and keys are checked with the API
server's rules before they touch the file system, and data never reaches a log line.

The sink is driven by ``run(store)``: list every Secret and reconcile the directory with it (writes
what is missing or stale, removes what is gone), then follow a watch, relisting after ``Gone`` and
every ``resync_interval``. It works with any ``Store``. File I/O runs on worker threads, one change at
a time, so the event loop never waits on a disk.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import logging
import os
import secrets
import shutil
import tempfile
import threading
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from certkeeper.store.local.kinds import is_config_key
from certkeeper.store.ports import EventType, Gone, RawObject, ResourceType, Store, StoreError
from certkeeper.store.resources import SECRETS
from certkeeper.validation.kube import is_dns1123_label, is_dns1123_subdomain

logger = logging.getLogger(__name__)

_VERSIONS = ".versions"
_DIR_MODE = 0o700
_FILE_MODE = 0o600


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _private_dir(path: Path) -> None:
    """Create ``path`` (and missing parents) as 0700 directories; existing ones are left as they are."""
    missing = []
    for candidate in (path, *path.parents):
        if candidate.is_dir():
            break
        missing.append(candidate)
    for directory in reversed(missing):
        with contextlib.suppress(FileExistsError):
            directory.mkdir(mode=_DIR_MODE)
            os.chmod(directory, _DIR_MODE)
            _fsync_dir(directory.parent)


def _write_file(path: Path, content: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, _FILE_MODE)
    with os.fdopen(fd, "wb") as handle:
        os.fchmod(handle.fileno(), _FILE_MODE)
        handle.write(content)
        handle.flush()
        os.fsync(handle.fileno())


class SecretFileSink:
    """Writes Secrets as files under ``out_dir`` (see the module docstring for layout and guarantees)."""

    def __init__(self, out_dir: Path, *, resync_interval: float = 300.0, resource: ResourceType = SECRETS) -> None:
        self._out = out_dir
        self._resync_interval = resync_interval
        self._resource = resource
        # One change at a time, whichever thread makes it.
        self._lock = threading.Lock()

    @property
    def out_dir(self) -> Path:
        return self._out

    def path_of(self, namespace: str, name: str) -> Path:
        """The stable path of a Secret's directory (a symlink to its current version)."""
        return self._out / namespace / name

    # -- one Secret ---------------------------------------------------------------------------------------

    @staticmethod
    def _names(secret: Mapping[str, Any]) -> tuple[str, str]:
        meta = secret.get("metadata") or {}
        namespace, name = str(meta.get("namespace") or ""), str(meta.get("name") or "")
        if is_dns1123_label(namespace) or is_dns1123_subdomain(name):
            raise ValueError(f"refusing to write Secret {namespace!r}/{name!r}: not a valid namespace and name")
        return namespace, name

    def write(self, secret: Mapping[str, Any]) -> bool:
        """Make the files of ``secret`` current; False when they already were."""
        namespace, name = self._names(secret)
        meta = secret.get("metadata") or {}
        version = f"{meta.get('resourceVersion') or 0}-{meta.get('uid') or secrets.token_hex(8)}"
        with self._lock:
            return self._write_locked(namespace, name, version, secret.get("data") or {})

    def _write_locked(self, namespace: str, name: str, version: str, data: Mapping[str, Any]) -> bool:
        ns_dir = self._out / namespace
        link = ns_dir / name
        target = Path(_VERSIONS) / name / version
        previous = os.readlink(link) if link.is_symlink() else None
        if previous == str(target) and (ns_dir / target).is_dir():
            return False
        versions = ns_dir / _VERSIONS / name
        _private_dir(versions)
        staging = Path(tempfile.mkdtemp(prefix=".tmp-", dir=versions))
        try:
            for key, value in data.items():
                if is_config_key(key) or not isinstance(value, str):
                    logger.warning("skipping key %r of Secret %s/%s: not a valid data key", key, namespace, name)
                    continue
                try:
                    content = base64.b64decode(value, validate=True)
                except (binascii.Error, ValueError):
                    logger.warning("skipping key %r of Secret %s/%s: not base64", key, namespace, name)
                    continue
                _write_file(staging / key, content)
            _fsync_dir(staging)
            final = versions / version
            if final.is_dir():
                # An earlier run completed this very version (renames are atomic): reuse it.
                shutil.rmtree(staging)
            else:
                staging.rename(final)
            _fsync_dir(versions)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
        swap = ns_dir / f".{name}.link-{secrets.token_hex(6)}"
        os.symlink(target, swap)
        try:
            os.replace(swap, link)
        except OSError:
            swap.unlink(missing_ok=True)
            raise
        _fsync_dir(ns_dir)
        keep = {version, Path(previous).name if previous else ""}
        for entry in versions.iterdir():
            if entry.name not in keep:
                shutil.rmtree(entry, ignore_errors=True)
        return True

    def remove(self, namespace: str, name: str) -> bool:
        """Remove a Secret's symlink and versions; False when there was nothing to remove."""
        self._names({"metadata": {"namespace": namespace, "name": name}})
        with self._lock:
            return self._remove_locked(namespace, name)

    def _remove_locked(self, namespace: str, name: str) -> bool:
        ns_dir = self._out / namespace
        link = ns_dir / name
        removed = False
        if link.is_symlink():
            link.unlink()
            _fsync_dir(ns_dir)
            removed = True
        versions = ns_dir / _VERSIONS / name
        if versions.is_dir():
            shutil.rmtree(versions)
            removed = True
        for directory in (ns_dir / _VERSIONS, ns_dir):
            with contextlib.suppress(OSError):
                directory.rmdir()  # only when empty
        return removed

    # -- every Secret -------------------------------------------------------------------------------------

    def _present(self) -> set[tuple[str, str]]:
        found: set[tuple[str, str]] = set()
        if not self._out.is_dir():
            return found
        for ns_dir in self._out.iterdir():
            if not ns_dir.is_dir() or ns_dir.is_symlink() or ns_dir.name.startswith("."):
                continue
            for entry in ns_dir.iterdir():
                if entry.is_symlink() and os.readlink(entry).startswith(_VERSIONS + "/"):
                    found.add((ns_dir.name, entry.name))
            versions = ns_dir / _VERSIONS
            if versions.is_dir():
                found.update((ns_dir.name, v.name) for v in versions.iterdir() if v.is_dir())
        return found

    def reconcile(self, secrets_now: Iterable[RawObject]) -> None:
        """Make the directory hold exactly ``secrets_now``: write what is stale, remove the rest."""
        _private_dir(self._out)
        wanted: set[tuple[str, str]] = set()
        for secret in secrets_now:
            try:
                wanted.add(self._names(secret))
                self.write(secret)
            except (OSError, ValueError) as exc:
                meta = secret.get("metadata") or {}
                logger.error("could not write Secret %s/%s: %s", meta.get("namespace"), meta.get("name"), exc)
        with self._lock:
            for namespace, name in sorted(self._present() - wanted):
                self._remove_locked(namespace, name)

    def _handle(self, event_type: EventType, secret: RawObject) -> None:
        try:
            if event_type is EventType.DELETED:
                namespace, name = self._names(secret)
                self.remove(namespace, name)
            else:
                self.write(secret)
        except (OSError, ValueError) as exc:
            # The next resync retries; the message names the Secret, never its data.
            meta = secret.get("metadata") or {}
            logger.error("could not mirror Secret %s/%s: %s", meta.get("namespace"), meta.get("name"), exc)

    async def run(self, store: Store) -> None:
        """List, reconcile and follow the Secrets of ``store`` until cancelled."""
        backoff = 1.0
        while True:
            try:
                listed = await store.list(self._resource)
                await asyncio.to_thread(self.reconcile, listed.items)
                backoff = 1.0
                async with asyncio.timeout(self._resync_interval):
                    async for event in store.watch(self._resource, resource_version=listed.resource_version):
                        if event.type is not EventType.BOOKMARK:
                            await asyncio.to_thread(self._handle, event.type, event.object)
            except (TimeoutError, Gone):
                continue  # resync, or the watch fell behind: relist
            except StoreError as exc:
                logger.warning("Secret files: store unavailable (%s); retrying in %.0fs", exc, backoff)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 30.0)
