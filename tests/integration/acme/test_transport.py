"""AiohttpTransport against a local aiohttp server: body cap, timeouts, errors, headers, redirects, TLS options."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator

import pytest
from aiohttp import web

from certkeeper.acme.errors import ResponseTooLarge, TransportError
from certkeeper.acme.transport import MAX_RESPONSE_BYTES, Action, AiohttpTransport, HttpRequest, TlsOptions


async def _streamed(request: web.Request) -> web.StreamResponse:
    size = int(request.query["size"])
    response = web.StreamResponse()
    response.enable_chunked_encoding()
    await response.prepare(request)
    chunk = b"x" * (1 << 20)
    while size > 0:
        await response.write(chunk[: min(size, len(chunk))])
        size -= len(chunk)
    await response.write_eof()
    return response


async def _declared(request: web.Request) -> web.Response:
    return web.Response(body=b"y" * int(request.query["size"]))


async def _slow(request: web.Request) -> web.Response:
    await asyncio.sleep(5)
    return web.Response(text="late")


async def _links(request: web.Request) -> web.Response:
    headers = [("Link", '<https://ca/a>;rel="alternate"'), ("Link", '<https://ca/b>;rel="alternate"')]
    response = web.Response(status=200, text=request.headers.get("User-Agent", ""))
    for name, value in headers:
        response.headers.add(name, value)
    return response


async def _redirect(request: web.Request) -> web.Response:
    return web.Response(status=302, headers={"Location": "/elsewhere"})


async def _echo(request: web.Request) -> web.Response:
    body = await request.read()
    return web.Response(status=201, body=body, headers={"X-Method": request.method, "X-Type": request.content_type})


@pytest.fixture
async def server() -> AsyncIterator[str]:
    app = web.Application()
    app.router.add_get("/streamed", _streamed)
    app.router.add_get("/declared", _declared)
    app.router.add_get("/slow", _slow)
    app.router.add_get("/links", _links)
    app.router.add_get("/redirect", _redirect)
    app.router.add_post("/echo", _echo)
    runner = web.AppRunner(app, shutdown_timeout=0.1)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        await runner.cleanup()


def _get(url: str) -> HttpRequest:
    return HttpRequest(method="GET", url=url, action=Action.UNNAMED)


@pytest.mark.parametrize("path", ["streamed", "declared"])
async def test_bodies_over_the_cap_are_refused(server: str, path: str) -> None:
    async with AiohttpTransport(max_response_bytes=1024, trust_env=False) as transport:
        assert (await transport.send(_get(f"{server}/{path}?size=1024"))).body == (
            b"y" if path == "declared" else b"x"
        ) * 1024
        with pytest.raises(ResponseTooLarge, match="1024-byte limit"):
            await transport.send(_get(f"{server}/{path}?size=1025"))


async def test_the_default_cap_is_16_mib(server: str) -> None:
    assert MAX_RESPONSE_BYTES == 16 * 1024 * 1024
    async with AiohttpTransport(trust_env=False) as transport:
        with pytest.raises(ResponseTooLarge):
            await transport.send(_get(f"{server}/streamed?size={MAX_RESPONSE_BYTES + 1}"))


async def test_the_total_timeout_ends_a_slow_request(server: str) -> None:
    async with AiohttpTransport(total_timeout=0.3, trust_env=False) as transport:
        with pytest.raises(TransportError, match="timed out"):
            await transport.send(_get(f"{server}/slow"))


async def test_no_listener_is_a_transport_error() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    async with AiohttpTransport(trust_env=False) as transport:
        with pytest.raises(TransportError, match=f"127.0.0.1:{port}"):
            await transport.send(_get(f"http://127.0.0.1:{port}/dir"))


async def test_repeated_headers_are_kept_and_redirects_not_followed(server: str) -> None:
    async with AiohttpTransport(user_agent="certkeeper-test/1", trust_env=False) as transport:
        response = await transport.send(_get(f"{server}/links"))
        assert response.header_values("link") == ['<https://ca/a>;rel="alternate"', '<https://ca/b>;rel="alternate"']
        assert response.body == b"certkeeper-test/1"
        redirect = await transport.send(_get(f"{server}/redirect"))
        assert (redirect.status, redirect.header("location")) == (302, "/elsewhere")


async def test_post_sends_body_and_headers(server: str) -> None:
    request = HttpRequest(
        method="POST",
        url=f"{server}/echo",
        action=Action.AUTHORIZE_ORDER,
        headers={"Content-Type": "application/jose+json"},
        body=b'{"protected":""}',
    )
    async with AiohttpTransport(trust_env=False) as transport:
        response = await transport.send(request)
    assert (response.status, response.body) == (201, b'{"protected":""}')
    assert (response.header("X-Method"), response.content_type) == ("POST", "application/octet-stream")
    assert response.header("X-Type") == "application/jose+json"


def test_tls_options_are_exclusive_and_bundles_must_hold_certificates() -> None:
    with pytest.raises(ValueError, match="mutually exclusive"):
        TlsOptions(ca_bundle=b"x", skip_verify=True)
    with pytest.raises(ValueError, match="no usable PEM certificate"):
        TlsOptions(ca_bundle=b"-----BEGIN CERTIFICATE-----\nnope\n-----END CERTIFICATE-----\n").ssl_context()


async def test_a_closed_transport_refuses_requests_instead_of_opening_a_new_session(server: str) -> None:
    transport = AiohttpTransport(trust_env=False)
    assert (await transport.send(_get(f"{server}/links"))).status == 200
    await transport.aclose()
    with pytest.raises(TransportError, match="closed"):
        await transport.send(_get(f"{server}/links"))
    assert transport._session is None
