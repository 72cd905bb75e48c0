"""pebble, Let's Encrypt's test ACME server, as a test peer: started on loopback, torn down always.

Two builds are used (``scripts/lib/env.sh`` ``ensure_pebble`` provides both):

* Debian's ``pebble`` 2.4.0 (``CERTKEEPER_PEBBLE``, else ``pebble`` on PATH); the package also ships
  ``pebble-challtestsrv``;
* pebble/v2 v2.10.3 built from the Go module proxy (``CERTKEEPER_PEBBLE_CURRENT``, else the cached
  build), for what 2.4.0 lacks: ARI ``renewalInfo`` and ``replaces``, profiles, ``retryAfter``.

:class:`Pebble` writes a config file (ACME and management listeners on free 127.0.0.1 ports, a TLS
certificate from a throwaway harness CA, ``httpPort``/``tlsPort`` for the validation authority, EAB
keys), sets the environment (``PEBBLE_VA_NOSLEEP=1``; ``PEBBLE_VA_ALWAYS_VALID`` for client-only
tests; nonce rejection left at pebble's 5 % default unless asked), passes ``-dnsserver`` when the test
provides a DNS server, logs to ``<workdir>/pebble.log`` and waits for the directory to answer.
:meth:`Pebble.root_pem`/:meth:`Pebble.intermediate_pem` read the issuing CA from the management API
(``/roots/<n>``, ``/intermediates/<n>``) for ``openssl verify``.

From a script: ``python -m tests.harness.pebble [--current] [--workdir DIR]`` prints the directory URL
and the CA bundle path, and runs until interrupted.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import ssl
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Final, Self

from tests.harness.certs import HarnessCA
from tests.harness.kube import free_port

#: The pebble/v2 version ``ensure_pebble`` builds (keep in step with scripts/lib/env.sh).
CURRENT_VERSION: Final = "v2.10.3"
START_TIMEOUT_SECONDS: Final = 20.0
STOP_TIMEOUT_SECONDS: Final = 5.0
START_ATTEMPTS: Final = 3


class PebbleError(RuntimeError):
    """pebble could not be found, started or queried; the message says which and why."""


def _cache_dir() -> Path:
    return Path(os.environ.get("CERTKEEPER_CACHE", Path.home() / ".cache" / "certkeeper"))


def find_pebble(*, current: bool = False) -> Path:
    """The pebble binary: Debian's (default) or the current build (``current=True``). Never installs."""
    if current:
        named = os.environ.get("CERTKEEPER_PEBBLE_CURRENT")
        path = Path(named) if named else _cache_dir() / f"pebble-{CURRENT_VERSION}" / "bin" / "pebble"
        hint = f"pebble {CURRENT_VERSION} is not built"
    else:
        named = os.environ.get("CERTKEEPER_PEBBLE") or shutil.which("pebble")
        path = Path(named) if named else Path("/usr/bin/pebble")
        hint = "pebble is not installed (apt-get install pebble)"
    if not os.access(path, os.X_OK):
        raise PebbleError(f"{hint}: {path} is not executable; run ./scripts/test (ensure_pebble) first")
    return path


def challtestsrv_path() -> Path | None:
    """Debian's pebble-challtestsrv, if the package ships it (pebble 2.4.0+ds1-2 does)."""
    found = shutil.which("pebble-challtestsrv")
    return Path(found) if found else None


@dataclass(frozen=True, slots=True, kw_only=True)
class PebbleConfig:
    """What to run. Ports left at 0 are picked free; ``dns_server`` is ``host:port`` for ``-dnsserver``."""

    current: bool = False
    http_port: int = 0
    tls_port: int = 0
    dns_server: str | None = None
    always_valid: bool = True
    #: None keeps pebble's default of 5 % badNonce rejections.
    nonce_reject_percent: int | None = None
    eab_required: bool = False
    eab_keys: Mapping[str, str] = field(default_factory=dict)
    chain_length: int | None = None
    alternate_roots: int | None = None
    #: Current pebble only: Retry-After seconds on pending authorizations and orders.
    retry_after_authz: int = 1
    retry_after_order: int = 1
    #: Current pebble only: profile name -> validity in seconds.
    profiles: Mapping[str, int] = field(default_factory=dict)
    extra_env: Mapping[str, str] = field(default_factory=dict)


