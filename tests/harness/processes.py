"""Child processes of the test harnesses: spawned with their output in a log file, stopped in order,
and taken down by Linux when the thread that started them dies (so a killed test run leaks nothing).

Test support (see ``tests.harness.kube``).
"""

from __future__ import annotations

import ctypes
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _die_with_parent_hook() -> None:
    """Runs in the forked child before exec: ask Linux to SIGTERM it when the spawning thread dies."""
    if _LIBC is not None:
        _LIBC.prctl(1, signal.SIGTERM, 0, 0, 0)  # 1 = PR_SET_PDEATHSIG


# Loaded in the parent, because loading a library between fork and exec is not safe.
_LIBC = ctypes.CDLL(None, use_errno=True) if sys.platform == "linux" else None


class Process:
    """One child process whose output is appended to a log file."""

    def __init__(self, name: str, argv: list[str], log_file: Path) -> None:
        self.name = name
        self.argv = argv
        self.log_file = log_file
        self.popen: subprocess.Popen[bytes] | None = None

    def spawn(self) -> None:
        """Start the process (again), after a ``==== harness: starting`` line in its log."""
        with self.log_file.open("ab") as log:
            log.write(f"==== harness: starting {self.name} at {time.strftime('%H:%M:%S')}\n".encode())
            log.flush()
            self.popen = subprocess.Popen(
                self.argv,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # a Ctrl-C in the terminal reaches pytest, which stops us in order
                preexec_fn=_die_with_parent_hook,
            )

    def exited(self) -> int | None:
        """The exit status if the process has ended by itself, else None (running or stopped by us)."""
        return None if self.popen is None else self.popen.poll()

    def stop(self, grace: float = 10.0) -> None:
        """SIGTERM, then SIGKILL after ``grace`` seconds; wait for the exit. Idempotent."""
        popen, self.popen = self.popen, None
        if popen is None or popen.poll() is not None:
            return
        popen.terminate()
        try:
            popen.wait(grace)
        except subprocess.TimeoutExpired:
            popen.kill()
            popen.wait()

    def tail(self, lines: int) -> str:
        """The last ``lines`` lines of the log."""
        return "\n".join(read_log(self.log_file).splitlines()[-lines:])


def read_log(path: Path) -> str:
    """A log file's text ('' before the process wrote one)."""
    try:
        return path.read_text(errors="replace")
    except FileNotFoundError:
        return ""


ETCD_DATA_PREFIX = "certkeeper-etcd-"


def remove_orphaned_etcd_data(parent: Path) -> None:
    """Remove etcd data directories left in ``parent`` by harness processes that were killed (tmpfs is RAM)."""
    for path in parent.glob(f"{ETCD_DATA_PREFIX}*-*"):
        pid = path.name.removeprefix(ETCD_DATA_PREFIX).split("-")[0]
        if pid.isdigit() and not Path(f"/proc/{pid}").exists():
            shutil.rmtree(path, ignore_errors=True)
