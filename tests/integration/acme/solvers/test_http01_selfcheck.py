"""The HTTP-01 self check against the in-process solver's server, and against misbehaving servers."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest
from aiohttp import web

from certkeeper.acme.solvers.base import SolverContext
from certkeeper.acme.solvers.dnsquery import DNSClient
from certkeeper.acme.solvers.http01 import InProcessHTTP01Solver
from certkeeper.acme.solvers.http01_check import HTTP01SelfCheck, NameserverResolver, SelfCheckFailed, StaticResolver
from certkeeper.acme.solvers.http01_server import ChallengeResponder, HTTP01Server
from tests.harness.bind import Bind
from tests.unit.acme.solvers.builders import MemorySecrets, make_challenge

DOMAIN = "www.example.test"
TOKEN = "tok_EN-1"
KEY = f"{TOKEN}.thumbprint"
CTX = SolverContext(resource_namespace="default", secrets=MemorySecrets())
RESOLVER = StaticResolver({DOMAIN: "127.0.0.1"})


def fast_check(port: int, **overrides: object) -> HTTP01SelfCheck:
    settings: dict[str, object] = {
        "port": port,
        "resolver": RESOLVER,
        "required_passes": 3,
        "pass_interval": 0.01,
        "request_timeout": 2.0,
        "trust_env": False,
    }
    settings.update(overrides)
    return HTTP01SelfCheck(**settings)  # type: ignore[arg-type]  # test-only overrides of typed fields


@pytest.fixture
async def server() -> AsyncIterator[HTTP01Server]:
    async with HTTP01Server(ChallengeResponder(), host="127.0.0.1", port=0) as running:
        yield running


async def test_in_process_solver_present_check_cleanup(server: HTTP01Server) -> None:
    solver = InProcessHTTP01Solver(server.responder, self_check=fast_check(server.bound_port))
    challenge = make_challenge(DOMAIN, type="HTTP-01", token=TOKEN, key=KEY)

    await solver.present(challenge, CTX)
    assert len(server.responder) == 1
    result = await solver.check(challenge, CTX)
    assert result.ready, result.reason

    await solver.cleanup(challenge, CTX)
    assert len(server.responder) == 0
    # check() presents again (as cert-manager's does), so after cleanup probe the URL directly.
    with pytest.raises(SelfCheckFailed) as caught:
        await fast_check(server.bound_port).run(DOMAIN, TOKEN, KEY)
    assert str(caught.value) == "wrong status code '404', expected '200'"


async def test_check_reports_a_wrong_key(server: HTTP01Server) -> None:
    solver = InProcessHTTP01Solver(server.responder, self_check=fast_check(server.bound_port))
    served = make_challenge(DOMAIN, type="HTTP-01", token=TOKEN, key="something-else")
    await solver.present(served, CTX)
    with pytest.raises(SelfCheckFailed) as caught:
        await solver.self_check.run(DOMAIN, TOKEN, KEY)
    assert str(caught.value) == f'did not get expected response "{KEY}" when querying endpoint'
    assert "something-else" not in str(caught.value)


async def test_check_resolves_through_given_nameservers(server: HTTP01Server, bind: Bind) -> None:
    """www.example.test has no address in the system resolver; BIND's wildcard A record gives 127.0.0.1."""
    resolver = NameserverResolver([bind.nameserver], client=DNSClient(timeout=2.0))
    solver = InProcessHTTP01Solver(server.responder, self_check=fast_check(server.bound_port, resolver=resolver))
    challenge = make_challenge(DOMAIN, type="HTTP-01", token=TOKEN, key=KEY)
    await solver.present(challenge, CTX)
    result = await solver.check(challenge, CTX)
    assert result.ready, result.reason


Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@pytest.fixture
async def custom_server() -> AsyncIterator[Callable[[Handler], Awaitable[int]]]:
    """Start an aiohttp server with one catch-all handler; returns its port."""
    runners: list[web.AppRunner] = []

    async def start(handler: Handler) -> int:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", handler)
        runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.2)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", 0).start()
        runners.append(runner)
        port: int = runner.addresses[0][1]
        return port

    yield start
    for runner in runners:
        await runner.cleanup()


