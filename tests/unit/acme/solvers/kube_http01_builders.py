"""Builders for the Kubernetes HTTP-01 solver tests: HTTP-01 Challenges with a UID and solver configs."""

from __future__ import annotations

from typing import Any

import msgspec

from certkeeper.api.acme import Challenge
from certkeeper.api.acme_solvers import ACMEChallengeSolver
from tests.unit.acme.solvers.builders import make_challenge

UID = "0b6a8c56-4f6e-4a43-9f3c-2f7d1d7f0c11"
DOMAIN = "www.example.test"
TOKEN = "tok-en_123"
KEY = "tok-en_123.thumbprint"
NAMESPACE = "default"


def http01_challenge(
    http01: dict[str, Any] | None = None,
    *,
    dns_name: str = DOMAIN,
    token: str = TOKEN,
    uid: str = UID,
    name: str = "ch-1",
    solver_extra: dict[str, Any] | None = None,
) -> Challenge:
    """An HTTP-01 Challenge whose solver is ``{"http01": http01}`` (an empty ingress by default)."""
    solver = msgspec.convert(
        {"http01": {"ingress": {}} if http01 is None else http01, **(solver_extra or {})}, ACMEChallengeSolver
    )
    challenge = make_challenge(dns_name, type="HTTP-01", token=token, key=KEY, solver=solver)
    return msgspec.structs.replace(
        challenge, metadata=msgspec.structs.replace(challenge.metadata, uid=uid, name=name, namespace=NAMESPACE)
    )
