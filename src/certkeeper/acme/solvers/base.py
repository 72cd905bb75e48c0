"""The challenge-solver plug-in interface, its results and errors, and the DNS-01 provider interface.

A solver proves control of one domain for one Challenge, in three steps (cert-manager's
``Present``/``Check``/``CleanUp`` in ``pkg/controller/acmechallenges/sync.go``)::

    present(challenge, ctx)          make the proof available (idempotent)
    check(challenge, ctx)            -> CheckResult(ready, reason): is it visible from outside yet?
    cleanup(challenge, ctx)          remove it again (idempotent)

``check`` reports "not yet" (including network failures, which clear up by themselves) as
``CheckResult(ready=False, reason=...)``; the controller retries it later and writes the reason
("Waiting for <type> challenge propagation: <reason>"). ``present`` and ``cleanup`` raise.

DNS-01 providers (RFC 2136, Cloudflare, Route53, CloudDNS, AzureDNS, DigitalOcean, ACME-DNS, webhook)
plug in through ``DNSProvider``: add or remove one TXT record for an FQDN in a zone. The DNS-01 solver
finds the provider for a Challenge's ``solver.dns01`` block by the block's wire name in a
``DNSProviderRegistry`` (a plain dict) that the composition root fills; nothing registers itself at
import time.

Exceptions::

    SolverError                     every failure a solver reports
    ├── SolverConfigError           the solver config or a Secret it names cannot be used
    └── DNSError                    a DNS exchange failed
        ├── DNSLookupError          a query failed or gave an unusable answer
        └── DNSUpdateError          a dynamic update (RFC 2136) was refused or failed

Messages never contain secret material (TSIG secrets, API tokens).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Final, Literal, Protocol

from certkeeper.api.acme import Challenge
from certkeeper.api.acme_solvers import ACMEChallengeSolverDNS01
from certkeeper.api.cmmeta import SecretKeySelector
from certkeeper.api.core import Secret


class SolverError(Exception):
    """A solver could not do what was asked; the message is fit for a Challenge's status.reason."""


class SolverConfigError(SolverError):
    """The solver configuration, or a Secret it refers to, cannot be used."""


class DNSError(SolverError):
    """A DNS exchange failed."""


class DNSLookupError(DNSError):
    """A DNS query failed (timeout, SERVFAIL, no SOA found, CNAME loop...)."""


class DNSUpdateError(DNSError):
    """A dynamic update was refused or failed (RFC 2136 rcode, bad TSIG signature, timeout)."""


class SecretReader(Protocol):
    """Read access to Secrets (the same shape as the issuers' reader, so one adapter serves both)."""

    def get_secret(self, namespace: str, name: str) -> Secret | None: ...


@dataclass(frozen=True, slots=True, kw_only=True)
class SolverContext:
    """What a solver may use besides the Challenge itself."""

    #: Namespace of the Secrets the solver config names: the Issuer's, or the cluster resource namespace.
    resource_namespace: str
    secrets: SecretReader
    #: Whether providers may use ambient credentials (cert-manager's ``CanUseAmbientCredentialsFromRef``).
    can_use_ambient_credentials: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class CheckResult:
    """The outcome of a self check: ready to accept the challenge, or why not yet."""

    ready: bool
    reason: str = ""


class Solver(Protocol):
    """One challenge mechanism (HTTP-01 or DNS-01)."""

    async def present(self, challenge: Challenge, ctx: SolverContext) -> None:
        """Make the proof for ``challenge`` available; idempotent. Raises SolverError."""
        ...

    async def check(self, challenge: Challenge, ctx: SolverContext) -> CheckResult:
        """Whether the proof is visible the way the ACME server will look for it."""
        ...

    async def cleanup(self, challenge: Challenge, ctx: SolverContext) -> None:
        """Remove the proof; idempotent (removing what is not there succeeds). Raises SolverError."""
        ...


