import asyncio
from datetime import UTC, datetime, timedelta

import pytest

from certkeeper.runtime.clock import FakeClock, SystemClock


async def test_fake_clock_wakes_sleepers_in_deadline_order() -> None:
    clock = FakeClock(datetime(2030, 1, 1, tzinfo=UTC))
    woke: list[str] = []

    async def sleeper(name: str, seconds: float) -> None:
        await clock.sleep(seconds)
        woke.append(name)

    tasks = [asyncio.create_task(sleeper("late", 20)), asyncio.create_task(sleeper("early", 10))]
    await asyncio.sleep(0)
    assert clock.pending_sleepers == 2
    assert clock.next_deadline() == 10
    clock.advance(timedelta(seconds=15))
    await asyncio.sleep(0)
    assert woke == ["early"]
    clock.advance(5)
    await asyncio.gather(*tasks)
    assert woke == ["early", "late"]
    assert clock.now() == datetime(2030, 1, 1, 0, 0, 20, tzinfo=UTC)
    with pytest.raises(ValueError, match="backwards"):
        clock.advance(-1)


async def test_system_clock_is_aware_utc() -> None:
    clock = SystemClock()
    assert clock.now().tzinfo is UTC
    before = clock.monotonic()
    await clock.sleep(0)
    assert clock.monotonic() >= before
