"""Leader election timing and the leading() context, on the local store with a fake clock."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest

from certkeeper.runtime.clock import FakeClock
from certkeeper.store.kube.leaderelection import (
    LEASES,
    LeaderElectionConfig,
    LeaderElector,
    LeaderRecord,
    LeadershipLost,
    micro_time,
)
from certkeeper.store.local import LocalStore
from certkeeper.store.ports import RawObject, ResourceType, Unavailable

NAMESPACE = "kube-system"


class FlakyStore(LocalStore):
    """A local store whose reads and writes can be made to fail or to hang."""

    failing = False
    hanging = False

    async def _trouble(self) -> None:
        if self.hanging:
            await asyncio.Event().wait()
        if self.failing:
            raise Unavailable("connection refused")

    async def get(self, resource: ResourceType, name: str, *, namespace: str | None = None) -> RawObject:
        await self._trouble()
        return await super().get(resource, name, namespace=namespace)

    async def update(self, resource: ResourceType, obj: RawObject) -> RawObject:
        await self._trouble()
        return await super().update(resource, obj)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
async def store(clock: FakeClock) -> AsyncIterator[FlakyStore]:
    store = await FlakyStore.open(None, now=clock.now, bookmark_interval=None)
    assert isinstance(store, FlakyStore)
    async with store:
        yield store


def elector(store: LocalStore, clock: FakeClock, identity: str, **kwargs: Any) -> LeaderElector:
    return LeaderElector(
        store,
        LeaderElectionConfig(name="cert-manager-controller", identity=identity, namespace=NAMESPACE),
        clock=clock,
        **kwargs,
    )


async def settle() -> None:
    for _ in range(50):
        await asyncio.sleep(0)


async def advance(clock: FakeClock, seconds: float, step: float = 1.0) -> None:
    """Move the clock forward in steps, letting every task run in between."""
    await settle()
    while seconds > 0:
        clock.advance(min(step, seconds))
        seconds -= step
        await settle()


async def lease(store: LocalStore) -> LeaderRecord:
    return LeaderRecord.from_lease(await store.get(LEASES, "cert-manager-controller", namespace=NAMESPACE))


def test_defaults_are_cert_managers() -> None:
    config = LeaderElectionConfig(name="n", identity="i")
    assert (config.lease_duration, config.renew_deadline, config.retry_period) == (60.0, 40.0, 15.0)
    assert config.namespace == "kube-system"
    assert config.release_on_cancel


@pytest.mark.parametrize(
    "kwargs",
    [
        {"name": ""},
        {"lease_duration": 40.0},
        {"renew_deadline": 18.0},
        {"retry_period": 0.0},
    ],
    ids=["no-name", "lease-not-above-deadline", "deadline-not-above-jittered-retry", "no-retry"],
)
def test_config_validation(kwargs: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match=r"must|required"):
        LeaderElectionConfig(**{"name": "n", "identity": "i", **kwargs})


def test_micro_time() -> None:
    assert micro_time(FakeClock().now()) == "2025-01-01T00:00:00.000000Z"


async def test_the_first_candidate_creates_the_lease(store: FlakyStore, clock: FakeClock) -> None:
    a = elector(store, clock, "a")
    assert await a.try_acquire_or_renew()
    assert a.is_leader
    record = await lease(store)
    assert record == LeaderRecord("a", 60, "2025-01-01T00:00:00.000000Z", "2025-01-01T00:00:00.000000Z", 0)


async def test_another_candidate_waits_a_lease_duration_on_its_own_clock(store: FlakyStore, clock: FakeClock) -> None:
    a, b = elector(store, clock, "a"), elector(store, clock, "b")
    assert await a.try_acquire_or_renew()
    assert not await b.try_acquire_or_renew()
    assert b.leader == "a"
    assert not b.is_leader
    clock.advance(59)
    assert not await b.try_acquire_or_renew()
    clock.advance(1)
    assert await b.try_acquire_or_renew()
    record = await lease(store)
    assert (record.holder_identity, record.lease_transitions) == ("b", 1)
    assert record.acquire_time == micro_time(clock.now())


async def test_a_renewal_restarts_the_others_wait(store: FlakyStore, clock: FakeClock) -> None:
    a, b = elector(store, clock, "a"), elector(store, clock, "b")
    assert await a.try_acquire_or_renew()
    assert not await b.try_acquire_or_renew()
    clock.advance(30)
    assert await a.try_acquire_or_renew()
    first_acquired = (await lease(store)).acquire_time
    assert not await b.try_acquire_or_renew()  # sees a new renewTime: its 60 s start again
    clock.advance(59)
    assert not await b.try_acquire_or_renew()
    record = await lease(store)
    assert record.acquire_time == first_acquired  # renewals keep the acquire time
    assert record.lease_transitions == 0
    clock.advance(1)
    assert await b.try_acquire_or_renew()


async def test_a_released_lease_is_taken_at_once(store: FlakyStore, clock: FakeClock) -> None:
    a, b = elector(store, clock, "a"), elector(store, clock, "b")
    assert await a.try_acquire_or_renew()
    assert not await b.try_acquire_or_renew()
    assert await a.release()
    record = await lease(store)
    assert (record.holder_identity, record.lease_duration_seconds) == ("", 1)
    assert not await a.release()  # no longer the holder: nothing to do
    assert await b.try_acquire_or_renew()
    assert (await lease(store)).lease_transitions == 1


async def test_concurrent_candidates_one_wins(store: FlakyStore, clock: FakeClock) -> None:
    candidates = [elector(store, clock, name) for name in "abcde"]
    results = await asyncio.gather(*(c.try_acquire_or_renew() for c in candidates))
    assert sum(results) == 1
    winner = candidates[results.index(True)]
    assert (await lease(store)).holder_identity == winner.config.identity


async def test_new_leaders_are_reported(store: FlakyStore, clock: FakeClock) -> None:
    seen: list[str] = []
    a, b = elector(store, clock, "a"), elector(store, clock, "b", on_new_leader=seen.append)
    await a.try_acquire_or_renew()
    await b.try_acquire_or_renew()
    await a.try_acquire_or_renew()
    await b.try_acquire_or_renew()
    assert seen == ["a"]
    clock.advance(60)
    await b.try_acquire_or_renew()
    assert seen == ["a", "b"]


async def test_errors_and_hangs_are_failed_attempts(store: FlakyStore, clock: FakeClock) -> None:
    a = elector(store, clock, "a")
    store.failing = True
    assert not await a.try_acquire_or_renew()
    store.failing, store.hanging = False, True
    attempt = asyncio.create_task(a.acquire())
    await advance(clock, 41)
    assert not attempt.done()  # the hung read timed out after the renew deadline, and it keeps trying
    store.hanging = False
    await advance(clock, 40)
    await attempt
    assert a.is_leader


async def test_leading_runs_the_body_while_renewing_then_releases(store: FlakyStore, clock: FakeClock) -> None:
    a = elector(store, clock, "a")
    finished = asyncio.Event()
    renewals: list[str] = []

    async def body() -> str:
        for _ in range(5):
            await clock.sleep(15)
            renewals.append((await lease(store)).renew_time)
        finished.set()
        return "done"

    task = asyncio.create_task(a.run(body))
    await advance(clock, 80)
    assert await task == "done"
    assert len(set(renewals)) >= 4  # renewed every retry period while the body ran
    assert (await lease(store)).holder_identity == ""  # released on the way out


async def test_failing_renewals_cancel_the_body_after_the_renew_deadline(store: FlakyStore, clock: FakeClock) -> None:
    a = elector(store, clock, "a")
    cancelled_at: list[float] = []

    async def body() -> None:
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            cancelled_at.append(clock.monotonic())
            raise

    task = asyncio.create_task(a.run(body))
    await advance(clock, 20)
    store.failing = True  # the first renewal attempt after this is at t=30
    await advance(clock, 80)
    with pytest.raises(LeadershipLost, match="a lost lease kube-system/cert-manager-controller"):
        await task
    assert cancelled_at == [70.0]  # t=30 started the failing renewal; 40 s deadline


async def test_a_takeover_ends_leadership_at_the_next_renewal(store: FlakyStore, clock: FakeClock) -> None:
    a = elector(store, clock, "a")
    body_started = asyncio.Event()

    async def body() -> None:
        body_started.set()
        await asyncio.Event().wait()

    task = asyncio.create_task(a.run(body))
    await advance(clock, 1)
    assert body_started.is_set()
    current = await store.get(LEASES, "cert-manager-controller", namespace=NAMESPACE)
    current["spec"]["holderIdentity"] = "intruder"
    await store.update(LEASES, current)
    await advance(clock, 15)
    with pytest.raises(LeadershipLost):
        await task
    assert (await lease(store)).holder_identity == "intruder"  # not released: it was not ours any more


async def test_cancelling_the_leader_is_a_cancellation_and_releases(store: FlakyStore, clock: FakeClock) -> None:
    a = elector(store, clock, "a")

    async def body() -> None:
        await asyncio.Event().wait()

    task = asyncio.create_task(a.run(body))
    await advance(clock, 1)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert (await lease(store)).holder_identity == ""


async def test_a_body_that_swallows_the_cancellation_still_loses(store: FlakyStore, clock: FakeClock) -> None:
    a = elector(store, clock, "a")

    async def stubborn() -> str:
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            return "ignored it"
        return "unreachable"

    task = asyncio.create_task(a.run(stubborn))
    await advance(clock, 1)
    store.failing = True
    await advance(clock, 60)
    with pytest.raises(LeadershipLost):
        await task
    current = asyncio.current_task()
    assert current is not None
    assert current.cancelling() == 0


async def test_health_turns_bad_when_a_leader_stops_renewing(store: FlakyStore, clock: FakeClock) -> None:
    a, b = elector(store, clock, "a"), elector(store, clock, "b")
    assert a.healthy()
    assert await a.try_acquire_or_renew()
    assert not await b.try_acquire_or_renew()
    clock.advance(80)
    assert a.healthy()  # 60 s lease + 20 s grace
    assert b.healthy()  # not leading: nothing to be late for
    clock.advance(1)
    assert not a.healthy()
    assert await a.try_acquire_or_renew()
    assert a.healthy()
