"""DNS over HTTPS (RFC 8484) for DNS01 ``nameservers``: a local HTTPS front for BIND, and broken servers."""

from __future__ import annotations

import ssl
from collections.abc import AsyncIterator
from pathlib import Path

import dns.asyncquery
import dns.message
import dns.rdatatype
import pytest
from aiohttp import web

from certkeeper.acme.solvers.base import DNSLookupError
from certkeeper.acme.solvers.dns01 import DNS01Solver
from certkeeper.acme.solvers.dnsquery import DOH_MIME_TYPE, MAX_DOH_RESPONSE_BYTES, DNSClient
from certkeeper.acme.solvers.propagation import DNSResolver
from certkeeper.acme.solvers.rfc2136 import rfc2136_provider
from tests.harness.bind import Bind
from tests.harness.certs import HarnessCA
from tests.integration.acme.solvers.test_dns01_bind import challenge, context, rfc2136_config


class DoHFront:
    """An HTTPS server whose behaviour per path is: forward to BIND, or answer something broken."""

    def __init__(self, bind: Bind, directory: Path) -> None:
        self.bind = bind
        ca = HarnessCA(directory)
        files = ca.issue(directory / "server", common_name="127.0.0.1", ip_addresses=["127.0.0.1"], server=True)
        self.server_ssl = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        self.server_ssl.load_cert_chain(files.cert_file, files.key_file)
        self.client_ssl = ssl.create_default_context(cafile=str(ca.cert_file))
        self.port = 0

    async def forward(self, request: web.Request) -> web.Response:
        question = dns.message.from_wire(await request.read())
        answer = await dns.asyncquery.udp(question, "127.0.0.1", port=self.bind.port, timeout=2.0)
        if answer.flags & dns.flags.TC:
            answer = await dns.asyncquery.tcp(question, "127.0.0.1", port=self.bind.port, timeout=2.0)
        return web.Response(body=answer.to_wire(), content_type=DOH_MIME_TYPE)

    async def huge(self, request: web.Request) -> web.Response:
        return web.Response(body=b"\x00" * (MAX_DOH_RESPONSE_BYTES * 2), content_type=DOH_MIME_TYPE)

    async def wrong_type(self, request: web.Request) -> web.Response:
        return web.Response(text="<html>", content_type="text/html")

    async def error(self, request: web.Request) -> web.Response:
        return web.Response(status=500, text="boom")

    def url(self, path: str) -> str:
        return f"https://127.0.0.1:{self.port}{path}"


@pytest.fixture
async def doh(bind: Bind, tmp_path: Path) -> AsyncIterator[DoHFront]:
    front = DoHFront(bind, tmp_path)
    app = web.Application()
    app.router.add_post("/dns-query", front.forward)
    app.router.add_post("/huge", front.huge)
    app.router.add_post("/html", front.wrong_type)
    app.router.add_post("/error", front.error)
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.2)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0, ssl_context=front.server_ssl).start()
    front.port = runner.addresses[0][1]
    yield front
    await runner.cleanup()


async def test_query_over_https(doh: DoHFront) -> None:
    client = DNSClient(timeout=2.0, doh_ssl=doh.client_ssl)
    response = await client.query("example.test.", dns.rdatatype.SOA, [doh.url("/dns-query")])
    assert response.answer[0].rdtype == dns.rdatatype.SOA


async def test_dns01_check_through_doh_nameservers(doh: DoHFront, bind: Bind) -> None:
    key = bind.key("hmac-sha256")
    solver = DNS01Solver(
        providers={"rfc2136": rfc2136_provider},
        resolver=DNSResolver(client=DNSClient(timeout=2.0, doh_ssl=doh.client_ssl)),
        nameservers=["127.0.0.1:1"],  # unused: the solver's own DoH server replaces them
        propagation_wait=0,
    )
    config = rfc2136_config(bind, key, nameservers=[doh.url("/dns-query")])
    ch = challenge("doh.example.test", config, key="doh-value")
    ctx = context(key)
    await solver.present(ch, ctx)
    result = await solver.check(ch, ctx)
    assert result.ready, result.reason
    await solver.cleanup(ch, ctx)
    assert not (await solver.check(ch, ctx)).ready


@pytest.mark.parametrize(
    ("path", "message"),
    [
        ("/huge", "DNS over HTTPS answer from https://127.0.0.1:{port}/huge cannot be parsed"),
        ("/html", 'dns: unexpected Content-Type "text/html; charset=utf-8"; expected "application/dns-message"'),
        ("/error", 'dns: server returned HTTP 500 error: "Internal Server Error"'),
    ],
    ids=["oversized-is-cut-at-128KiB", "content-type", "http-error"],
)
async def test_broken_doh_servers(doh: DoHFront, path: str, message: str) -> None:
    client = DNSClient(timeout=2.0, doh_ssl=doh.client_ssl)
    with pytest.raises(DNSLookupError) as caught:
        await client.query("example.test.", dns.rdatatype.SOA, [doh.url(path)])
    assert str(caught.value).startswith(message.format(port=doh.port))


async def test_untrusted_doh_certificate_is_refused(doh: DoHFront) -> None:
    with pytest.raises(DNSLookupError, match=r"DNS over HTTPS query to https://127\.0\.0\.1"):
        await DNSClient(timeout=2.0).query("example.test.", dns.rdatatype.SOA, [doh.url("/dns-query")])
