"""A work queue of keys with client-go's semantics, for asyncio.

* A key is queued at most once however often it is added (deduplication), and never handed to two
  workers at once: a key added while it is being processed is queued again when ``done`` is called.
* ``add_after`` schedules a key for later (a renewal is a delayed add, not polling). Only the earliest
  pending time per key is kept.
* ``add_rate_limited`` backs off per key exponentially (``base * 2**(n-1)``, capped), ``forget``
  resets it after a success.

::

    add ──► dirty? ──no──► queue ──get──► processing ──done──► (dirty again? ─► queue)
               │yes                          │
               └──── dropped                 └─ add while processing: marked dirty only
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import itertools
from collections import deque
from collections.abc import Hashable
from typing import Generic, TypeVar

from certkeeper.runtime.clock import Clock

K = TypeVar("K", bound=Hashable)


class ShutDown(Exception):
    """The queue was shut down; workers should exit."""


class WorkQueue(Generic[K]):
    def __init__(self, name: str, *, clock: Clock, base_delay: float = 1.0, max_delay: float = 30.0) -> None:
        self.name = name
        self._clock = clock
        self._base_delay = base_delay
        self._max_delay = max_delay
        self._queue: deque[K] = deque()
        self._dirty: set[K] = set()
        self._processing: set[K] = set()
        self._failures: dict[K, int] = {}
        self._delayed: list[tuple[float, int, K]] = []
        self._due: dict[K, float] = {}
        self._seq = itertools.count()
        self._ready = asyncio.Event()
        self._delayed_changed = asyncio.Event()
        self._shutting_down = False
        self._timer: asyncio.Task[None] | None = None

    # -- adding -------------------------------------------------------------------------------

    def add(self, key: K) -> None:
        if self._shutting_down or key in self._dirty:
            return
        self._dirty.add(key)
        if key in self._processing:
            return
        self._queue.append(key)
        self._ready.set()

    def add_after(self, key: K, delay_seconds: float) -> None:
        """Queue ``key`` once ``delay_seconds`` have passed (now, if not positive)."""
        if self._shutting_down:
            return
        if delay_seconds <= 0:
            self.add(key)
            return
        due = self._clock.monotonic() + delay_seconds
        current = self._due.get(key)
        if current is not None and current <= due:
            return
        self._due[key] = due
        heapq.heappush(self._delayed, (due, next(self._seq), key))
        self._delayed_changed.set()
        self._ensure_timer()

    def backoff_delay(self, key: K) -> float:
        """The delay the next ``add_rate_limited`` of ``key`` would use."""
        failures = self._failures.get(key, 0)
        return float(min(self._base_delay * 2**failures, self._max_delay))

    def add_rate_limited(self, key: K) -> float:
        """Requeue after this key's exponential backoff; returns the delay used."""
        delay = self.backoff_delay(key)
        self._failures[key] = self._failures.get(key, 0) + 1
        self.add_after(key, delay)
        return delay

    def forget(self, key: K) -> None:
        self._failures.pop(key, None)

    def num_requeues(self, key: K) -> int:
        return self._failures.get(key, 0)

    # -- taking -------------------------------------------------------------------------------

    async def get(self) -> K:
        while not self._queue:
            if self._shutting_down:
                raise ShutDown(self.name)
            self._ready.clear()
            await self._ready.wait()
        key = self._queue.popleft()
        self._processing.add(key)
        self._dirty.discard(key)
        return key

    def done(self, key: K) -> None:
        self._processing.discard(key)
        if key in self._dirty:
            self._queue.append(key)
            self._ready.set()

    def __len__(self) -> int:
        return len(self._queue)

    @property
    def delayed_count(self) -> int:
        return len(self._due)

    def is_pending(self, key: K) -> bool:
        return key in self._dirty or key in self._due

    # -- lifecycle ----------------------------------------------------------------------------

    async def shutdown(self) -> None:
        """Stop accepting keys; waiting ``get`` calls raise ShutDown once the queue drains."""
        self._shutting_down = True
        self._ready.set()
        if self._timer is not None:
            self._timer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._timer
            self._timer = None

    def _ensure_timer(self) -> None:
        if self._timer is None or self._timer.done():
            self._timer = asyncio.get_running_loop().create_task(self._run_timer(), name=f"{self.name}-timer")

    async def _run_timer(self) -> None:
        while not self._shutting_down:
            now = self._clock.monotonic()
            while self._delayed and self._delayed[0][0] <= now:
                due, _, key = heapq.heappop(self._delayed)
                if self._due.get(key) == due:
                    del self._due[key]
                    self.add(key)
            self._delayed_changed.clear()
            if not self._delayed:
                await self._delayed_changed.wait()
                continue
            sleeper = asyncio.ensure_future(self._clock.sleep(self._delayed[0][0] - now))
            changed = asyncio.ensure_future(self._delayed_changed.wait())
            try:
                await asyncio.wait({sleeper, changed}, return_when=asyncio.FIRST_COMPLETED)
            finally:
                for task in (sleeper, changed):
                    task.cancel()
                await asyncio.gather(sleeper, changed, return_exceptions=True)
