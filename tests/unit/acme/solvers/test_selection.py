"""Solver selection (cert-manager's solverpicker): tables of issuers' solvers and the one picked."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest
from hypothesis import given
from hypothesis import strategies as st

from certkeeper.acme.solvers.selection import (
    Specificity,
    compare_domain_name,
    count_labels,
    domain_to_match,
    match_dns_zones,
    pick_solver,
    selector_specificity,
)
from certkeeper.api.acme import ACMEChallenge
from certkeeper.api.acme_solvers import ACMEChallengeSolver, CertificateDNSNameSelector
from tests.unit.acme.solvers.builders import dns01_solver, http01_solver

HTTP = ACMEChallenge(url="https://acme.test/c/http", token="t-http", type="http-01")
DNS = ACMEChallenge(url="https://acme.test/c/dns", token="t-dns", type="dns-01")
TLS = ACMEChallenge(url="https://acme.test/c/tls", token="t-tls", type="tls-alpn-01")


def sel(
    names: list[str] | None = None, zones: list[str] | None = None, labels: dict[str, str] | None = None
) -> CertificateDNSNameSelector:
    return CertificateDNSNameSelector(dns_names=names, dns_zones=zones, match_labels=labels)


@dataclass(frozen=True)
class Case:
    id: str
    solvers: list[ACMEChallengeSolver]
    expected: int | None
    domain: str = "www.example.com"
    challenges: list[ACMEChallenge] = field(default_factory=lambda: [HTTP, DNS])
    labels: dict[str, str] = field(default_factory=dict)


CASES = [
    Case("no solvers", [], None),
    Case("no offered type", [http01_solver(), dns01_solver()], None, challenges=[TLS]),
    Case("http01 solver needs http-01 offered", [http01_solver(), dns01_solver()], 1, challenges=[DNS]),
    Case("dns01 solver needs dns-01 offered", [dns01_solver(), http01_solver()], 1, challenges=[HTTP]),
    Case("first selector-less solver is the fallback", [http01_solver(), dns01_solver()], 0),
    Case("selector-less after a selector match loses", [http01_solver(sel(zones=["example.com"])), dns01_solver()], 0),
    Case(
        "matching selector beats earlier fallback", [dns01_solver(), http01_solver(sel(names=["www.example.com"]))], 1
    ),
    Case("empty selector ties with the fallback: earlier wins", [dns01_solver(), http01_solver(sel())], 0),
    Case("empty selector first, then fallback: earlier wins", [http01_solver(sel()), dns01_solver()], 0),
    Case(
        "non-matching dnsNames excluded, falls back",
        [http01_solver(sel(names=["other.example.com"])), dns01_solver()],
        1,
    ),
    Case(
        "dnsNames match beats a more specific zone",
        [dns01_solver(sel(zones=["www.example.com"])), http01_solver(sel(names=["www.example.com"]))],
        1,
    ),
    Case(
        "zone match after a dnsNames match loses",
        [http01_solver(sel(names=["www.example.com"])), dns01_solver(sel(zones=["www.example.com"]))],
        0,
    ),
    Case(
        "several dnsNames count once: tie keeps the earlier",
        [
            http01_solver(sel(names=["www.example.com"])),
            dns01_solver(sel(names=["www.example.com", "example.com", "a.example.com"])),
        ],
        0,
    ),
    Case(
        "both dnsNames: more specific zone wins",
        [
            http01_solver(sel(names=["www.example.com"], zones=["com"])),
            dns01_solver(sel(names=["www.example.com"], zones=["example.com"])),
        ],
        1,
    ),
    Case(
        "both dnsNames, same zone: more labels win",
        [
            http01_solver(sel(names=["www.example.com"], labels={"a": "1"})),
            dns01_solver(sel(names=["www.example.com"], labels={"a": "1", "b": "2"})),
        ],
        1,
        labels={"a": "1", "b": "2"},
    ),
    Case(
        "both dnsNames: less specific zone loses even with more labels",
        [
            http01_solver(sel(names=["www.example.com"], zones=["example.com"])),
            dns01_solver(sel(names=["www.example.com"], zones=["com"], labels={"a": "1"})),
        ],
        0,
        labels={"a": "1"},
    ),
    Case(
        "most specific zone wins",
        [dns01_solver(sel(zones=["example.com"])), http01_solver(sel(zones=["www.example.com"]))],
        1,
        domain="a.www.example.com",
    ),
    Case(
        "less specific zone later loses",
        [http01_solver(sel(zones=["www.example.com"])), dns01_solver(sel(zones=["example.com"]))],
        0,
        domain="a.www.example.com",
    ),
    Case(
        "best of several zones in one selector counts",
        [dns01_solver(sel(zones=["example.com"])), http01_solver(sel(zones=["org", "www.example.com"]))],
        1,
    ),
    Case("zone is the domain itself", [dns01_solver(), http01_solver(sel(zones=["www.example.com"]))], 1),
    Case("zone must match whole labels", [http01_solver(sel(zones=["ample.com"])), dns01_solver()], 1),
    Case("sibling zone does not match", [http01_solver(sel(zones=["api.example.com"])), dns01_solver()], 1),
    Case("zones compare case-insensitively", [dns01_solver(), http01_solver(sel(zones=["EXAMPLE.Com"]))], 1),
    Case("zone with a trailing dot", [dns01_solver(), http01_solver(sel(zones=["example.com."]))], 1),
    Case("dnsNames compare exactly", [dns01_solver(), http01_solver(sel(names=["WWW.example.com"]))], 0),
    Case(
        "zone match beats labels-only match",
        [http01_solver(sel(labels={"a": "1"})), dns01_solver(sel(zones=["com"]))],
        1,
        labels={"a": "1"},
    ),
    Case(
        "same zone: more matchLabels win",
        [
            http01_solver(sel(zones=["example.com"], labels={"a": "1"})),
            dns01_solver(sel(zones=["example.com"], labels={"a": "1", "b": "2"})),
        ],
        1,
        labels={"a": "1", "b": "2"},
    ),
    Case(
        "same zone, same label count: earlier wins",
        [
            http01_solver(sel(zones=["example.com"], labels={"a": "1"})),
            dns01_solver(sel(zones=["example.com"], labels={"b": "2"})),
        ],
        0,
        labels={"a": "1", "b": "2"},
    ),
    Case(
        "no zones: more matchLabels win",
        [http01_solver(sel(labels={"a": "1"})), dns01_solver(sel(labels={"a": "1", "b": "2"}))],
        1,
        labels={"a": "1", "b": "2"},
    ),
    Case(
        "label with another value excludes",
        [http01_solver(sel(labels={"a": "2"})), dns01_solver()],
        1,
        labels={"a": "1"},
    ),
    Case("label missing on the Order excludes", [http01_solver(sel(labels={"a": "1"})), dns01_solver()], 1),
    Case(
        "all three parts must match",
        [http01_solver(sel(names=["www.example.com"], zones=["example.org"])), dns01_solver()],
        1,
    ),
    Case(
        "wildcard matched as *.name: plain name in dnsNames does not match",
        [dns01_solver(), http01_solver(sel(names=["example.com"]))],
        0,
        domain="*.example.com",
    ),
    Case(
        "wildcard matched as *.name in dnsNames",
        [http01_solver(), dns01_solver(sel(names=["*.example.com"]))],
        1,
        domain="*.example.com",
    ),
    Case(
        "wildcard is inside its base zone",
        [http01_solver(), dns01_solver(sel(zones=["example.com"]))],
        1,
        domain="*.example.com",
    ),
]


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_pick_solver(case: Case) -> None:
    picked = pick_solver(case.domain, case.challenges, case.solvers, case.labels)
    if case.expected is None:
        assert picked is None
        return
    assert picked is not None
    assert picked.index == case.expected
    assert picked.solver is case.solvers[case.expected]
    expected_type = "http-01" if picked.solver.http01 is not None else "dns-01"
    assert picked.challenge.type == expected_type


def test_first_offered_challenge_of_the_type_is_used() -> None:
    second_http = ACMEChallenge(url="https://acme.test/c/http2", token="t2", type="http-01")
    picked = pick_solver("a.example.com", [DNS, HTTP, second_http], [http01_solver()])
    assert picked is not None
    assert picked.challenge == HTTP


@pytest.mark.parametrize(
    ("identifier", "wildcard", "expected"),
    [("example.com", False, "example.com"), ("example.com", True, "*.example.com")],
    ids=["plain", "wildcard"],
)
def test_domain_to_match(identifier: str, wildcard: bool, expected: str) -> None:
    assert domain_to_match(identifier, wildcard=wildcard) == expected


@pytest.mark.parametrize(
    ("a", "b", "shared"),
    [
        ("www.miek.nl.", "miek.nl.", 2),
        ("www.miek.nl", "www.bla.nl", 1),
        ("www.example.com", "WWW.EXAMPLE.COM", 3),
        ("example.com", "example.org", 0),
        (".", "example.com", 0),
        ("", "example.com", 0),
    ],
    ids=["suffix", "one-label", "case", "none", "root", "empty"],
)
def test_compare_domain_name(a: str, b: str, shared: int) -> None:
    assert compare_domain_name(a, b) == shared
    assert compare_domain_name(b, a) == shared


@pytest.mark.parametrize(
    ("name", "labels"), [(".", 0), ("", 0), ("com", 1), ("example.com.", 2), ("*.example.com", 3)], ids=str
)
def test_count_labels(name: str, labels: int) -> None:
    assert count_labels(name) == labels


def test_root_zone_never_matches() -> None:
    assert match_dns_zones(["."], "example.com") == (False, 0)


def test_specificity_orders_dns_names_then_zones_then_labels() -> None:
    assert Specificity(dns_names=True) > Specificity(dns_zone_labels=9, match_labels=9)
    assert Specificity(dns_zone_labels=2) > Specificity(dns_zone_labels=1, match_labels=9)
    assert Specificity(match_labels=1) > Specificity()
    assert selector_specificity(sel(names=["x.example.com"]), "x.example.com", {}) == Specificity(dns_names=True)
    assert selector_specificity(sel(names=["x.example.com"]), "y.example.com", {}) is None


Spec = tuple[list[str], list[str]] | None
_names = st.lists(st.from_regex(r"[a-z*]{1,5}(\.[a-z]{1,5}){0,3}", fullmatch=True), max_size=3)


@given(
    domain=st.from_regex(r"[a-z*]{1,5}(\.[a-z]{1,5}){0,3}", fullmatch=True),
    specs=st.lists(st.tuples(st.booleans(), st.one_of(st.none(), st.tuples(_names, _names))), min_size=0, max_size=6),
)
def test_pick_is_never_a_less_specific_solver(domain: str, specs: list[tuple[bool, Spec]]) -> None:
    """Property: the pick matches; no matching solver is more specific, or as specific and earlier."""
    solvers = [
        (http01_solver if is_http else dns01_solver)(None if s is None else sel(names=s[0] or None, zones=s[1] or None))
        for is_http, s in specs
    ]
    picked = pick_solver(domain, [HTTP, DNS], solvers)
    matching = [
        (index, solver)
        for index, solver in enumerate(solvers)
        if solver.selector is None or selector_specificity(solver.selector, domain, {}) is not None
    ]
    if not matching:
        assert picked is None
        return
    assert picked is not None
    assert (picked.index, picked.solver) in matching
    mine = Specificity() if picked.solver.selector is None else selector_specificity(picked.solver.selector, domain, {})
    assert mine is not None
    if mine == Specificity():
        # Nothing beat the first match, so it is the first matching solver of all.
        assert picked.index == matching[0][0]
    for index, solver in matching:
        theirs = Specificity() if solver.selector is None else selector_specificity(solver.selector, domain, {})
        assert theirs is not None
        assert not theirs > mine
        if theirs == mine:
            assert index >= picked.index or solver.selector is None
