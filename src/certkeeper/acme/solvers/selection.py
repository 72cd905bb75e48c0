"""Which of an issuer's ``solvers[]`` answers one ACME authorization, and with which offered challenge.

Follows ``pkg/util/solverpicker/solverpicker.go`` and the selectors in
``pkg/controller/acmeorders/selectors/``:

* a solver is usable only if the authorization offers a challenge of its type (``http-01`` for an
  ``http01`` solver, ``dns-01`` for ``dns01``); the first offered challenge of that type is used;
* a solver without ``selector`` matches everything but only ever wins when nothing was picked before
  it, so the first one is the fallback;
* a solver with a selector must match on all three parts: every ``matchLabels`` entry is on the Order,
  the domain is one of ``dnsNames`` (exact string), the domain is inside one of ``dnsZones``; an empty
  part matches with weight 0;
* among matches, a later solver replaces the current pick only if it is strictly more specific:
  first a ``dnsNames`` match (counted once, however many names), then the most specific ``dnsZones``
  match (the zone's label count), then the number of ``matchLabels``. Ties keep the earlier solver.

Comparing ``(has dnsNames match, zone labels, label count)`` lexicographically is exactly the branch
ladder of the Go picker: both branches on dnsNames compare zones then labels, and when neither
solver matches a zone both zone counts are 0.

A wildcard authorization is matched as ``*.<identifier>`` (``pkg/controller/acmeorders/util.go``).
Pure.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from certkeeper.api.acme import ACMEChallenge
from certkeeper.api.acme_solvers import ACMEChallengeSolver, CertificateDNSNameSelector


@dataclass(frozen=True, slots=True, kw_only=True)
class Selection:
    """The solver picked for an authorization, its position in ``solvers[]``, and the challenge it answers."""

    solver: ACMEChallengeSolver
    index: int
    challenge: ACMEChallenge


@dataclass(frozen=True, slots=True, kw_only=True, order=True)
class Specificity:
    """How specifically a selector matched; compared field by field, greater is more specific."""

    dns_names: bool = False
    dns_zone_labels: int = 0
    match_labels: int = 0


def domain_to_match(identifier: str, *, wildcard: bool) -> str:
    """The name solvers are matched against: ``*.<identifier>`` for a wildcard authorization."""
    return f"*.{identifier}" if wildcard else identifier


def _labels(name: str) -> list[str]:
    """The labels of a domain name, ignoring one trailing dot; the root (``.``) and ``""`` have none."""
    name = name.removesuffix(".")
    return name.split(".") if name else []


def count_labels(name: str) -> int:
    """Number of labels in ``name`` (miekg/dns ``CountLabel``)."""
    return len(_labels(name))


def compare_domain_name(a: str, b: str) -> int:
    """How many labels ``a`` and ``b`` share counting from the right, case-insensitively (``CompareDomainName``)."""
    shared = 0
    for left, right in zip(reversed(_labels(a)), reversed(_labels(b)), strict=False):
        if left.lower() != right.lower():
            break
        shared += 1
    return shared


def match_labels(required: Mapping[str, str] | None, labels: Mapping[str, str]) -> tuple[bool, int]:
    """Whether every required label is on the object with that value, and how many are required."""
    if not required:
        return True, 0
    if all(labels.get(key) == value for key, value in required.items()):
        return True, len(required)
    return False, 0


def match_dns_names(allowed: Sequence[str] | None, domain: str) -> tuple[bool, int]:
    """Whether ``domain`` is one of ``allowed`` (exact string), weight 1 when it is."""
    if not allowed:
        return True, 0
    if domain in allowed:
        return True, 1
    return False, 0


def match_dns_zones(allowed: Sequence[str] | None, domain: str) -> tuple[bool, int]:
    """Whether ``domain`` is in (or is) one of the zones, weighted by the best zone's label count."""
    if not allowed:
        return True, 0
    best = 0
    for zone in allowed:
        zone_labels = count_labels(zone)
        if compare_domain_name(zone, domain) == zone_labels:
            best = max(best, zone_labels)
    return best > 0, best


def selector_specificity(
    selector: CertificateDNSNameSelector, domain: str, order_labels: Mapping[str, str]
) -> Specificity | None:
    """How specifically ``selector`` matches ``domain`` on an Order with ``order_labels``; None if it does not."""
    labels_ok, labels = match_labels(selector.match_labels, order_labels)
    names_ok, names = match_dns_names(selector.dns_names, domain)
    zones_ok, zones = match_dns_zones(selector.dns_zones, domain)
    if not (labels_ok and names_ok and zones_ok):
        return None
    return Specificity(dns_names=names > 0, dns_zone_labels=zones, match_labels=labels)


def offered_challenge(solver: ACMEChallengeSolver, challenges: Sequence[ACMEChallenge]) -> ACMEChallenge | None:
    """The first offered challenge whose type the solver handles, or None."""
    for challenge in challenges:
        if challenge.type == "http-01" and solver.http01 is not None:
            return challenge
        if challenge.type == "dns-01" and solver.dns01 is not None:
            return challenge
    return None


def pick_solver(
    domain: str,
    challenges: Sequence[ACMEChallenge],
    solvers: Sequence[ACMEChallengeSolver],
    order_labels: Mapping[str, str] | None = None,
) -> Selection | None:
    """The solver for ``domain`` (already ``*.``-prefixed for wildcards, see ``domain_to_match``), or None.

    ``challenges`` are those the authorization offers; ``order_labels`` are the Order's labels.
    """
    labels = order_labels or {}
    picked: Selection | None = None
    picked_specificity = Specificity()
    for index, solver in enumerate(solvers):
        challenge = offered_challenge(solver, challenges)
        if challenge is None:
            continue
        if solver.selector is None:
            if picked is None:
                picked = Selection(solver=solver, index=index, challenge=challenge)
            continue
        specificity = selector_specificity(solver.selector, domain, labels)
        if specificity is None:
            continue
        if picked is None or specificity > picked_specificity:
            picked = Selection(solver=solver, index=index, challenge=challenge)
            picked_specificity = specificity
    return picked


__all__ = [
    "Selection",
    "Specificity",
    "compare_domain_name",
    "count_labels",
    "domain_to_match",
    "match_dns_names",
    "match_dns_zones",
    "match_labels",
    "offered_challenge",
    "pick_solver",
    "selector_specificity",
]
