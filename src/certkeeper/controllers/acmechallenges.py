"""acme challenges: present, self-check, accept and clean up each Challenge; and the scheduler.

Follows ``pkg/controller/acmechallenges/{sync.go,scheduler/scheduler.go}``::

    scheduler (every second): pick <= 20 non-final, not-processing Challenges, oldest first, never two
      for the same (dnsName, type) at once, <= max-concurrent in total and per issuer -> processing=true
    sync: final or deleted -> clean up, drop finalizers, processing=false
          processing -> add finalizer -> learn state from the authorization -> present (once) ->
          self-check (or wait) -> accept -> wait for the authorization (2 min) -> valid | invalid

Solver failures surface on the Challenge (``status.reason``) and as events; ACME problems end the
Challenge in ``invalid``/``expired``/``errored`` as cert-manager's handleError maps them.
"""

from __future__ import annotations

from datetime import timedelta

import msgspec

from certkeeper.acme.client import AcmeClient
from certkeeper.acme.errors import AcmeError, AcmeProblem, AuthorizationFailed, Malformed, TransportError
from certkeeper.acme.solvers.base import SolverContext, SolverError
from certkeeper.acme.solvers.readiness import evaluate_readiness
from certkeeper.api.acme import CHALLENGE_FINAL_STATES, Challenge, ChallengeStatus, as_state
from certkeeper.api.constants import ACME_FINALIZER, ACME_LEGACY_FINALIZER
from certkeeper.controllers.context import Context
from certkeeper.controllers.writes import now_seconds, status_write
from certkeeper.issuers.base import GenericIssuer
from certkeeper.runtime.controller import Result, RetryAfter
from certkeeper.runtime.events import Event
from certkeeper.runtime.outcome import Outcome, Write, apply_outcome
from certkeeper.store.resources import CHALLENGES, encode

#: cert-manager's MaxChallengesPerSchedule and --max-concurrent-challenges defaults.
MAX_PER_SCHEDULE = 20
MAX_CONCURRENT = 60


def _status(challenge: Challenge) -> ChallengeStatus:
    return challenge.status or ChallengeStatus()


def _with(challenge: Challenge, **changes: object) -> Challenge:
    return msgspec.structs.replace(challenge, status=msgspec.structs.replace(_status(challenge), **changes))


def is_final(challenge: Challenge) -> bool:
    return _status(challenge).state in CHALLENGE_FINAL_STATES


def _issuer_key(challenge: Challenge) -> str:
    ref = challenge.spec.issuer_ref
    kind = ref.kind or "Issuer"
    return f"{kind}/{challenge.namespace if kind != 'ClusterIssuer' else ''}/{ref.name}"


def schedule(
    challenges: list[Challenge],
    *,
    max_concurrent: int = MAX_CONCURRENT,
    max_per_issuer: int | None = None,
    max_per_pass: int = MAX_PER_SCHEDULE,
) -> list[Challenge]:
    """Which Challenges to start processing now (pure; cert-manager's scheduler plus a per-issuer cap)."""
    processing = [c for c in challenges if _status(c).processing and not is_final(c)]
    busy = {(c.spec.dns_name, c.spec.type) for c in processing}
    per_issuer: dict[str, int] = {}
    for c in processing:
        per_issuer[_issuer_key(c)] = per_issuer.get(_issuer_key(c), 0) + 1
    room = min(max_per_pass, max_concurrent - len(processing))
    candidates = sorted(
        (
            c
            for c in challenges
            if not _status(c).processing and not is_final(c) and c.metadata.deletion_timestamp is None
        ),
        key=lambda c: (c.metadata.creation_timestamp is None, c.metadata.creation_timestamp, c.name),
    )
    picked: list[Challenge] = []
    for challenge in candidates:
        if len(picked) >= room:
            break
        identity = (challenge.spec.dns_name, challenge.spec.type)
        issuer = _issuer_key(challenge)
        if identity in busy:
            continue
        if max_per_issuer is not None and per_issuer.get(issuer, 0) >= max_per_issuer:
            continue
        busy.add(identity)
        per_issuer[issuer] = per_issuer.get(issuer, 0) + 1
        picked.append(challenge)
    return picked


