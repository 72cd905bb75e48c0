"""ACME challenge solving on a single host: an HTTP-01 server inside the certkeeper process.

On Kubernetes, HTTP-01 is answered by solver pods behind an Ingress; on a single host certkeeper itself
listens (``--acme-http01-listen``, by default port 80 on every address, as ACME servers dial port 80).
The server starts when the first HTTP-01 challenge is presented, so hosts that only use CA or DNS-01
issuers never bind the port; a failure to bind surfaces on the Challenge as a presentation error.
"""

from __future__ import annotations

import asyncio

from certkeeper.acme.solvers.base import CheckResult, SolverContext, SolverError
from certkeeper.acme.solvers.http01 import InProcessHTTP01Solver
from certkeeper.acme.solvers.http01_check import HTTP01SelfCheck
from certkeeper.acme.solvers.http01_server import ChallengeResponder, HTTP01Server
from certkeeper.api.acme import Challenge


def parse_listen(address: str) -> tuple[str | None, int]:
    """``host:port``, ``:port`` or ``[v6]:port`` into (host or None for every address, port)."""
    host, sep, port = address.rpartition(":")
    if not sep or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(f"listen address {address!r} must be host:port with a port from 1 to 65535")
    host = host.strip("[]")
    return (host or None), int(port)


class LazyHTTP01Solver:
    """An in-process HTTP-01 solver whose server is started on first use and stopped with ``aclose``."""

    def __init__(self, listen: str, *, self_check: HTTP01SelfCheck | None = None) -> None:
        self._host, self._port = parse_listen(listen)
        self.responder = ChallengeResponder()
        self._server = HTTP01Server(self.responder, host=self._host, port=self._port)
        self._started = False
        self._lock = asyncio.Lock()
        self._solver = InProcessHTTP01Solver(self.responder, self_check=self_check or HTTP01SelfCheck())

    async def _ensure_started(self) -> None:
        async with self._lock:
            if self._started:
                return
            try:
                await self._server.start()
            except OSError as exc:
                where = f"{self._host or '*'}:{self._port}"
                raise SolverError(f"cannot listen on {where} for HTTP-01 challenges: {exc.strerror}") from exc
            self._started = True

    async def present(self, challenge: Challenge, ctx: SolverContext) -> None:
        await self._ensure_started()
        await self._solver.present(challenge, ctx)

    async def check(self, challenge: Challenge, ctx: SolverContext) -> CheckResult:
        await self._ensure_started()
        return await self._solver.check(challenge, ctx)

    async def cleanup(self, challenge: Challenge, ctx: SolverContext) -> None:
        await self._solver.cleanup(challenge, ctx)

    async def aclose(self) -> None:
        if self._started:
            await self._server.stop()
            self._started = False
