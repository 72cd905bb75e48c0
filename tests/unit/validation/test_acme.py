"""Order and Challenge rules: what the ACME server said stays said (cert-manager's order_test.go, challenge_test.go)."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from msgspec.structs import replace

from certkeeper.api.acme import (
    ACMEAuthorization,
    ACMEChallenge,
    Challenge,
    ChallengeSpec,
    ChallengeStatus,
    Order,
    OrderSpec,
    OrderStatus,
)
from certkeeper.api.acme_solvers import (
    ACMEChallengeSolver,
    ACMEChallengeSolverHTTP01,
    ACMEChallengeSolverHTTP01GatewayHTTPRoute,
    ParentReference,
)
from certkeeper.api.cmmeta import IssuerReference
from certkeeper.api.features import DEFAULT_GATES
from certkeeper.validation.acme import (
    validate_challenge_create,
    validate_challenge_update,
    validate_order_create,
    validate_order_update,
)
from tests.unit.validation.support import messages

NONE, ONE, TWO = "", "one", "two"


def order(request: bytes = b"", status: OrderStatus | None = None) -> Order:
    spec = OrderSpec(request=request, issuer_ref=IssuerReference(name="i"))
    return Order(api_version=Order.API_VERSION, spec=spec, status=status)


def authz(**fields: object) -> OrderStatus:
    base: dict[str, object] = {"url": ""}
    base.update(fields)
    return OrderStatus(authorizations=[ACMEAuthorization(**base)])  # type: ignore[arg-type]


def challenge(**fields: str) -> OrderStatus:
    base = {"url": "", "token": "", "type": ""}
    base.update(fields)
    return OrderStatus(authorizations=[ACMEAuthorization(url="", challenges=[ACMEChallenge(**base)])])


def _count(n: int) -> OrderStatus:
    return OrderStatus(authorizations=[ACMEAuthorization(url="") for _ in range(n)])


def _challenges(n: int) -> OrderStatus:
    chs = [ACMEChallenge(url="", token="", type="") for _ in range(n)]
    return OrderStatus(authorizations=[ACMEAuthorization(url="", challenges=chs)])


_WILDCARD = {NONE: None, ONE: False, TWO: True}
#: (path, how to build an Order holding "", "one" or "two" there), one per immutable field.
FIELDS: list[tuple[str, Callable[[str], Order]]] = [
    ("spec.request", lambda v: order(request=v.encode())),
    ("status.url", lambda v: order(status=OrderStatus(url=v))),
    ("status.finalizeURL", lambda v: order(status=OrderStatus(finalize_url=v))),
    ("status.certificate", lambda v: order(status=OrderStatus(certificate=v.encode()))),
    ("status.authorizations", lambda v: order(status=_count({NONE: 0, ONE: 1, TWO: 2}[v]))),
    ("status.authorizations[0].url", lambda v: order(status=authz(url=v))),
    ("status.authorizations[0].identifier", lambda v: order(status=authz(identifier=v))),
    ("status.authorizations[0].wildcard", lambda v: order(status=authz(wildcard=_WILDCARD[v]))),
    (
        "status.authorizations[0].initialState",
        lambda v: order(status=authz(initial_state={NONE: None, ONE: "pending", TWO: "valid"}[v])),
    ),
    ("status.authorizations[0].challenges", lambda v: order(status=_challenges({NONE: 0, ONE: 1, TWO: 2}[v]))),
    ("status.authorizations[0].challenges[0].url", lambda v: order(status=challenge(url=v))),
    ("status.authorizations[0].challenges[0].token", lambda v: order(status=challenge(token=v))),
    ("status.authorizations[0].challenges[0].type", lambda v: order(status=challenge(type=v))),
]


@pytest.mark.parametrize(("path", "make"), FIELDS, ids=[path for path, _ in FIELDS])
def test_order_field_is_immutable_once_set(path: str, make: Callable[[str], Order]) -> None:
    assert messages(validate_order_update(make(ONE), make(TWO), DEFAULT_GATES)) == [
        f"{path}: Forbidden: field is immutable once set"
    ]
    # Unset before: anything goes; the same value again: nothing changed.
    assert validate_order_update(make(NONE), make(ONE), DEFAULT_GATES).ok
    assert validate_order_update(make(TWO), make(TWO), DEFAULT_GATES).ok


def test_order_authorizations_may_not_shrink() -> None:
    # cert-manager would index past the shorter list here; only the pairs both have are compared.
    old = order(status=OrderStatus(authorizations=[ACMEAuthorization(url="a"), ACMEAuthorization(url="b")]))
    new = order(status=OrderStatus(authorizations=[ACMEAuthorization(url="x")]))
    assert messages(validate_order_update(old, new, DEFAULT_GATES)) == [
        "status.authorizations: Forbidden: field is immutable once set",
        "status.authorizations[0].url: Forbidden: field is immutable once set",
    ]
    gone = order(status=None)
    assert messages(validate_order_update(old, gone, DEFAULT_GATES)) == [
        "status.authorizations: Forbidden: field is immutable once set"
    ]


def test_order_state_and_reason_may_change() -> None:
    old = order(b"csr", OrderStatus(url="u", state="pending"))
    new = order(b"csr", OrderStatus(url="u", state="invalid", reason="failed"))
    assert validate_order_update(old, new, DEFAULT_GATES).ok


def test_creating_orders_and_challenges_is_always_allowed() -> None:
    assert validate_order_create(order(), DEFAULT_GATES).ok
    assert validate_challenge_create(challenge_object(), DEFAULT_GATES).ok


def challenge_object(**spec_changes: object) -> Challenge:
    spec = ChallengeSpec(
        url="u",
        authorization_url="a",
        dns_name="example.com",
        type="HTTP-01",
        token="t",
        key="k",
        solver=ACMEChallengeSolver(
            http01=ACMEChallengeSolverHTTP01(
                gateway_http_route=ACMEChallengeSolverHTTP01GatewayHTTPRoute(parent_refs=[ParentReference(name="gw")])
            )
        ),
        issuer_ref=IssuerReference(name="i"),
    )
    return Challenge(api_version=Challenge.API_VERSION, spec=replace(spec, **spec_changes))


def test_challenge_spec_is_immutable() -> None:
    old = challenge_object()
    assert messages(validate_challenge_update(old, challenge_object(token="other"), DEFAULT_GATES)) == [
        "spec: Forbidden: challenge spec is immutable after creation"
    ]
    assert messages(validate_challenge_update(old, challenge_object(wildcard=True), DEFAULT_GATES)) == [
        "spec: Forbidden: challenge spec is immutable after creation"
    ]
    # Status is free, and a stored copy carrying the persisted defaults equals the original.
    assert validate_challenge_update(old, replace(old, status=ChallengeStatus(presented=True)), DEFAULT_GATES).ok
    defaulted_ref = IssuerReference(name="i", kind="Issuer", group="cert-manager.io")
    assert validate_challenge_update(old, challenge_object(issuer_ref=defaulted_ref), DEFAULT_GATES).ok
    defaulted_solver = ACMEChallengeSolver(
        http01=ACMEChallengeSolverHTTP01(
            gateway_http_route=ACMEChallengeSolverHTTP01GatewayHTTPRoute(
                parent_refs=[ParentReference(name="gw", group="gateway.networking.k8s.io", kind="Gateway")]
            )
        )
    )
    assert validate_challenge_update(old, challenge_object(solver=defaulted_solver), DEFAULT_GATES).ok
