"""A duration Go cannot decode stops cert-manager's webhook before any rule: every kind, create and update."""

from __future__ import annotations

from typing import Any

import pytest

from certkeeper.validation.admission import Stage, admit
from tests.unit.validation.support import merge

ISSUER_REF = {"name": "ca"}
BAD = "3 days"
GO_ERROR = 'time: unknown unit " days" in duration "3 days"'
#: Matches the CRD's windowDuration pattern, but overflows Go's int64 nanoseconds.
HUGE = "99999999999999999999h"

# Each object also breaks a rule (or, for updates, an immutability), which must not be reported.
CASES: list[tuple[str, dict[str, Any], dict[str, Any], str]] = [
    (
        "Certificate",
        {"spec": {"secretName": "Bad_Name", "issuerRef": ISSUER_REF, "commonName": "c"}},
        {"spec": {"renewal": {"policy": "RenewBefore", "windows": [{"windowDuration": HUGE, "cron": "@daily"}]}}},
        "spec.renewal.windows[0].windowDuration",
    ),
    (
        "CertificateRequest",
        {"spec": {"issuerRef": ISSUER_REF, "request": "Y3Ny"}},
        {"spec": {"duration": BAD}},
        "spec.duration",
    ),
    (
        "Issuer",
        {"spec": {"acme": {"server": "", "privateKeySecretRef": {"name": "k"}}}},
        {"spec": {"acme": {"solvers": [{"http01": {"ingress": {}}, "waitInsteadOfSelfCheck": BAD}]}}},
        "spec.acme.solvers[0].waitInsteadOfSelfCheck",
    ),
    (
        "ClusterIssuer",
        {"spec": {"acme": {"server": "", "privateKeySecretRef": {"name": "k"}}}},
        {"spec": {"acme": {"solvers": [{"http01": {"ingress": {}}, "waitInsteadOfSelfCheck": BAD}]}}},
        "spec.acme.solvers[0].waitInsteadOfSelfCheck",
    ),
    (
        "Order",
        {"spec": {"issuerRef": ISSUER_REF, "request": "Y3Ny"}},
        {"spec": {"duration": BAD, "request": "b3RoZXI="}},
        "spec.duration",
    ),
    (
        "Challenge",
        {
            "spec": {
                "url": "u",
                "authorizationURL": "a",
                "dnsName": "example.com",
                "type": "DNS-01",
                "token": "t",
                "key": "k",
                "solver": {"dns01": {"webhook": {"groupName": "g", "solverName": "s"}}},
                "issuerRef": ISSUER_REF,
            }
        },
        {"spec": {"token": "changed", "solver": {"waitInsteadOfSelfCheck": BAD}}},
        "spec.solver.waitInsteadOfSelfCheck",
    ),
]


def _object(kind: str, body: dict[str, Any]) -> dict[str, Any]:
    group = "acme.cert-manager.io" if kind in ("Order", "Challenge") else "cert-manager.io"
    return {"apiVersion": f"{group}/v1", "kind": kind, "metadata": {"name": "x"}, **body}


@pytest.mark.parametrize(("kind", "base", "broken", "field"), CASES, ids=[c[0] for c in CASES])
def test_undecodable_durations_come_alone(kind: str, base: dict[str, Any], broken: dict[str, Any], field: str) -> None:
    old = _object(kind, base)
    new = _object(kind, merge(base, broken))
    expected = f'time: invalid duration "{HUGE}"' if field.endswith("windowDuration") else GO_ERROR
    for result in (admit(kind, "CREATE", new), admit(kind, "UPDATE", new, old)):
        assert result.stage is Stage.WEBHOOK
        assert [(error.field, error.detail) for error in result.errors] == [(field, expected)]
