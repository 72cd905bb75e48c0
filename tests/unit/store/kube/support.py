"""Helpers of the kube backend's unit tests: a recording clock and a scripted HTTP peer."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from aiohttp import web

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class RecordingClock:
    """Sleeps return at once; the clock jumps by the slept time and remembers every sleep."""

    def __init__(self) -> None:
        self.sleeps: list[float] = []
        self._mono = 0.0

    def now(self) -> datetime:
        return datetime(2025, 1, 1, tzinfo=UTC)

    def monotonic(self) -> float:
        return self._mono

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self._mono += max(seconds, 0.0)
        await asyncio.sleep(0)


@dataclass
class Script:
    """Responses to hand out in order (the last one repeats) and the requests seen."""

    responses: list[Handler] = field(default_factory=list)
    requests: list[tuple[str, str, dict[str, str], bytes]] = field(default_factory=list)

    async def handle(self, request: web.Request) -> web.StreamResponse:
        body = await request.read()
        self.requests.append((request.method, request.path_qs, dict(request.headers), body))
        index = min(len(self.requests), len(self.responses)) - 1
        return await self.responses[index](request)


def status_response(code: int, reason: str, message: str, headers: dict[str, str] | None = None) -> Handler:
    async def respond(_: web.Request) -> web.StreamResponse:
        body = {"kind": "Status", "apiVersion": "v1", "status": "Failure", "message": message, "reason": reason}
        return web.json_response({**body, "code": code}, status=code, headers=headers)

    return respond


def ok(obj: dict[str, Any]) -> Handler:
    async def respond(_: web.Request) -> web.StreamResponse:
        return web.json_response(obj)

    return respond
