"""``certkeeper acmesolver`` as the solver pod runs it: serve one challenge, stop cleanly on SIGTERM."""

from __future__ import annotations

import http.client
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator

import pytest


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _get(port: int, path: str, host: str) -> tuple[int, str, bytes]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    try:
        connection.request("GET", path, headers={"Host": host})
        response = connection.getresponse()
        return response.status, response.getheader("Cache-Control") or "", response.read()
    finally:
        connection.close()


def _wait_until_serving(process: subprocess.Popen[bytes], port: int) -> None:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"acmesolver exited with {process.returncode}")
        try:
            _get(port, "/healthz", "x")
            return
        except OSError:
            time.sleep(0.05)
    raise AssertionError("acmesolver did not start listening")


@pytest.fixture
def acmesolver() -> Iterator[tuple[subprocess.Popen[bytes], int]]:
    port = _free_port()
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "certkeeper",
            "acmesolver",
            f"--listen-port={port}",
            "--domain=example.test",
            "--token=the-token",
            "--key=the-token.thumb",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        _wait_until_serving(process, port)
    except AssertionError:
        process.kill()
        process.communicate()
        raise
    yield process, port
    if process.poll() is None:
        process.kill()
    process.communicate()


def test_serves_the_challenge_then_stops_on_sigterm(acmesolver: tuple[subprocess.Popen[bytes], int]) -> None:
    process, port = acmesolver
    assert _get(port, "/.well-known/acme-challenge/the-token", "example.test") == (
        200,
        "no-cache, no-store, must-revalidate",
        b"the-token.thumb",
    )
    assert _get(port, "/.well-known/acme-challenge/the-token", "other.test")[0] == 404
    assert _get(port, "/", "anything")[:2] == (200, "no-cache, no-store, must-revalidate")
    process.send_signal(signal.SIGTERM)
    stdout, _ = process.communicate(timeout=10)
    assert process.returncode == 0
    output = stdout.decode()
    assert "the-token.thumb" not in output  # the key is never logged
    assert "acmesolver shutting down" in output
