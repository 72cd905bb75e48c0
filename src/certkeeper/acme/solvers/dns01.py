"""The DNS-01 solver: a TXT record ``_acme-challenge.<domain>`` holding the challenge key.

Follows ``pkg/issuer/acme/dns/dns.go`` and ``util/dns.go``:

* the record is ``_acme-challenge.<domain>.``; with ``cnameStrategy: Follow`` it is the end of that
  name's CNAME chain instead (delegating validation to another zone); a wildcard's record is its
  base name's (the Challenge's ``dnsName`` never carries ``*.``);
* its value is ``Challenge.spec.key``, the base64url SHA-256 of the key authorisation
  (``dns01_txt_value`` computes it from the key authorisation);
* ``present``/``cleanup`` find the zone (SOA walk) and hand the record to the provider that the
  solver's ``dns01`` block names, looked up in a registry the composition root fills;
* ``check`` asks whether the value is visible: at the zone's authoritative servers, or only at the
  solver's own ``nameservers`` when it lists some; once it is, it waits the record's TTL (60 s)
  so that caches between the ACME server and the zone have caught up, as cert-manager does.

Recursive servers default to ``/etc/resolv.conf``'s, else 8.8.8.8 and 8.8.4.4 (port 53).
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Sequence
from pathlib import Path
from typing import Final

from certkeeper.acme.solvers.base import (
    CheckResult,
    DNS01Record,
    DNSProvider,
    DNSProviderRegistry,
    SolverConfigError,
    SolverContext,
    SolverError,
    dns01_provider_name,
)
from certkeeper.acme.solvers.hostport import HostPortError, join_host_port, split_host_port
from certkeeper.acme.solvers.propagation import DNSResolver, to_fqdn
from certkeeper.api.acme import Challenge
from certkeeper.api.acme_solvers import ACMEChallengeSolverDNS01
from certkeeper.runtime.clock import Clock, SystemClock

#: The label prepended to the domain (RFC 8555 §8.4).
CHALLENGE_LABEL: Final = "_acme-challenge"
#: Seconds waited after the record is visible (cert-manager's fixed ``ttl := 60``); also the record TTL.
PROPAGATION_TTL_SECONDS: Final = 60
DEFAULT_RESOLV_CONF: Final = Path("/etc/resolv.conf")
FALLBACK_NAMESERVERS: Final = ("8.8.8.8:53", "8.8.4.4:53")


def base_domain(domain: str) -> str:
    """The domain a wildcard (``*.example.com``) is validated through: ``example.com``."""
    return domain.removeprefix("*.")


def challenge_record_fqdn(domain: str) -> str:
    """``_acme-challenge.<domain>.``, the record that answers a DNS-01 challenge for ``domain``."""
    return f"{CHALLENGE_LABEL}.{to_fqdn(base_domain(domain))}"


def dns01_txt_value(key_authorization: str) -> str:
    """The TXT value for a key authorisation: unpadded base64url of its SHA-256 (RFC 8555 §8.4)."""
    digest = hashlib.sha256(key_authorization.encode()).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def system_nameservers(resolv_conf: Path = DEFAULT_RESOLV_CONF) -> list[str]:
    """The ``nameserver`` entries of resolv.conf as ``host:port`` (port 53 added), else Google's two."""
    try:
        lines = resolv_conf.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return list(FALLBACK_NAMESERVERS)
    servers: list[str] = []
    for line in lines:
        fields = line.split()
        if len(fields) >= 2 and fields[0] == "nameserver":
            try:
                split_host_port(fields[1])
                servers.append(fields[1])
            except HostPortError:
                servers.append(join_host_port(fields[1], 53))
    return servers or list(FALLBACK_NAMESERVERS)


def dns01_config(challenge: Challenge) -> ACMEChallengeSolverDNS01:
    """The Challenge's ``solver.dns01`` block; SolverConfigError when it has none."""
    config = challenge.spec.solver.dns01
    if config is None:
        raise SolverConfigError("no dns01 challenge solver configuration found")
    return config


