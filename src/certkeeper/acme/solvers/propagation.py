"""DNS-01 lookups: the zone of a name, its authoritative servers, CNAME chains, and TXT propagation.

Follows ``CachingResolver`` (``pkg/issuer/acme/dns/util/cache.go``) and ``followCNAMEs`` /
``checkAuthoritativeNss`` (``util/wait.go``):

* ``find_zone``: walk up from the name, asking for its SOA; NXDOMAIN means "climb higher", an answer
  with a CNAME cannot be a zone apex, any other error rcode stops the walk; the first SOA answer
  names the zone. Cached per (server, name) for the SOA's TTL.
* ``authoritative_nameservers``: the NS records of that zone, lower-cased, cached for the shortest TTL.
* ``follow_cnames``: CNAME after CNAME until a name has none; a loop is an error.
* ``check_txt_propagation``: after following CNAMEs, every server must answer NOERROR or NXDOMAIN
  and the first not to have the value makes the answer "not yet". With ``use_authoritative`` the
  servers asked are the zone's own (port 53 in production) instead of the given ones; a DNS01
  solver's own ``nameservers`` turn that off.

Authoritative server names are resolved to addresses by asking the given servers for their A/AAAA
records, falling back to the system resolver (cert-manager dials them by name).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Final

import dns.message
import dns.name
import dns.rcode
import dns.rdatatype

from certkeeper.acme.solvers.base import DNSLookupError
from certkeeper.acme.solvers.dnsquery import DNSClient, resolve_server_address
from certkeeper.acme.solvers.hostport import join_host_port
from certkeeper.runtime.clock import Clock, SystemClock

#: Cached SOA/NS answers kept at most (oldest dropped first).
MAX_CACHE_ENTRIES: Final = 4096
#: Longest CNAME chain followed (cert-manager stops only on loops; a bound keeps hostile zones finite).
MAX_CNAME_CHAIN: Final = 32


def to_fqdn(name: str) -> str:
    """``name`` with a trailing dot (``""`` stays empty), as Go ``util.ToFqdn``."""
    return name if name == "" or name.endswith(".") else name + "."


def un_fqdn(name: str) -> str:
    """``name`` without its trailing dot, as Go ``util.UnFqdn``."""
    return name.removesuffix(".")


def parent_names(fqdn: str) -> list[str]:
    """``a.b.c.`` -> ``["a.b.c.", "b.c.", "c."]``: the names the SOA walk asks for, longest first."""
    labels = un_fqdn(fqdn).split(".")
    return [".".join(labels[index:]) + "." for index in range(len(labels)) if labels[index]]


def txt_values(response: dns.message.Message) -> list[str]:
    """The TXT values in an answer, each a record's strings joined (as cert-manager compares them)."""
    values: list[str] = []
    for rrset in response.answer:
        if rrset.rdtype == dns.rdatatype.TXT:
            values.extend(b"".join(rdata.strings).decode("utf-8", "replace") for rdata in rrset)
    return values


@dataclass(slots=True)
class _Cache:
    clock: Clock
    entries: dict[tuple[str, str, str], tuple[float, tuple[str, ...]]] = field(default_factory=dict)

    def get(self, key: tuple[str, str, str]) -> tuple[str, ...] | None:
        hit = self.entries.get(key)
        if hit is None or hit[0] <= self.clock.monotonic():
            return None
        return hit[1]

    def put(self, key: tuple[str, str, str], ttl: float, value: tuple[str, ...]) -> None:
        if len(self.entries) >= MAX_CACHE_ENTRIES:
            now = self.clock.monotonic()
            for stale in [k for k, (expiry, _) in self.entries.items() if expiry <= now]:
                del self.entries[stale]
            while len(self.entries) >= MAX_CACHE_ENTRIES:
                del self.entries[next(iter(self.entries))]
        self.entries[key] = (self.clock.monotonic() + ttl, value)


