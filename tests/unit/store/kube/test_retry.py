"""Which failures are retried, and the backoff between attempts."""

from __future__ import annotations

import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from certkeeper.store.kube.retry import Failure, RetryPolicy, classify_status


@pytest.mark.parametrize(
    ("failure", "idempotent", "expected"),
    [
        (Failure.NOT_SENT, False, True),
        (Failure.NOT_SENT, True, True),
        (Failure.THROTTLED, False, True),
        (Failure.THROTTLED, True, True),
        (Failure.MAYBE_APPLIED, True, True),
        (Failure.MAYBE_APPLIED, False, False),
        (Failure.FINAL, True, False),
        (Failure.FINAL, False, False),
    ],
    ids=lambda v: str(getattr(v, "name", v)),
)
def test_what_is_retried(failure: Failure, idempotent: bool, expected: bool) -> None:
    assert RetryPolicy().should_retry(failure, idempotent=idempotent, attempt=1) is expected


def test_attempts_are_bounded() -> None:
    policy = RetryPolicy(max_attempts=3)
    assert policy.should_retry(Failure.NOT_SENT, idempotent=True, attempt=2)
    assert not policy.should_retry(Failure.NOT_SENT, idempotent=True, attempt=3)
    assert not RetryPolicy(max_attempts=1).should_retry(Failure.THROTTLED, idempotent=True, attempt=1)


@pytest.mark.parametrize(
    ("code", "expected"),
    [(429, Failure.THROTTLED), (500, Failure.MAYBE_APPLIED), (503, Failure.MAYBE_APPLIED), (404, Failure.FINAL)],
    ids=str,
)
def test_classify_status(code: int, expected: Failure) -> None:
    assert classify_status(code) is expected


def test_delays_double_up_to_the_cap_without_jitter() -> None:
    policy = RetryPolicy(base_delay=0.25, max_delay=2.0, jitter=0.0, max_attempts=10)
    rng = random.Random(1)
    assert [policy.delay(n, rng) for n in range(1, 7)] == [0.25, 0.5, 1.0, 2.0, 2.0, 2.0]


def test_jitter_spreads_delays_below_the_ceiling() -> None:
    policy = RetryPolicy(base_delay=1.0, max_delay=1.0, jitter=0.5)
    rng = random.Random(7)
    delays = [policy.delay(1, rng) for _ in range(200)]
    assert all(0.5 <= d <= 1.0 for d in delays)
    assert max(delays) - min(delays) > 0.3


def test_retry_after_is_honoured() -> None:
    assert RetryPolicy().delay(1, random.Random(), retry_after=4.0) == 4.0
    assert RetryPolicy().delay(1, random.Random(), retry_after=-1.0) == 0.0


@pytest.mark.parametrize(
    "kwargs",
    [{"max_attempts": 0}, {"base_delay": -1}, {"base_delay": 5, "max_delay": 1}, {"jitter": 1.5}],
    ids=["attempts", "negative-base", "base-over-max", "jitter"],
)
def test_policy_validation(kwargs: dict[str, float]) -> None:
    with pytest.raises(ValueError, match="must"):
        RetryPolicy(**kwargs)  # type: ignore[arg-type]


@given(
    attempt=st.integers(min_value=-5, max_value=10_000),
    base=st.floats(min_value=0, max_value=10),
    extra=st.floats(min_value=0, max_value=100),
    jitter=st.floats(min_value=0, max_value=1),
    seed=st.integers(),
)
def test_delay_is_always_within_bounds(attempt: int, base: float, extra: float, jitter: float, seed: int) -> None:
    policy = RetryPolicy(base_delay=base, max_delay=base + extra, jitter=jitter)
    delay = policy.delay(attempt, random.Random(seed))
    assert 0.0 <= delay <= policy.max_delay
