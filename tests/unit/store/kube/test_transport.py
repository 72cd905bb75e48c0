"""The shared HTTP session: headers, rate limiting, retries, re-authentication and streaming.

The peer is a scripted aiohttp server on loopback that answers each request with the next scripted
response; it checks the client's own behaviour (what it sends, when it retries), not Kubernetes
semantics, which the integration tests check against a real API server.
"""

from __future__ import annotations

import asyncio
import json
import socket
from typing import Any

import pytest
from aiohttp import web

from certkeeper import __version__
from certkeeper.store.kube.auth import StaticAuthorization
from certkeeper.store.kube.config import ClusterConfig
from certkeeper.store.kube.errors import Unauthorized
from certkeeper.store.kube.retry import RetryPolicy
from certkeeper.store.kube.transport import ClientOptions, KubeTransport, Target
from certkeeper.store.ports import Conflict, Invalid, NotFound, StoreError, TooManyRequests, Unavailable
from tests.unit.store.kube.support import Handler, RecordingClock, Script, ok, status_response


def transport(url: str, clock: RecordingClock, **options: Any) -> KubeTransport:
    config = ClusterConfig(server=url, credentials=StaticAuthorization("Bearer t0ken"))
    return KubeTransport(config, ClientOptions(**options), clock=clock)


async def test_headers_and_body(server: tuple[Script, str]) -> None:
    script, url = server
    script.responses = [ok({"kind": "Secret"})]
    client = transport(url, RecordingClock())
    try:
        got = await client.request(
            "PATCH",
            "/api/v1/namespaces/ns/secrets/a",
            query=[("fieldManager", "m")],
            body={"data": {"k": "dg=="}},
            content_type="application/merge-patch+json",
            idempotent=False,
        )
    finally:
        await client.close()
    assert got == {"kind": "Secret"}
    method, path, headers, body = script.requests[0]
    assert (method, path) == ("PATCH", "/api/v1/namespaces/ns/secrets/a?fieldManager=m")
    assert headers["User-Agent"] == f"certkeeper/{__version__}"
    assert headers["Accept"] == "application/json"
    assert headers["Content-Type"] == "application/merge-patch+json"
    assert headers["Authorization"] == "Bearer t0ken"
    assert json.loads(body) == {"data": {"k": "dg=="}}


async def test_a_request_after_close_is_unavailable(server: tuple[Script, str]) -> None:
    client = transport(server[1], RecordingClock())
    await client.close()
    with pytest.raises(Unavailable, match="closed"):
        await client.request("GET", "/api", idempotent=True)


async def test_429_is_retried_after_the_servers_delay_for_writes_too(server: tuple[Script, str]) -> None:
    script, url = server
    script.responses = [status_response(429, "TooManyRequests", "slow", {"Retry-After": "2"}), ok({"kind": "X"})]
    clock = RecordingClock()
    client = transport(url, clock)
    try:
        assert await client.request("POST", "/api/v1/namespaces/ns/secrets", body={}, idempotent=False)
    finally:
        await client.close()
    assert len(script.requests) == 2
    assert clock.sleeps == [2.0]


async def test_429_beyond_the_attempts_raises_too_many_requests(server: tuple[Script, str]) -> None:
    script, url = server
    script.responses = [status_response(429, "TooManyRequests", "slow", {"Retry-After": "1"})]
    clock = RecordingClock()
    client = transport(url, clock, retry=RetryPolicy(max_attempts=3))
    try:
        with pytest.raises(TooManyRequests, match="slow") as caught:
            await client.request("GET", "/api", idempotent=True)
    finally:
        await client.close()
    assert caught.value.retry_after_seconds == 1.0
    assert len(script.requests) == 3


async def test_5xx_is_retried_for_reads_only(server: tuple[Script, str]) -> None:
    script, url = server
    script.responses = [status_response(503, "ServiceUnavailable", "down"), ok({"kind": "X"})]
    clock = RecordingClock()
    client = transport(url, clock)
    try:
        assert await client.request("GET", "/api", idempotent=True) == {"kind": "X"}
        assert len(clock.sleeps) == 1
        script.requests.clear()
        with pytest.raises(Unavailable, match="down"):
            await client.request("PUT", "/api/x", body={}, idempotent=False)
    finally:
        await client.close()
    assert len(script.requests) == 1


async def test_final_errors_are_not_retried(server: tuple[Script, str]) -> None:
    script, url = server
    script.responses = [status_response(409, "Conflict", "the object has been modified")]
    client = transport(url, RecordingClock())
    try:
        with pytest.raises(Conflict, match="modified"):
            await client.request("GET", "/api", idempotent=True)
    finally:
        await client.close()
    assert len(script.requests) == 1


async def test_a_non_status_error_body(server: tuple[Script, str]) -> None:
    script, url = server

    async def teapot(_: web.Request) -> web.StreamResponse:
        return web.Response(status=404, text="<html>no</html>", content_type="text/html")

    script.responses = [teapot]
    client = transport(url, RecordingClock())
    try:
        with pytest.raises(NotFound, match="HTTP 404: <html>no</html>"):
            await client.request("GET", "/x", idempotent=True)
    finally:
        await client.close()


async def test_invalid_names_the_target_when_the_status_does_not(server: tuple[Script, str]) -> None:
    script, url = server
    script.responses = [status_response(422, "Invalid", "bad")]
    client = transport(url, RecordingClock())
    try:
        with pytest.raises(Invalid) as caught:
            await client.request("POST", "/x", body={}, idempotent=False, target=Target("Thing.example.com", "t"))
    finally:
        await client.close()
    assert str(caught.value) == "bad"
    assert caught.value.errors[0].detail == "bad"


