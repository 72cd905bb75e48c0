"""The clock the Kubernetes backend reads: monotonic time for rate limits, token caches and leases.

The store layer sits below ``runtime``, so it cannot import ``certkeeper.runtime.clock``; this is the
structural subset it needs (``runtime.clock.SystemClock`` and ``FakeClock`` satisfy it), so tests drive
the rate limiter, the token file cache and leader election with a fake clock.
"""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime
from typing import Protocol


class Clock(Protocol):
    def now(self) -> datetime:
        """The current time, timezone-aware UTC (written into Lease records)."""
        ...

    def monotonic(self) -> float:
        """Seconds on a clock that never goes backwards; only differences mean anything."""
        ...

    async def sleep(self, seconds: float) -> None: ...


class SystemClock:
    """The real clock."""

    def now(self) -> datetime:
        return datetime.now(UTC)

    def monotonic(self) -> float:
        return time.monotonic()

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(max(seconds, 0.0))
