"""The acmesolver: exact path/host/token rules (as cert-manager), and the server's limits over real sockets."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import aiohttp
import pytest
from hypothesis import given
from hypothesis import strategies as st

from certkeeper.acme.solvers.hostport import strip_port
from certkeeper.acme.solvers.http01_server import (
    CACHE_CONTROL,
    ChallengeEntry,
    ChallengeResponder,
    HTTP01Server,
    ServerLimits,
    clean_path,
    escaped_path,
    path_base,
    path_dir,
    respond,
)

KEY = "tok.thumbprint"
RESPONDER = ChallengeResponder(
    [ChallengeEntry("example.com", "tok", KEY), ChallengeEntry("2001:db8::1", "tok6", "tok6.thumbprint")]
)
NOT_FOUND = (404, b"404 page not found\n")


@pytest.mark.parametrize(
    ("target", "host", "expected"),
    [
        ("/", "anything", (200, b"")),
        ("/healthz", "", (200, b"")),
        ("/healthz?probe=1", "", (200, b"")),
        ("/healthz/", "", NOT_FOUND),
        ("/.well-known/acme-challenge/tok", "example.com", (200, KEY.encode())),
        ("/.well-known/acme-challenge/tok", "example.com:8089", (200, KEY.encode())),
        ("/.well-known/acme-challenge/tok?x=y", "example.com", (200, KEY.encode())),
        ("http://example.com/.well-known/acme-challenge/tok", "example.com", (200, KEY.encode())),
        ("/.well-known/acme-challenge/tok6", "[2001:db8::1]:80", (200, b"tok6.thumbprint")),
        ("/.well-known/acme-challenge/tok6", "[2001:db8::1]", (200, b"tok6.thumbprint")),
        ("/.well-known/acme-challenge/tok", "other.com", NOT_FOUND),
        ("/.well-known/acme-challenge/tok", "", NOT_FOUND),
        ("/.well-known/acme-challenge/tok", "EXAMPLE.com", NOT_FOUND),
        ("/.well-known/acme-challenge/tok", "sub.example.com", NOT_FOUND),
        ("/.well-known/acme-challenge/tok6", "example.com", NOT_FOUND),
        ("/.well-known/acme-challenge/tok", "2001:db8::1", NOT_FOUND),
        ("/.well-known/acme-challenge/wrong", "example.com", NOT_FOUND),
        ("/.well-known/acme-challenge/to", "example.com", NOT_FOUND),
        ("/.well-known/acme-challenge/tokk", "example.com", NOT_FOUND),
        ("/.well-known/acme-challenge/%74ok", "example.com", NOT_FOUND),
        ("/.well-known/acme-challenge/tok/", "example.com", NOT_FOUND),
        ("/.well-known/acme-challenge/x/tok", "example.com", NOT_FOUND),
        ("/.well-known/acme-challenge", "example.com", NOT_FOUND),
        ("/.well-known/acme-challenge/", "example.com", NOT_FOUND),
        ("/acme-challenge/tok", "example.com", NOT_FOUND),
        ("/.well-known/tok", "example.com", NOT_FOUND),
        ("/other/.well-known/acme-challenge/tok", "example.com", NOT_FOUND),
        # Go's path.Dir cleans the directory, so these reach the same challenge in cert-manager too.
        ("//.well-known//acme-challenge/tok", "example.com", (200, KEY.encode())),
        ("/.well-known/acme-challenge/./tok", "example.com", (200, KEY.encode())),
        ("/x/../.well-known/acme-challenge/tok", "example.com", (200, KEY.encode())),
    ],
    ids=[
        "root",
        "healthz",
        "healthz-query",
        "healthz-slash",
        "challenge",
        "host-port",
        "query-ignored",
        "absolute-form",
        "ipv6-port",
        "ipv6-brackets",
        "other-host",
        "no-host",
        "host-case-exact",
        "subdomain",
        "token-of-other-domain",
        "bare-ipv6-with-colons",
        "wrong-token",
        "token-prefix",
        "token-suffix",
        "escaped-token",
        "trailing-slash",
        "extra-segment",
        "no-token",
        "empty-token",
        "short-prefix",
        "missing-segment",
        "nested-prefix",
        "double-slashes",
        "dot-segment",
        "dot-dot",
    ],
)
def test_respond(target: str, host: str, expected: tuple[int, bytes]) -> None:
    assert respond(RESPONDER, raw_target=target, host_header=host) == expected


@pytest.mark.parametrize(
    ("path", "cleaned"),
    [
        ("", "."),
        ("/", "/"),
        ("a/b/../c", "a/c"),
        ("/../a", "/a"),
        ("../a", "../a"),
        ("a/..", "."),
        ("//a//b/", "/a/b"),
        ("/a/./b/.", "/a/b"),
        ("a/../..", ".."),
    ],
    ids=repr,
)
def test_clean_path_matches_go(path: str, cleaned: str) -> None:
    assert clean_path(path) == cleaned


@pytest.mark.parametrize(
    ("path", "directory", "base"),
    [
        ("/a/b", "/a", "b"),
        ("/a", "/", "a"),
        ("a", ".", "a"),
        ("/a/b/", "/a/b", "b"),
        ("", ".", "."),
        ("/", "/", "/"),
        ("//", "/", "/"),
    ],
    ids=repr,
)
def test_path_dir_and_base_match_go(path: str, directory: str, base: str) -> None:
    assert path_dir(path) == directory
    assert path_base(path) == base


@pytest.mark.parametrize(
    ("target", "path"),
    [("/a?b", "/a"), ("http://h/x/y?q", "/x/y"), ("http://h", "/"), ("/a%2Fb", "/a%2Fb")],
    ids=["query", "absolute", "absolute-no-path", "escaped-slash"],
)
def test_escaped_path(target: str, path: str) -> None:
    assert escaped_path(target) == path


def test_responder_add_remove_and_repr_hides_key() -> None:
    responder = ChallengeResponder()
    entry = ChallengeEntry("a.test", "t", "secret-key-auth")
    responder.add(entry)
    assert responder.lookup("a.test", "t") == "secret-key-auth"
    assert len(responder) == 1
    responder.remove("a.test", "t")
    responder.remove("a.test", "t")  # idempotent
    assert responder.lookup("a.test", "t") is None
    assert "secret-key-auth" not in repr(entry)


# --- over sockets ----------------------------------------------------------------------------------

LIMITS = ServerLimits(header_timeout=0.3, max_body_bytes=1024, max_connections=3, shutdown_timeout=1.0)


@pytest.fixture
async def server() -> AsyncIterator[HTTP01Server]:
    responder = ChallengeResponder([ChallengeEntry("example.com", "tok", KEY)])
    async with HTTP01Server(responder, host="127.0.0.1", port=0, limits=LIMITS) as running:
        yield running


async def _exchange(port: int, data: bytes, *, timeout: float = 5.0) -> bytes:
    """Send raw bytes, read until the server closes."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(data)
        await writer.drain()
        return await asyncio.wait_for(reader.read(), timeout)
    finally:
        writer.close()


