"""The HTTP-01 self check's pure parts, its defaults, and the in-process solver's bookkeeping."""

from __future__ import annotations

import socket

import pytest

from certkeeper.acme.solvers.base import SolverConfigError, SolverContext
from certkeeper.acme.solvers.http01 import InProcessHTTP01Solver, challenge_entry
from certkeeper.acme.solvers.http01_check import (
    MAX_CHALLENGE_BODY_BYTES,
    HTTP01SelfCheck,
    StaticResolver,
    challenge_url,
)
from certkeeper.acme.solvers.http01_server import ChallengeEntry, ChallengeResponder
from tests.unit.acme.solvers.builders import MemorySecrets, make_challenge

CTX = SolverContext(resource_namespace="default", secrets=MemorySecrets())


@pytest.mark.parametrize(
    ("domain", "port", "url"),
    [
        ("example.com", None, "http://example.com/.well-known/acme-challenge/tok"),
        ("example.com", 80, "http://example.com/.well-known/acme-challenge/tok"),
        ("example.com", 5002, "http://example.com:5002/.well-known/acme-challenge/tok"),
        ("192.0.2.1", None, "http://192.0.2.1/.well-known/acme-challenge/tok"),
        ("2001:db8::1", None, "http://[2001:db8::1]/.well-known/acme-challenge/tok"),
        ("2001:db8::1", 8089, "http://[2001:db8::1]:8089/.well-known/acme-challenge/tok"),
    ],
    ids=["name", "port-80-omitted", "port", "ipv4", "ipv6-bracketed", "ipv6-port"],
)
def test_challenge_url(domain: str, port: int | None, url: str) -> None:
    assert challenge_url(domain, "tok", port=port) == url


def test_defaults_are_cert_managers() -> None:
    check = HTTP01SelfCheck()
    assert (check.required_passes, check.pass_interval, check.request_timeout) == (5, 2.0, 10.0)
    assert check.total_timeout == 15 * 60
    assert check.max_body_bytes == MAX_CHALLENGE_BODY_BYTES == 1024 * 1024
    assert check.port is None
    assert check.trust_env


async def test_static_resolver() -> None:
    resolver = StaticResolver({"Www.Example.Test.": "127.0.0.1", "v6.example.test": "::1"})
    (v4,) = await resolver.resolve("www.example.test", 5002)
    assert (v4["host"], v4["port"], v4["family"], v4["hostname"]) == (
        "127.0.0.1",
        5002,
        socket.AF_INET,
        "www.example.test",
    )
    (v6,) = await resolver.resolve("v6.example.test", 80)
    assert (v6["host"], v6["family"]) == ("::1", socket.AF_INET6)
    with pytest.raises(OSError, match=r"no address for host 'other\.test'"):
        await resolver.resolve("other.test")
    await resolver.close()


async def test_static_resolver_fallback() -> None:
    fallback = StaticResolver({"other.test": "192.0.2.7"})
    resolver = StaticResolver({}, fallback=fallback)
    (result,) = await resolver.resolve("other.test", 80)
    assert result["host"] == "192.0.2.7"


def test_challenge_entry_requires_http01() -> None:
    entry = challenge_entry(make_challenge("a.test", type="HTTP-01", token="t", key="k"))
    assert entry == ChallengeEntry("a.test", "t", "k")
    with pytest.raises(SolverConfigError, match="challenge of type DNS-01 cannot be solved over HTTP-01"):
        challenge_entry(make_challenge(type="DNS-01"))


async def test_in_process_present_and_cleanup_change_the_responder() -> None:
    responder = ChallengeResponder()
    solver = InProcessHTTP01Solver(responder)
    first = make_challenge("a.test", type="HTTP-01", token="t1", key="k1")
    second = make_challenge("b.test", type="HTTP-01", token="t2", key="k2")
    await solver.present(first, CTX)
    await solver.present(second, CTX)
    await solver.present(first, CTX)
    assert len(responder) == 2
    assert responder.lookup("a.test", "t1") == "k1"
    await solver.cleanup(first, CTX)
    await solver.cleanup(first, CTX)
    assert responder.lookup("a.test", "t1") is None
    assert responder.lookup("b.test", "t2") == "k2"
