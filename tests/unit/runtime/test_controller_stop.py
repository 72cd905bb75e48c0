"""Stopping a controller without draining: workers finish the key in hand and leave the queue as it is."""

import asyncio

from certkeeper.runtime.clock import FakeClock
from certkeeper.runtime.controller import Controller, Result


async def settle(n: int = 20) -> None:
    for _ in range(n):
        await asyncio.sleep(0)


async def test_stop_without_drain_finishes_only_the_keys_in_hand() -> None:
    clock = FakeClock()
    finished: list[int] = []
    release = asyncio.Event()

    async def reconcile(key: int) -> Result | None:
        await release.wait()
        finished.append(key)
        return None

    ctrl: Controller[int] = Controller("t", reconcile, clock=clock, workers=3)
    runner = asyncio.create_task(ctrl.run())
    for i in range(10):
        ctrl.queue.add(i)
    await settle()
    assert ctrl.busy == 3
    stopping = asyncio.create_task(ctrl.stop(drain=False))
    await settle()
    release.set()
    await asyncio.wait_for(stopping, 5)
    await asyncio.wait_for(runner, 5)
    assert sorted(finished) == [0, 1, 2]  # the keys in hand, nothing more
    assert ctrl.sync_calls == 3
