"""The HTTP-01 self check: fetch the challenge URL the way the ACME server will, before accepting.

Follows ``testReachability`` and ``Solver.Check`` in ``pkg/issuer/acme/http/http.go``:
``GET http://<domain>[:port]/.well-known/acme-challenge/<token>`` (IPv6 literals in brackets) must
answer 200 with exactly the key authorisation, ``required_passes`` times in a row, ``pass_interval``
apart (cert-manager: 5 passes, 2 s). Each request has keep-alives off, a 10 s timeout, follows
redirects (to HTTPS without verifying the certificate, as the ACME server does), takes proxies from
the environment, reads at most 1 MiB of body, and may resolve names through a custom resolver:
fixed addresses (tests, local mode, where pebble's made-up domains do not resolve) or given DNS
servers (cert-manager's ``--acme-http01-solver-nameservers``). The whole check is bounded by
``total_timeout`` (cert-manager: 15 minutes).

Error texts are cert-manager's, so Challenge reasons read the same.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Final

import aiohttp
import dns.rdatatype
from aiohttp.abc import AbstractResolver, ResolveResult

from certkeeper.acme.solvers.base import DNSError
from certkeeper.acme.solvers.dnsquery import DNSClient
from certkeeper.acme.solvers.hostport import is_ipv6_literal
from certkeeper.acme.solvers.http01_server import HTTP_CHALLENGE_PATH
from certkeeper.acme.solvers.httpbody import read_at_most
from certkeeper.runtime.clock import Clock, SystemClock

#: Largest response body read (cert-manager ``maxAcmeChallengeBodySize``).
MAX_CHALLENGE_BODY_BYTES: Final = 1024 * 1024


class SelfCheckFailed(Exception):
    """One reachability test failed; the message is cert-manager's."""


def challenge_url(domain: str, token: str, *, port: int | None = None) -> str:
    """``http://<domain>[:port]/.well-known/acme-challenge/<token>``, IPv6 literals in brackets."""
    host = f"[{domain}]" if is_ipv6_literal(domain) else domain
    if port is not None and port != 80:
        host = f"{host}:{port}"
    return f"http://{host}{HTTP_CHALLENGE_PATH}/{token}"


def _result(hostname: str, address: str, port: int) -> ResolveResult:
    family = socket.AF_INET6 if ":" in address else socket.AF_INET
    return ResolveResult(
        hostname=hostname, host=address, port=port, family=family, proto=0, flags=socket.AI_NUMERICHOST
    )


class StaticResolver(AbstractResolver):
    """Resolves names from a fixed map (name -> address); other names through ``fallback`` or fail."""

    def __init__(self, addresses: Mapping[str, str], fallback: AbstractResolver | None = None) -> None:
        self._addresses = {name.lower().rstrip("."): address for name, address in addresses.items()}
        self._fallback = fallback

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        address = self._addresses.get(host.lower().rstrip("."))
        if address is not None:
            return [_result(host, address, port)]
        if self._fallback is not None:
            return await self._fallback.resolve(host, port, family)
        raise OSError(f"no address for host {host!r}")

    async def close(self) -> None:
        if self._fallback is not None:
            await self._fallback.close()


class NameserverResolver(AbstractResolver):
    """Resolves A and AAAA records through the given DNS servers (``host:port``, or DoH URLs)."""

    def __init__(self, nameservers: Sequence[str], *, client: DNSClient | None = None) -> None:
        self._nameservers = list(nameservers)
        self._client = client or DNSClient()

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        name = host if host.endswith(".") else host + "."
        results: list[ResolveResult] = []
        for rdtype in (dns.rdatatype.A, dns.rdatatype.AAAA):
            try:
                answer = await self._client.query(name, rdtype, self._nameservers)
            except DNSError as exc:
                raise OSError(str(exc)) from exc
            for rrset in answer.answer:
                if rrset.rdtype == rdtype:
                    results.extend(_result(host, rdata.address, port) for rdata in rrset)
        if not results:
            raise OSError(f"no address for host {host!r}")
        return results

    async def close(self) -> None:
        return None


@dataclass(frozen=True, slots=True, kw_only=True)
class HTTP01SelfCheck:
    """How to run the self check; the defaults are cert-manager's."""

    required_passes: int = 5
    #: Seconds between consecutive passes.
    pass_interval: float = 2.0
    #: Seconds per request, connect to last byte (Go http.Client.Timeout).
    request_timeout: float = 10.0
    #: Seconds for all passes together (cert-manager ``HTTP01Timeout``, 15 minutes).
    total_timeout: float = 15 * 60.0
    max_body_bytes: int = MAX_CHALLENGE_BODY_BYTES
    #: Port to connect to; None (or 80) is the ACME default. Local mode sets the port pebble dials.
    port: int | None = None
    #: Custom name resolution; None uses the system resolver.
    resolver: AbstractResolver | None = None
    #: Honour HTTP(S)_PROXY/NO_PROXY from the environment, as Go's ProxyFromEnvironment does.
    trust_env: bool = True
    user_agent: str = "certkeeper"
    clock: Clock = field(default_factory=SystemClock)

    async def run(self, domain: str, token: str, key: str) -> None:
        """Pass ``required_passes`` times in a row, or raise SelfCheckFailed with the first failure."""
        url = challenge_url(domain, token, port=self.port)
        try:
            async with asyncio.timeout(self.total_timeout):
                for attempt in range(self.required_passes):
                    await self.test_reachability(url, key)
                    if attempt != self.required_passes - 1:
                        await self.clock.sleep(self.pass_interval)
        except TimeoutError as exc:
            message = f"failed to perform self check GET request '{url}': context deadline exceeded"
            raise SelfCheckFailed(message) from exc

    async def test_reachability(self, url: str, key: str) -> None:
        """One GET of ``url``: 200 and exactly ``key``, else SelfCheckFailed."""
        # A connector per request: keep-alives off, certificates unchecked for redirects to HTTPS. The
        # session closes the connector, and a connector never closes a resolver it was given.
        connector = aiohttp.TCPConnector(force_close=True, ssl=False, resolver=self.resolver, limit=1)
        timeout = aiohttp.ClientTimeout(total=self.request_timeout)
        try:
            async with (
                aiohttp.ClientSession(
                    connector=connector,
                    timeout=timeout,
                    trust_env=self.trust_env,
                    headers={"User-Agent": self.user_agent},
                ) as session,
                session.get(url, allow_redirects=True, max_redirects=10) as response,
            ):
                if response.status != 200:
                    raise SelfCheckFailed(f"wrong status code '{response.status}', expected '200'")
                try:
                    body = await read_at_most(response.content, self.max_body_bytes)
                except (aiohttp.ClientError, TimeoutError) as exc:
                    raise SelfCheckFailed(f"failed to read response body: {_describe(exc)}") from exc
        except SelfCheckFailed:
            raise
        except (aiohttp.ClientError, OSError, TimeoutError) as exc:
            raise SelfCheckFailed(f"failed to perform self check GET request '{url}': {_describe(exc)}") from exc
        if body != key.encode():
            # The body stays out of the message, as in cert-manager.
            raise SelfCheckFailed(f'did not get expected response "{key}" when querying endpoint')


def _describe(exc: BaseException) -> str:
    if isinstance(exc, TimeoutError):
        return "Client.Timeout exceeded while awaiting headers"
    return str(exc) or type(exc).__name__


__all__ = [
    "MAX_CHALLENGE_BODY_BYTES",
    "HTTP01SelfCheck",
    "NameserverResolver",
    "SelfCheckFailed",
    "StaticResolver",
    "challenge_url",
]