async def _closed_by_server(reader: asyncio.StreamReader, timeout: float) -> bool:
    """Whether the server closes the connection (EOF) within ``timeout`` without sending anything."""
    try:
        data = await asyncio.wait_for(reader.read(), timeout)
    except TimeoutError:
        return False
    return data == b""


async def test_health_and_challenge_over_http(server: HTTP01Server) -> None:
    base = f"http://127.0.0.1:{server.bound_port}"
    async with aiohttp.ClientSession() as session:
        async with session.get(base + "/healthz") as response:
            assert response.status == 200
            assert response.headers["Cache-Control"] == CACHE_CONTROL
            assert await response.read() == b""
        async with session.get(
            base + "/.well-known/acme-challenge/tok", headers={"Host": "example.com:80"}
        ) as response:
            assert response.status == 200
            assert response.headers["Cache-Control"] == CACHE_CONTROL
            assert await response.text() == KEY
        async with session.get(base + "/.well-known/acme-challenge/tok", headers={"Host": "evil.com"}) as response:
            assert response.status == 404
            assert "Cache-Control" not in response.headers
            assert await response.read() == b"404 page not found\n"


@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE", "OPTIONS"])
async def test_no_method_restriction(server: HTTP01Server, method: str) -> None:
    async with (
        aiohttp.ClientSession() as session,
        session.request(
            method,
            f"http://127.0.0.1:{server.bound_port}/.well-known/acme-challenge/tok",
            headers={"Host": "example.com"},
        ) as response,
    ):
        assert response.status == 200
        assert await response.text() == KEY


async def test_responder_changes_apply_while_running(server: HTTP01Server) -> None:
    request = b"GET /.well-known/acme-challenge/new HTTP/1.1\r\nHost: b.test\r\nConnection: close\r\n\r\n"
    assert b" 404 " in await _exchange(server.bound_port, request)
    server.responder.add(ChallengeEntry("b.test", "new", "new.key"))
    reply = await _exchange(server.bound_port, request)
    assert reply.startswith(b"HTTP/1.1 200 ")
    assert reply.endswith(b"\r\n\r\nnew.key")
    server.responder.remove("b.test", "new")
    assert b" 404 " in await _exchange(server.bound_port, request)


async def test_slow_headers_are_cut_off(server: HTTP01Server) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", server.bound_port)
    started = time.monotonic()
    try:
        writer.write(b"GET /.well-known/acme-challenge/tok HTTP/1.1\r\nHost: exa")
        await writer.drain()
        for _ in range(3):  # keep dripping bytes, which must not extend the deadline
            await asyncio.sleep(0.1)
            writer.write(b"m")
            await writer.drain()
        assert await _closed_by_server(reader, timeout=3.0)
    finally:
        writer.close()
    assert time.monotonic() - started < 2.0


async def test_idle_connection_is_closed(server: HTTP01Server) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", server.bound_port)
    try:
        assert await _closed_by_server(reader, timeout=3.0)
    finally:
        writer.close()


