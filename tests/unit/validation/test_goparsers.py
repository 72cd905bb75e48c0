"""The ports of Go's parsers against Go itself: testdata/go_golden.json was written by Go 1.26.

Regenerate with ``cd testdata/golden-gen && go run . < ../corpus.json > ../go_golden.json``. The
property tests check the other half of the contract: any input, no crash, linear time.
"""

from __future__ import annotations

import contextlib
import ipaddress
import json
import time
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from certkeeper.validation import gomail, gonet
from certkeeper.validation.dns01 import dns01_nameserver_error, valid_rfc2136_nameserver

GOLDEN: dict[str, list[dict[str, Any]]] = json.loads(
    (Path(__file__).parent / "testdata" / "go_golden.json").read_text(encoding="utf-8")
)


def _ids(kind: str) -> list[str]:
    return [repr(case["input"]) for case in GOLDEN[kind]]


def _go_ip_string(address: bytes) -> str:
    if len(address) == 4:
        return str(ipaddress.IPv4Address(address))
    v6 = ipaddress.IPv6Address(address)
    return str(v6.ipv4_mapped) if v6.ipv4_mapped is not None else str(v6)


@pytest.mark.parametrize("case", GOLDEN["ip"], ids=_ids("ip"))
def test_parse_ip_matches_go(case: dict[str, Any]) -> None:
    parsed = gonet.parse_ip(case["input"])
    assert (parsed is not None) == case["ok"]
    if parsed is not None:
        assert _go_ip_string(parsed) == case["value"]


@pytest.mark.parametrize("case", GOLDEN["cidr"], ids=_ids("cidr"))
def test_is_cidr_matches_go(case: dict[str, Any]) -> None:
    assert gonet.is_cidr(case["input"]) == case["ok"]


@pytest.mark.parametrize("case", GOLDEN["hostport"], ids=_ids("hostport"))
def test_split_host_port_matches_go(case: dict[str, Any]) -> None:
    if case["ok"]:
        host, port = gonet.split_host_port(case["input"])
        assert f"{host}|{port}" == case["value"]
    else:
        with pytest.raises(gonet.GoParseError) as raised:
            gonet.split_host_port(case["input"])
        assert str(raised.value) == case["error"]


@pytest.mark.parametrize("case", GOLDEN["url"], ids=_ids("url"))
def test_request_uri_host_matches_go(case: dict[str, Any]) -> None:
    # Only "did it parse" and "is there a host" matter to cert-manager; Go unescapes the host, we keep it.
    if case["ok"]:
        assert bool(gonet.request_uri_host(case["input"])) == bool(case.get("value"))
    else:
        with pytest.raises(gonet.GoParseError):
            gonet.request_uri_host(case["input"])


@pytest.mark.parametrize("case", GOLDEN["mail"], ids=_ids("mail"))
def test_parse_address_matches_go(case: dict[str, Any]) -> None:
    if case["ok"]:
        address = gomail.parse_address(case["input"])
        assert f"{address.name}|{address.address}" == case["value"]
    else:
        with pytest.raises(gomail.MailError) as raised:
            gomail.parse_address(case["input"])
        assert str(raised.value) == case["error"]


@pytest.mark.parametrize(
    ("nameserver", "expected"),
    [
        ("8.8.8.8", "8.8.8.8:53"),
        ("8.8.8.8:", "8.8.8.8:53"),
        ("8.8.8.8:5353", "8.8.8.8:5353"),
        ("[2001:db8::1]", "[2001:db8::1]:53"),
        ("[2001:db8::1]:", "[2001:db8::1]:53"),
        ("[2001:db8::1]:5353", "[2001:db8::1]:5353"),
        ("nameserver.com", "nameserver.com:53"),
        ("nameserver.com:", "nameserver.com:53"),
        ("nameserver.com:5353", "nameserver.com:5353"),
        (" nameserver.com ", "nameserver.com:53"),
    ],
)
def test_rfc2136_nameserver(nameserver: str, expected: str) -> None:
    # cert-manager's nameserver_test.go cases.
    assert valid_rfc2136_nameserver(nameserver) == expected