async def test_passes_are_consecutive_and_counted(custom_server: Callable[[Handler], Awaitable[int]]) -> None:
    hits: list[str] = []

    async def handler(request: web.Request) -> web.Response:
        hits.append(request.headers.get("Connection", ""))
        return web.Response(text=KEY)

    port = await custom_server(handler)
    await fast_check(port, required_passes=5).run(DOMAIN, TOKEN, KEY)
    assert len(hits) == 5
    assert all(value.lower() == "close" for value in hits)  # keep-alives off


async def test_a_failing_pass_stops_the_check(custom_server: Callable[[Handler], Awaitable[int]]) -> None:
    hits = 0

    async def handler(request: web.Request) -> web.Response:
        nonlocal hits
        hits += 1
        return web.Response(text=KEY if hits < 3 else "stale")

    port = await custom_server(handler)
    with pytest.raises(SelfCheckFailed, match="did not get expected response"):
        await fast_check(port, required_passes=5).run(DOMAIN, TOKEN, KEY)
    assert hits == 3


async def test_redirects_are_followed(custom_server: Callable[[Handler], Awaitable[int]]) -> None:
    async def handler(request: web.Request) -> web.Response:
        if request.path.startswith("/.well-known/"):
            raise web.HTTPFound("/moved/" + request.path.rsplit("/", 1)[1])
        return web.Response(text=KEY if request.path == f"/moved/{TOKEN}" else "wrong")

    port = await custom_server(handler)
    await fast_check(port, required_passes=1).run(DOMAIN, TOKEN, KEY)


async def test_body_is_capped(custom_server: Callable[[Handler], Awaitable[int]]) -> None:
    async def handler(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse()
        await response.prepare(request)
        await response.write(KEY.encode())
        for _ in range(64):  # 4 MiB, more than the 1 MiB the check reads
            await response.write(b"x" * 65536)
        return response

    port = await custom_server(handler)
    with pytest.raises(SelfCheckFailed, match="did not get expected response"):
        await fast_check(port, required_passes=1).run(DOMAIN, TOKEN, KEY)
    with pytest.raises(SelfCheckFailed, match="did not get expected response"):
        await fast_check(port, required_passes=1, max_body_bytes=len(KEY) - 1).run(DOMAIN, TOKEN, KEY)
    # Reading exactly the key's length of a longer body matches: the rest is never read (io.LimitReader).
    await fast_check(port, required_passes=1, max_body_bytes=len(KEY)).run(DOMAIN, TOKEN, KEY)


async def test_slow_server_times_out(custom_server: Callable[[Handler], Awaitable[int]]) -> None:
    async def handler(request: web.Request) -> web.Response:
        await asyncio.sleep(5)
        return web.Response(text=KEY)

    port = await custom_server(handler)
    with pytest.raises(SelfCheckFailed) as caught:
        await fast_check(port, request_timeout=0.2).run(DOMAIN, TOKEN, KEY)
    url = f"http://{DOMAIN}:{port}/.well-known/acme-challenge/{TOKEN}"
    assert str(caught.value) == (
        f"failed to perform self check GET request '{url}': Client.Timeout exceeded while awaiting headers"
    )


async def test_total_timeout(custom_server: Callable[[Handler], Awaitable[int]]) -> None:
    async def handler(request: web.Request) -> web.Response:
        return web.Response(text=KEY)

    port = await custom_server(handler)
    with pytest.raises(SelfCheckFailed, match="context deadline exceeded"):
        await fast_check(port, pass_interval=1.0, total_timeout=0.2).run(DOMAIN, TOKEN, KEY)


async def test_nothing_listening() -> None:
    with pytest.raises(
        SelfCheckFailed, match=r"^failed to perform self check GET request 'http://www\.example\.test:1/"
    ):
        await fast_check(1).run(DOMAIN, TOKEN, KEY)


async def test_unresolvable_name() -> None:
    check = fast_check(80, resolver=StaticResolver({}))
    with pytest.raises(
        SelfCheckFailed, match=re.escape("failed to perform self check GET request 'http://www.example.test/")
    ):
        await check.run(DOMAIN, TOKEN, KEY)
