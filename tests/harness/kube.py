"""A real Kubernetes control plane for tests and benchmarks: etcd plus kube-apiserver on 127.0.0.1.

The binaries come from ``tools/envtest/build.sh`` (built from the Go module proxy, cached outside the
repository); ``scripts/test`` exports their paths as ``CERTKEEPER_KUBE_APISERVER`` and
``CERTKEEPER_ETCD``. The API server runs with ``--authorization-mode=RBAC``, so code under test that
connects as a minted identity has exactly the rights the RBAC objects in the cluster grant it.

Identities authenticate with client certificates signed by the harness CA (CN = user, O = groups),
because those can be minted at any time without restarting the server; ``admin`` is in
``system:masters``. There is no kube-controller-manager: no garbage collection, no namespace
finalisation, no service-account token controller. Tests use a fresh namespace each and assert
ownerReferences instead of waiting for cascades.

Usage (the pytest fixtures in ``tests/integration/conftest.py`` wrap the same calls)::

    async with ControlPlane() as cp, KubeClient(cp.admin) as admin:   # or: with ControlPlane() as cp
        await admin.apply_manifests(CRD_DIR)         # server-side apply, waits until Established
        ns = await admin.create_namespace("renewal")
        controller = cp.service_account("cert-manager", "certkeeper-controller")
        await code_under_test(kubeconfig=controller.kubeconfig, namespace=ns)  # only the RBAC granted
        await cp.arestart_apiserver()                # same etcd, port and CA; watches break
        print(cp.apiserver_log())

Faults: ``stop_apiserver``/``start_apiserver`` (connection refused meanwhile), ``restart_apiserver``,
``pause_apiserver``/``resume_apiserver`` (SIGSTOP: a hung server), each with an ``a``-prefixed async form
where it waits.

Processes are stopped on ``stop()``/context exit, at interpreter exit, and (Linux) when the thread that
started them dies, so a killed test run leaves nothing behind; start them from a long-lived thread.
"""

from __future__ import annotations

import asyncio
import atexit
import http.client
import os
import re
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

from tests.harness.certs import HarnessCA, KeyPairFiles, write_service_account_keys
from tests.harness.identity import Identity
from tests.harness.processes import ETCD_DATA_PREFIX, Process, free_port, read_log, remove_orphaned_etcd_data

REPO_ROOT = Path(__file__).resolve().parents[2]
BUILD_SCRIPT = REPO_ROOT / "tools" / "envtest" / "build.sh"

#: The service-account groups kube-apiserver gives a ServiceAccount token's user.
SERVICE_ACCOUNT_GROUP = "system:serviceaccounts"


