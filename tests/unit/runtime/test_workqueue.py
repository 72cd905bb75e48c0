import asyncio

import pytest

from certkeeper.runtime.clock import FakeClock
from certkeeper.runtime.workqueue import ShutDown, WorkQueue


async def settle() -> None:
    for _ in range(10):
        await asyncio.sleep(0)


async def test_dedup_and_order() -> None:
    q: WorkQueue[str] = WorkQueue("t", clock=FakeClock())
    for k in ["a", "b", "a", "c", "b"]:
        q.add(k)
    assert len(q) == 3
    assert [await q.get(), await q.get(), await q.get()] == ["a", "b", "c"]
    await q.shutdown()


async def test_key_added_while_processing_is_requeued_on_done_only() -> None:
    q: WorkQueue[str] = WorkQueue("t", clock=FakeClock())
    q.add("a")
    key = await q.get()
    q.add("a")
    assert len(q) == 0  # not handed to a second worker while processing
    q.done(key)
    assert len(q) == 1
    assert await q.get() == "a"
    q.done("a")
    assert len(q) == 0
    await q.shutdown()


async def test_add_after_fires_when_clock_passes_and_keeps_earliest() -> None:
    clock = FakeClock()
    q: WorkQueue[str] = WorkQueue("t", clock=clock)
    q.add_after("a", 60)
    q.add_after("a", 30)  # earlier wins
    q.add_after("a", 90)  # later ignored
    await settle()
    assert len(q) == 0
    clock.advance(29)
    await settle()
    assert len(q) == 0
    clock.advance(1)
    await settle()
    assert len(q) == 1
    assert await q.get() == "a"
    q.done("a")
    clock.advance(100)
    await settle()
    assert len(q) == 0  # the superseded 60s and 90s entries did not fire again
    await q.shutdown()


async def test_rate_limited_backoff_doubles_and_caps_and_forget_resets() -> None:
    q: WorkQueue[str] = WorkQueue("t", clock=FakeClock(), base_delay=1, max_delay=8)
    assert [q.add_rate_limited("k") for _ in range(6)] == [1, 2, 4, 8, 8, 8]
    assert q.num_requeues("k") == 6
    q.forget("k")
    assert q.backoff_delay("k") == 1
    await q.shutdown()


async def test_get_waits_and_shutdown_wakes_waiters() -> None:
    q: WorkQueue[str] = WorkQueue("t", clock=FakeClock())
    waiter = asyncio.create_task(q.get())
    await settle()
    assert not waiter.done()
    q.add("x")
    assert await waiter == "x"
    second = asyncio.create_task(q.get())
    await settle()
    await q.shutdown()
    with pytest.raises(ShutDown):
        await second
    q.add("ignored")
    assert len(q) == 0


async def test_delayed_adds_in_order_of_due_time() -> None:
    clock = FakeClock()
    q: WorkQueue[int] = WorkQueue("t", clock=clock)
    for i, delay in enumerate([50, 10, 30]):
        q.add_after(i, delay)
    clock.advance(60)
    await settle()
    assert [await q.get() for _ in range(3)] == [1, 2, 0]
    await q.shutdown()
