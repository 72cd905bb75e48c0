"""Run a command after each (re)issuance, e.g. to reload nginx.

The runner watches Certificates; when ``status.revision`` goes up it makes sure the Secret's files are
current (so the command never sees the previous version) and runs the command through ``/bin/sh -c``
with the certificate's details in its environment::

    CERTKEEPER_NAMESPACE, CERTKEEPER_CERTIFICATE, CERTKEEPER_SECRET, CERTKEEPER_REVISION,
    CERTKEEPER_SECRET_DIR, CERTKEEPER_CERT_FILE, CERTKEEPER_KEY_FILE, CERTKEEPER_CA_FILE

Revisions already present at start-up do not run the hook (a restart is not an issuance). Hooks run
one at a time, with a timeout; their output is logged, never the Secret's data.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from certkeeper.store.local.secretfiles import SecretFileSink
from certkeeper.store.ports import NotFound, RawObject, Store, StoreError
from certkeeper.store.resources import SECRETS

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class HookRun:
    namespace: str
    certificate: str
    revision: int
    exit_code: int | None
    output: str


class HookRunner:
    def __init__(self, command: str, store: Store, sink: SecretFileSink, *, timeout: float = 120.0) -> None:
        self._command = command
        self._store = store
        self._sink = sink
        self._timeout = timeout
        self._revisions: dict[str, int] = {}
        self._queue: asyncio.Queue[tuple[str, str, str, int]] = asyncio.Queue()
        self.runs: list[HookRun] = []

    def observe(self, certificate: Mapping[str, Any], *, initial: bool = False) -> None:
        """Feed a Certificate as seen by an informer; queues the hook when its revision went up."""
        meta = certificate.get("metadata", {})
        namespace, name = str(meta.get("namespace", "")), str(meta.get("name", ""))
        revision = int(certificate.get("status", {}).get("revision") or 0)
        key = f"{namespace}/{name}"
        previous = self._revisions.get(key)
        self._revisions[key] = revision
        if initial or revision <= (previous or 0):
            return
        secret_name = str(certificate.get("spec", {}).get("secretName", ""))
        self._queue.put_nowait((namespace, name, secret_name, revision))

    def forget(self, certificate: Mapping[str, Any]) -> None:
        meta = certificate.get("metadata", {})
        self._revisions.pop(f"{meta.get('namespace', '')}/{meta.get('name', '')}", None)

    async def run(self) -> None:
        while True:
            namespace, name, secret_name, revision = await self._queue.get()
            try:
                await self._run_one(namespace, name, secret_name, revision)
            finally:
                self._queue.task_done()

    async def drain(self) -> None:
        """Wait until every queued hook has run."""
        await self._queue.join()

    async def _run_one(self, namespace: str, name: str, secret_name: str, revision: int) -> None:
        try:
            secret: RawObject = await self._store.get(SECRETS, secret_name, namespace=namespace)
        except NotFound:
            log.warning("hook for %s/%s skipped: Secret %s not found", namespace, name, secret_name)
            return
        except StoreError as exc:
            log.warning("hook for %s/%s skipped: %s", namespace, name, type(exc).__name__)
            return
        await asyncio.to_thread(self._sink.write, secret)
        directory = self._sink.path_of(namespace, secret_name)
        env = dict(os.environ)
        env.update(
            {
                "CERTKEEPER_NAMESPACE": namespace,
                "CERTKEEPER_CERTIFICATE": name,
                "CERTKEEPER_SECRET": secret_name,
                "CERTKEEPER_REVISION": str(revision),
                "CERTKEEPER_SECRET_DIR": str(directory),
                "CERTKEEPER_CERT_FILE": str(directory / "tls.crt"),
                "CERTKEEPER_KEY_FILE": str(directory / "tls.key"),
                "CERTKEEPER_CA_FILE": str(directory / "ca.crt"),
            }
        )
        process = await asyncio.create_subprocess_shell(
            self._command,
            env=env,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
        )
        try:
            output, _ = await asyncio.wait_for(process.communicate(), timeout=self._timeout)
            code: int | None = process.returncode
        except TimeoutError:
            with contextlib.suppress(ProcessLookupError):
                process.kill()
            await process.wait()
            output, code = b"", None
        text = output.decode(errors="replace")[-4096:]
        self.runs.append(HookRun(namespace, name, revision, code, text))
        if code == 0:
            log.info("hook for %s/%s (revision %d) succeeded", namespace, name, revision)
        else:
            log.warning(
                "hook for %s/%s (revision %d) failed (%s): %s",
                namespace,
                name,
                revision,
                "timed out" if code is None else f"exit {code}",
                text.strip(),
            )
