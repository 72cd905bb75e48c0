"""The Order's HTTP-01 override annotations applied to the solver its Challenges get."""

from __future__ import annotations

from typing import Any

import msgspec
import pytest

from certkeeper.acme.solvers.base import SolverConfigError
from certkeeper.acme.solvers.http01_overrides import apply_http01_overrides
from certkeeper.api.acme_solvers import ACMEChallengeSolver

NAME = "acme.cert-manager.io/http01-override-ingress-name"
CLASS = "acme.cert-manager.io/http01-override-ingress-class"
CLASS_NAME = "acme.cert-manager.io/http01-override-ingress-ingressclassname"
REF_NAME = "acme.cert-manager.io/http01-parentrefname"
REF_KIND = "acme.cert-manager.io/http01-parentrefkind"
REF_NAMESPACE = "acme.cert-manager.io/http01-parentrefnamespace"


def solver(http01: dict[str, Any]) -> ACMEChallengeSolver:
    return msgspec.convert({"http01": http01}, ACMEChallengeSolver)


def wire(value: ACMEChallengeSolver) -> Any:
    return msgspec.to_builtins(value)


@pytest.mark.parametrize(
    ("ingress", "annotations", "expected"),
    [
        ({"class": "nginx", "podTemplate": {}}, {NAME: "web"}, {"name": "web", "podTemplate": {}}),
        ({"name": "web"}, {CLASS: "traefik"}, {"class": "traefik"}),
        (
            {"class": "nginx", "serviceType": "ClusterIP"},
            {CLASS_NAME: "gce"},
            {"ingressClassName": "gce", "serviceType": "ClusterIP"},
        ),
        ({"class": "nginx"}, {"other": "x"}, {"class": "nginx"}),
        ({"class": "nginx"}, {NAME: ""}, {"name": ""}),
    ],
    ids=["name-clears-class", "class-clears-name", "ingressclassname", "unrelated-annotations", "empty-value-counts"],
)
def test_ingress_overrides(ingress: dict[str, Any], annotations: dict[str, str], expected: dict[str, Any]) -> None:
    assert wire(apply_http01_overrides(solver({"ingress": ingress}), annotations, "ns")) == {
        "http01": {"ingress": expected}
    }


def test_only_one_ingress_override() -> None:
    with pytest.raises(
        SolverConfigError, match="may not specify more than one of: name, class, ingressClassName override annotations"
    ):
        apply_http01_overrides(solver({"ingress": {}}), {NAME: "web", CLASS: "nginx"}, "ns")


def test_ingress_overrides_leave_other_solvers_alone() -> None:
    gateway = solver({"gatewayHTTPRoute": {"parentRefs": [{"name": "gw"}]}})
    assert apply_http01_overrides(gateway, {NAME: "web"}, "ns") == gateway
    dns = msgspec.convert({"dns01": {"rfc2136": {"nameserver": "192.0.2.1"}}}, ACMEChallengeSolver)
    assert apply_http01_overrides(dns, {NAME: "web", CLASS: "x", REF_NAME: "gw"}, "ns") == dns


@pytest.mark.parametrize(
    ("refs", "annotations", "expected"),
    [
        (
            [{"name": "gw", "namespace": "ns", "sectionName": "http"}, {"name": "other", "namespace": "ns"}],
            {REF_NAME: "gw", REF_KIND: "Gateway"},
            [{"name": "other", "namespace": "ns"}, {"kind": "Gateway", "namespace": "ns", "name": "gw"}],
        ),
        (
            [{"name": "gw", "namespace": "ns", "kind": "ListenerSet"}],
            {REF_NAME: "gw", REF_KIND: "Gateway"},
            [
                {"name": "gw", "namespace": "ns", "kind": "ListenerSet"},
                {"kind": "Gateway", "namespace": "ns", "name": "gw"},
            ],
        ),
        (
            [{"name": "gw"}],
            {REF_NAME: "gw", REF_KIND: "Gateway", REF_NAMESPACE: "infra"},
            [{"name": "gw"}, {"kind": "Gateway", "namespace": "infra", "name": "gw"}],
        ),
        (
            None,
            {REF_NAME: "gw", REF_KIND: "Gateway", REF_NAMESPACE: ""},
            [{"kind": "Gateway", "namespace": "ns", "name": "gw"}],
        ),
        ([{"name": "gw"}], {}, [{"name": "gw"}]),
    ],
    ids=["same-target-replaced", "other-kind-kept", "namespace-annotation", "empty-namespace-means-order's", "none"],
)
def test_parent_ref_override(
    refs: list[dict[str, Any]] | None, annotations: dict[str, str], expected: list[dict[str, Any]]
) -> None:
    route: dict[str, Any] = {"labels": {"a": "b"}}
    if refs is not None:
        route["parentRefs"] = refs
    result = apply_http01_overrides(solver({"gatewayHTTPRoute": route}), annotations, "ns")
    assert wire(result) == {"http01": {"gatewayHTTPRoute": {"labels": {"a": "b"}, "parentRefs": expected}}}


@pytest.mark.parametrize(
    ("annotations", "refs", "message"),
    [
        ({REF_NAME: "gw"}, [{"name": "gw"}], "cannot specify only one of parentRefName, parentRefKind override"),
        ({REF_KIND: "Gateway"}, [{"name": "gw"}], "cannot specify only one of parentRefName, parentRefKind override"),
        ({}, None, "must specify parentRefs either through annotations or solver config"),
    ],
    ids=["name-only", "kind-only", "no-parent-refs"],
)
def test_parent_ref_errors(annotations: dict[str, str], refs: list[dict[str, Any]] | None, message: str) -> None:
    route: dict[str, Any] = {} if refs is None else {"parentRefs": refs}
    with pytest.raises(SolverConfigError, match=message):
        apply_http01_overrides(solver({"gatewayHTTPRoute": route}), annotations, "ns")


def test_an_order_without_annotations_keeps_its_solver() -> None:
    # cert-manager skips both steps for an Order with no annotations, even a gateway solver without refs.
    bare = solver({"gatewayHTTPRoute": {}})
    assert apply_http01_overrides(bare, None, "ns") is bare
