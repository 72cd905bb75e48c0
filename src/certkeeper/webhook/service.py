"""Running the webhook: the server plus the background work that keeps its certificate current.

:func:`serve` starts the server, runs the given background jobs (a certificate source, the dynamic
CA authority) and returns when ``stop`` is set, or raises when a job fails or returns (a job that
keeps a certificate current never ends on its own, so ending is a failure: the process should exit
and be restarted rather than serve a certificate nobody renews). The server is stopped either way.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Coroutine, Sequence
from typing import Any

from certkeeper.webhook.server import WebhookServer

Job = Callable[[], Coroutine[Any, Any, None]]


class JobEnded(RuntimeError):
    """A background job returned, which it never should."""


async def serve(server: WebhookServer, jobs: Sequence[tuple[str, Job]], stop: asyncio.Event) -> None:
    """Serve until ``stop`` is set; raise the first failure of a job (or :class:`JobEnded`)."""
    tasks = [asyncio.create_task(job(), name=name) for name, job in jobs]
    stopper = asyncio.create_task(stop.wait(), name="stop")
    try:
        await server.start()
        done, _ = await asyncio.wait([*tasks, stopper], return_when=asyncio.FIRST_COMPLETED)
        for task in done:
            if task is stopper:
                continue
            error = task.exception()
            if error is not None:
                raise error
            raise JobEnded(f"{task.get_name()} stopped unexpectedly")
    finally:
        for task in (*tasks, stopper):
            task.cancel()
        for task in (*tasks, stopper):
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        await server.stop()


__all__ = ["Job", "JobEnded", "serve"]
