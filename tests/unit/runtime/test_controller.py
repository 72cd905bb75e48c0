import asyncio

from certkeeper.runtime.clock import FakeClock
from certkeeper.runtime.controller import Controller, Result, RetryAfter


async def settle(n: int = 20) -> None:
    for _ in range(n):
        await asyncio.sleep(0)


async def test_failures_back_off_then_success_forgets() -> None:
    clock = FakeClock()
    calls: list[float] = []

    async def reconcile(key: str) -> Result | None:
        calls.append(clock.monotonic())
        if len(calls) < 3:
            raise RuntimeError("issuer not ready")
        return None

    ctrl: Controller[str] = Controller("t", reconcile, clock=clock, workers=1, base_delay=5, max_delay=300)
    runner = asyncio.create_task(ctrl.run())
    ctrl.queue.add("ns/a")
    await settle()
    assert calls == [0.0]
    clock.advance(5)
    await settle()
    assert calls == [0.0, 5.0]
    clock.advance(9)
    await settle()
    assert len(calls) == 2  # second backoff is 10s
    clock.advance(1)
    await settle()
    assert calls == [0.0, 5.0, 15.0]
    assert ctrl.queue.num_requeues("ns/a") == 0
    assert (ctrl.sync_calls, ctrl.sync_errors) == (3, 2)
    await ctrl.stop()
    await runner


async def test_requeue_after_and_retry_after() -> None:
    clock = FakeClock()
    seen: list[tuple[str, float]] = []

    async def reconcile(key: str) -> Result | None:
        seen.append((key, clock.monotonic()))
        if key == "renew" and len(seen) == 1:
            return Result(requeue_after=3600)
        if key == "wait" and clock.monotonic() == 0:
            raise RetryAfter(10)
        return None

    ctrl: Controller[str] = Controller("t", reconcile, clock=clock, workers=2)
    runner = asyncio.create_task(ctrl.run())
    ctrl.queue.add("renew")
    await settle()
    ctrl.queue.add("wait")
    await settle()
    clock.advance(10)
    await settle()
    clock.advance(3590)
    await settle()
    assert seen == [("renew", 0.0), ("wait", 0.0), ("wait", 10.0), ("renew", 3600.0)]
    assert ctrl.sync_errors == 0
    await ctrl.stop()
    await runner


async def test_workers_are_bounded_and_stop_is_graceful() -> None:
    clock = FakeClock()
    active = 0
    peak = 0
    finished: list[int] = []
    release = asyncio.Event()

    async def reconcile(key: int) -> Result | None:
        nonlocal active, peak
        active += 1
        peak = max(peak, active)
        await release.wait()
        active -= 1
        finished.append(key)
        return None

    ctrl: Controller[int] = Controller("t", reconcile, clock=clock, workers=3)
    runner = asyncio.create_task(ctrl.run())
    for i in range(10):
        ctrl.queue.add(i)
    await settle()
    assert peak == 3
    stopping = asyncio.create_task(ctrl.stop())
    await settle()
    release.set()
    await stopping
    await runner
    assert sorted(finished) == list(range(10))  # in-hand and queued items drained before exit
