"""The pebble harness itself: lost ports are retried, failures carry the log, teardown always happens."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from tests.harness.pebble import Pebble, PebbleConfig, PebbleError, running_pebble


def test_a_port_taken_before_pebble_binds_it_is_replaced(tmp_path: Path) -> None:
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        pebble = Pebble(tmp_path, PebbleConfig())
        pebble.acme_port = squatter.getsockname()[1]
        with pebble:
            assert pebble.acme_port != squatter.getsockname()[1]
            assert pebble.log_count("address already in use") >= 1
            assert b"BEGIN CERTIFICATE" in pebble.root_pem()
    with pytest.raises(PebbleError, match="management GET /roots/0 failed"):
        pebble.root_pem()  # stopped: nothing listens any more


def test_a_pebble_that_cannot_start_reports_its_log(tmp_path: Path) -> None:
    pebble = Pebble(tmp_path, PebbleConfig())
    # A certificate file that does not exist makes pebble exit at once.
    pebble._write_config = lambda: _broken_config(tmp_path)  # type: ignore[method-assign]
    with pytest.raises(PebbleError, match="pebble exited during start-up"):
        pebble.start()
    pebble.stop()  # idempotent after a failed start


def _broken_config(directory: Path) -> Path:
    path = directory / "broken.json"
    path.write_text('{"pebble": {"listenAddress": "127.0.0.1:0", "certificate": "/nonexistent", "privateKey": "/x"}}')
    return path


def test_running_pebble_stops_even_when_the_body_fails() -> None:
    with pytest.raises(RuntimeError, match="boom"), running_pebble() as pebble:  # noqa: PT012 - the failing body is the point
        process = pebble._process
        raise RuntimeError("boom")
    assert process is not None
    assert process.poll() is not None
