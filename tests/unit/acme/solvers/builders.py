"""Builders for the solver tests: Challenges, solvers and an in-memory Secret reader."""

from __future__ import annotations

from collections.abc import Mapping

from certkeeper.api.acme import Challenge, ChallengeSpec, ChallengeStatus, ChallengeType
from certkeeper.api.acme_solvers import (
    ACMEChallengeSolver,
    ACMEChallengeSolverDNS01,
    ACMEChallengeSolverHTTP01,
    ACMEChallengeSolverHTTP01Ingress,
    CertificateDNSNameSelector,
)
from certkeeper.api.cmmeta import IssuerReference
from certkeeper.api.core import Secret
from certkeeper.api.meta import ObjectMeta


def http01_solver(
    selector: CertificateDNSNameSelector | None = None, *, wait_instead_of_self_check: str | None = None
) -> ACMEChallengeSolver:
    """An ``http01.ingress`` solver, optionally with a selector."""
    return ACMEChallengeSolver(
        selector=selector,
        http01=ACMEChallengeSolverHTTP01(ingress=ACMEChallengeSolverHTTP01Ingress()),
        wait_instead_of_self_check=wait_instead_of_self_check,
    )


def dns01_solver(
    selector: CertificateDNSNameSelector | None = None,
    *,
    dns01: ACMEChallengeSolverDNS01 | None = None,
    wait_instead_of_self_check: str | None = None,
) -> ACMEChallengeSolver:
    """A ``dns01`` solver (an empty block unless given)."""
    return ACMEChallengeSolver(
        selector=selector,
        dns01=dns01 or ACMEChallengeSolverDNS01(),
        wait_instead_of_self_check=wait_instead_of_self_check,
    )


def make_challenge(
    dns_name: str = "www.example.test",
    *,
    type: ChallengeType = "DNS-01",
    token: str = "tok-en_123",  # noqa: S107 - an ACME token is public
    key: str = "the-key",
    solver: ACMEChallengeSolver | None = None,
    wildcard: bool | None = None,
    status: ChallengeStatus | None = None,
) -> Challenge:
    """A Challenge as the orders controller creates it."""
    if solver is None:
        solver = dns01_solver() if type == "DNS-01" else http01_solver()
    return Challenge(
        api_version=Challenge.API_VERSION,
        metadata=ObjectMeta(name="ch-1", namespace="default"),
        spec=ChallengeSpec(
            url="https://acme.test/chall/1",
            authorization_url="https://acme.test/authz/1",
            dns_name=dns_name,
            wildcard=wildcard,
            type=type,
            token=token,
            key=key,
            solver=solver,
            issuer_ref=IssuerReference(name="acme"),
        ),
        status=status,
    )


class MemorySecrets:
    """A SecretReader over a dict of (namespace, name) -> data."""

    def __init__(self, secrets: Mapping[tuple[str, str], Mapping[str, bytes]] | None = None) -> None:
        self._secrets = dict(secrets or {})
        self.reads: list[tuple[str, str]] = []

    def get_secret(self, namespace: str, name: str) -> Secret | None:
        self.reads.append((namespace, name))
        data = self._secrets.get((namespace, name))
        if data is None:
            return None
        return Secret(api_version="v1", metadata=ObjectMeta(name=name, namespace=namespace), data=dict(data))