async def test_a_401_rereads_the_credentials_once(server: tuple[Script, str]) -> None:
    script, url = server

    class Rotating:
        def __init__(self) -> None:
            self.values = ["Bearer old", "Bearer new"]
            self.invalidated = 0

        async def authorization(self) -> str | None:
            return self.values[min(self.invalidated, 1)]

        def invalidate(self) -> None:
            self.invalidated += 1

    credentials = Rotating()
    script.responses = [status_response(401, "Unauthorized", "Unauthorized"), ok({"kind": "X"})]
    client = KubeTransport(ClusterConfig(server=url, credentials=credentials), clock=RecordingClock())
    try:
        assert await client.request("POST", "/x", body={}, idempotent=False) == {"kind": "X"}
        assert [r[2]["Authorization"] for r in script.requests] == ["Bearer old", "Bearer new"]
        script.responses = [status_response(401, "Unauthorized", "Unauthorized")]
        script.requests.clear()
        with pytest.raises(Unauthorized):
            await client.request("GET", "/x", idempotent=True)
    finally:
        await client.close()
    assert len(script.requests) == 2


def unused_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
    return port


async def test_connection_refused_is_retried_even_for_writes() -> None:
    clock = RecordingClock()
    client = transport(f"http://127.0.0.1:{unused_port()}", clock, retry=RetryPolicy(max_attempts=4, jitter=0.0))
    try:
        with pytest.raises(Unavailable, match="cannot connect"):
            await client.request("POST", "/x", body={}, idempotent=False)
    finally:
        await client.close()
    assert clock.sleeps == [0.25, 0.5, 1.0]


async def test_a_connection_dropped_mid_request_is_retried_for_reads_only(server: tuple[Script, str]) -> None:
    script, url = server

    async def hang_up(request: web.Request) -> web.StreamResponse:
        assert request.transport is not None
        request.transport.close()
        return web.Response()

    script.responses = [hang_up, ok({"kind": "X"})]
    clock = RecordingClock()
    client = transport(url, clock)
    try:
        assert await client.request("GET", "/x", idempotent=True) == {"kind": "X"}
        script.requests.clear()
        script.responses = [hang_up, ok({"kind": "X"})]
        with pytest.raises(Unavailable):
            await client.request("PATCH", "/x", body={}, idempotent=False)
    finally:
        await client.close()
    assert len(script.requests) == 1


async def test_requests_wait_for_the_rate_limiter(server: tuple[Script, str]) -> None:
    script, url = server
    script.responses = [ok({})]
    clock = RecordingClock()
    client = transport(url, clock, qps=2.0, burst=2)
    try:
        for _ in range(4):
            await client.request("GET", "/x", idempotent=True)
    finally:
        await client.close()
    assert clock.sleeps == pytest.approx([0.5, 0.5])


async def test_an_answer_that_is_not_a_json_object(server: tuple[Script, str]) -> None:
    script, url = server

    async def array(_: web.Request) -> web.StreamResponse:
        return web.json_response([1, 2])

    async def text(_: web.Request) -> web.StreamResponse:
        return web.Response(text="hello")

    client = transport(url, RecordingClock())
    try:
        script.responses = [array]
        with pytest.raises(StoreError, match="not a JSON object"):
            await client.request("GET", "/x", idempotent=True)
        script.responses, script.requests = [text], []
        with pytest.raises(StoreError, match="not JSON"):
            await client.request("GET", "/x", idempotent=True)
    finally:
        await client.close()


def streaming(chunks: list[bytes], *, drop: bool = False) -> Handler:
    async def respond(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "application/json"})
        await response.prepare(request)
        for chunk in chunks:
            await response.write(chunk)
            await asyncio.sleep(0.01)
        if drop:
            assert request.transport is not None
            request.transport.abort()
            return response
        await response.write_eof()
        return response

    return respond


async def test_stream_lines_until_the_server_ends_the_stream(server: tuple[Script, str]) -> None:
    script, url = server
    script.responses = [streaming([b'{"a":', b"1}\n", b'{"b":2}\n{"c"', b":3}"])]
    client = transport(url, RecordingClock())
    try:
        lines = [line async for line in client.stream_lines("/w", query=[("watch", "true")], read_timeout=5)]
    finally:
        await client.close()
    assert lines == [b'{"a":1}', b'{"b":2}', b'{"c":3}']
    assert script.requests[0][1] == "/w?watch=true"


async def test_a_stream_cut_off_ends_quietly(server: tuple[Script, str]) -> None:
    script, url = server
    script.responses = [streaming([b'{"a":1}\n', b'{"partial'], drop=True)]
    client = transport(url, RecordingClock())
    try:
        lines = [line async for line in client.stream_lines("/w", query=[], read_timeout=5)]
    finally:
        await client.close()
    assert lines == [b'{"a":1}']


async def test_opening_a_stream_is_retried_and_errors_are_mapped(server: tuple[Script, str]) -> None:
    script, url = server
    script.responses = [
        status_response(500, "InternalError", "etcd"),
        status_response(410, "Expired", "too old resource version: 1 (9)"),
    ]
    client = transport(url, RecordingClock())
    try:
        with pytest.raises(StoreError, match="too old resource version") as caught:
            async for _ in client.stream_lines("/w", query=[], read_timeout=5):
                pass
    finally:
        await client.close()
    assert type(caught.value).__name__ == "Gone"
    assert len(script.requests) == 2