async def test_keep_alive_serves_several_requests_then_times_out(server: HTTP01Server) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", server.bound_port)
    try:
        for _ in range(2):
            writer.write(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
            await writer.drain()
            status = await asyncio.wait_for(reader.readline(), 2)
            assert status.startswith(b"HTTP/1.1 200")
            while (await asyncio.wait_for(reader.readline(), 2)) != b"\r\n":
                pass
        assert await _closed_by_server(reader, timeout=3.0)
    finally:
        writer.close()


async def test_oversized_header_is_rejected(server: HTTP01Server) -> None:
    request = b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 20_000 + b"\r\n\r\n"
    reply = await _exchange(server.bound_port, request)
    assert b" 400 Bad Request" in reply.split(b"\r\n", 1)[0]


async def test_too_many_headers_are_rejected(server: HTTP01Server) -> None:
    headers = b"".join(b"X-H%d: v\r\n" % i for i in range(LIMITS.max_headers + 5))
    reply = await _exchange(server.bound_port, b"GET /healthz HTTP/1.1\r\nHost: x\r\n" + headers + b"\r\n")
    assert b" 400 Bad Request" in reply.split(b"\r\n", 1)[0]


async def test_declared_large_body_gets_413_and_close(server: HTTP01Server) -> None:
    request = (
        b"POST /.well-known/acme-challenge/tok HTTP/1.1\r\nHost: example.com\r\n"
        b"Content-Length: 100000000\r\n\r\n" + b"x" * 100
    )
    reply = await _exchange(server.bound_port, request)
    assert reply.startswith(b"HTTP/1.1 413")
    assert b"Connection: close" in reply


async def test_small_body_is_ignored(server: HTTP01Server) -> None:
    request = (
        b"POST /.well-known/acme-challenge/tok HTTP/1.1\r\nHost: example.com\r\nConnection: close\r\n"
        b"Content-Length: 5\r\n\r\nhello"
    )
    reply = await _exchange(server.bound_port, request)
    assert reply.startswith(b"HTTP/1.1 200")
    assert reply.endswith(KEY.encode())


async def _wait_for_connections(server: HTTP01Server, count: int) -> None:
    for _ in range(100):
        if server.connection_count == count:
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"{server.connection_count} connections, expected {count}")


async def test_connection_cap() -> None:
    limits = ServerLimits(header_timeout=5.0, max_connections=2)
    async with HTTP01Server(ChallengeResponder(), host="127.0.0.1", port=0, limits=limits) as server:
        held = [await asyncio.open_connection("127.0.0.1", server.bound_port) for _ in range(2)]
        await _wait_for_connections(server, 2)
        reader, writer = await asyncio.open_connection("127.0.0.1", server.bound_port)
        assert await _closed_by_server(reader, timeout=2.0)
        writer.close()
        held[0][1].close()
        await _wait_for_connections(server, 1)
        reply = await _exchange(server.bound_port, b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        assert reply.startswith(b"HTTP/1.1 200")
        held[1][1].close()


async def test_stop_closes_connections_and_stops_accepting() -> None:
    server = HTTP01Server(ChallengeResponder(), host="127.0.0.1", port=0, limits=ServerLimits(header_timeout=30.0))
    with pytest.raises(RuntimeError, match="not running"):
        _ = server.bound_port
    await server.start()
    port = server.bound_port
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
    await writer.drain()
    assert (await asyncio.wait_for(reader.readline(), 2)).startswith(b"HTTP/1.1 200")
    started = time.monotonic()
    await server.stop()
    assert time.monotonic() - started < 2.0
    await asyncio.wait_for(reader.read(), 2)  # the idle keep-alive connection was closed
    assert reader.at_eof()
    writer.close()
    with pytest.raises(ConnectionRefusedError):
        await asyncio.open_connection("127.0.0.1", port)
    await server.stop()  # a second stop is harmless


@given(target=st.text(max_size=200), host=st.text(max_size=80))
def test_respond_is_total_and_answers_only_the_exact_challenge(target: str, host: str) -> None:
    """Any request target and Host: 200 only for health checks or the registered (domain, token)."""
    status, body = respond(RESPONDER, raw_target=target, host_header=host)
    assert status in (200, 404)
    if status == 404:
        assert (status, body) == NOT_FOUND
    elif body:
        assert path_dir(escaped_path(target)) == "/.well-known/acme-challenge"
        assert (strip_port(host), path_base(escaped_path(target))) in {("example.com", "tok"), ("2001:db8::1", "tok6")}
    else:
        assert escaped_path(target) in ("/", "/healthz")


@given(token=st.text(alphabet=st.characters(codec="ascii", exclude_characters="/?#"), min_size=1, max_size=50))
def test_only_the_registered_token_is_answered(token: str) -> None:
    status, _ = respond(RESPONDER, raw_target=f"/.well-known/acme-challenge/{token}", host_header="example.com")
    assert (status == 200) == (token == "tok")