class Pebble:
    """One pebble process. Use as a context manager, or call :meth:`start` and :meth:`stop` (idempotent)."""

    def __init__(self, workdir: Path, config: PebbleConfig | None = None) -> None:
        self.workdir = workdir
        self.config = config or PebbleConfig()
        self.binary = find_pebble(current=self.config.current)
        self.acme_port = free_port()
        self.management_port = free_port()
        self.http_port = self.config.http_port or free_port()
        self.tls_port = self.config.tls_port or free_port()
        self.log_file = workdir / "pebble.log"
        self.ca_file = workdir / "tls" / "ca.crt"
        self._process: subprocess.Popen[bytes] | None = None
        self._log_start = 0

    @property
    def directory_url(self) -> str:
        return f"https://127.0.0.1:{self.acme_port}/dir"

    @property
    def management_url(self) -> str:
        return f"https://127.0.0.1:{self.management_port}"

    @property
    def ca_bundle(self) -> bytes:
        """The PEM CA that signed pebble's TLS certificate (an issuer's ``caBundle``)."""
        return self.ca_file.read_bytes()

    def _write_config(self) -> Path:
        tls_dir = self.workdir / "tls"
        ca = HarnessCA(tls_dir, common_name="certkeeper-pebble-tls-ca")
        serving = ca.issue(
            tls_dir, common_name="localhost", dns_names=["localhost"], ip_addresses=["127.0.0.1"], server=True
        )
        body: dict[str, object] = {
            "listenAddress": f"127.0.0.1:{self.acme_port}",
            "managementListenAddress": f"127.0.0.1:{self.management_port}",
            "certificate": str(serving.cert_file),
            "privateKey": str(serving.key_file),
            "httpPort": self.http_port,
            "tlsPort": self.tls_port,
            "ocspResponderURL": "",
            "externalAccountBindingRequired": self.config.eab_required,
        }
        if self.config.eab_keys:
            body["externalAccountMACKeys"] = dict(self.config.eab_keys)
        if self.config.current:
            body["retryAfter"] = {"authz": self.config.retry_after_authz, "order": self.config.retry_after_order}
            if self.config.profiles:
                body["profiles"] = {
                    name: {"description": f"{name} profile", "validityPeriod": seconds}
                    for name, seconds in self.config.profiles.items()
                }
        path = self.workdir / "pebble-config.json"
        path.write_text(json.dumps({"pebble": body}, indent=2))
        return path

    def _environment(self) -> dict[str, str]:
        env = {key: value for key, value in os.environ.items() if not key.startswith("PEBBLE_")}
        env["PEBBLE_VA_NOSLEEP"] = "1"
        if self.config.always_valid:
            env["PEBBLE_VA_ALWAYS_VALID"] = "1"
        if self.config.nonce_reject_percent is not None:
            env["PEBBLE_WFE_NONCEREJECT"] = str(self.config.nonce_reject_percent)
        if self.config.chain_length is not None:
            env["PEBBLE_CHAIN_LENGTH"] = str(self.config.chain_length)
        if self.config.alternate_roots is not None:
            env["PEBBLE_ALTERNATE_ROOTS"] = str(self.config.alternate_roots)
        env.update(self.config.extra_env)
        return env

    def start(self) -> None:
        """Start pebble and wait until its directory answers; on failure, stop it and raise with the log.

        A free port can be taken by another process between the pick and pebble's bind (others run tests
        on this machine too): then the harness picks new ports for its own listeners and tries again.
        """
        if self._process is not None:
            return
        self.workdir.mkdir(parents=True, exist_ok=True)
        for attempt in range(START_ATTEMPTS):
            command = [str(self.binary), "-config", str(self._write_config())]
            if self.config.dns_server:
                command += ["-dnsserver", self.config.dns_server]
            self._log_start = self.log_file.stat().st_size if self.log_file.exists() else 0
            with self.log_file.open("ab") as log:
                self._process = subprocess.Popen(
                    command, cwd=self.workdir, env=self._environment(), stdout=log, stderr=subprocess.STDOUT
                )
            try:
                self._wait_ready()
                return
            except PebbleError:
                self.stop()
                if attempt + 1 == START_ATTEMPTS or not self._lost_a_port():
                    raise
                self.acme_port, self.management_port = free_port(), free_port()
            except BaseException:
                self.stop()
                raise

    def _lost_a_port(self) -> bool:
        """True when this start attempt's log says a listener could not bind."""
        try:
            with self.log_file.open("rb") as log:
                log.seek(self._log_start)
                return b"address already in use" in log.read()
        except OSError:
            return False

    def _ssl_context(self) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=str(self.ca_file))

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT_SECONDS
        while True:
            if self._process is None or self._process.poll() is not None:
                raise PebbleError(f"pebble exited during start-up:\n{self.log_tail()}")
            if self._lost_a_port():
                # pebble logs a failed management bind and runs on without it: give up on this attempt.
                raise PebbleError(f"pebble could not bind its ports:\n{self.log_tail()}")
            try:
                # Both listeners: the ACME directory, and the management API the tests read roots from.
                for url in (self.directory_url, f"{self.management_url}/roots/0"):
                    with urllib.request.urlopen(url, context=self._ssl_context(), timeout=2):  # noqa: S310
                        pass
                return
            except (urllib.error.URLError, OSError) as exc:
                if time.monotonic() > deadline:
                    raise PebbleError(
                        f"pebble not ready after {START_TIMEOUT_SECONDS:.0f}s ({exc}):\n{self.log_tail()}"
                    ) from exc
                time.sleep(0.05)

    def stop(self) -> None:
        """Stop pebble (SIGTERM, then SIGKILL after a grace period). Safe to call more than once."""
        process, self._process = self._process, None
        if process is None:
            return
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=STOP_TIMEOUT_SECONDS)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()

    def management_get(self, path: str) -> bytes:
        """GET a management API path (``/roots/0``)."""
        try:
            with urllib.request.urlopen(  # noqa: S310 - a fixed https URL on loopback
                self.management_url + path, context=self._ssl_context(), timeout=10
            ) as response:
                body: bytes = response.read()
                return body
        except (urllib.error.URLError, OSError) as exc:
            raise PebbleError(f"pebble management GET {path} failed: {exc}") from exc

    def set_renewal_info(self, certificate_pem: bytes, ari_response: str) -> None:
        """Current pebble only: make renewalInfo answer ``ari_response`` (any text) for a certificate."""
        body = json.dumps({"Certificate": certificate_pem.decode(), "ARIResponse": ari_response}).encode()
        request = urllib.request.Request(  # noqa: S310 - a fixed https URL on loopback
            self.management_url + "/set-renewal-info/", data=body, method="POST"
        )
        try:
            with urllib.request.urlopen(request, context=self._ssl_context(), timeout=10):  # noqa: S310
                return
        except (urllib.error.URLError, OSError) as exc:
            raise PebbleError(f"pebble management POST /set-renewal-info/ failed: {exc}") from exc

    def root_pem(self, index: int = 0) -> bytes:
        """The issuing root (``/roots/<index>``; 1.. are the alternate roots)."""
        return self.management_get(f"/roots/{index}")

    def intermediate_pem(self, index: int = 0) -> bytes:
        """The intermediate under root ``index``."""
        return self.management_get(f"/intermediates/{index}")

    def log_tail(self, lines: int = 60) -> str:
        """The end of pebble's log, for failure messages."""
        try:
            return "\n".join(self.log_file.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no pebble log)"

    def log_count(self, needle: str) -> int:
        """How many log lines contain ``needle``."""
        try:
            return sum(needle in line for line in self.log_file.read_text(errors="replace").splitlines())
        except OSError:
            return 0

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


