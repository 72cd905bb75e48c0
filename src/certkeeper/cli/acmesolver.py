"""``certkeeper acmesolver``: the HTTP-01 solver pod's server (cert-manager ``cmd/acmesolver``).

Serves one challenge, ``--domain``/``--token``/``--key``, on ``--listen-port`` (8089) on every
interface, until SIGTERM or SIGINT, then shuts down gracefully within 5 s. Composition root of the
acmesolver: one :class:`ChallengeResponder` holding one entry, one :class:`HTTP01Server` with the
default limits.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal

import click

from certkeeper.acme.solvers.http01_server import (
    DEFAULT_LISTEN_PORT,
    ChallengeEntry,
    ChallengeResponder,
    HTTP01Server,
)

log = logging.getLogger("certkeeper.acmesolver")


async def serve_challenge(entry: ChallengeEntry, *, port: int, host: str | None = None) -> None:
    """Serve ``entry`` until SIGTERM/SIGINT (or cancellation), then stop gracefully."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    try:
        async with HTTP01Server(ChallengeResponder([entry]), host=host, port=port) as server:
            log.info("acmesolver serving the challenge for %s on port %d", entry.domain, server.bound_port)
            await stop.wait()
            log.info("acmesolver shutting down")
    finally:
        for signum in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(ValueError, RuntimeError):
                loop.remove_signal_handler(signum)


@click.command(name="acmesolver")
@click.option(
    "--listen-port",
    type=click.IntRange(0, 65535),
    default=DEFAULT_LISTEN_PORT,
    show_default=True,
    help="the port number to listen on for connections",
)
@click.option("--domain", default="", help="the domain name to verify")
@click.option("--token", default="", help="the challenge token to verify against")
@click.option("--key", default="", help="the challenge key to respond with")
def acmesolver(listen_port: int, domain: str, token: str, key: str) -> None:
    """HTTP server used to solve ACME challenges."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    entry = ChallengeEntry(domain=domain, token=token, key=key)
    try:
        asyncio.run(serve_challenge(entry, port=listen_port))
    except OSError as exc:
        raise click.ClickException(f"acmesolver cannot listen on port {listen_port}: {exc}") from exc