# --- DNS-01 providers ------------------------------------------------------------------------------

#: The wire names of the provider fields of ``solvers[].dns01``, in the order cert-manager checks them.
DNS01ProviderName = Literal[
    "akamai", "cloudDNS", "cloudflare", "route53", "azureDNS", "digitalocean", "acmeDNS", "rfc2136", "webhook"
]
DNS01_PROVIDER_NAMES: Final[tuple[DNS01ProviderName, ...]] = (
    "akamai",
    "cloudDNS",
    "cloudflare",
    "route53",
    "azureDNS",
    "digitalocean",
    "acmeDNS",
    "rfc2136",
    "webhook",
)


@dataclass(frozen=True, slots=True, kw_only=True)
class DNS01Record:
    """The TXT record that answers one DNS-01 challenge (cert-manager's webhook ``ChallengeRequest``)."""

    #: The domain being validated (``Challenge.spec.dnsName``, never with ``*.``).
    dns_name: str
    #: Absolute name of the record, ``_acme-challenge.<domain>.`` or the end of its CNAME chain.
    fqdn: str
    #: Absolute name of the zone that holds ``fqdn`` (found by walking up to the SOA).
    zone: str
    #: The TXT value: ``Challenge.spec.key``.
    value: str


class DNSProvider(Protocol):
    """Adds and removes the challenge TXT record at one DNS service."""

    async def present(self, record: DNS01Record) -> None:
        """Add ``record`` (keeping other TXT values of the same name). Raises SolverError."""
        ...

    async def cleanup(self, record: DNS01Record) -> None:
        """Remove ``record``'s value; succeeds when it is already gone. Raises SolverError."""
        ...


#: Builds the provider for one Challenge from its ``dns01`` block (reading Secrets through ``ctx``).
DNSProviderFactory = Callable[[ACMEChallengeSolverDNS01, SolverContext], DNSProvider]
#: Provider factories by the wire name of their ``dns01`` field; filled by the composition root.
DNSProviderRegistry = dict[DNS01ProviderName, DNSProviderFactory]


def dns01_provider_name(config: ACMEChallengeSolverDNS01) -> DNS01ProviderName | None:
    """Which provider a ``dns01`` block configures (the first set, in cert-manager's order), or None."""
    values: dict[DNS01ProviderName, object] = {
        "akamai": config.akamai,
        "cloudDNS": config.cloud_dns,
        "cloudflare": config.cloudflare,
        "route53": config.route53,
        "azureDNS": config.azure_dns,
        "digitalocean": config.digitalocean,
        "acmeDNS": config.acme_dns,
        "rfc2136": config.rfc2136,
        "webhook": config.webhook,
    }
    return next((name for name in DNS01_PROVIDER_NAMES if values[name] is not None), None)


def read_secret_key(secrets: SecretReader, namespace: str, selector: SecretKeySelector) -> bytes:
    """The bytes under ``selector.key`` of a Secret, with cert-manager's ``loadSecretData`` messages.

    Raises SolverConfigError naming the Secret and key (never their content).
    """
    where = f"{namespace}/{selector.name}"
    secret = secrets.get_secret(namespace, selector.name)
    if secret is None:
        raise SolverConfigError(f'failed to load secret "{where}": secret "{selector.name}" not found')
    key = selector.key or ""
    data = (secret.data or {}).get(key)
    if data is None:
        raise SolverConfigError(f'no key "{key}" in secret "{where}"')
    return data


__all__ = [
    "DNS01_PROVIDER_NAMES",
    "CheckResult",
    "DNS01ProviderName",
    "DNS01Record",
    "DNSError",
    "DNSLookupError",
    "DNSProvider",
    "DNSProviderFactory",
    "DNSProviderRegistry",
    "DNSUpdateError",
    "SecretReader",
    "Solver",
    "SolverConfigError",
    "SolverContext",
    "SolverError",
    "dns01_provider_name",
    "read_secret_key",
]