class ChallTestSrv:
    """Debian's ``pebble-challtestsrv``: a mock DNS server (every name resolves to 127.0.0.1 unless told
    otherwise; TXT records on request) and an HTTP-01 responder, both on free loopback ports, steered
    through its plain-HTTP management API. Point pebble at it with ``PebbleConfig(dns_server=srv.dns_address,
    http_port=srv.http_port, always_valid=False)`` to have pebble really validate challenges.
    """

    def __init__(self, workdir: Path) -> None:
        found = challtestsrv_path()
        if found is None:
            raise PebbleError("pebble-challtestsrv is not installed (Debian's pebble package ships it)")
        self.binary = found
        self.workdir = workdir
        self.http_port = free_port()
        self.dns_port = free_port()
        self.management_port = free_port()
        self.log_file = workdir / "challtestsrv.log"
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def dns_address(self) -> str:
        return f"127.0.0.1:{self.dns_port}"

    def start(self) -> None:
        """Start it and wait until the management API answers."""
        if self._process is not None:
            return
        self.workdir.mkdir(parents=True, exist_ok=True)
        command = [
            str(self.binary),
            "-http01", f"127.0.0.1:{self.http_port}",
            "-https01", "",
            "-tlsalpn01", "",
            "-dns01", self.dns_address,
            "-management", f"127.0.0.1:{self.management_port}",
            "-defaultIPv4", "127.0.0.1",
            "-defaultIPv6", "",
        ]  # fmt: skip
        with self.log_file.open("ab") as log:
            self._process = subprocess.Popen(command, cwd=self.workdir, stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + START_TIMEOUT_SECONDS
        while True:
            if self._process.poll() is not None:
                raise PebbleError(f"pebble-challtestsrv exited during start-up:\n{self.log_file.read_text()}")
            try:
                # Every listener starts before the management one, so an accepted connection means ready.
                with socket.create_connection(("127.0.0.1", self.management_port), timeout=1):
                    return
            except OSError as exc:
                if time.monotonic() > deadline:
                    self.stop()
                    raise PebbleError(f"pebble-challtestsrv not ready: {exc}") from exc
                time.sleep(0.05)

    def _post(self, path: str, body: Mapping[str, str]) -> None:
        request = urllib.request.Request(
            f"http://127.0.0.1:{self.management_port}{path}", data=json.dumps(body).encode(), method="POST"
        )
        try:
            with urllib.request.urlopen(request, timeout=5):  # noqa: S310
                return
        except (urllib.error.URLError, OSError) as exc:
            raise PebbleError(f"pebble-challtestsrv POST {path} failed: {exc}") from exc

    def add_http01(self, token: str, content: str) -> None:
        """Serve ``content`` at ``/.well-known/acme-challenge/<token>``."""
        self._post("/add-http01", {"token": token, "content": content})

    def set_txt(self, host: str, value: str) -> None:
        """Answer TXT queries for ``host`` (a FQDN with the trailing dot) with ``value``."""
        self._post("/set-txt", {"host": host, "value": value})

    def stop(self) -> None:
        """Stop it (SIGTERM, then SIGKILL). Safe to call more than once."""
        process, self._process = self._process, None
        if process is not None and process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=STOP_TIMEOUT_SECONDS)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


@contextmanager
def running_pebble(workdir: Path | None = None, config: PebbleConfig | None = None) -> Iterator[Pebble]:
    """A started :class:`Pebble` in ``workdir`` (a temporary directory when None), stopped on exit."""
    with tempfile.TemporaryDirectory(prefix="pebble-") as scratch, Pebble(workdir or Path(scratch), config) as pebble:
        yield pebble


def main() -> None:
    """Run pebble until interrupted (for scripts and manual testing)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--current", action="store_true", help=f"run pebble {CURRENT_VERSION} instead of Debian's")
    parser.add_argument("--workdir", type=Path, default=None)
    parser.add_argument("--dnsserver", default=None, help="host:port pebble resolves names with")
    parser.add_argument("--validate", action="store_true", help="really validate challenges (no ALWAYS_VALID)")
    args = parser.parse_args()
    config = PebbleConfig(current=args.current, dns_server=args.dnsserver, always_valid=not args.validate)
    with running_pebble(args.workdir, config) as pebble:
        print(
            f"directory: {pebble.directory_url}\nca bundle: {pebble.ca_file}\nhttpPort: {pebble.http_port}", flush=True
        )
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            pass


if __name__ == "__main__":
    main()
