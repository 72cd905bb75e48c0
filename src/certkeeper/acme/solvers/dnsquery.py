"""DNS queries for the DNS-01 solver: UDP with a TCP retry, or DNS over HTTPS, to given servers.

Follows ``DNSQuery`` and ``httpDNSClient`` in ``pkg/issuer/acme/dns/util/wait.go``: a question with
EDNS0 (4096-byte payload), recursion desired unless asked otherwise; each server is tried in turn
until one answers; over UDP, a truncated answer or a timeout is retried over TCP; servers written
``https://...`` are asked with an RFC 8484 POST (``application/dns-message``), whose response is
capped at 128 KiB. Every exchange has a timeout (cert-manager ``DNSTimeout``, 10 s).

Servers are ``host:port`` (IPv6 in brackets); a host name is resolved with the system resolver.
"""

from __future__ import annotations

import asyncio
import socket
import ssl
from collections.abc import Sequence
from typing import Final

import aiohttp
import dns.asyncquery
import dns.exception
import dns.flags
import dns.message
import dns.name
import dns.rdatatype

from certkeeper.acme.solvers.base import DNSLookupError
from certkeeper.acme.solvers.hostport import HostPortError, is_ip_literal, split_host_port
from certkeeper.acme.solvers.httpbody import read_at_most

#: Seconds per exchange (cert-manager ``DNSTimeout``).
DEFAULT_DNS_TIMEOUT: Final = 10.0
#: Largest DNS-over-HTTPS response read (cert-manager ``maxDNSResponseSize``).
MAX_DOH_RESPONSE_BYTES: Final = 128 * 1024
DOH_MIME_TYPE: Final = "application/dns-message"
EDNS_PAYLOAD: Final = 4096

#: The record types the solver asks for; anything else is a programming error.
SUPPORTED_TYPES: Final = frozenset(
    {
        dns.rdatatype.A,
        dns.rdatatype.AAAA,
        dns.rdatatype.CAA,
        dns.rdatatype.CNAME,
        dns.rdatatype.NS,
        dns.rdatatype.SOA,
        dns.rdatatype.TXT,
    }
)


async def resolve_server_address(host: str) -> str:
    """An IP address for a DNS server host: the host itself if it is a literal, else the system resolver's first."""
    if is_ip_literal(host):
        return host
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(host, None, type=socket.SOCK_DGRAM)
    except OSError as exc:
        raise DNSLookupError(f"cannot resolve DNS server {host!r}: {exc}") from exc
    if not infos:
        raise DNSLookupError(f"cannot resolve DNS server {host!r}")
    return str(infos[0][4][0])


async def server_endpoint(server: str, *, default_port: int | None = None) -> tuple[str, int]:
    """(IP address, port) of a ``host:port`` server string (``default_port`` when the port is missing)."""
    try:
        host, port_text = split_host_port(server)
    except HostPortError as exc:
        if default_port is None or "missing port" not in str(exc):
            raise DNSLookupError(f"invalid DNS server {server!r}: {exc}") from exc
        host, port_text = server.strip("[]"), str(default_port)
    if not port_text.isdigit() or not 0 < int(port_text) < 65536:
        raise DNSLookupError(f"invalid DNS server {server!r}: bad port {port_text!r}")
    return await resolve_server_address(host), int(port_text)


class DNSClient:
    """Sends questions to DNS servers; one instance may be shared by many checks."""

    def __init__(self, *, timeout: float = DEFAULT_DNS_TIMEOUT, doh_ssl: ssl.SSLContext | None = None) -> None:
        """``doh_ssl``: TLS settings for DNS-over-HTTPS servers (None: the system's trusted roots)."""
        self.timeout = timeout
        self.doh_ssl = doh_ssl

    async def query(
        self,
        name: str | dns.name.Name,
        rdtype: dns.rdatatype.RdataType,
        nameservers: Sequence[str],
        *,
        recursive: bool = True,
    ) -> dns.message.Message:
        """The first answer any of ``nameservers`` gives (any rcode); DNSLookupError if all fail."""
        if rdtype not in SUPPORTED_TYPES:
            raise DNSLookupError(f"unsupported DNS record type {dns.rdatatype.to_text(rdtype)}")
        if not nameservers:
            raise DNSLookupError("nameservers is required")
        question = dns.message.make_query(name, rdtype, use_edns=0, payload=EDNS_PAYLOAD)
        if not recursive:
            question.flags &= ~dns.flags.RD
        last_error: DNSLookupError | None = None
        for server in nameservers:
            try:
                if server.startswith("https://"):
                    return await self._exchange_https(question, server)
                return await self._exchange(question, server)
            except DNSLookupError as exc:
                last_error = exc
        assert last_error is not None
        raise last_error

    async def _exchange(self, question: dns.message.Message, server: str) -> dns.message.Message:
        address, port = await server_endpoint(server)
        what = f"{question.question[0].name} {dns.rdatatype.to_text(question.question[0].rdtype)} at {server}"
        try:
            response = await dns.asyncquery.udp(question, address, timeout=self.timeout, port=port)
            if not response.flags & dns.flags.TC:
                return response
        except dns.exception.Timeout:
            pass  # retried over TCP, as cert-manager does after a UDP timeout
        except (OSError, dns.exception.DNSException) as exc:
            raise DNSLookupError(f"DNS query for {what} failed: {_describe(exc)}") from exc
        try:
            return await dns.asyncquery.tcp(question, address, timeout=self.timeout, port=port)
        except (OSError, dns.exception.DNSException) as exc:
            raise DNSLookupError(f"DNS query for {what} failed: {_describe(exc)}") from exc

    async def _exchange_https(self, question: dns.message.Message, url: str) -> dns.message.Message:
        headers = {"Content-Type": DOH_MIME_TYPE, "Accept": DOH_MIME_TYPE}
        try:
            async with (
                aiohttp.ClientSession(
                    connector=aiohttp.TCPConnector(ssl=self.doh_ssl if self.doh_ssl is not None else True),
                    timeout=aiohttp.ClientTimeout(total=self.timeout),
                ) as session,
                session.post(url, data=question.to_wire(), headers=headers) as response,
            ):
                if response.status != 200:
                    raise DNSLookupError(f'dns: server returned HTTP {response.status} error: "{response.reason}"')
                content_type = response.headers.get("Content-Type", "")
                if content_type != DOH_MIME_TYPE:
                    raise DNSLookupError(f'dns: unexpected Content-Type "{content_type}"; expected "{DOH_MIME_TYPE}"')
                wire = await read_at_most(response.content, MAX_DOH_RESPONSE_BYTES)
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise DNSLookupError(f"DNS over HTTPS query to {url} failed: {_describe(exc)}") from exc
        try:
            return dns.message.from_wire(wire)
        except dns.exception.DNSException as exc:
            raise DNSLookupError(f"DNS over HTTPS answer from {url} cannot be parsed: {_describe(exc)}") from exc


def _describe(exc: BaseException) -> str:
    if isinstance(exc, dns.exception.Timeout | TimeoutError):
        return "i/o timeout"
    return str(exc) or type(exc).__name__


__all__ = [
    "DEFAULT_DNS_TIMEOUT",
    "DOH_MIME_TYPE",
    "MAX_DOH_RESPONSE_BYTES",
    "SUPPORTED_TYPES",
    "DNSClient",
    "resolve_server_address",
    "server_endpoint",
]
