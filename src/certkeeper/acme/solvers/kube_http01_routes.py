"""How traffic reaches the HTTP-01 solver: the Ingress or Gateway API HTTPRoute cert-manager builds.

Follows ``pkg/issuer/acme/http/ingress.go`` and ``httproute.go``.

Ingress (``solver.http01.ingress``)::

    name unset -> a new Ingress (generateName cm-acme-http-solver-, identity + extra labels, owned by
                  the Challenge), annotation nginx.ingress.kubernetes.io/whitelist-source-range:
                  0.0.0.0/0,::/0 (dropped when the ingressTemplate sets any *whitelist-source-range),
                  class -> annotation kubernetes.io/ingress.class, ingressClassName -> the field (not
                  both), one rule: host = dnsName (none for an IP address), path
                  /.well-known/acme-challenge/<token>, pathType Exact (ImplementationSpecific with
                  the gate ACMEHTTP01IngressPathTypeExact off), backend = the solver Service:8089;
                  the ingressTemplate's labels and annotations are added last
    name set   -> that existing Ingress gains the path in the rule for dnsName (a new rule when
                  there is none; a same-path entry pointing elsewhere is replaced); cleanup removes
                  the path again and drops rules left without paths

HTTPRoute (``solver.http01.gatewayHTTPRoute``): identity + extra + solver labels, the solver's
parentRefs, hostnames [dnsName] (none for an IP address), one rule matching the path Exact and
sending it to the Service (group "", kind Service, the Challenge's namespace, port 8089, weight 1).

Pure: functions take and return raw dicts (inputs are never changed).
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any, Final

import msgspec

from certkeeper.acme.solvers.base import SolverConfigError
from certkeeper.acme.solvers.kube_http01_objects import (
    SOLVER_PORT,
    RawObject,
    SolverPodOptions,
    solver_metadata,
    with_labels,
)
from certkeeper.api.acme import Challenge
from certkeeper.api.acme_solvers import ACMEChallengeSolverHTTP01GatewayHTTPRoute, ACMEChallengeSolverHTTP01Ingress
from certkeeper.validation.gonet import parse_ip

#: RFC 8555 §8.3 path prefix (the acmesolver's ``HTTP_CHALLENGE_PATH``).
CHALLENGE_PATH_PREFIX: Final = "/.well-known/acme-challenge"
WHITELIST_SOURCE_RANGE_ANNOTATION: Final = "nginx.ingress.kubernetes.io/whitelist-source-range"
#: Lets the CA's validators through nginx's allow-lists (cert-manager keeps it for compatibility).
WHITELIST_SOURCE_RANGE_ALL: Final = "0.0.0.0/0,::/0"
#: The legacy ingress class annotation that ``class`` sets.
INGRESS_CLASS_ANNOTATION: Final = "kubernetes.io/ingress.class"


def challenge_path(token: str) -> str:
    """``/.well-known/acme-challenge/<token>``."""
    return f"{CHALLENGE_PATH_PREFIX}/{token}"


def _route_host(dns_name: str) -> str:
    # An IP identifier is validated on whatever host the CA connects to, so the route matches any host.
    return "" if parse_ip(dns_name) is not None else dns_name


def ingress_config_or_none(challenge: Challenge) -> ACMEChallengeSolverHTTP01Ingress | None:
    """``solver.http01.ingress``, if the solver routes through an Ingress."""
    http01 = challenge.spec.solver.http01
    return http01.ingress if http01 is not None else None


def ingress_config(challenge: Challenge) -> ACMEChallengeSolverHTTP01Ingress:
    """``solver.http01.ingress``, or cert-manager's error when the solver has none."""
    http01 = challenge.spec.solver.http01
    if http01 is None or http01.ingress is None:
        raise SolverConfigError(
            "challenge's 'solver' field is specified but no HTTP01 ingress config provided. "
            "Ensure solvers[].http01.ingress is specified on your issuer resource"
        )
    return http01.ingress