class ChallengeController:
    def __init__(self, ctx: Context, *, check_retry_period: float = 10.0) -> None:
        self.ctx = ctx
        self.check_retry_period = check_retry_period

    async def reconcile(self, key: str) -> Result | None:
        challenge = self.ctx.challenge(key)
        if challenge is None:
            return None
        outcome, requeue = await self.decide(challenge)
        if not outcome.is_noop:
            raw = self.ctx.challenges.get_raw(key) if self.ctx.challenges is not None else None
            await apply_outcome(self.ctx.store, CHALLENGES, raw or encode(challenge), outcome, self.ctx.recorder)
        return Result(requeue_after=requeue)

    def _solver_context(self, challenge: Challenge) -> SolverContext:
        issuer = self.ctx.issuer_for(challenge.spec.issuer_ref, challenge.namespace)
        namespace = self.ctx.resource_namespace(issuer) if issuer is not None else challenge.namespace
        return SolverContext(resource_namespace=namespace, secrets=self.ctx)

    def _set_finalizers(self, challenge: Challenge, finalizers: list[str]) -> Outcome:
        raw = encode(challenge)
        raw["metadata"]["finalizers"] = finalizers or None
        if not finalizers:
            raw["metadata"].pop("finalizers", None)
        return Outcome(updates=(Write(resource=CHALLENGES, object=raw),))

    async def decide(self, challenge: Challenge) -> tuple[Outcome, float | None]:
        finalizers = list(challenge.metadata.finalizers or ())
        ours = {ACME_FINALIZER, ACME_LEGACY_FINALIZER}
        if challenge.metadata.deletion_timestamp is not None or is_final(challenge):
            if ours & set(finalizers):
                solver = self.ctx.solvers.get(challenge.spec.type)
                if solver is not None:
                    try:
                        await solver.cleanup(challenge, self._solver_context(challenge))
                    except SolverError as exc:
                        message = f"Error cleaning up challenge: {exc}"
                        return Outcome(
                            status=status_write(_with(challenge, reason=message)),
                            events=(Event(type="Warning", reason="CleanUpError", message=message),),
                        ), self.check_retry_period
                return self._set_finalizers(challenge, [f for f in finalizers if f not in ours]), None
            if _status(challenge).processing or _status(challenge).presented:
                return Outcome(status=status_write(_with(challenge, processing=False, presented=False))), None
            return Outcome(), None
        if not _status(challenge).processing:
            return Outcome(), None
        if ACME_FINALIZER not in finalizers or ACME_LEGACY_FINALIZER in finalizers:
            kept = [f for f in finalizers if f != ACME_LEGACY_FINALIZER]
            return self._set_finalizers(
                challenge, [*kept, ACME_FINALIZER] if ACME_FINALIZER not in kept else kept
            ), None
        issuer = self.ctx.issuer_for(challenge.spec.issuer_ref, challenge.namespace)
        if issuer is None:
            raise RetryAfter(10.0, f'error reading (cluster)issuer "{challenge.spec.issuer_ref.name}"')
        client = self.ctx.acme_accounts.get(issuer) if self.ctx.acme_accounts is not None else None
        if client is None:
            raise RetryAfter(5.0, "ACME client for issuer not initialised")
        if not _status(challenge).state:
            return await self._sync_state(challenge, client), None
        return await self._solve(challenge, issuer, client)

    async def _sync_state(self, challenge: Challenge, client: AcmeClient) -> Outcome:
        try:
            resource = await client.get_authorization(challenge.spec.authorization_url)
        except AcmeError as exc:
            return self._handle_error(challenge, exc)
        found = next((c for c in resource.authorization.challenges if c.url == challenge.spec.url), None)
        if found is None:
            raise RetryAfter(10.0, "challenge was not present in authorization")
        reason = str(found.error.to_exception()) if found.error is not None else ""
        return Outcome(status=status_write(_with(challenge, state=as_state(str(found.status)), reason=reason)))

    def _handle_error(self, challenge: Challenge, exc: AcmeError) -> Outcome:
        if isinstance(exc, TransportError):
            raise exc
        if isinstance(exc, Malformed):
            return Outcome(status=status_write(_with(challenge, state="expired")))
        if isinstance(exc, AcmeProblem) and 400 <= exc.status < 500:
            updated = _with(challenge, state="errored", reason=f"Failed to retrieve Order resource: {exc}")
            return Outcome(status=status_write(updated))
        if isinstance(exc, AcmeProblem):
            raise exc
        updated = _with(challenge, state="errored", reason=f"unexpected non-ACME API error: {exc}")
        return Outcome(status=status_write(updated))

    async def _solve(
        self, challenge: Challenge, issuer: GenericIssuer, client: AcmeClient
    ) -> tuple[Outcome, float | None]:
        solver = self.ctx.solvers.get(challenge.spec.type)
        if solver is None:
            raise RetryAfter(30.0, f'no solver for "{challenge.spec.type}" implemented')
        ctx = self._solver_context(challenge)
        events: list[Event] = []
        current = challenge
        if not _status(challenge).presented:
            try:
                await solver.present(challenge, ctx)
            except SolverError as exc:
                message = f"Error presenting challenge: {exc}"
                return Outcome(
                    status=status_write(_with(challenge, reason=str(exc))),
                    events=(Event(type="Warning", reason="PresentError", message=message),),
                ), self.check_retry_period
            current = _with(challenge, presented=True, presented_at=now_seconds(self.ctx.clock))
            events.append(
                Event(
                    type="Normal",
                    reason="Presented",
                    message=f"Presented challenge using {challenge.spec.type} challenge mechanism",
                )
            )
        readiness = await evaluate_readiness(
            solver, current, ctx, now=self.ctx.clock.now(), retry_period=timedelta(seconds=self.check_retry_period)
        )
        if not readiness.ready:
            updated = _with(current, reason=readiness.reason)
            return Outcome(status=status_write(updated), events=tuple(events)), readiness.retry_after.total_seconds()
        try:
            accepted = await client.accept_challenge(challenge.spec.url)
        except AcmeError as exc:
            failed = _with(current, reason=f"Error accepting challenge: {exc}")
            outcome = self._handle_error(failed, exc)
            return Outcome(status=outcome.status or status_write(failed), events=tuple(events)), None
        current = _with(current, state=as_state(str(accepted.status)))
        try:
            authorization = await client.wait_authorization(challenge.spec.authorization_url)
        except AuthorizationFailed as exc:
            message = f"Accepting challenge authorization failed: {exc}"
            updated = _with(current, state="invalid", reason=f"Error accepting authorization: {exc}")
            events.append(Event(type="Warning", reason="Failed", message=message))
            return Outcome(status=status_write(updated), events=tuple(events)), None
        except AcmeError as exc:
            outcome = self._handle_error(current, exc)
            return Outcome(status=outcome.status, events=tuple(events)), None
        updated = _with(
            current, state=as_state(str(authorization.authorization.status)), reason="Successfully authorized domain"
        )
        events.append(
            Event(
                type="Normal",
                reason="DomainVerified",
                message=f'Domain "{challenge.spec.dns_name}" verified with "{challenge.spec.type}" validation',
            )
        )
        return Outcome(status=status_write(updated), events=tuple(events)), None


class ChallengeScheduler:
    """Marks Challenges as processing, a few at a time (runs every ``interval`` seconds)."""

    def __init__(
        self, ctx: Context, *, max_concurrent: int = MAX_CONCURRENT, max_per_issuer: int | None = None
    ) -> None:
        self.ctx = ctx
        self.max_concurrent = max_concurrent
        self.max_per_issuer = max_per_issuer

    async def run_once(self) -> int:
        cache = self.ctx.challenges
        if cache is None:
            return 0
        challenges = [c for c in cache.all() if isinstance(c, Challenge)]
        picked = schedule(challenges, max_concurrent=self.max_concurrent, max_per_issuer=self.max_per_issuer)
        for challenge in picked:
            raw = cache.get_raw(f"{challenge.namespace}/{challenge.name}") or encode(challenge)
            updated = status_write(_with(challenge, processing=True))
            event = Event(type="Normal", reason="Started", message="Challenge scheduled for processing")
            await apply_outcome(
                self.ctx.store, CHALLENGES, raw, Outcome(status=updated, events=(event,)), self.ctx.recorder
            )
        return len(picked)
