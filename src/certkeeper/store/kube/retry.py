"""When a failed request may be sent again, and how long to wait first. Pure (randomness is a parameter).

A request is retried only when that cannot apply it twice (client-go's ``rest.Request`` rules):

* the server answered 429: it refused the request before doing anything (priority and fairness or the
  max-in-flight filter), so every verb is retried after the delay it asked for;
* the connection was never established (refused, unreachable, DNS): nothing was sent, every verb;
* a 5xx answer or a connection lost mid-request: only reads (GET, LIST, opening a WATCH), which
  are idempotent; a write may have been applied, so its caller decides (the reconcile requeues).

Delays grow exponentially with "full jitter" downwards (``cap * (1 - jitter * U)``), so a fleet of
clients that failed together does not retry together, and no delay exceeds ``max_delay``.
"""

from __future__ import annotations

import enum
import random
from dataclasses import dataclass


class Failure(enum.Enum):
    """What went wrong with one attempt, as far as retrying is concerned."""

    #: The connection could not be made: the server never saw the request.
    NOT_SENT = "not sent"
    #: The server refused the request unprocessed (429).
    THROTTLED = "throttled"
    #: A 5xx answer, or the connection failed after the request may have reached the server.
    MAYBE_APPLIED = "maybe applied"
    #: Any other error answer: retrying would give the same answer.
    FINAL = "final"


@dataclass(frozen=True, slots=True, kw_only=True)
class RetryPolicy:
    """Bounded exponential backoff with jitter."""

    #: Attempts in total, the first one included.
    max_attempts: int = 5
    #: The delay before the second attempt (before jitter).
    base_delay: float = 0.25
    #: Delays double from ``base_delay`` up to this.
    max_delay: float = 8.0
    #: Fraction of each delay that is random (0: none, 1: anywhere between 0 and the delay).
    jitter: float = 0.5

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        if self.base_delay < 0 or self.max_delay < self.base_delay:
            raise ValueError("base_delay must be between 0 and max_delay")
        if not 0.0 <= self.jitter <= 1.0:
            raise ValueError("jitter must be between 0 and 1")

    def should_retry(self, failure: Failure, *, idempotent: bool, attempt: int) -> bool:
        """Whether attempt number ``attempt`` (1-based), which failed with ``failure``, may be followed by another."""
        if attempt >= self.max_attempts:
            return False
        if failure in (Failure.NOT_SENT, Failure.THROTTLED):
            return True
        return failure is Failure.MAYBE_APPLIED and idempotent

    def delay(self, attempt: int, rng: random.Random, *, retry_after: float | None = None) -> float:
        """Seconds to wait after failed attempt number ``attempt`` (1-based).

        A delay the server asked for (``Retry-After``) is honoured as given; the API server spreads
        its clients itself by the values it hands out.
        """
        if retry_after is not None:
            return max(retry_after, 0.0)
        ceiling = min(self.max_delay, self.base_delay * 2.0 ** min(max(attempt - 1, 0), 62))
        return ceiling * (1.0 - self.jitter * rng.random())


def classify_status(code: int) -> Failure:
    """How an HTTP error status counts for retrying."""
    if code == 429:
        return Failure.THROTTLED
    if code >= 500:
        return Failure.MAYBE_APPLIED
    return Failure.FINAL
