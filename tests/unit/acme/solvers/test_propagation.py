"""Zone discovery, authoritative servers, CNAME chains and TXT checks against canned DNS answers."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field

import dns.message
import dns.name
import dns.rcode
import dns.rdataclass
import dns.rdatatype
import dns.rrset
import pytest

from certkeeper.acme.solvers import propagation
from certkeeper.acme.solvers.base import DNSLookupError
from certkeeper.acme.solvers.dnsquery import DNSClient
from certkeeper.acme.solvers.propagation import DNSResolver, parent_names, to_fqdn, txt_values, un_fqdn
from certkeeper.runtime.clock import FakeClock

NS1 = "10.0.0.1:53"
NS2 = "10.0.0.2:53"


@dataclass
class Answer:
    rcode: dns.rcode.Rcode = dns.rcode.NOERROR
    records: list[str] = field(default_factory=list)  # zone-file lines: "<name> <ttl> <type> <rdata>"


def message(name: str, rdtype: dns.rdatatype.RdataType, answer: Answer) -> dns.message.Message:
    response = dns.message.make_response(dns.message.make_query(name, rdtype))
    response.set_rcode(answer.rcode)
    for line in answer.records:
        owner, ttl, kind, rdata = line.split(" ", 3)
        response.answer.append(
            dns.rrset.from_text(owner, int(ttl), dns.rdataclass.IN, dns.rdatatype.from_text(kind), rdata)
        )
    return response


class FakeClient(DNSClient):
    """Answers from a table keyed by (server, name, type); unknown questions get NXDOMAIN."""

    def __init__(self, table: dict[tuple[str, str, str], Answer | Exception]) -> None:
        super().__init__()
        self.table = table
        self.asked: list[tuple[str, str, str]] = []

    async def query(
        self,
        name: str | dns.name.Name,
        rdtype: dns.rdatatype.RdataType,
        nameservers: Sequence[str],
        *,
        recursive: bool = True,
    ) -> dns.message.Message:
        text = str(name)
        kind = dns.rdatatype.to_text(rdtype)
        last: Exception | None = None
        for server in nameservers:
            self.asked.append((server, text, kind))
            entry = self.table.get((server, text, kind), self.table.get(("*", text, kind), Answer(dns.rcode.NXDOMAIN)))
            if isinstance(entry, Exception):
                last = entry
                continue
            return message(text, rdtype, entry)
        assert last is not None
        raise last


SOA = "example.test. 300 SOA ns.example.test. admin.example.test. 1 3600 600 86400 60"
ZONE_TABLE: dict[tuple[str, str, str], Answer | Exception] = {
    ("*", "_acme-challenge.www.example.test.", "SOA"): Answer(dns.rcode.NXDOMAIN),
    ("*", "www.example.test.", "SOA"): Answer(),  # NODATA: the name exists, no SOA there
    ("*", "example.test.", "SOA"): Answer(records=[SOA]),
    ("*", "example.test.", "NS"): Answer(
        records=["example.test. 120 NS NS1.Example.Test.", "example.test. 60 NS ns2.example.test."]
    ),
    ("*", "ns1.example.test.", "A"): Answer(records=["ns1.example.test. 60 A 127.0.0.11"]),
    ("*", "ns2.example.test.", "A"): Answer(records=["ns2.example.test. 60 A 127.0.0.12"]),
}


def resolver(table: dict[tuple[str, str, str], Answer | Exception], clock: FakeClock | None = None) -> DNSResolver:
    return DNSResolver(client=FakeClient(table), clock=clock or FakeClock(), authoritative_port=5353)


def asked(r: DNSResolver) -> list[tuple[str, str, str]]:
    assert isinstance(r.client, FakeClient)
    return r.client.asked


@pytest.mark.parametrize(
    ("fqdn", "names"),
    [
        ("a.b.c.", ["a.b.c.", "b.c.", "c."]),
        ("a.b.c", ["a.b.c.", "b.c.", "c."]),
        ("c.", ["c."]),
        (".", []),
    ],
    ids=repr,
)
def test_parent_names(fqdn: str, names: list[str]) -> None:
    assert parent_names(fqdn) == names


def test_fqdn_helpers() -> None:
    assert to_fqdn("a.b") == "a.b."
    assert to_fqdn("a.b.") == "a.b."
    assert to_fqdn("") == ""
    assert un_fqdn("a.b.") == "a.b"


def test_txt_values_join_the_strings_of_each_record() -> None:
    response = message("x.", dns.rdatatype.TXT, Answer(records=['x. 60 TXT "ab" "cd"', 'x. 60 TXT "ef"']))
    assert sorted(txt_values(response)) == ["abcd", "ef"]


async def test_find_zone_walks_up_past_nxdomain_and_nodata() -> None:
    r = resolver(ZONE_TABLE)
    assert await r.find_zone("_acme-challenge.www.example.test", [NS1]) == "example.test."
    assert [name for _, name, _ in asked(r)] == [
        "_acme-challenge.www.example.test.",
        "www.example.test.",
        "example.test.",
    ]


async def test_find_zone_is_cached_for_the_soa_ttl() -> None:
    clock = FakeClock()
    r = resolver(ZONE_TABLE, clock)
    await r.find_zone("www.example.test.", [NS1])
    count = len(asked(r))
    await r.find_zone("www.example.test.", [NS1])
    assert len(asked(r)) == count
    clock.advance(301)
    await r.find_zone("www.example.test.", [NS1])
    assert len(asked(r)) == 2 * count


async def test_find_zone_skips_names_with_a_cname() -> None:
    table = dict(ZONE_TABLE)
    table[("*", "www.example.test.", "SOA")] = Answer(records=["www.example.test. 60 CNAME elsewhere.test."])
    assert await resolver(table).find_zone("www.example.test.", [NS1]) == "example.test."


async def test_find_zone_error_rcode_stops_the_walk() -> None:
    table = dict(ZONE_TABLE)
    table[("*", "www.example.test.", "SOA")] = Answer(dns.rcode.SERVFAIL)
    with pytest.raises(DNSLookupError) as caught:
        await resolver(table).find_zone("www.example.test.", [NS1, NS2])
    assert str(caught.value) == (
        "When querying the SOA record for the domain 'www.example.test.' using nameservers "
        "[10.0.0.1:53 10.0.0.2:53], rcode was expected to be 'NOERROR' or 'NXDOMAIN', but got 'SERVFAIL'"
    )


async def test_find_zone_without_any_soa() -> None:
    with pytest.raises(DNSLookupError) as caught:
        await resolver({}).find_zone("a.invalid.", [NS1])
    assert str(caught.value) == (
        "Could not find the SOA record in the DNS tree for the domain 'a.invalid.' using nameservers [10.0.0.1:53]"
    )


async def test_find_zone_tries_the_next_server() -> None:
    table: dict[tuple[str, str, str], Answer | Exception] = {
        (NS1, "example.test.", "SOA"): DNSLookupError("i/o timeout"),
        (NS2, "example.test.", "SOA"): Answer(records=[SOA]),
    }
    assert await resolver(table).find_zone("example.test.", [NS1, NS2]) == "example.test."


async def test_find_zone_needs_nameservers() -> None:
    with pytest.raises(DNSLookupError, match="nameservers is required"):
        await resolver(ZONE_TABLE).find_zone("example.test.", [])


async def test_authoritative_nameservers_lowercased() -> None:
    r = resolver(ZONE_TABLE)
    assert await r.authoritative_nameservers("_acme-challenge.www.example.test.", [NS1]) == [
        "ns1.example.test.",
        "ns2.example.test.",
    ]


async def test_no_ns_records() -> None:
    table = dict(ZONE_TABLE)
    table[("*", "example.test.", "NS")] = Answer()
    with pytest.raises(
        DNSLookupError, match=re.escape('Could not determine authoritative nameservers for "www.example.test."')
    ):
        await resolver(table).authoritative_nameservers("www.example.test.", [NS1])


async def test_authoritative_lookup_reports_the_zone_failure() -> None:
    with pytest.raises(DNSLookupError, match=re.escape('Could not determine the zone for "a.invalid."')):
        await resolver({}).authoritative_nameservers("a.invalid.", [NS1])


async def test_follow_cnames() -> None:
    table: dict[tuple[str, str, str], Answer | Exception] = {
        ("*", "_acme-challenge.a.test.", "CNAME"): Answer(records=["_acme-challenge.a.test. 60 CNAME hop.b.test."]),
        ("*", "hop.b.test.", "CNAME"): Answer(records=["hop.b.test. 60 CNAME end.c.test."]),
        ("*", "end.c.test.", "CNAME"): Answer(),
    }
    r = resolver(table)
    assert await r.follow_cnames("_acme-challenge.a.test", [NS1]) == "end.c.test."
    assert await r.follow_cnames("unrelated.test.", [NS1]) == "unrelated.test."


async def test_follow_cnames_detects_loops() -> None:
    table: dict[tuple[str, str, str], Answer | Exception] = {
        ("*", "a.test.", "CNAME"): Answer(records=["a.test. 60 CNAME b.test."]),
        ("*", "b.test.", "CNAME"): Answer(records=["b.test. 60 CNAME a.test."]),
    }
    with pytest.raises(DNSLookupError) as caught:
        await resolver(table).follow_cnames("a.test.", [NS1])
    assert str(caught.value) == 'Found recursive CNAME record to "a.test." when looking up "b.test."'


async def test_follow_cnames_bounds_the_chain(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(propagation, "MAX_CNAME_CHAIN", 3)
    table: dict[tuple[str, str, str], Answer | Exception] = {
        ("*", f"n{i}.test.", "CNAME"): Answer(records=[f"n{i}.test. 60 CNAME n{i + 1}.test."]) for i in range(10)
    }
    with pytest.raises(DNSLookupError, match="CNAME chain longer than 3"):
        await resolver(table).follow_cnames("n0.test.", [NS1])


FQDN = "_acme-challenge.www.example.test."


def _txt(
    server: str, *values: str, rcode: dns.rcode.Rcode = dns.rcode.NOERROR
) -> dict[tuple[str, str, str], Answer | Exception]:
    return {(server, FQDN, "TXT"): Answer(rcode, [f'{FQDN} 60 TXT "{value}"' for value in values])}


@pytest.mark.parametrize(
    ("table", "expected"),
    [
        ({**_txt(NS1, "other", "v"), **_txt(NS2, "v")}, True),
        ({**_txt(NS1, "v"), **_txt(NS2, "other")}, False),
        ({**_txt(NS1, "v"), **_txt(NS2, rcode=dns.rcode.NXDOMAIN)}, False),
        ({**_txt(NS1, "v"), **_txt(NS2)}, False),
    ],
    ids=["everywhere", "one-has-another-value", "nxdomain-is-not-yet", "nodata-is-not-yet"],
)
async def test_check_at_the_given_servers(
    table: dict[tuple[str, str, str], Answer | Exception], expected: bool
) -> None:
    r = resolver({**ZONE_TABLE, **table})
    assert await r.check_txt_propagation(FQDN, "v", [NS1, NS2], use_authoritative=False) is expected


async def test_check_error_rcode() -> None:
    r = resolver({**ZONE_TABLE, **_txt(NS1, rcode=dns.rcode.REFUSED)})
    with pytest.raises(DNSLookupError) as caught:
        await r.check_txt_propagation(FQDN, "v", [NS1], use_authoritative=False)
    assert str(caught.value) == f"NS {NS1} returned REFUSED for {FQDN}"


async def test_check_at_the_authoritative_servers() -> None:
    table = {**ZONE_TABLE, **_txt("127.0.0.11:5353", "v"), **_txt("127.0.0.12:5353", "v")}
    r = resolver(table)
    assert await r.check_txt_propagation(FQDN, "v", [NS1], use_authoritative=True)
    txt_servers = [server for server, name, kind in asked(r) if kind == "TXT"]
    assert txt_servers == ["127.0.0.11:5353", "127.0.0.12:5353"]


async def test_check_follows_cnames_first() -> None:
    table = {
        **ZONE_TABLE,
        ("*", FQDN, "CNAME"): Answer(records=[f"{FQDN} 60 CNAME _acme-challenge.other.test."]),
        (NS1, "_acme-challenge.other.test.", "TXT"): Answer(records=['_acme-challenge.other.test. 60 TXT "v"']),
    }
    assert await resolver(table).check_txt_propagation(FQDN, "v", [NS1], use_authoritative=False)


async def test_cache_is_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(propagation, "MAX_CACHE_ENTRIES", 2)
    r = resolver(ZONE_TABLE)
    for name in ("a.example.test.", "b.example.test.", "c.example.test."):
        await r.find_zone(name, [NS1])
    before = len(asked(r))
    await r.find_zone("c.example.test.", [NS1])  # newest entry still cached
    assert len(asked(r)) == before
    await r.find_zone("a.example.test.", [NS1])  # oldest entry was evicted
    assert len(asked(r)) > before
