"""BIND 9 as a test peer: an authoritative server on a loopback port that takes RFC 2136 updates.

``named -g -c <dir>/named.conf`` listens on 127.0.0.1:<free port> (UDP and TCP), recursion and DNSSEC
validation off, no control channel, every log line in ``<dir>/named.log``. It serves writable zones
(``example.test`` by default) whose records point at 127.0.0.1, and holds one TSIG key per algorithm
cert-manager offers (hmac-md5, hmac-sha1, hmac-sha256, hmac-sha512), each allowed to change TXT
records anywhere in every zone (``update-policy { grant <key> zonesub TXT; }``). A further key,
``readonly``, is known to the server but granted nothing.

The binaries come from Debian's ``bind9`` package (``scripts/lib/env.sh`` ``ensure_bind``).

Usage::

    with Bind(workdir) as bind:                     # started, answering SOA queries
        bind.nameserver                            # "127.0.0.1:<port>"
        bind.key("hmac-sha256")                    # TSIGKeySpec(name, algorithm, secret)
        bind.log_tail()

From a shell (prints the nameserver and keys, runs until Ctrl-C)::

    python -m tests.harness.bind [--port 5353] [--zone example.test]

The process is stopped on ``stop()``/context exit, at interpreter exit, and (Linux) when the thread
that started it dies.
"""

from __future__ import annotations

import argparse
import atexit
import base64
import ctypes
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType

import dns.exception
import dns.message
import dns.query
import dns.rcode
import dns.rdatatype

#: The TSIG algorithms cert-manager's rfc2136 provider offers, by BIND's names.
TSIG_ALGORITHMS: tuple[str, ...] = ("hmac-md5", "hmac-sha1", "hmac-sha256", "hmac-sha512")
#: cert-manager's name for each (``tsigAlgorithm``).
CERT_MANAGER_ALGORITHM: Mapping[str, str] = {
    "hmac-md5": "HMACMD5",
    "hmac-sha1": "HMACSHA1",
    "hmac-sha256": "HMACSHA256",
    "hmac-sha512": "HMACSHA512",
}
#: A key the server knows but that may update nothing.
READONLY_KEY = "readonly"
_DEFAULT_SOA = "ns.{zone}. hostmaster.{zone}. 1 3600 600 86400 60"


class BindError(RuntimeError):
    """BIND could not be found, configured, started or stopped; the message says which and why."""


@dataclass(frozen=True, slots=True, kw_only=True)
class TSIGKeySpec:
    """A TSIG key the server trusts: its name, BIND algorithm name and base64 secret."""

    name: str
    algorithm: str
    secret: str = field(repr=False)

    @property
    def cert_manager_algorithm(self) -> str:
        """The ``tsigAlgorithm`` value naming this key's algorithm."""
        return CERT_MANAGER_ALGORITHM[self.algorithm]


@dataclass(frozen=True, slots=True, kw_only=True)
class Zone:
    """A writable zone: its name and zone-file lines added after SOA, NS and the default A records."""

    name: str
    records: Sequence[str] = ()
    #: Whether ``*.<zone>`` has an A record 127.0.0.1 (any test domain resolves, as pebble needs).
    wildcard_a: bool = True

    def zone_file(self) -> str:
        lines = [
            "$TTL 60",
            f"@ IN SOA {_DEFAULT_SOA.format(zone=self.name)}",
            f"@ IN NS ns.{self.name}.",
            "ns IN A 127.0.0.1",
            "@ IN A 127.0.0.1",
        ]
        if self.wildcard_a:
            lines.append("* IN A 127.0.0.1")
        lines.extend(self.records)
        return "\n".join(lines) + "\n"


def find_named() -> Path:
    """The ``named`` binary (``/usr/sbin`` is not on every user's PATH)."""
    found = shutil.which("named") or ("/usr/sbin/named" if os.access("/usr/sbin/named", os.X_OK) else None)
    if found is None:
        raise BindError("named not found: install Debian's bind9 package (scripts/test does, via ensure_bind)")
    return Path(found)


