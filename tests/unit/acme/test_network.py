"""Nonce pool, badNonce retries, error decoding, Retry-After and Link parsing."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from certkeeper.acme.client import AcmeClient
from certkeeper.acme.errors import AcmeProblem, BadNonce, InvalidResponse, ServerInternal
from certkeeper.acme.jws import AccountKey
from certkeeper.acme.network import AcmeNetwork, parse_links, parse_retry_after, problem_from_response
from certkeeper.acme.transport import Action, HttpResponse
from tests.unit.acme.fakes import BASE, FakeAcmeServer, StepClock, fresh_ec_key

NOW = datetime(2030, 1, 1, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (None, None),
        ("", None),
        ("120", timedelta(seconds=120)),
        (" 5 ", timedelta(seconds=5)),
        ("Tue, 01 Jan 2030 12:00:30 GMT", timedelta(seconds=30)),
        ("Tue, 01 Jan 2030 11:00:00 GMT", timedelta(0)),
        ("-1", None),
        ("soon", None),
        ("Tue, 01 Jan 2030 12:00:30", None),
        ("²", None),
        ("99999999999", timedelta(days=366)),
        ("9" * 40, None),
    ],
    ids=[
        "absent",
        "empty",
        "seconds",
        "spaces",
        "http-date",
        "past-date",
        "negative",
        "word",
        "no-zone",
        "unicode-digit",
        "capped",
        "absurd",
    ],
)
def test_parse_retry_after(header: str | None, expected: timedelta | None) -> None:
    assert parse_retry_after(header, now=NOW) == expected


@given(st.text(max_size=200))
def test_parse_retry_after_never_raises_and_is_never_negative(header: str) -> None:
    result = parse_retry_after(header, now=NOW)
    assert result is None or result >= timedelta(0)


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        (['<https://ca/cert/1/1>;rel="alternate"'], ["https://ca/cert/1/1"]),
        (['<https://ca/a>; rel="alternate", <https://ca/b>;rel=alternate'], ["https://ca/a", "https://ca/b"]),
        (['<https://ca/dir>;rel="index"', '<https://ca/a>;rel="alternate"'], ["https://ca/a"]),
        (['<https://ca/a>; title="x"; rel="up alternate"'], ["https://ca/a"]),
        (['<https://ca/a>;rel="alternate"', '<https://ca/a>;rel="alternate"'], ["https://ca/a"]),
        (["garbage", "<no-rel>"], []),
    ],
    ids=["one", "comma-separated", "other-relations", "multiple-rels", "duplicates", "garbage"],
)
def test_parse_links(values: list[str], expected: list[str]) -> None:
    assert parse_links(values, "alternate") == expected


@given(st.lists(st.text(max_size=200), max_size=5))
def test_parse_links_never_raises(values: list[str]) -> None:
    assert isinstance(parse_links(values, "alternate"), list)


def test_problem_from_a_problem_document() -> None:
    response = HttpResponse(
        status=500,
        headers=(("Content-Type", "application/problem+json; charset=utf-8"), ("Retry-After", "3")),
        body=b'{"type":"urn:ietf:params:acme:error:serverInternal","detail":"oops"}',
    )
    problem = problem_from_response(response, now=NOW)
    assert isinstance(problem, ServerInternal)
    assert (problem.status, problem.detail, problem.retry_after) == (500, "oops", timedelta(seconds=3))


@pytest.mark.parametrize(
    ("content_type", "body", "detail"),
    [
        ("text/html", b"<h1>Bad Gateway</h1>", "<h1>Bad Gateway</h1>"),
        ("application/problem+json", b"{not json", "{not json"),
        ("", b"", "HTTP 502"),
        ("text/plain", b"x" * 5000, "x" * 1024),
    ],
    ids=["html", "broken-json", "empty", "long"],
)
def test_problem_from_other_bodies_keeps_the_status_and_a_bounded_detail(
    content_type: str, body: bytes, detail: str
) -> None:
    problem = problem_from_response(
        HttpResponse(status=502, headers=(("Content-Type", content_type),), body=body), now=NOW
    )
    assert type(problem) is AcmeProblem
    assert (problem.status, problem.type, problem.detail) == (502, "", detail)


def _network(server: FakeAcmeServer, retries: int = 5) -> AcmeNetwork:
    return AcmeNetwork(transport=server, key=AccountKey(fresh_ec_key()), clock=StepClock(), bad_nonce_retries=retries)


async def _register(network: AcmeNetwork) -> HttpResponse:
    return await network.post(
        f"{BASE}/new-account", b"{}", action=Action.REGISTER_ACCOUNT, new_nonce_url=f"{BASE}/nonce", kid=None
    )


async def test_nonces_come_from_responses_and_new_nonce_only_when_the_pool_is_empty() -> None:
    server = FakeAcmeServer()
    network = _network(server)
    await _register(network)
    await _register(network)
    methods = [(r.method, r.url.removeprefix(BASE)) for r in server.requests]
    assert methods == [("HEAD", "/nonce"), ("POST", "/new-account"), ("POST", "/new-account")]


async def test_new_nonce_falls_back_to_get_and_fails_clearly_without_any() -> None:
    server = FakeAcmeServer(head_gives_nonce=False)
    network = _network(server)
    await _register(network)
    assert [r.method for r in server.requests[:2]] == ["HEAD", "GET"]

    empty = FakeAcmeServer(head_gives_nonce=False)
    empty.inject("GET", f"{BASE}/nonce", HttpResponse(status=204, headers=(("Replay-Nonce", "bad nonce!"),)))
    with pytest.raises(InvalidResponse, match="returned no usable Replay-Nonce"):
        await _register(_network(empty))


async def test_bad_nonce_is_retried_with_a_fresh_nonce_each_time() -> None:
    server = FakeAcmeServer(reject_nonces=3)
    network = _network(server)
    response = await _register(network)
    assert response.status == 201
    assert network.bad_nonce_count == 3
    assert len(server.used_nonces) == 4
    assert len(set(server.used_nonces)) == 4


async def test_bad_nonce_retries_are_bounded() -> None:
    server = FakeAcmeServer(reject_nonces=100)
    network = _network(server, retries=2)
    with pytest.raises(BadNonce):
        await _register(network)
    assert network.bad_nonce_count == 2
    assert len(server.used_nonces) == 3


async def test_a_replayed_nonce_is_what_the_server_rejects() -> None:
    # The fake enforces single use, so a client that reused nonces would fail this flow.
    server = FakeAcmeServer()
    client = AcmeClient(
        directory_url=f"{BASE}/dir", key=AccountKey(fresh_ec_key()), transport=server, clock=StepClock()
    )
    await client.new_account()
    for _ in range(5):
        await client.get_account()
    assert len(set(server.used_nonces)) == len(server.used_nonces) == 6
    assert client.network.bad_nonce_count == 0
