"""Leader election on a ``coordination.k8s.io/v1`` Lease, with cert-manager's timings.

Follows client-go's ``tools/leaderelection`` (``LeaderElector.tryAcquireOrRenew``, ``acquire``, ``renew``,
``release``) as cert-manager configures it in ``cmd/controller/app/controller.go`` (a Lease named
``cert-manager-controller``, 60 s lease, 40 s renew deadline, 15 s retry period, released on shutdown):

* a candidate reads the Lease; it may take it when nobody holds it (``holderIdentity`` empty, as a
  released Lease is left) or when the record has not changed for ``leaseDurationSeconds`` *as measured
  on this candidate's own monotonic clock* since it last saw it change, so clock skew between hosts
  does not matter; taking it from another holder increments ``leaseTransitions``;
* every write carries the resourceVersion that was read, so two candidates cannot both win;
* the leader renews every ``retry_period``; when no renewal succeeds within ``renew_deadline`` it has
  lost the lease (another candidate may take it ``lease_duration`` after the last renewal, which is
  later than the deadline by design) and its work is cancelled.

``async with elector.leading(): ...`` waits until this candidate leads, runs the body, and cancels it
with ``LeadershipLost`` when renewal fails; leaving the body releases the Lease. Works on any Store;
time comes from the injected clock.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Final, TypeVar

from certkeeper.store.kube.clock import Clock, SystemClock
from certkeeper.store.ports import AlreadyExists, Conflict, NotFound, RawObject, ResourceType, Store, StoreError

log = logging.getLogger(__name__)

_T = TypeVar("_T")

LEASES: Final = ResourceType(group="coordination.k8s.io", version="v1", kind="Lease", plural="leases")
#: client-go's JitterFactor: a candidate waits between retry_period and 2.2 x retry_period between tries.
JITTER_FACTOR: Final = 1.2


class LeadershipLost(Exception):
    """The lease could not be renewed within the renew deadline: this process no longer leads."""


@dataclass(frozen=True, slots=True, kw_only=True)
class LeaderElectionConfig:
    """Which Lease, who is asking, and the timings (cert-manager's defaults)."""

    name: str
    identity: str
    namespace: str = "kube-system"
    lease_duration: float = 60.0
    renew_deadline: float = 40.0
    retry_period: float = 15.0
    #: Give the lease up when leadership ends on purpose, so a successor need not wait for it to expire.
    release_on_cancel: bool = True
    labels: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.name or not self.identity:
            raise ValueError("a lease name and an identity are required")
        if self.retry_period <= 0:
            raise ValueError("retry_period must be positive")
        if self.lease_duration <= self.renew_deadline:
            raise ValueError("lease_duration must be greater than renew_deadline")
        if self.renew_deadline <= JITTER_FACTOR * self.retry_period:
            raise ValueError(f"renew_deadline must be greater than retry_period x {JITTER_FACTOR}")


def micro_time(moment: datetime) -> str:
    """A ``metav1.MicroTime`` as the API serialises it: UTC with microseconds."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


@dataclass(frozen=True, slots=True)
class LeaderRecord:
    """The election state in a Lease's spec."""

    holder_identity: str = ""
    lease_duration_seconds: int = 0
    acquire_time: str = ""
    renew_time: str = ""
    lease_transitions: int = 0

    @classmethod
    def from_lease(cls, lease: RawObject) -> LeaderRecord:
        spec: dict[str, Any] = lease.get("spec") or {}

        def number(key: str) -> int:
            value = spec.get(key)
            return value if isinstance(value, int) and not isinstance(value, bool) else 0

        return cls(
            holder_identity=str(spec.get("holderIdentity") or ""),
            lease_duration_seconds=number("leaseDurationSeconds"),
            acquire_time=str(spec.get("acquireTime") or ""),
            renew_time=str(spec.get("renewTime") or ""),
            lease_transitions=number("leaseTransitions"),
        )

    def to_spec(self) -> dict[str, Any]:
        spec: dict[str, Any] = {
            "holderIdentity": self.holder_identity,
            "leaseDurationSeconds": self.lease_duration_seconds,
            "leaseTransitions": self.lease_transitions,
        }
        if self.acquire_time:
            spec["acquireTime"] = self.acquire_time
        if self.renew_time:
            spec["renewTime"] = self.renew_time
        return spec


class LeaderElector:
    """One candidate for one Lease."""

    def __init__(
        self,
        store: Store,
        config: LeaderElectionConfig,
        *,
        clock: Clock | None = None,
        rng: random.Random | None = None,
        on_new_leader: Callable[[str], None] | None = None,
    ) -> None:
        self._store = store
        self.config = config
        self._clock = clock or SystemClock()
        self._rng = rng or random.Random()  # noqa: S311 - jitter, not a secret
        self._on_new_leader = on_new_leader
        self._observed: LeaderRecord | None = None
        self._observed_at = 0.0
        self._lease: RawObject | None = None
        self._reported_leader: str | None = None

    @property
    def leader(self) -> str:
        """The holder last seen in the Lease ("" when none)."""
        return self._observed.holder_identity if self._observed else ""

    @property
    def is_leader(self) -> bool:
        return self.leader == self.config.identity

    def healthy(self, timeout: float = 20.0) -> bool:
        """For a health endpoint (client-go's HealthzAdaptor, cert-manager's 20 s): False when this candidate
        leads but has not renewed for longer than the lease duration plus ``timeout``."""
        if not self.is_leader or self._observed is None:
            return True
        overdue = self._clock.monotonic() - self._observed_at - self._observed.lease_duration_seconds
        return overdue <= timeout

    def _observe(self, record: LeaderRecord, lease: RawObject | None) -> None:
        if record != self._observed:
            self._observed, self._observed_at = record, self._clock.monotonic()
        self._lease = lease
        if record.holder_identity != self._reported_leader:
            self._reported_leader = record.holder_identity
            if self._on_new_leader is not None and record.holder_identity:
                self._on_new_leader(record.holder_identity)

    async def try_acquire_or_renew(self) -> bool:
        """One attempt to take or keep the lease; True when this candidate holds it afterwards."""
        now = micro_time(self._clock.now())
        duration = int(self.config.lease_duration)
        mine = LeaderRecord(self.config.identity, duration, now, now, 0)
        try:
            lease = await self._store.get(LEASES, self.config.name, namespace=self.config.namespace)
        except NotFound:
            return await self._create(mine)
        except StoreError as exc:
            log.warning("leader election: reading lease %s failed: %s", self._lease_key, exc)
            return False
        old = LeaderRecord.from_lease(lease)
        self._observe(old, lease)
        held_by_other = old.holder_identity and old.holder_identity != self.config.identity
        if held_by_other and self._clock.monotonic() < self._observed_at + old.lease_duration_seconds:
            return False
        if old.holder_identity == self.config.identity:
            mine = LeaderRecord(mine.holder_identity, duration, old.acquire_time or now, now, old.lease_transitions)
        else:
            mine = LeaderRecord(mine.holder_identity, duration, now, now, old.lease_transitions + 1)
        return await self._write(lease, mine)

    @property
    def _lease_key(self) -> str:
        return f"{self.config.namespace}/{self.config.name}"

    async def _create(self, record: LeaderRecord) -> bool:
        lease: RawObject = {
            "apiVersion": LEASES.api_version,
            "kind": LEASES.kind,
            "metadata": {"name": self.config.name, "namespace": self.config.namespace},
            "spec": record.to_spec(),
        }
        if self.config.labels:
            lease["metadata"]["labels"] = dict(self.config.labels)
        try:
            created = await self._store.create(LEASES, lease)
        except (AlreadyExists, Conflict):
            return False
        except StoreError as exc:
            log.warning("leader election: creating lease %s failed: %s", self._lease_key, exc)
            return False
        self._observe(record, created)
        return True

    async def _write(self, lease: RawObject, record: LeaderRecord) -> bool:
        """Replace the spec of the lease as read (its resourceVersion guards against a concurrent writer)."""
        updated = {**lease, "spec": {**(lease.get("spec") or {}), **record.to_spec()}}
        try:
            written = await self._store.update(LEASES, updated)
        except Conflict:
            return False
        except StoreError as exc:
            log.warning("leader election: updating lease %s failed: %s", self._lease_key, exc)
            return False
        self._observe(record, written)
        return True

    async def _within(self, seconds: float, attempt: Awaitable[bool]) -> bool:
        """``attempt``'s answer, or False when it takes longer than ``seconds`` on the clock."""
        work: asyncio.Future[bool] = asyncio.ensure_future(attempt)
        timer: asyncio.Future[None] = asyncio.ensure_future(self._clock.sleep(seconds))
        try:
            await asyncio.wait((work, timer), return_when=asyncio.FIRST_COMPLETED)
        finally:
            timer.cancel()
            if not work.done():
                work.cancel()
        # Wait for the cancellations to land (asyncio.wait, unlike await, does not raise the inner ones).
        await asyncio.wait((work, timer))
        if work.cancelled():
            return False
        return work.result()

    async def acquire(self) -> None:
        """Return once this candidate holds the lease (tries every retry period, with jitter)."""
        while True:
            if await self._within(self.config.renew_deadline, self.try_acquire_or_renew()):
                log.info("leader election: %s acquired lease %s", self.config.identity, self._lease_key)
                return
            await self._clock.sleep(self.config.retry_period * (1.0 + JITTER_FACTOR * self._rng.random()))

    async def keep_renewing(self) -> None:
        """Renew every retry period; return when no renewal succeeded within the renew deadline."""
        while True:
            await self._clock.sleep(self.config.retry_period)
            started = self._clock.monotonic()
            while True:
                remaining = self.config.renew_deadline - (self._clock.monotonic() - started)
                if remaining <= 0:
                    log.warning("leader election: %s failed to renew lease %s", self.config.identity, self._lease_key)
                    return
                if await self._within(remaining, self.try_acquire_or_renew()):
                    break
                if not self.is_leader:
                    return  # another candidate holds it now
                await self._clock.sleep(min(self.config.retry_period, max(remaining, 0.0)))

    async def release(self) -> bool:
        """Give the lease up if this candidate still holds it (holder cleared, 1 s duration, as client-go)."""
        if not self.is_leader or self._lease is None or self._observed is None:
            return False
        now = micro_time(self._clock.now())
        released = LeaderRecord("", 1, now, now, self._observed.lease_transitions)
        done = await self._write(self._lease, released)
        if done:
            log.info("leader election: %s released lease %s", self.config.identity, self._lease_key)
        return done

    @contextlib.asynccontextmanager
    async def leading(self) -> AsyncIterator[None]:
        """Wait to lead, then run the body while renewing; a failed renewal cancels it (``LeadershipLost``)."""
        await self.acquire()
        task = asyncio.current_task()
        assert task is not None
        cancelling = task.cancelling()
        lost = False

        def lose(renewer: asyncio.Task[None]) -> None:
            nonlocal lost
            if not renewer.cancelled():
                lost = True
                task.cancel("leader election lost")

        renewer = asyncio.create_task(self.keep_renewing(), name=f"renew lease {self._lease_key}")
        renewer.add_done_callback(lose)
        try:
            yield
        except asyncio.CancelledError:
            if lost and task.uncancel() <= cancelling:
                raise LeadershipLost(f"{self.config.identity} lost lease {self._lease_key}") from None
            raise
        finally:
            renewer.remove_done_callback(lose)
            renewer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await renewer
            if self.config.release_on_cancel:
                # Bounded: an unreachable API server must not hold up shutdown.
                await self._within(self.config.renew_deadline, self.release())
        if lost:
            # The body swallowed the cancellation and finished: leadership ended all the same.
            task.uncancel()
            raise LeadershipLost(f"{self.config.identity} lost lease {self._lease_key}")

    async def run(self, work: Callable[[], Awaitable[_T]]) -> _T:
        """Lead, run ``work`` (cancelled on loss, raising ``LeadershipLost``), then release the lease."""
        async with self.leading():
            return await work()
        raise AssertionError("unreachable")  # pragma: no cover - leading() either yields or raises
