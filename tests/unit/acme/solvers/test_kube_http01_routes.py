"""The solver Ingress and HTTPRoute as cert-manager builds them, and edits of an existing Ingress."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from certkeeper.acme.solvers.base import SolverConfigError
from certkeeper.acme.solvers.kube_http01_objects import SolverPodOptions
from certkeeper.acme.solvers.kube_http01_routes import (
    add_challenge_path,
    build_http_route,
    build_ingress,
    challenge_path,
    covers,
    http_route_drifted,
    http_route_spec,
    ingress_config,
    ingress_path,
    ingress_service_name,
    remove_challenge_path,
)
from tests.unit.acme.solvers.kube_http01_builders import DOMAIN, NAMESPACE, TOKEN, UID, http01_challenge

OPTIONS = SolverPodOptions(image="certkeeper:0.1.0")
PATH = f"/.well-known/acme-challenge/{TOKEN}"
IDENTITY = {
    "acme.cert-manager.io/http-domain": "920979054",
    "acme.cert-manager.io/http-token": "339084100",
    "acme.cert-manager.io/http01-solver": "true",
}
OWNER = {
    "apiVersion": "acme.cert-manager.io/v1",
    "kind": "Challenge",
    "name": "ch-1",
    "uid": UID,
    "controller": True,
    "blockOwnerDeletion": True,
}
SOLVER_PATH = {
    "path": PATH,
    "pathType": "Exact",
    "backend": {"service": {"name": "cm-acme-http-solver-abcde", "port": {"number": 8089}}},
}


def test_default_ingress_is_cert_managers() -> None:
    assert build_ingress(http01_challenge(), "cm-acme-http-solver-abcde", OPTIONS) == {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "Ingress",
        "metadata": {
            "generateName": "cm-acme-http-solver-",
            "namespace": NAMESPACE,
            "labels": IDENTITY,
            "annotations": {"nginx.ingress.kubernetes.io/whitelist-source-range": "0.0.0.0/0,::/0"},
            "ownerReferences": [OWNER],
        },
        "spec": {"rules": [{"host": DOMAIN, "http": {"paths": [SOLVER_PATH]}}]},
    }


def test_path_type_follows_the_feature_gate() -> None:
    assert ingress_path("t", "svc", exact=True)["pathType"] == "Exact"
    off = SolverPodOptions(image="i", path_type_exact=False)
    ingress = build_ingress(http01_challenge(), "svc", off)
    assert ingress["spec"]["rules"][0]["http"]["paths"][0]["pathType"] == "ImplementationSpecific"


@pytest.mark.parametrize(
    ("ingress", "annotations", "spec_class"),
    [
        ({"class": "nginx"}, {"kubernetes.io/ingress.class": "nginx"}, None),
        ({"ingressClassName": "traefik"}, {}, "traefik"),
    ],
    ids=["class-annotation", "ingressClassName-field"],
)
def test_ingress_class_handling(ingress: dict[str, Any], annotations: dict[str, str], spec_class: str | None) -> None:
    built = build_ingress(http01_challenge({"ingress": ingress}), "svc", OPTIONS)
    assert built["metadata"]["annotations"] == {
        "nginx.ingress.kubernetes.io/whitelist-source-range": "0.0.0.0/0,::/0",
        **annotations,
    }
    assert built["spec"].get("ingressClassName") == spec_class


def test_class_and_ingress_class_name_together_are_refused() -> None:
    challenge = http01_challenge({"ingress": {"class": "nginx", "ingressClassName": "nginx"}})
    with pytest.raises(SolverConfigError, match="the fields ingressClassName and class cannot be set at the same time"):
        build_ingress(challenge, "svc", OPTIONS)


@pytest.mark.parametrize(
    ("template_annotations", "expected"),
    [
        (
            {"a": "b"},
            {"nginx.ingress.kubernetes.io/whitelist-source-range": "0.0.0.0/0,::/0", "a": "b"},
        ),
        (
            {"nginx.ingress.kubernetes.io/whitelist-source-range": "10.0.0.0/8"},
            {"nginx.ingress.kubernetes.io/whitelist-source-range": "10.0.0.0/8"},
        ),
        (
            {"custom.example/whitelist-source-range": "10.0.0.0/8"},
            {"custom.example/whitelist-source-range": "10.0.0.0/8"},
        ),
        ({"kubernetes.io/ingress.class": "other"}, None),
    ],
    ids=["added", "replaced", "any-prefix-drops-the-default", "class-overridden"],
)
def test_ingress_template_annotations(template_annotations: dict[str, str], expected: dict[str, str] | None) -> None:
    challenge = http01_challenge(
        {"ingress": {"class": "nginx", "ingressTemplate": {"metadata": {"annotations": template_annotations}}}}
    )
    annotations = build_ingress(challenge, "svc", OPTIONS)["metadata"]["annotations"]
    if expected is None:
        assert annotations["kubernetes.io/ingress.class"] == "other"
    else:
        assert annotations == {"kubernetes.io/ingress.class": "nginx", **expected}


def test_ingress_labels_identity_then_extra_then_template() -> None:
    challenge = http01_challenge(
        {
            "ingress": {
                "ingressTemplate": {"metadata": {"labels": {"team": "t", "acme.cert-manager.io/http-token": "x"}}}
            }
        }
    )
    options = SolverPodOptions(image="i", extra_labels={"team": "flag", "env": "prod"})
    assert build_ingress(challenge, "svc", options)["metadata"]["labels"] == {**IDENTITY, "team": "t", "env": "prod"}


@pytest.mark.parametrize("address", ["192.0.2.10", "2001:db8::10"], ids=["ipv4", "ipv6"])
def test_ip_identifiers_route_every_host(address: str) -> None:
    challenge = http01_challenge(dns_name=address)
    rule = build_ingress(challenge, "svc", OPTIONS)["spec"]["rules"][0]
    assert "host" not in rule
    assert "hostnames" not in http_route_spec(http01_challenge({"gatewayHTTPRoute": {}}, dns_name=address), "svc")


def test_ingress_config_is_required() -> None:
    with pytest.raises(SolverConfigError, match=r"Ensure solvers\[\]\.http01\.ingress is specified"):
        ingress_config(http01_challenge({"gatewayHTTPRoute": {}}))


def test_ingress_service_name() -> None:
    ingress = build_ingress(http01_challenge(), "svc-a", OPTIONS)
    assert ingress_service_name(ingress) == "svc-a"
    assert ingress_service_name({"spec": {"rules": []}}) == ""
    assert ingress_service_name({"spec": {"rules": [{"host": "x"}]}}) == ""


# -- an existing Ingress (http01.ingress.name) ----------------------------------------------------------

USER_PATH = {"path": "/", "pathType": "Prefix", "backend": {"service": {"name": "web", "port": {"number": 80}}}}


def user_ingress(*rules: dict[str, Any]) -> dict[str, Any]:
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "Ingress",
        "metadata": {"name": "web", "namespace": NAMESPACE, "resourceVersion": "7"},
        "spec": {"rules": list(rules)},
    }


def test_path_goes_first_in_the_domains_rule() -> None:
    original = user_ingress(
        {"host": "other.test", "http": {"paths": [USER_PATH]}}, {"host": DOMAIN, "http": {"paths": [USER_PATH]}}
    )
    kept = copy.deepcopy(original)
    updated = add_challenge_path(original, http01_challenge(), "cm-acme-http-solver-abcde", exact=True)
    assert original == kept  # the input is not changed
    assert updated is not None
    assert updated["spec"]["rules"] == [
        {"host": "other.test", "http": {"paths": [USER_PATH]}},
        {"host": DOMAIN, "http": {"paths": [SOLVER_PATH, USER_PATH]}},
    ]
    assert updated["metadata"]["resourceVersion"] == "7"


def test_a_rule_is_added_for_a_new_domain() -> None:
    updated = add_challenge_path(
        user_ingress({"host": "other.test"}), http01_challenge(), "cm-acme-http-solver-abcde", exact=True
    )
    assert updated is not None
    assert updated["spec"]["rules"][1] == {"host": DOMAIN, "http": {"paths": [SOLVER_PATH]}}


def test_a_rule_without_http_gets_the_path() -> None:
    updated = add_challenge_path(
        user_ingress({"host": DOMAIN}), http01_challenge(), "cm-acme-http-solver-abcde", exact=True
    )
    assert updated is not None
    assert updated["spec"]["rules"] == [{"host": DOMAIN, "http": {"paths": [SOLVER_PATH]}}]


def test_present_path_is_left_alone_or_repointed() -> None:
    current = user_ingress({"host": DOMAIN, "http": {"paths": [SOLVER_PATH, USER_PATH]}})
    assert add_challenge_path(current, http01_challenge(), "cm-acme-http-solver-abcde", exact=True) is None
    updated = add_challenge_path(current, http01_challenge(), "cm-acme-http-solver-new", exact=True)
    assert updated is not None
    paths = updated["spec"]["rules"][0]["http"]["paths"]
    assert [p["backend"]["service"]["name"] for p in paths] == ["cm-acme-http-solver-new", "web"]


def test_cleanup_removes_only_the_challenge_path() -> None:
    current = user_ingress(
        {"host": "other.test", "http": {"paths": [SOLVER_PATH]}},
        {"host": DOMAIN, "http": {"paths": [SOLVER_PATH, USER_PATH]}},
        {"host": DOMAIN},
    )
    updated = remove_challenge_path(current, http01_challenge())
    assert updated is not None
    assert updated["spec"]["rules"] == [
        {"host": "other.test", "http": {"paths": [SOLVER_PATH]}},
        {"host": DOMAIN, "http": {"paths": [USER_PATH]}},
        {"host": DOMAIN},
    ]


def test_cleanup_drops_a_rule_left_empty_and_skips_when_nothing_to_do() -> None:
    current = user_ingress({"host": DOMAIN, "http": {"paths": [SOLVER_PATH]}})
    updated = remove_challenge_path(current, http01_challenge())
    assert updated is not None
    assert "rules" not in updated["spec"]
    assert (
        remove_challenge_path(user_ingress({"host": DOMAIN, "http": {"paths": [USER_PATH]}}), http01_challenge())
        is None
    )


# -- HTTPRoute --------------------------------------------------------------------------------------------

GATEWAY = {
    "gatewayHTTPRoute": {
        "labels": {"gateway": "public", "acme.cert-manager.io/http01-solver": "no"},
        "parentRefs": [{"name": "gw", "namespace": "infra", "sectionName": "http", "kind": "Gateway"}],
    }
}


def test_http_route_is_cert_managers() -> None:
    options = SolverPodOptions(image="i", extra_labels={"team": "edge", "gateway": "flag"})
    assert build_http_route(http01_challenge(GATEWAY), "cm-acme-http-solver-abcde", options) == {
        "apiVersion": "gateway.networking.k8s.io/v1",
        "kind": "HTTPRoute",
        "metadata": {
            "generateName": "cm-acme-http-solver-",
            "namespace": NAMESPACE,
            "labels": {**IDENTITY, "team": "edge", "gateway": "public"},
            "ownerReferences": [OWNER],
        },
        "spec": {
            "parentRefs": [{"kind": "Gateway", "namespace": "infra", "name": "gw", "sectionName": "http"}],
            "hostnames": [DOMAIN],
            "rules": [
                {
                    "matches": [{"path": {"type": "Exact", "value": PATH}}],
                    "backendRefs": [
                        {
                            "group": "",
                            "kind": "Service",
                            "name": "cm-acme-http-solver-abcde",
                            "namespace": NAMESPACE,
                            "port": 8089,
                            "weight": 1,
                        }
                    ],
                }
            ],
        },
    }


def test_http_route_drift() -> None:
    challenge = http01_challenge(GATEWAY)
    route = build_http_route(challenge, "svc", OPTIONS)
    # Defaults the API server fills in are not drift.
    stored = copy.deepcopy(route)
    stored["spec"]["parentRefs"][0]["group"] = "gateway.networking.k8s.io"
    stored["spec"]["rules"][0]["timeouts"] = {}
    assert not http_route_drifted(stored, challenge, "svc", OPTIONS)
    assert http_route_drifted(stored, challenge, "other-svc", OPTIONS)
    relabelled = copy.deepcopy(stored)
    relabelled["metadata"]["labels"]["gateway"] = "internal"
    assert http_route_drifted(relabelled, challenge, "svc", OPTIONS)
    moved = http01_challenge({"gatewayHTTPRoute": {**GATEWAY["gatewayHTTPRoute"], "parentRefs": [{"name": "gw2"}]}})
    assert http_route_drifted(stored, moved, "svc", OPTIONS)


@pytest.mark.parametrize(
    ("actual", "expected", "result"),
    [
        ({"a": 1, "b": 2}, {"a": 1}, True),
        ({"a": 1}, {"a": 1, "b": 2}, False),
        ([{"a": 1, "x": 0}], [{"a": 1}], True),
        ([{"a": 1}, {"a": 2}], [{"a": 1}], False),
        ("x", {"a": 1}, False),
        ({"a": [1]}, {"a": 1}, False),
    ],
    ids=["extra-key", "missing-key", "list-with-defaults", "extra-item", "type", "scalar-vs-list"],
)
def test_covers(actual: object, expected: object, result: bool) -> None:
    assert covers(actual, expected) is result


# -- properties -------------------------------------------------------------------------------------------

_HOSTS = st.sampled_from(["", DOMAIN, "other.test", "192.0.2.1"])
_PATHS = st.builds(
    lambda path, service: {
        "path": path,
        "pathType": "Prefix",
        "backend": {"service": {"name": service, "port": {"number": 80}}},
    },
    st.sampled_from(["/", "/api", "/.well-known/acme-challenge/other", "/static"]),
    st.sampled_from(["web", "api"]),
)
_RULES = st.lists(
    st.one_of(
        st.builds(lambda host: {"host": host} if host else {}, _HOSTS),
        st.builds(
            lambda host, paths: ({"host": host} if host else {}) | {"http": {"paths": paths}},
            _HOSTS,
            st.lists(_PATHS, min_size=1, max_size=3),
        ),
    ),
    max_size=4,
)


@given(rules=_RULES, token=st.text(alphabet="abcXYZ019-_", min_size=1, max_size=20))
def test_adding_then_removing_the_path_restores_the_ingress(rules: list[dict[str, Any]], token: str) -> None:
    challenge = http01_challenge(token=token)
    original = user_ingress(*rules)
    added = add_challenge_path(original, challenge, "svc", exact=True)
    assert added is not None  # the path was not there, so something changed
    domain_rules = [r for r in added["spec"]["rules"] if r.get("host", "") == DOMAIN]
    assert any(p["path"] == challenge_path(token) for r in domain_rules for p in r["http"]["paths"])
    assert add_challenge_path(added, challenge, "svc", exact=True) is None  # idempotent
    removed = remove_challenge_path(added, challenge)
    assert removed is not None
    # Everything is as it was, except that the domain's first rule, if it had no http, gained the path and,
    # emptied again, is dropped (as cert-manager drops rules left without paths).
    first = next((r for r in rules if r.get("host", "") == DOMAIN), None)
    expected = [r for r in rules if not (r is first and "http" not in r)]
    assert removed["spec"].get("rules", []) == expected