@pytest.mark.parametrize(
    ("nameserver", "reason"),
    [
        ("2001:db8::1:5353", "RFC2136 nameserver is invalid: address 2001:db8::1:5353: too many colons in address"),
        (":53", "RFC2136 nameserver has no host defined, :53"),
        ("", "RFC2136 nameserver missing"),
        ("[]:53", "RFC2136 nameserver has no host defined, []:53"),
    ],
)
def test_rfc2136_nameserver_errors(nameserver: str, reason: str) -> None:
    with pytest.raises(gonet.GoParseError) as raised:
        valid_rfc2136_nameserver(nameserver)
    assert str(raised.value) == reason


@pytest.mark.parametrize(
    ("nameserver", "reason"),
    [
        ("8.8.8.8:53", None),
        ("[2001:db8::1]:53", None),
        ("https://dns.google/dns-query", None),
        ("8.8.8.8", "must be in the format <ip address>:<port>"),
        ("https://", "must be in the format https://<DoH RFC 8484 server address>"),
        ("https://host:abc", "must be in the format https://<DoH RFC 8484 server address>"),
        # SplitHostPort reads "http" and "//dns.google/dns-query": cert-manager lets it through.
        ("http://dns.google/dns-query", None),
        ("dns.google", "must be in the format <ip address>:<port>"),
    ],
)
def test_dns01_nameservers(nameserver: str, reason: str | None) -> None:
    assert dns01_nameserver_error(nameserver) == reason


_TEXT = st.text(alphabet=st.characters(codec="utf-8"), max_size=200)
_ADDRESSY = st.text(alphabet='0123456789abcdefABCDEF:.%[]/ -@<>"(),;\\eth', max_size=80)


@given(st.one_of(_TEXT, _ADDRESSY))
def test_parsers_never_crash(text: str) -> None:
    address = gonet.parse_ip(text)
    assert address is None or len(address) in (4, 16)
    assert gonet.is_cidr(text) in (True, False)
    with contextlib.suppress(gonet.GoParseError):
        _, port = gonet.split_host_port(text)
        assert ":" not in port
    with contextlib.suppress(gonet.GoParseError):
        assert isinstance(gonet.request_uri_host(text), str)
    with contextlib.suppress(gonet.GoParseError):
        assert valid_rfc2136_nameserver(text).rpartition(":")[2]
    assert dns01_nameserver_error(text) in (
        None,
        "must be in the format <ip address>:<port>",
        "must be in the format https://<DoH RFC 8484 server address>",
    )
    with contextlib.suppress(gomail.MailError):
        assert "@" in gomail.parse_address(text).address


@pytest.mark.parametrize(
    "text",
    [
        "a " * 200_000,  # many words in a display name
        "(" * 200_000,  # unclosed nested comments
        '"' + "\\a" * 200_000,  # a long quoted string
        "a." * 200_000 + "@b",  # a long dot-atom
        "g:" + "a@b," * 50_000 + ";",  # a long group
    ],
    ids=["words", "comments", "quoted", "atom", "group"],
)
def test_mail_parser_is_linear(text: str) -> None:
    started = time.perf_counter()
    with contextlib.suppress(gomail.MailError):
        gomail.parse_address(text)
    assert time.perf_counter() - started < 2.0


def test_address_parsers_are_linear() -> None:
    started = time.perf_counter()
    for text in ("1." * 500_000, ":" * 1_000_000, "[" + "1:" * 300_000 + "]:53", "https://" + "a" * 1_000_000):
        gonet.parse_ip(text)
        gonet.is_cidr(text + "/8")
        with contextlib.suppress(gonet.GoParseError):
            gonet.split_host_port(text)
        with contextlib.suppress(gonet.GoParseError):
            gonet.request_uri_host(text)
    assert time.perf_counter() - started < 2.0
