"""Readiness before accepting a challenge: the self check, or waitInsteadOfSelfCheck (readiness.go)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from certkeeper.acme.solvers.base import CheckResult, SolverContext
from certkeeper.acme.solvers.readiness import (
    DEFAULT_CHECK_RETRY_PERIOD,
    Readiness,
    evaluate_readiness,
    wait_instead_of_self_check,
)
from certkeeper.api.acme import Challenge, ChallengeStatus
from tests.unit.acme.solvers.builders import MemorySecrets, dns01_solver, http01_solver, make_challenge

NOW = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)
CTX = SolverContext(resource_namespace="ns", secrets=MemorySecrets())


class ScriptedSolver:
    """A solver whose check returns a fixed result and counts calls."""

    def __init__(self, result: CheckResult) -> None:
        self.result = result
        self.checks = 0

    async def present(self, challenge: Challenge, ctx: SolverContext) -> None:
        raise AssertionError("present is not part of readiness")

    async def check(self, challenge: Challenge, ctx: SolverContext) -> CheckResult:
        self.checks += 1
        return self.result

    async def cleanup(self, challenge: Challenge, ctx: SolverContext) -> None:
        raise AssertionError("cleanup is not part of readiness")


@pytest.mark.parametrize(
    ("presented_at", "expected"),
    [
        (
            None,
            Readiness(
                ready=False,
                retry_after=DEFAULT_CHECK_RETRY_PERIOD,
                reason="Waiting 2m0s before accepting DNS-01 challenge without self-check",
            ),
        ),
        (
            NOW - timedelta(seconds=30),
            Readiness(
                ready=False,
                retry_after=DEFAULT_CHECK_RETRY_PERIOD,
                reason="Waiting 1m30s before accepting DNS-01 challenge without self-check",
            ),
        ),
        (
            NOW - timedelta(seconds=115, milliseconds=500),
            Readiness(
                ready=False,
                retry_after=timedelta(seconds=4, milliseconds=500),
                reason="Waiting 4.5s before accepting DNS-01 challenge without self-check",
            ),
        ),
        (NOW - timedelta(minutes=2), Readiness(ready=True)),
        (NOW - timedelta(hours=1), Readiness(ready=True)),
    ],
    ids=["not-presented-yet", "waiting-longer-than-retry", "retry-at-deadline", "exactly-due", "long-past"],
)
def test_wait_instead_of_self_check(presented_at: datetime | None, expected: Readiness) -> None:
    challenge = make_challenge(status=ChallengeStatus(presented=True, presented_at=presented_at))
    assert wait_instead_of_self_check(challenge, timedelta(minutes=2), now=NOW) == expected


async def test_self_check_ready() -> None:
    solver = ScriptedSolver(CheckResult(ready=True))
    assert await evaluate_readiness(solver, make_challenge(), CTX, now=NOW) == Readiness(ready=True)
    assert solver.checks == 1


@pytest.mark.parametrize(
    ("challenge", "reason"),
    [
        (
            make_challenge(type="DNS-01"),
            'Waiting for DNS-01 challenge propagation: DNS record for "x" not yet propagated',
        ),
        (
            make_challenge(type="HTTP-01"),
            'Waiting for HTTP-01 challenge propagation: DNS record for "x" not yet propagated',
        ),
    ],
    ids=["dns01", "http01"],
)
async def test_self_check_not_ready(challenge: Challenge, reason: str) -> None:
    solver = ScriptedSolver(CheckResult(ready=False, reason='DNS record for "x" not yet propagated'))
    result = await evaluate_readiness(solver, challenge, CTX, now=NOW, retry_period=timedelta(seconds=3))
    assert result == Readiness(ready=False, retry_after=timedelta(seconds=3), reason=reason)


async def test_wait_instead_of_self_check_skips_the_check() -> None:
    solver = ScriptedSolver(CheckResult(ready=False, reason="never"))
    challenge = make_challenge(
        type="HTTP-01",
        solver=http01_solver(wait_instead_of_self_check="30s"),
        status=ChallengeStatus(presented=True, presented_at=NOW - timedelta(seconds=31)),
    )
    assert await evaluate_readiness(solver, challenge, CTX, now=NOW) == Readiness(ready=True)
    assert solver.checks == 0


async def test_unparseable_wait_falls_back_to_the_check() -> None:
    solver = ScriptedSolver(CheckResult(ready=True))
    challenge = make_challenge(solver=dns01_solver(wait_instead_of_self_check="soon"))
    assert await evaluate_readiness(solver, challenge, CTX, now=NOW) == Readiness(ready=True)
    assert solver.checks == 1
