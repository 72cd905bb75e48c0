"""The client-side token bucket (QPS and burst)."""

from __future__ import annotations

import asyncio

import pytest

from certkeeper.runtime.clock import FakeClock
from certkeeper.store.kube.ratelimit import DEFAULT_BURST, DEFAULT_QPS, TokenBucket


def test_defaults_are_cert_managers() -> None:
    assert (DEFAULT_QPS, DEFAULT_BURST) == (20.0, 50)


def test_burst_goes_at_once_then_one_every_one_over_qps() -> None:
    clock = FakeClock()
    bucket = TokenBucket(10.0, 3, clock=clock)
    assert [bucket.reserve() for _ in range(3)] == [0.0, 0.0, 0.0]
    assert bucket.reserve() == pytest.approx(0.1)
    assert bucket.reserve() == pytest.approx(0.2)  # reservations queue up behind each other


def test_tokens_refill_with_time_up_to_burst() -> None:
    clock = FakeClock()
    bucket = TokenBucket(2.0, 2, clock=clock)
    bucket.reserve()
    bucket.reserve()
    clock.advance(0.5)  # one token back
    assert bucket.reserve() == 0.0
    assert bucket.reserve() == pytest.approx(0.5)
    clock.advance(100)  # never more than the burst
    assert [bucket.reserve() for _ in range(2)] == [0.0, 0.0]
    assert bucket.reserve() == pytest.approx(0.5)


def test_no_qps_means_no_limit() -> None:
    bucket = TokenBucket(None, 1, clock=FakeClock())
    assert all(bucket.reserve() == 0.0 for _ in range(1000))


async def test_acquire_sleeps_on_the_clock_until_the_token_is_due() -> None:
    clock = FakeClock()
    bucket = TokenBucket(1.0, 1, clock=clock)
    await bucket.acquire()
    waiter = asyncio.create_task(bucket.acquire())
    await asyncio.sleep(0)
    assert not waiter.done()
    assert clock.next_deadline() == pytest.approx(1.0)
    clock.advance(1.0)
    await waiter


@pytest.mark.parametrize(("qps", "burst"), [(0.0, 1), (-1.0, 1), (1.0, 0)], ids=["zero-qps", "negative", "no-burst"])
def test_validation(qps: float, burst: int) -> None:
    with pytest.raises(ValueError, match="must be"):
        TokenBucket(qps, burst, clock=FakeClock())