def ingress_path(token: str, service_name: str, *, exact: bool) -> RawObject:
    """The HTTPIngressPath that sends the challenge path to the solver Service."""
    return {
        "path": challenge_path(token),
        "pathType": "Exact" if exact else "ImplementationSpecific",
        "backend": {"service": {"name": service_name, "port": {"number": SOLVER_PORT}}},
    }


def build_ingress(challenge: Challenge, service_name: str, options: SolverPodOptions) -> RawObject:
    """A new solver Ingress (cert-manager ``buildIngressResource`` + the ingressTemplate merge)."""
    config = ingress_config(challenge)
    if config.class_ is not None and config.ingress_class_name is not None:
        raise SolverConfigError("the fields ingressClassName and class cannot be set at the same time")
    annotations = {WHITELIST_SOURCE_RANGE_ANNOTATION: WHITELIST_SOURCE_RANGE_ALL}
    if config.class_ is not None:
        annotations[INGRESS_CLASS_ANNOTATION] = config.class_
    labels = with_labels(challenge, options.extra_labels)
    template = config.ingress_template.metadata if config.ingress_template is not None else None
    if template is not None:
        labels = with_labels(challenge, labels, template.labels)
        for key, value in (template.annotations or {}).items():
            # Any prefix counts: the user chose their own allow-list, so the open default goes.
            if key.rpartition("/")[2] == "whitelist-source-range":
                annotations.pop(WHITELIST_SOURCE_RANGE_ANNOTATION, None)
            annotations[key] = value
    rule: RawObject = {
        "http": {"paths": [ingress_path(challenge.spec.token, service_name, exact=options.path_type_exact)]}
    }
    host = _route_host(challenge.spec.dns_name)
    if host:
        rule = {"host": host, **rule}
    spec: RawObject = {"rules": [rule]}
    if config.ingress_class_name is not None:
        spec = {"ingressClassName": config.ingress_class_name, **spec}
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "Ingress",
        "metadata": solver_metadata(challenge, labels, annotations),
        "spec": spec,
    }


def ingress_service_name(ingress: Mapping[str, Any]) -> str:
    """The backend Service of the first path of the first rule ("" when there is none)."""
    try:
        return str(ingress["spec"]["rules"][0]["http"]["paths"][0]["backend"]["service"]["name"])
    except (KeyError, IndexError, TypeError):
        return ""


def add_challenge_path(
    ingress: Mapping[str, Any], challenge: Challenge, service_name: str, *, exact: bool
) -> RawObject | None:
    """``ingress`` with the challenge path routed to ``service_name``, or None when it already is.

    cert-manager ``addChallengePathToIngress``: the path goes first in the rule whose host is the
    domain; an entry with the same path is replaced unless it already points at the Service and port;
    without such a rule a new one is appended.
    """
    updated = copy.deepcopy(dict(ingress))
    wanted = ingress_path(challenge.spec.token, service_name, exact=exact)
    rules = updated.setdefault("spec", {}).setdefault("rules", [])
    for rule in rules:
        if rule.get("host", "") != challenge.spec.dns_name:
            continue
        paths = (rule.get("http") or {}).get("paths") or []
        for index, path in enumerate(paths):
            if path.get("path") == wanted["path"]:
                service = (path.get("backend") or {}).get("service") or {}
                if service.get("name") == service_name and service.get("port") == wanted["backend"]["service"]["port"]:
                    return None
                paths[index] = wanted
                rule["http"] = {**(rule.get("http") or {}), "paths": paths}
                return updated
        rule["http"] = {**(rule.get("http") or {}), "paths": [wanted, *paths]}
        return updated
    rules.append({"host": challenge.spec.dns_name, "http": {"paths": [wanted]}})
    return updated


def remove_challenge_path(ingress: Mapping[str, Any], challenge: Challenge) -> RawObject | None:
    """``ingress`` without the challenge path on the domain's rules, or None when it has none.

    cert-manager ``cleanupIngresses`` for a named Ingress: rules for other hosts and rules without
    ``http`` stay; a rule left without paths is dropped.
    """
    target = challenge_path(challenge.spec.token)
    updated = copy.deepcopy(dict(ingress))
    spec = updated.get("spec") or {}
    kept: list[RawObject] = []
    changed = False
    for rule in spec.get("rules") or []:
        http = rule.get("http")
        if rule.get("host", "") != challenge.spec.dns_name or http is None:
            kept.append(rule)
            continue
        paths = [p for p in http.get("paths") or [] if p.get("path") != target]
        changed = changed or len(paths) != len(http.get("paths") or [])
        if paths:
            kept.append({**rule, "http": {**http, "paths": paths}})
    if not changed:
        return None
    spec["rules"] = kept
    if not kept:
        del spec["rules"]
    return updated