class ControlPlaneError(RuntimeError):
    """The control plane could not be found, started or stopped; the message says which and why."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Binaries:
    """Paths of the two executables the control plane runs."""

    kube_apiserver: Path
    etcd: Path


def find_binaries() -> Binaries:
    """The binaries named by ``CERTKEEPER_KUBE_APISERVER``/``CERTKEEPER_ETCD``, else the up-to-date build.

    Never builds: a cold build takes minutes, which belongs to ``scripts/test`` (``ensure_envtest``) or an
    explicit ``tools/envtest/build.sh``, not to a test's setup.
    """
    apiserver = os.environ.get("CERTKEEPER_KUBE_APISERVER")
    etcd = os.environ.get("CERTKEEPER_ETCD")
    if not (apiserver and etcd):
        check = subprocess.run([str(BUILD_SCRIPT), "--check"], capture_output=True, text=True, check=False)
        if check.returncode != 0:
            raise ControlPlaneError(
                "kube-apiserver and etcd are not built: run ./scripts/test or tools/envtest/build.sh first "
                f"({check.stderr.strip()})"
            )
        bin_dir = Path(check.stdout.strip().splitlines()[-1])
        apiserver = apiserver or str(bin_dir / "kube-apiserver")
        etcd = etcd or str(bin_dir / "etcd")
    found = Binaries(kube_apiserver=Path(apiserver), etcd=Path(etcd))
    for path in (found.kube_apiserver, found.etcd):
        if not os.access(path, os.X_OK):
            raise ControlPlaneError(f"{path} is not an executable file")
    return found


class ControlPlane:
    """etcd and kube-apiserver on loopback, with a harness CA, an ``admin`` identity and minted identities.

    ``workdir`` holds certificates, kubeconfigs and logs (a temporary directory, removed on stop, when
    not given). etcd's data lives on /dev/shm when it exists, with fsync off, and is always removed.
    ``apiserver_args`` are appended to the defaults (a later flag wins in kube-apiserver).
    """

    def __init__(
        self,
        *,
        workdir: Path | None = None,
        binaries: Binaries | None = None,
        apiserver_args: Sequence[str] = (),
        start_timeout: float = 90.0,
        verbosity: int = 0,
    ) -> None:
        self._own_workdir = workdir is None
        self.workdir = workdir if workdir is not None else Path(tempfile.mkdtemp(prefix="certkeeper-kube-"))
        self.workdir.mkdir(parents=True, exist_ok=True)
        self._binaries = binaries
        self._extra_args = list(apiserver_args)
        self._start_timeout = start_timeout
        self._verbosity = verbosity
        self.apiserver_log_file = self.workdir / "kube-apiserver.log"
        self.etcd_log_file = self.workdir / "etcd.log"
        self._etcd: Process | None = None
        self._apiserver: Process | None = None
        self._etcd_data: Path | None = None
        self._identity_count = 0
        self.port = 0
        self.etcd_url = ""
        self.ca = HarnessCA(self.workdir / "pki")
        self.admin = self.client_for("admin", ["system:masters"])

    # -- identities -------------------------------------------------------------------------------

    @property
    def server(self) -> str:
        """The API server's URL (fixed for the life of this object, across restarts)."""
        return f"https://127.0.0.1:{self.port}"

    @property
    def ca_file(self) -> Path:
        """The harness CA certificate: it signed the API server's serving certificate and every client's."""
        return self.ca.cert_file

    def client_for(self, user: str, groups: Sequence[str] = ()) -> Identity:
        """Mint a client certificate for ``user`` in ``groups`` and a kubeconfig using it.

        The API server adds ``system:authenticated``. Grant rights with RBAC objects, as deploy/ does.
        Valid before or after ``start()``; the port is reserved at construction so URLs stay fixed.
        """
        self._ensure_port()
        self._identity_count += 1
        safe = re.sub(r"[^A-Za-z0-9_.-]+", "_", user)[:60]
        directory = self.workdir / "identities" / f"{self._identity_count:03d}-{safe}"
        files: KeyPairFiles = self.ca.issue(directory, common_name=user, organizations=groups)
        identity = Identity(
            user=user,
            groups=tuple(groups),
            server=self.server,
            ca_file=self.ca.cert_file,
            cert_file=files.cert_file,
            key_file=files.key_file,
            kubeconfig=directory / "kubeconfig",
        )
        identity.write_kubeconfig(identity.kubeconfig)
        return identity

    def service_account(self, namespace: str, name: str) -> Identity:
        """The identity a ServiceAccount's token would carry: ``system:serviceaccount:<ns>:<name>``."""
        return self.client_for(
            f"system:serviceaccount:{namespace}:{name}",
            [SERVICE_ACCOUNT_GROUP, f"{SERVICE_ACCOUNT_GROUP}:{namespace}"],
        )

    # -- lifecycle ---------------------------------------------------------------------------------

    def _ensure_port(self) -> None:
        if self.port == 0:
            self.port = free_port()

    def _apiserver_argv(self, binaries: Binaries, serving: KeyPairFiles, sa: KeyPairFiles) -> list[str]:
        return [
            str(binaries.kube_apiserver),
            f"--etcd-servers={self.etcd_url}",
            "--bind-address=127.0.0.1",
            "--advertise-address=127.0.0.1",
            f"--secure-port={self.port}",
            f"--cert-dir={self.workdir / 'apiserver-certs'}",
            f"--tls-cert-file={serving.cert_file}",
            f"--tls-private-key-file={serving.key_file}",
            f"--client-ca-file={self.ca.cert_file}",
            "--service-cluster-ip-range=10.0.0.0/24",
            f"--service-account-issuer=https://127.0.0.1:{self.port}",
            f"--service-account-key-file={sa.cert_file}",
            f"--service-account-signing-key-file={sa.key_file}",
            "--authorization-mode=RBAC",
            # No token controller runs, so the admission plugin would refuse every pod without a default SA.
            "--disable-admission-plugins=ServiceAccount",
            # Lighter on 2 cores; nothing here tests API priority and fairness.
            "--enable-priority-and-fairness=false",
            # Nothing serves the kubernetes Service; skip its endpoint lease writes every 10 s.
            "--endpoint-reconciler-type=none",
            "--profiling=false",
            f"--v={self._verbosity}",
            *self._extra_args,
        ]

    def _spawn_all(self) -> None:
        binaries = self._binaries or find_binaries()
        shm = Path("/dev/shm")
        parent = shm if shm.is_dir() and os.access(shm, os.W_OK) else self.workdir
        remove_orphaned_etcd_data(parent)
        self._etcd_data = Path(tempfile.mkdtemp(prefix=f"{ETCD_DATA_PREFIX}{os.getpid()}-", dir=parent))
        client, peer = free_port(), free_port()
        self.etcd_url = f"http://127.0.0.1:{client}"
        peer_url = f"http://127.0.0.1:{peer}"
        self._etcd = Process(
            "etcd",
            [
                str(binaries.etcd),
                f"--data-dir={self._etcd_data}",
                f"--listen-client-urls={self.etcd_url}",
                f"--advertise-client-urls={self.etcd_url}",
                f"--listen-peer-urls={peer_url}",
                f"--initial-advertise-peer-urls={peer_url}",
                f"--initial-cluster=default={peer_url}",
                "--unsafe-no-fsync",
                "--log-level=warn",
            ],
            self.etcd_log_file,
        )
        self._etcd.spawn()
        serving = self.ca.issue(
            self.workdir / "pki" / "apiserver",
            common_name="kube-apiserver",
            dns_names=["localhost", "kubernetes", "kubernetes.default", "kubernetes.default.svc"],
            ip_addresses=["127.0.0.1", "10.0.0.1"],
            server=True,
        )
        sa = write_service_account_keys(self.workdir / "pki")
        self._apiserver = Process(
            "kube-apiserver", self._apiserver_argv(binaries, serving, sa), self.apiserver_log_file
        )
        self._apiserver.spawn()
        atexit.register(self.stop)

    def _probe(self) -> bool:
        """One readiness check: True when /readyz answers 200; raises if a process has died."""
        for process in (self._etcd, self._apiserver):
            if process is None:
                raise ControlPlaneError("the control plane is not running")
            code = process.exited()
            if code is not None:
                raise ControlPlaneError(
                    f"{process.name} exited with status {code} during start; last log lines:\n{process.tail(40)}"
                )
        connection = http.client.HTTPSConnection("127.0.0.1", self.port, context=self.admin.ssl_context(), timeout=5)
        try:
            connection.request("GET", "/readyz")
            return connection.getresponse().status == 200
        except OSError:
            return False
        finally:
            connection.close()

    def _failed_start(self, error: Exception) -> ControlPlaneError:
        self.stop()
        return error if isinstance(error, ControlPlaneError) else ControlPlaneError(str(error))

    def start(self) -> None:
        """Start etcd and kube-apiserver and block until /readyz says ok (stops everything on failure)."""
        self._ensure_port()
        try:
            self._spawn_all()
            deadline = time.monotonic() + self._start_timeout
            while not self._probe():
                if time.monotonic() > deadline:
                    raise ControlPlaneError(f"kube-apiserver not ready after {self._start_timeout:.0f}s")
                time.sleep(0.2)
        except Exception as error:
            raise self._failed_start(error) from error

    async def astart(self) -> None:
        """``start()`` for async code: the event loop keeps running while the API server comes up."""
        self._ensure_port()
        try:
            self._spawn_all()
            await self._await_ready()
        except Exception as error:
            raise self._failed_start(error) from error

    async def _await_ready(self) -> None:
        deadline = time.monotonic() + self._start_timeout
        while not await asyncio.to_thread(self._probe):
            if time.monotonic() > deadline:
                raise ControlPlaneError(f"kube-apiserver not ready after {self._start_timeout:.0f}s")
            await asyncio.sleep(0.2)

    def stop(self) -> None:
        """Stop kube-apiserver then etcd (SIGTERM, SIGKILL after 10 s); remove etcd's data. Idempotent."""
        atexit.unregister(self.stop)
        for process in (self._apiserver, self._etcd):
            if process is not None:
                process.stop()
        if self._etcd_data is not None:
            shutil.rmtree(self._etcd_data, ignore_errors=True)
            self._etcd_data = None
        if self._own_workdir:
            shutil.rmtree(self.workdir, ignore_errors=True)

    async def astop(self) -> None:
        """``stop()`` without blocking the event loop."""
        await asyncio.to_thread(self.stop)

    # -- faults ------------------------------------------------------------------------------------

    def stop_apiserver(self) -> None:
        """Stop only kube-apiserver (etcd keeps the data): clients see connection refused until started."""
        if self._apiserver is None:
            raise ControlPlaneError("the control plane is not running")
        self._apiserver.stop()

    def start_apiserver(self) -> None:
        """Start kube-apiserver again on the same port, CA and etcd; block until ready."""
        if self._apiserver is None:
            raise ControlPlaneError("the control plane is not running")
        self._apiserver.spawn()
        deadline = time.monotonic() + self._start_timeout
        while not self._probe():
            if time.monotonic() > deadline:
                raise ControlPlaneError(f"kube-apiserver not ready after {self._start_timeout:.0f}s")
            time.sleep(0.2)

    def restart_apiserver(self) -> None:
        """Stop and start kube-apiserver on the same etcd: watches break, resourceVersions survive."""
        self.stop_apiserver()
        self.start_apiserver()

    async def astop_apiserver(self) -> None:
        """``stop_apiserver()`` without blocking the event loop."""
        if self._apiserver is None:
            raise ControlPlaneError("the control plane is not running")
        await asyncio.to_thread(self._apiserver.stop)

    async def astart_apiserver(self) -> None:
        """``start_apiserver()`` without blocking the event loop."""
        if self._apiserver is None:
            raise ControlPlaneError("the control plane is not running")
        self._apiserver.spawn()
        await self._await_ready()

    async def arestart_apiserver(self) -> None:
        """``restart_apiserver()`` without blocking the event loop (code under test keeps running)."""
        await self.astop_apiserver()
        await self.astart_apiserver()

    def pause_apiserver(self) -> None:
        """SIGSTOP kube-apiserver: connections stay open but nothing answers (a hung server, for timeouts)."""
        os.kill(self.pids["kube-apiserver"], signal.SIGSTOP)

    def resume_apiserver(self) -> None:
        """SIGCONT a paused kube-apiserver."""
        os.kill(self.pids["kube-apiserver"], signal.SIGCONT)

    @property
    def pids(self) -> dict[str, int]:
        """Process ids of the running ``etcd`` and ``kube-apiserver``."""
        return {
            process.name: process.popen.pid
            for process in (self._etcd, self._apiserver)
            if process is not None and process.popen is not None and process.popen.poll() is None
        }

    # -- logs --------------------------------------------------------------------------------------

    def apiserver_log(self) -> str:
        """Everything kube-apiserver wrote so far (all restarts, each after a ``==== harness`` line)."""
        return read_log(self.apiserver_log_file)

    def etcd_log(self) -> str:
        """Everything etcd wrote so far."""
        return read_log(self.etcd_log_file)

    def log_tail(self, lines: int = 60) -> str:
        """The last lines of both logs, for a failing test's report."""
        parts = []
        for name, path in (("kube-apiserver", self.apiserver_log_file), ("etcd", self.etcd_log_file)):
            text = "\n".join(read_log(path).splitlines()[-lines:])
            parts.append(f"--- {name} ({path}) ---\n{text}")
        return "\n".join(parts)

    # -- context managers --------------------------------------------------------------------------

    def __enter__(self) -> ControlPlane:
        self.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    async def __aenter__(self) -> ControlPlane:
        await self.astart()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.astop()


__all__ = [
    "BUILD_SCRIPT",
    "REPO_ROOT",
    "Binaries",
    "ControlPlane",
    "ControlPlaneError",
    "Identity",
    "find_binaries",
    "free_port",
]
