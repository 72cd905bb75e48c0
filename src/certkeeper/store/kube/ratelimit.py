"""Client-side request rate limit: a token bucket of ``qps`` tokens a second holding at most ``burst``.

Like client-go's ``flowcontrol.NewTokenBucketRateLimiter`` (cert-manager's ``--kube-api-qps`` 20 and
``--kube-api-burst`` 50 are the defaults here): the first ``burst`` requests go at once, after that one
every ``1/qps`` seconds. Each caller reserves its token immediately and then sleeps until it is due, so
waiters are served in arrival order without a lock, and a cancelled waiter's token is simply spent.
Time comes from the injected clock.
"""

from __future__ import annotations

from certkeeper.store.kube.clock import Clock

DEFAULT_QPS = 20.0
DEFAULT_BURST = 50


class TokenBucket:
    """``await acquire()`` before each request. ``qps`` None disables the limit."""

    def __init__(self, qps: float | None, burst: int, *, clock: Clock) -> None:
        if qps is not None and qps <= 0:
            raise ValueError("qps must be positive (None disables the limit)")
        if burst < 1:
            raise ValueError("burst must be at least 1")
        self._qps = qps
        self._burst = float(burst)
        self._clock = clock
        self._tokens = float(burst)
        self._last = clock.monotonic()

    def reserve(self) -> float:
        """Take one token now; return how many seconds the caller must wait before using it."""
        if self._qps is None:
            return 0.0
        now = self._clock.monotonic()
        self._tokens = min(self._burst, self._tokens + (now - self._last) * self._qps)
        self._last = now
        self._tokens -= 1.0
        return 0.0 if self._tokens >= 0 else -self._tokens / self._qps

    async def acquire(self) -> None:
        wait = self.reserve()
        if wait > 0:
            await self._clock.sleep(wait)