def gateway_config(challenge: Challenge) -> ACMEChallengeSolverHTTP01GatewayHTTPRoute | None:
    """``solver.http01.gatewayHTTPRoute``, if the solver uses one."""
    http01 = challenge.spec.solver.http01
    return http01.gateway_http_route if http01 is not None else None


def http_route_spec(challenge: Challenge, service_name: str) -> RawObject:
    """The HTTPRoute spec that routes the challenge path to the solver Service (``generateHTTPRouteSpec``)."""
    config = gateway_config(challenge)
    spec: RawObject = {}
    if config is not None and config.parent_refs:
        spec["parentRefs"] = msgspec.to_builtins(config.parent_refs)
    host = _route_host(challenge.spec.dns_name)
    if host:
        spec["hostnames"] = [host]
    spec["rules"] = [
        {
            "matches": [{"path": {"type": "Exact", "value": challenge_path(challenge.spec.token)}}],
            "backendRefs": [
                {
                    "group": "",
                    "kind": "Service",
                    "name": service_name,
                    "namespace": challenge.namespace,
                    "port": SOLVER_PORT,
                    "weight": 1,
                }
            ],
        }
    ]
    return spec


def http_route_labels(challenge: Challenge, options: SolverPodOptions) -> dict[str, str]:
    """Identity labels, then the extra-labels flag, then the solver's ``gatewayHTTPRoute.labels``."""
    config = gateway_config(challenge)
    return with_labels(challenge, options.extra_labels, config.labels if config is not None else None)


def build_http_route(challenge: Challenge, service_name: str, options: SolverPodOptions) -> RawObject:
    """A new solver HTTPRoute (cert-manager ``createGatewayHTTPRoute``)."""
    return {
        "apiVersion": "gateway.networking.k8s.io/v1",
        "kind": "HTTPRoute",
        "metadata": solver_metadata(challenge, http_route_labels(challenge, options), {}),
        "spec": http_route_spec(challenge, service_name),
    }


def covers(actual: object, expected: object) -> bool:
    """Whether ``actual`` holds everything ``expected`` sets: same scalars, list lengths and keys.

    Fields only ``actual`` has (defaults the API server filled in) do not count as a difference.
    """
    if isinstance(expected, Mapping):
        return isinstance(actual, Mapping) and all(k in actual and covers(actual[k], v) for k, v in expected.items())
    if isinstance(expected, list):
        return (
            isinstance(actual, list)
            and len(actual) == len(expected)
            and all(covers(a, e) for a, e in zip(actual, expected, strict=True))
        )
    return actual == expected


def http_route_drifted(
    route: Mapping[str, Any], challenge: Challenge, service_name: str, options: SolverPodOptions
) -> bool:
    """Whether an existing solver HTTPRoute no longer routes or labels as it should (``checkAndUpdate...``)."""
    meta = route.get("metadata") or {}
    if (meta.get("labels") or {}) != http_route_labels(challenge, options):
        return True
    return not covers(route.get("spec") or {}, http_route_spec(challenge, service_name))


__all__ = [
    "CHALLENGE_PATH_PREFIX",
    "INGRESS_CLASS_ANNOTATION",
    "WHITELIST_SOURCE_RANGE_ALL",
    "WHITELIST_SOURCE_RANGE_ANNOTATION",
    "add_challenge_path",
    "build_http_route",
    "build_ingress",
    "challenge_path",
    "covers",
    "gateway_config",
    "http_route_drifted",
    "http_route_labels",
    "http_route_spec",
    "ingress_config",
    "ingress_config_or_none",
    "ingress_path",
    "ingress_service_name",
    "remove_challenge_path",
]