class DNSResolver:
    """The lookups DNS-01 needs, against given servers (``host:port`` or DoH URLs)."""

    def __init__(
        self, *, client: DNSClient | None = None, clock: Clock | None = None, authoritative_port: int = 53
    ) -> None:
        self.client = client or DNSClient()
        #: Port the zone's own servers are asked on: 53 in production; tests point it at a local server.
        self.authoritative_port = authoritative_port
        self._cache = _Cache(clock or SystemClock())

    async def find_zone(self, fqdn: str, nameservers: Sequence[str]) -> str:
        """The apex of the zone holding ``fqdn`` (absolute), asking each server in turn until one knows."""
        fqdn = to_fqdn(fqdn)
        for server in nameservers:
            if (cached := self._cache.get(("SOA", server, fqdn))) is not None:
                return cached[0]
        last: DNSLookupError = DNSLookupError("nameservers is required")
        for server in nameservers:
            try:
                return await self._find_zone_at(fqdn, server, nameservers)
            except DNSLookupError as exc:
                last = exc
        raise last

    async def _find_zone_at(self, fqdn: str, server: str, nameservers: Sequence[str]) -> str:
        for domain in parent_names(fqdn):
            response = await self.client.query(domain, dns.rdatatype.SOA, [server])
            rcode = response.rcode()
            if rcode == dns.rcode.NXDOMAIN:
                continue
            if rcode != dns.rcode.NOERROR:
                servers = _go_list(nameservers)
                raise DNSLookupError(
                    f"When querying the SOA record for the domain '{domain}' using nameservers {servers}, "
                    f"rcode was expected to be 'NOERROR' or 'NXDOMAIN', but got '{dns.rcode.to_text(rcode)}'"
                )
            # A CNAME cannot sit at a zone apex (RFC 2181), so this name is not one.
            if any(rrset.rdtype == dns.rdatatype.CNAME for rrset in response.answer):
                continue
            for rrset in response.answer:
                if rrset.rdtype == dns.rdatatype.SOA:
                    zone = rrset.name.to_text()
                    self._cache.put(("SOA", server, fqdn), rrset.ttl, (zone,))
                    return zone
        raise DNSLookupError(
            f"Could not find the SOA record in the DNS tree for the domain '{fqdn}' "
            f"using nameservers {_go_list(nameservers)}"
        )

    async def authoritative_nameservers(self, fqdn: str, nameservers: Sequence[str]) -> list[str]:
        """Host names of the servers authoritative for the zone holding ``fqdn`` (lower-case, absolute)."""
        fqdn = to_fqdn(fqdn)
        for server in nameservers:
            if cached := self._cache.get(("NS", server, fqdn)):
                return list(cached)
        last: DNSLookupError = DNSLookupError("nameservers is required")
        for server in nameservers:
            try:
                return await self._authoritative_at(fqdn, server)
            except DNSLookupError as exc:
                last = exc
        raise last

    async def _authoritative_at(self, fqdn: str, server: str) -> list[str]:
        try:
            zone = await self.find_zone(fqdn, [server])
        except DNSLookupError as exc:
            raise DNSLookupError(f'Could not determine the zone for "{fqdn}": {exc}') from exc
        response = await self.client.query(zone, dns.rdatatype.NS, [server])
        names: list[str] = []
        ttl: int | None = None
        for rrset in response.answer:
            if rrset.rdtype == dns.rdatatype.NS:
                names.extend(rdata.target.to_text().lower() for rdata in rrset)
                ttl = rrset.ttl if ttl is None else min(ttl, rrset.ttl)
        if not names or ttl is None:
            raise DNSLookupError(f'Could not determine authoritative nameservers for "{fqdn}"')
        self._cache.put(("NS", server, fqdn), ttl, tuple(names))
        return names

    async def follow_cnames(self, fqdn: str, nameservers: Sequence[str]) -> str:
        """The last name of ``fqdn``'s CNAME chain (``fqdn`` itself without one); a loop is an error."""
        fqdn = to_fqdn(fqdn)
        seen: list[str] = []
        for _ in range(MAX_CNAME_CHAIN):
            response = await self.client.query(fqdn, dns.rdatatype.CNAME, nameservers)
            if response.rcode() != dns.rcode.NOERROR:
                return fqdn
            owner = dns.name.from_text(fqdn)
            target = next(
                (
                    rrset[0].target.to_text()
                    for rrset in response.answer
                    if rrset.rdtype == dns.rdatatype.CNAME and rrset.name == owner and len(rrset)
                ),
                None,
            )
            if target is None:
                return fqdn
            if target in seen:
                raise DNSLookupError(f'Found recursive CNAME record to "{target}" when looking up "{fqdn}"')
            seen.append(fqdn)
            fqdn = target
        raise DNSLookupError(f'CNAME chain longer than {MAX_CNAME_CHAIN} records when looking up "{seen[0]}"')

    async def server_addresses(self, hosts: Sequence[str], nameservers: Sequence[str]) -> list[str]:
        """``address:port`` for each authoritative host name, resolved through ``nameservers`` first."""
        servers: list[str] = []
        for host in hosts:
            address = await self._address_of(host, nameservers)
            servers.append(join_host_port(address, self.authoritative_port))
        return servers

    async def _address_of(self, host: str, nameservers: Sequence[str]) -> str:
        for rdtype in (dns.rdatatype.A, dns.rdatatype.AAAA):
            try:
                response = await self.client.query(host, rdtype, nameservers)
            except DNSLookupError:
                break
            for rrset in response.answer:
                if rrset.rdtype == rdtype and len(rrset):
                    return str(rrset[0].address)
        return await resolve_server_address(un_fqdn(host))

    async def check_txt_propagation(
        self, fqdn: str, value: str, nameservers: Sequence[str], *, use_authoritative: bool
    ) -> bool:
        """Whether every server to ask answers ``value`` among the TXT records of ``fqdn`` (CNAMEs followed)."""
        fqdn = await self.follow_cnames(fqdn, nameservers)
        servers = list(nameservers)
        if use_authoritative:
            hosts = await self.authoritative_nameservers(fqdn, nameservers)
            servers = await self.server_addresses(hosts, nameservers)
        for server in servers:
            response = await self.client.query(fqdn, dns.rdatatype.TXT, [server])
            rcode = response.rcode()
            # NXDOMAIN only means the record has not arrived yet.
            if rcode not in (dns.rcode.NOERROR, dns.rcode.NXDOMAIN):
                raise DNSLookupError(f"NS {server} returned {dns.rcode.to_text(rcode)} for {fqdn}")
            if value not in txt_values(response):
                return False
        return True


def _go_list(items: Sequence[str]) -> str:
    """A string slice as Go's ``%v`` prints it: ``[a b]``."""
    return "[" + " ".join(items) + "]"


__all__ = [
    "MAX_CACHE_ENTRIES",
    "MAX_CNAME_CHAIN",
    "DNSResolver",
    "parent_names",
    "to_fqdn",
    "txt_values",
    "un_fqdn",
]
