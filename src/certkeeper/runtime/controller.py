"""Run a reconcile function over a work queue with a bounded number of workers.

A reconcile gets a key, does its work, and returns a ``Result`` (or raises). Success forgets the
key's backoff and honours ``requeue_after``; ``RetryAfter`` requeues at the given delay; any other
exception is logged (type and message only) and the key is retried with per-key exponential backoff.
``stop`` lets workers finish the item in hand (graceful shutdown).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Hashable
from dataclasses import dataclass
from typing import Generic, TypeVar

from certkeeper.runtime.clock import Clock
from certkeeper.runtime.workqueue import ShutDown, WorkQueue
from certkeeper.store.ports import Conflict

log = logging.getLogger(__name__)

K = TypeVar("K", bound=Hashable)


@dataclass(frozen=True, slots=True)
class Result:
    requeue_after: float | None = None


class RetryAfter(Exception):
    """Not an error: try this key again after ``delay`` seconds."""

    def __init__(self, delay: float, reason: str = "") -> None:
        super().__init__(reason or f"retry after {delay}s")
        self.delay = delay


Reconcile = Callable[[K], Awaitable[Result | None]]


class Controller(Generic[K]):
    def __init__(
        self,
        name: str,
        reconcile: Reconcile[K],
        *,
        clock: Clock,
        workers: int = 5,
        base_delay: float = 1.0,
        max_delay: float = 30.0,
    ) -> None:
        if workers < 1:
            raise ValueError("a controller needs at least one worker")
        self.name = name
        self.queue: WorkQueue[K] = WorkQueue(name, clock=clock, base_delay=base_delay, max_delay=max_delay)
        self._reconcile = reconcile
        self._workers = workers
        self._tasks: list[asyncio.Task[None]] = []
        self.sync_calls = 0
        self.sync_errors = 0
        self.idle = asyncio.Event()
        self._busy = 0
        self._stopping = False

    @property
    def busy(self) -> int:
        """How many keys workers have in hand right now."""
        return self._busy

    async def run(self) -> None:
        """Start the workers and wait for them (until ``stop``)."""
        self._tasks = [
            asyncio.get_running_loop().create_task(self._worker(), name=f"{self.name}-worker-{i}")
            for i in range(self._workers)
        ]
        try:
            await asyncio.gather(*self._tasks)
        finally:
            for task in self._tasks:
                task.cancel()

    async def stop(self, *, drain: bool = True) -> None:
        """Stop taking new keys and wait for the workers. ``drain``: they work off what is queued first;
        otherwise each finishes only the key in hand (a process told to stop, whose queued work is
        re-derived from the store on the next start, should not spend minutes on it)."""
        if not drain:
            self._stopping = True
        await self.queue.shutdown()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _worker(self) -> None:
        while True:
            try:
                key = await self.queue.get()
            except ShutDown:
                return
            if self._stopping:
                self.queue.done(key)
                return
            self._busy += 1
            self.idle.clear()
            try:
                await self._process(key)
            finally:
                self.queue.done(key)
                self._busy -= 1
                if self._busy == 0 and len(self.queue) == 0:
                    self.idle.set()

    async def _process(self, key: K) -> None:
        self.sync_calls += 1
        try:
            result = await self._reconcile(key)
        except RetryAfter as retry:
            self.queue.forget(key)
            self.queue.add_after(key, retry.delay)
            return
        except asyncio.CancelledError:
            raise
        except Conflict:
            # Someone wrote first; the watch brings the newer object and the key runs again.
            self.queue.add_rate_limited(key)
            log.debug("%s: %s changed while reconciling; retrying", self.name, key)
            return
        except Exception as exc:  # noqa: BLE001 - a task guard: one key's failure must not stop the worker
            self.sync_errors += 1
            delay = self.queue.add_rate_limited(key)
            log.warning(
                "%s: reconcile of %s failed (%s: %s); retrying in %.0fs", self.name, key, type(exc).__name__, exc, delay
            )
            return
        self.queue.forget(key)
        if result is not None and result.requeue_after is not None:
            self.queue.add_after(key, result.requeue_after)
