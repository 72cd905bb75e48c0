"""The in-process HTTP-01 solver: challenges answered by an acmesolver server inside this process.

Local mode has no Kubernetes to run solver pods, Services and Ingresses (cert-manager's
``pkg/issuer/acme/http/http.go``), so the solver keeps a :class:`ChallengeResponder` that an
:class:`HTTP01Server` serves (e.g. on 127.0.0.1:5002, the port pebble dials, or on port 80 behind
the host's own routing). ``present`` adds the challenge's (domain, token, key), ``cleanup`` removes
it, and ``check`` runs the HTTP-01 self check against it. The composition root owns the server's
lifecycle; the solver only changes what it answers.
"""

from __future__ import annotations

from certkeeper.acme.solvers.base import CheckResult, SolverConfigError, SolverContext
from certkeeper.acme.solvers.http01_check import HTTP01SelfCheck, SelfCheckFailed
from certkeeper.acme.solvers.http01_server import ChallengeEntry, ChallengeResponder
from certkeeper.api.acme import Challenge


def challenge_entry(challenge: Challenge) -> ChallengeEntry:
    """What the server must answer for an HTTP-01 Challenge."""
    if challenge.spec.type != "HTTP-01":
        raise SolverConfigError(f"challenge of type {challenge.spec.type} cannot be solved over HTTP-01")
    return ChallengeEntry(domain=challenge.spec.dns_name, token=challenge.spec.token, key=challenge.spec.key)


class InProcessHTTP01Solver:
    """Presents HTTP-01 challenges by adding them to a responder that an in-process server serves."""

    def __init__(self, responder: ChallengeResponder, *, self_check: HTTP01SelfCheck | None = None) -> None:
        self.responder = responder
        self.self_check = self_check or HTTP01SelfCheck()

    async def present(self, challenge: Challenge, ctx: SolverContext) -> None:
        """Start answering the challenge."""
        self.responder.add(challenge_entry(challenge))

    async def check(self, challenge: Challenge, ctx: SolverContext) -> CheckResult:
        """Present again (idempotent, as cert-manager's Check does), then run the self check."""
        entry = challenge_entry(challenge)
        self.responder.add(entry)
        try:
            await self.self_check.run(entry.domain, entry.token, entry.key)
        except SelfCheckFailed as exc:
            return CheckResult(ready=False, reason=str(exc))
        return CheckResult(ready=True)

    async def cleanup(self, challenge: Challenge, ctx: SolverContext) -> None:
        """Stop answering the challenge."""
        self.responder.remove(challenge.spec.dns_name, challenge.spec.token)


__all__ = ["InProcessHTTP01Solver", "challenge_entry"]
