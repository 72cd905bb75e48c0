"""The serving certificate: the TLS context new connections get, and certificates from files.

:class:`ServingTLS` holds the current ``SSLContext``. :meth:`ServingTLS.install` checks a
certificate chain and key (bounded PEM parsing, key matches the leaf), builds a *new* context from
them and swaps it in; the listener hands each new connection the context current at accept time,
so a rotation never breaks a connection (see :mod:`certkeeper.webhook.listener` for why the live
context is not reloaded in place).

:class:`FileCertificateSource` serves ``--tls-cert-file``/``--tls-private-key-file`` and re-reads them
every 10 s, installing them when their bytes change (a kubelet-updated Secret volume, a
cert-manager-issued Secret): no restart. A read or parse failure keeps the previous certificate;
12 failures in a row end the source, as cert-manager's ``FileCertificateSource`` gives up.

``ssl`` loads keys only from files: the key is written to a private (0700) temporary directory, on
``/dev/shm`` where there is one, for the instant of the load, and removed at once. Key material never
enters a message or a log line.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import ssl
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from cryptography import x509

from certkeeper.pki.errors import PkiError
from certkeeper.pki.keys import load_pem_private_key
from certkeeper.pki.match import public_key_matches_certificate
from certkeeper.pki.pem import DEFAULT_PEM_LIMITS, PemLimits, load_pem_certificate_chain
from certkeeper.runtime.clock import Clock, SystemClock

log = logging.getLogger(__name__)

#: cert-manager's FileCertificateSource: re-read every 10 s, give up after 12 failures.
FILE_RELOAD_INTERVAL_SECONDS: Final = 10.0
FILE_MAX_FAILURES: Final = 12
#: Memory-backed, so a key written for ``load_cert_chain`` never reaches a disk; the directory is private.
_SHM: Final = Path("/dev/shm")  # noqa: S108


class TLSError(ValueError):
    """A certificate or key that cannot be served; the message names the problem, never the key."""


@dataclass(frozen=True, slots=True, kw_only=True)
class TLSSettings:
    """How serving contexts are built (``--tls-min-version``, client verification)."""

    min_version: ssl.TLSVersion = ssl.TLSVersion.TLSv1_2
    #: PEM CA certificates clients must present a certificate from (``--client-ca-path``); None: no mTLS.
    client_ca_pem: bytes | None = None
    pem_limits: PemLimits = DEFAULT_PEM_LIMITS


@contextlib.contextmanager
def _private_files(chain_pem: bytes, key_pem: bytes) -> Iterator[tuple[str, str]]:
    """The chain and key written to a private temporary directory, removed on exit."""
    parent = str(_SHM) if _SHM.is_dir() and os.access(_SHM, os.W_OK) else None
    with tempfile.TemporaryDirectory(prefix="certkeeper-webhook-", dir=parent) as directory:
        paths = (os.path.join(directory, "tls.crt"), os.path.join(directory, "tls.key"))
        for path, data in zip(paths, (chain_pem, key_pem), strict=True):
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
        yield paths


class ServingTLS:
    """The current serving context; :meth:`context` is what the listener wraps new connections with."""

    def __init__(self, settings: TLSSettings | None = None) -> None:
        self.settings = settings or TLSSettings()
        self._context: ssl.SSLContext | None = None
        self._certificate: x509.Certificate | None = None
        self._ready = asyncio.Event()
        self.installs = 0

    def context(self) -> ssl.SSLContext | None:
        """The context for a connection accepted now; None until a certificate is installed."""
        return self._context

    @property
    def certificate(self) -> x509.Certificate | None:
        """The leaf being served."""
        return self._certificate

    @property
    def ready(self) -> bool:
        return self._context is not None

    async def wait_ready(self) -> None:
        """Return once a certificate is being served."""
        await self._ready.wait()

    def _new_context(self) -> ssl.SSLContext:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.minimum_version = self.settings.min_version
        context.set_alpn_protocols(["http/1.1"])
        if self.settings.client_ca_pem is not None:
            try:
                context.load_verify_locations(cadata=self.settings.client_ca_pem.decode("ascii"))
            except (ssl.SSLError, ValueError, UnicodeDecodeError):
                raise TLSError("the client CA file holds no usable PEM certificate") from None
            context.verify_mode = ssl.CERT_REQUIRED
        return context

    def install(self, chain_pem: bytes, key_pem: bytes) -> x509.Certificate:
        """Serve ``chain_pem`` (leaf first) with ``key_pem`` from the next connection on; returns the leaf.

        Raises :class:`TLSError` and keeps the current certificate when the pair cannot be served.
        """
        limits = self.settings.pem_limits
        try:
            chain = load_pem_certificate_chain(chain_pem, limits=limits)
            key = load_pem_private_key(key_pem, limits=limits)
        except PkiError as exc:
            raise TLSError(f"the serving certificate or key does not parse: {exc}") from None
        if not chain:
            raise TLSError("the serving certificate file holds no certificate")
        if not public_key_matches_certificate(key, chain[0]):
            raise TLSError("the serving private key does not match the certificate")
        context = self._new_context()
        with _private_files(chain_pem, key_pem) as (cert_path, key_path):
            try:
                context.load_cert_chain(cert_path, key_path)
            except ssl.SSLError as exc:
                raise TLSError(f"OpenSSL refused the serving certificate: {exc.reason or 'unknown reason'}") from None
        self._context = context
        self._certificate = chain[0]
        self.installs += 1
        self._ready.set()
        return chain[0]


def _read_bounded(path: Path, limit: int) -> bytes:
    with path.open("rb") as handle:
        data = handle.read(limit + 1)
    if len(data) > limit:
        raise TLSError(f"{path} is larger than {limit} bytes")
    return data


class FileCertificateSource:
    """Serves the certificate and key in two files, reloading them when they change."""

    def __init__(
        self,
        tls: ServingTLS,
        cert_file: Path,
        key_file: Path,
        *,
        interval: float = FILE_RELOAD_INTERVAL_SECONDS,
        max_failures: int = FILE_MAX_FAILURES,
        clock: Clock | None = None,
    ) -> None:
        self._tls = tls
        self._cert_file = cert_file
        self._key_file = key_file
        self._interval = interval
        self._max_failures = max_failures
        self._clock = clock or SystemClock()
        self._loaded: tuple[bytes, bytes] | None = None

    def reload(self) -> bool:
        """Read both files and install them if their bytes changed; True when a new pair went live.

        Raises ``OSError`` or :class:`TLSError`.
        """
        limits = self._tls.settings.pem_limits
        chain = _read_bounded(self._cert_file, limits.max_chain_size)
        key = _read_bounded(self._key_file, limits.max_private_key_size)
        if self._loaded == (chain, key):
            return False
        self._tls.install(chain, key)
        self._loaded = (chain, key)
        log.info("serving the certificate from %s", self._cert_file)
        return True

    async def run(self) -> None:
        """Load now, then re-check every ``interval``; raises after ``max_failures`` failures in a row."""
        failures = 0
        first = True
        while True:
            if not first:
                await self._clock.sleep(self._interval)
            try:
                self.reload()
            except (OSError, TLSError) as exc:
                failures += 1
                log.error("cannot load the serving certificate (%d failures in a row): %s", failures, exc)
                if failures >= self._max_failures:
                    detail = f"failed to load the serving certificate from disk {failures} times: {exc}"
                    raise TLSError(detail) from None
            else:
                failures = 0
            first = False


__all__ = [
    "FILE_MAX_FAILURES",
    "FILE_RELOAD_INTERVAL_SECONDS",
    "FileCertificateSource",
    "ServingTLS",
    "TLSError",
    "TLSSettings",
]