def free_udp_tcp_port() -> int:
    """A port on 127.0.0.1 that is free for both TCP and UDP right now."""
    for _ in range(50):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as tcp:
            tcp.bind(("127.0.0.1", 0))
            port: int = tcp.getsockname()[1]
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
                try:
                    udp.bind(("127.0.0.1", port))
                except OSError:
                    continue
            return port
    raise BindError("no port free for both TCP and UDP on 127.0.0.1")


def _new_secret() -> str:
    """32 random bytes, base64 (what ``tsig-keygen`` writes)."""
    return base64.b64encode(secrets.token_bytes(32)).decode()


def _die_with_parent_hook() -> None:
    """Runs in the forked child before exec: ask Linux to SIGTERM it when the spawning thread dies."""
    if _LIBC is not None:
        _LIBC.prctl(1, signal.SIGTERM, 0, 0, 0)  # 1 = PR_SET_PDEATHSIG


# Loaded in the parent, because loading a library between fork and exec is not safe.
_LIBC = ctypes.CDLL(None, use_errno=True) if sys.platform == "linux" else None


class Bind:
    """One ``named`` process with its own directory, port, keys and zones."""

    def __init__(
        self,
        workdir: Path | None = None,
        *,
        port: int | None = None,
        zones: Sequence[Zone] = (Zone(name="example.test"),),
        start_timeout: float = 15.0,
    ) -> None:
        self._own_workdir = workdir is None
        self.workdir = Path(tempfile.mkdtemp(prefix="certkeeper-bind-")) if workdir is None else workdir
        self.port = port or free_udp_tcp_port()
        self.zones = list(zones)
        self.start_timeout = start_timeout
        self.keys = {
            algorithm: TSIGKeySpec(
                name=f"certkeeper-{algorithm}",
                algorithm=algorithm,
                secret=base64.b64encode(secrets.token_bytes(32)).decode(),
            )
            for algorithm in TSIG_ALGORITHMS
        }
        self.readonly_key = TSIGKeySpec(name=READONLY_KEY, algorithm="hmac-sha256", secret=_new_secret())
        self.log_file = self.workdir / "named.log"
        self._popen: subprocess.Popen[bytes] | None = None

    @property
    def nameserver(self) -> str:
        """``127.0.0.1:<port>``: the RFC 2136 ``nameserver`` and the DNS01 ``nameservers`` entry."""
        return f"127.0.0.1:{self.port}"

    def key(self, algorithm: str = "hmac-sha256") -> TSIGKeySpec:
        """The key of one algorithm (BIND name, e.g. ``hmac-md5``)."""
        return self.keys[algorithm]

    def named_conf(self) -> str:
        """The configuration this instance runs with."""
        directory = self.workdir
        keys = [*self.keys.values(), self.readonly_key]
        grants = "".join(f"        grant {key.name} zonesub TXT;\n" for key in self.keys.values())
        parts = [
            "options {\n"
            f'    directory "{directory}";\n'
            f'    pid-file "{directory}/named.pid";\n'
            f'    session-keyfile "{directory}/session.key";\n'
            f'    managed-keys-directory "{directory}";\n'
            f"    listen-on port {self.port} {{ 127.0.0.1; }};\n"
            "    listen-on-v6 { none; };\n"
            "    recursion no;\n"
            "    dnssec-validation no;\n"
            "    notify no;\n"
            "};\n",
            # No control channel: rndc is not needed, and several instances would fight over port 953.
            "controls { };\n",
        ]
        parts.extend(f'key "{key.name}" {{ algorithm {key.algorithm}; secret "{key.secret}"; }};\n' for key in keys)
        parts.extend(
            f'zone "{zone.name}" {{\n    type primary;\n    file "{directory}/{zone.name}.db";\n'
            f"    update-policy {{\n{grants}    }};\n}};\n"
            for zone in self.zones
        )
        return "".join(parts)

    def _write_config(self) -> Path:
        self.workdir.mkdir(parents=True, exist_ok=True)
        for zone in self.zones:
            (self.workdir / f"{zone.name}.db").write_text(zone.zone_file())
            (self.workdir / f"{zone.name}.db.jnl").unlink(missing_ok=True)
        conf = self.workdir / "named.conf"
        fd = os.open(conf, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)  # it holds the TSIG secrets
        with os.fdopen(fd, "w") as f:
            f.write(self.named_conf())
        return conf

    def start(self) -> None:
        """Write the configuration, start ``named`` and wait until it answers for every zone."""
        if self._popen is not None:
            return
        named = find_named()
        conf = self._write_config()
        with self.log_file.open("ab") as log:
            log.write(f"==== harness: starting named at {time.strftime('%H:%M:%S')} on {self.nameserver}\n".encode())
            log.flush()
            self._popen = subprocess.Popen(
                [str(named), "-g", "-c", str(conf)],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                preexec_fn=_die_with_parent_hook,
            )
        atexit.register(self.stop)
        try:
            self._await_ready()
        except BindError:
            self.stop()
            raise

    def _await_ready(self) -> None:
        deadline = time.monotonic() + self.start_timeout
        pending = [zone.name for zone in self.zones]
        while pending:
            if self._popen is not None and (code := self._popen.poll()) is not None:
                raise BindError(f"named exited with status {code} while starting:\n{self.log_tail()}")
            if time.monotonic() > deadline:
                raise BindError(f"named did not serve {pending} within {self.start_timeout}s:\n{self.log_tail()}")
            if self._answers_soa(pending[0]):
                pending.pop(0)
            else:
                time.sleep(0.05)

    def _answers_soa(self, zone: str) -> bool:
        query = dns.message.make_query(zone + ".", dns.rdatatype.SOA)
        try:
            response = dns.query.udp(query, "127.0.0.1", port=self.port, timeout=0.5)
        except (OSError, dns.exception.DNSException):
            return False
        return response.rcode() == dns.rcode.NOERROR and bool(response.answer)

    def stop(self, grace: float = 10.0) -> None:
        """Stop ``named`` (SIGTERM, then SIGKILL after ``grace`` seconds); safe to call twice."""
        atexit.unregister(self.stop)
        popen, self._popen = self._popen, None
        if popen is not None and popen.poll() is None:
            popen.terminate()
            try:
                popen.wait(grace)
            except subprocess.TimeoutExpired:
                popen.kill()
                popen.wait()
        if self._own_workdir:
            shutil.rmtree(self.workdir, ignore_errors=True)

    def log_tail(self, lines: int = 40) -> str:
        """The last lines of ``named.log``."""
        try:
            text = self.log_file.read_text(errors="replace")
        except FileNotFoundError:
            return ""
        return "\n".join(text.splitlines()[-lines:])

    def __enter__(self) -> Bind:
        self.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


def main(argv: Sequence[str] | None = None) -> int:
    """Run BIND in the foreground for manual tests; prints how to reach it."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0] if __doc__ else None)
    parser.add_argument("--port", type=int, default=None, help="port on 127.0.0.1 (default: a free one)")
    parser.add_argument(
        "--zone", action="append", default=None, help="zone to serve (repeatable; default example.test)"
    )
    parser.add_argument("--workdir", type=Path, default=None, help="directory for config, zones and log")
    args = parser.parse_args(argv)
    zones = [Zone(name=name) for name in (args.zone or ["example.test"])]
    bind = Bind(args.workdir, port=args.port, zones=zones)
    stop = False

    def on_signal(signum: int, frame: object) -> None:
        nonlocal stop
        stop = True

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    with bind:
        print(f"CERTKEEPER_BIND_NAMESERVER={bind.nameserver}")
        print(f"CERTKEEPER_BIND_WORKDIR={bind.workdir}")
        for key in bind.keys.values():
            print(f"# TSIG key {key.name} ({key.cert_manager_algorithm}) secret in {bind.workdir}/named.conf")
        sys.stdout.flush()
        while not stop:
            time.sleep(0.2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
