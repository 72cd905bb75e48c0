"""Go's host:port rules, which the acmesolver's Host parsing and the nameserver settings rely on."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from certkeeper.acme.solvers.hostport import (
    HostPortError,
    is_ip_literal,
    is_ipv6_literal,
    join_host_port,
    split_host_port,
    strip_port,
)


@pytest.mark.parametrize(
    ("text", "host", "port"),
    [
        ("example.com:80", "example.com", "80"),
        ("example.com:", "example.com", ""),
        (":53", "", "53"),
        ("8.8.8.8:53", "8.8.8.8", "53"),
        ("[::1]:53", "::1", "53"),
        ("[2001:db8::1]:", "2001:db8::1", ""),
        ("[fe80::1%eth0]:8080", "fe80::1%eth0", "8080"),
        ("host:http", "host", "http"),
    ],
    ids=["name", "empty-port", "no-host", "ipv4", "ipv6", "ipv6-empty-port", "zone", "named-port"],
)
def test_split_host_port(text: str, host: str, port: str) -> None:
    assert split_host_port(text) == (host, port)


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("example.com", "missing port in address"),
        ("", "missing port in address"),
        ("::1", "too many colons in address"),
        ("2001:db8::1:53", "too many colons in address"),
        ("[::1]", "missing port in address"),
        ("[::1]x:53", "missing port in address"),
        ("[::1]:53:54", "too many colons in address"),
        ("[::1:53", "missing ']' in address"),
        ("a[b:53", "unexpected '[' in address"),
        ("a]b:53", "unexpected ']' in address"),
        ("[a]:5]3", "unexpected ']' in address"),
    ],
    ids=[
        "no-port",
        "empty",
        "bare-ipv6",
        "bare-ipv6-port",
        "brackets-no-port",
        "junk",
        "two-ports",
        "unclosed",
        "open",
        "close",
        "close-late",
    ],
)
def test_split_host_port_errors_match_go(text: str, reason: str) -> None:
    with pytest.raises(HostPortError) as caught:
        split_host_port(text)
    assert str(caught.value) == f"address {text}: {reason}"


@pytest.mark.parametrize(
    ("host", "port", "joined"),
    [("example.com", 53, "example.com:53"), ("::1", "53", "[::1]:53"), ("", 53, ":53")],
    ids=["name", "ipv6", "empty"],
)
def test_join_host_port(host: str, port: int | str, joined: str) -> None:
    assert join_host_port(host, port) == joined


@pytest.mark.parametrize(
    ("header", "host"),
    [
        ("example.com", "example.com"),
        ("example.com:8089", "example.com"),
        ("[::1]:80", "::1"),
        ("[::1]", "::1"),
        ("::1", "::1"),
        ("", ""),
        ("Example.COM", "Example.COM"),
    ],
    ids=["plain", "port", "ipv6-port", "ipv6-brackets", "bare-ipv6", "empty", "case-kept"],
)
def test_strip_port(header: str, host: str) -> None:
    assert strip_port(header) == host


def test_ip_literals() -> None:
    assert is_ipv6_literal("2001:db8::1")
    assert not is_ipv6_literal("192.0.2.1")
    assert not is_ipv6_literal("[::1]")
    assert is_ip_literal("192.0.2.1")
    assert not is_ip_literal("example.com")


@given(st.text(max_size=64))
def test_split_never_crashes_and_round_trips(text: str) -> None:
    result: tuple[str, str] | HostPortError
    try:
        result = split_host_port(text)
    except HostPortError as exc:
        result = exc
    if isinstance(result, HostPortError):
        assert str(result).startswith(f"address {text}: ")
        return
    host, port = result
    assert ":" not in port
    if "[" not in host and "]" not in host:
        assert split_host_port(join_host_port(host, port)) == (host, port)