class DNS01Solver:
    """Solves DNS-01 challenges through the provider each Challenge's solver config names."""

    def __init__(
        self,
        *,
        providers: DNSProviderRegistry,
        resolver: DNSResolver | None = None,
        nameservers: Sequence[str] | None = None,
        check_authoritative: bool = True,
        propagation_wait: float = PROPAGATION_TTL_SECONDS,
        clock: Clock | None = None,
    ) -> None:
        """``nameservers``: the recursive servers (``--dns01-recursive-nameservers``; default resolv.conf).

        ``check_authoritative`` False is ``--dns01-recursive-nameservers-only``. ``propagation_wait`` is
        the pause after the record is visible (60 s as cert-manager; tests set 0).
        """
        self.providers = providers
        self.resolver = resolver or DNSResolver()
        self.nameservers = list(nameservers) if nameservers is not None else system_nameservers()
        self.check_authoritative = check_authoritative
        self.propagation_wait = propagation_wait
        self.clock = clock or SystemClock()

    def nameservers_for(self, config: ACMEChallengeSolverDNS01) -> tuple[list[str], bool]:
        """The servers to ask and whether to check at the authoritative ones (``nameserversForProviderConfig``)."""
        if config.nameservers:
            return list(config.nameservers), False
        return self.nameservers, self.check_authoritative

    def provider_for(self, config: ACMEChallengeSolverDNS01, ctx: SolverContext) -> DNSProvider:
        """Build the provider the ``dns01`` block configures, from the registry."""
        name = dns01_provider_name(config)
        if name is None:
            raise SolverConfigError("no dns provider config specified for challenge")
        factory = self.providers.get(name)
        if factory is None:
            raise SolverConfigError(f'no solver provider configured for "{name}"')
        return factory(config, ctx)

    async def record_for(self, challenge: Challenge, config: ACMEChallengeSolverDNS01) -> DNS01Record:
        """The TXT record to add or remove, with its zone (CNAMEs followed when the strategy says so)."""
        nameservers, _ = self.nameservers_for(config)
        fqdn = challenge_record_fqdn(challenge.spec.dns_name)
        if config.cname_strategy == "Follow":
            fqdn = await self.resolver.follow_cnames(fqdn, nameservers)
        zone = await self.resolver.find_zone(fqdn, nameservers)
        return DNS01Record(dns_name=challenge.spec.dns_name, fqdn=fqdn, zone=zone, value=challenge.spec.key)

    async def present(self, challenge: Challenge, ctx: SolverContext) -> None:
        """Add the TXT record through the configured provider."""
        config = dns01_config(challenge)
        provider = self.provider_for(config, ctx)
        await provider.present(await self.record_for(challenge, config))

    async def cleanup(self, challenge: Challenge, ctx: SolverContext) -> None:
        """Remove the TXT record's value through the configured provider."""
        config = dns01_config(challenge)
        provider = self.provider_for(config, ctx)
        await provider.cleanup(await self.record_for(challenge, config))

    async def check(self, challenge: Challenge, ctx: SolverContext) -> CheckResult:
        """Ready once every server asked has the value, plus the TTL wait; otherwise why not."""
        try:
            config = dns01_config(challenge)
            nameservers, authoritative = self.nameservers_for(config)
            # Not CNAME-followed here: the propagation check follows the chain itself.
            fqdn = challenge_record_fqdn(challenge.spec.dns_name)
            visible = await self.resolver.check_txt_propagation(
                fqdn, challenge.spec.key, nameservers, use_authoritative=authoritative
            )
        except SolverError as exc:
            return CheckResult(ready=False, reason=str(exc))
        if not visible:
            return CheckResult(ready=False, reason=f'DNS record for "{challenge.spec.dns_name}" not yet propagated')
        await self.clock.sleep(self.propagation_wait)
        return CheckResult(ready=True)


__all__ = [
    "CHALLENGE_LABEL",
    "FALLBACK_NAMESERVERS",
    "PROPAGATION_TTL_SECONDS",
    "DNS01Solver",
    "base_domain",
    "challenge_record_fqdn",
    "dns01_config",
    "dns01_txt_value",
    "system_nameservers",
]
