"""Whether a presented challenge may be accepted: the solver's self check, or a fixed wait instead.

Follows ``pkg/controller/acmechallenges/readiness.go``. Without ``waitInsteadOfSelfCheck`` the
solver's ``check`` decides; "not yet" is retried after the check retry period
(``--dns01-check-retry-period``, 10 s, also used for HTTP-01) with the reason
``Waiting for <type> challenge propagation: <why>``. With ``waitInsteadOfSelfCheck: <d>`` no check
runs: the challenge is ready ``d`` after ``status.presentedAt``, and until then it is retried after
the shorter of the remaining time and the retry period, with the reason
``Waiting <remaining> before accepting <type> challenge without self-check``.

``wait_instead_of_self_check`` is pure (``now`` is a parameter); ``evaluate_readiness`` runs the check.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final

from certkeeper.acme.solvers.base import Solver, SolverContext
from certkeeper.api.acme import Challenge
from certkeeper.api.durations import format_duration, parse_duration

#: cert-manager's ``--dns01-check-retry-period`` default.
DEFAULT_CHECK_RETRY_PERIOD: Final = timedelta(seconds=10)


@dataclass(frozen=True, slots=True, kw_only=True)
class Readiness:
    """Accept now, or retry after ``retry_after`` with ``reason`` as the Challenge's status.reason."""

    ready: bool
    retry_after: timedelta = timedelta(0)
    reason: str = ""


def _waiting(duration: timedelta, challenge: Challenge) -> str:
    return f"Waiting {format_duration(duration)} before accepting {challenge.spec.type} challenge without self-check"


def wait_instead_of_self_check(
    challenge: Challenge, wait: timedelta, *, now: datetime, retry_period: timedelta = DEFAULT_CHECK_RETRY_PERIOD
) -> Readiness:
    """Readiness by elapsed time since ``status.presentedAt`` alone. Pure."""
    presented_at = challenge.status.presented_at if challenge.status is not None else None
    if presented_at is None:
        return Readiness(
            ready=False,
            retry_after=retry_period,
            reason=_waiting(wait, challenge),
        )
    deadline = presented_at + wait
    if now >= deadline:
        return Readiness(ready=True)
    remaining = deadline - now
    return Readiness(
        ready=False,
        retry_after=min(remaining, retry_period),
        reason=_waiting(remaining, challenge),
    )


async def evaluate_readiness(
    solver: Solver,
    challenge: Challenge,
    ctx: SolverContext,
    *,
    now: datetime,
    retry_period: timedelta = DEFAULT_CHECK_RETRY_PERIOD,
) -> Readiness:
    """The readiness policy the Challenge's solver config selects, evaluated now.

    ``waitInsteadOfSelfCheck`` was validated by the webhook; a value that still does not parse falls
    back to the self check rather than accepting blindly.
    """
    wait_text = challenge.spec.solver.wait_instead_of_self_check
    if wait_text is not None:
        try:
            wait = parse_duration(wait_text)
        except ValueError:
            wait = None
        if wait is not None:
            return wait_instead_of_self_check(challenge, wait, now=now, retry_period=retry_period)
    result = await solver.check(challenge, ctx)
    if result.ready:
        return Readiness(ready=True)
    return Readiness(
        ready=False,
        retry_after=retry_period,
        reason=f"Waiting for {challenge.spec.type} challenge propagation: {result.reason}",
    )


__all__ = ["DEFAULT_CHECK_RETRY_PERIOD", "Readiness", "evaluate_readiness", "wait_instead_of_self_check"]
