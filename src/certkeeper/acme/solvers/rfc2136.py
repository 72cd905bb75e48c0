"""The RFC 2136 DNS-01 provider: dynamic DNS updates, optionally signed with TSIG.

Follows ``pkg/issuer/acme/dns/rfc2136/{rfc2136.go,provider.go}`` and the nameserver rules of
``internal/apis/certmanager/validation/util/nameserver.go``:

* ``nameserver`` is ``host[:port]``, port 53 when absent, IPv6 in brackets (``[2001:db8::1]:53``);
* ``tsigAlgorithm`` is HMACMD5 (the default), HMACSHA1, HMACSHA256 or HMACSHA512, case-insensitive;
* updates are signed only when both ``tsigKeyName`` and the Secret's value are non-empty; the secret
  is base64 (line breaks ignored, as Go's decoder does);
* ``protocol`` UDP (default) or TCP;
* present adds the TXT record (TTL 60) to the zone; cleanup deletes exactly that value.

A refused update reports the server's rcode ("DNS update failed. Server replied: NOTAUTH"); a
TSIG failure names the TSIG error and what to check. The secret never appears in messages or reprs.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass, field
from typing import Final, Literal

import dns.asyncquery
import dns.exception
import dns.message
import dns.name
import dns.rcode
import dns.rdataclass
import dns.rdatatype
import dns.rdtypes.ANY.TXT
import dns.tsig
import dns.update

from certkeeper.acme.solvers.base import (
    DNS01Record,
    DNSUpdateError,
    SolverConfigError,
    SolverContext,
)
from certkeeper.acme.solvers.dnsquery import DEFAULT_DNS_TIMEOUT, server_endpoint
from certkeeper.api.acme_solvers import ACMEChallengeSolverDNS01
from certkeeper.validation.dns01 import valid_rfc2136_nameserver
from certkeeper.validation.gonet import GoParseError

#: TTL of the records this provider writes (cert-manager: 60).
RECORD_TTL: Final = 60
DEFAULT_PORT: Final = 53
#: cert-manager's algorithm names (upper-cased) -> the TSIG algorithm names on the wire.
TSIG_ALGORITHMS: Final[dict[str, dns.name.Name]] = {
    "HMACMD5": dns.tsig.HMAC_MD5,
    "HMACSHA1": dns.tsig.HMAC_SHA1,
    "HMACSHA256": dns.tsig.HMAC_SHA256,
    "HMACSHA512": dns.tsig.HMAC_SHA512,
}
_TSIG_FAILURES: Final[dict[type[Exception], str]] = {
    dns.tsig.PeerBadSignature: "BADSIG",
    dns.tsig.PeerBadKey: "BADKEY",
    dns.tsig.PeerBadTime: "BADTIME",
    dns.tsig.PeerBadTruncation: "BADTRUNC",
}


def valid_nameserver(nameserver: str) -> str:
    """``host:port`` for an RFC 2136 nameserver setting (``ValidNameserver``); SolverConfigError if invalid."""
    try:
        return valid_rfc2136_nameserver(nameserver)
    except GoParseError as exc:
        raise SolverConfigError(str(exc)) from exc


def tsig_algorithm(name: str | None) -> dns.name.Name:
    """The TSIG algorithm for an ``tsigAlgorithm`` setting: HMACMD5 when unset, names case-insensitive."""
    if not name:
        return dns.tsig.HMAC_MD5
    algorithm = TSIG_ALGORITHMS.get(name.upper())
    if algorithm is None:
        raise SolverConfigError(f"algorithm '{name}' is not supported")
    return algorithm


def decode_tsig_secret(secret: bytes) -> bytes:
    """The raw TSIG key from its base64 text (CR/LF ignored); SolverConfigError without the secret if invalid."""
    try:
        return base64.b64decode(secret.replace(b"\r", b"").replace(b"\n", b""), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise SolverConfigError(f"error decoding the provided TSIG secret: {exc}") from exc


@dataclass(frozen=True, slots=True, kw_only=True)
class TSIGKey:
    """A TSIG key: name, algorithm and the raw secret (kept out of repr)."""

    name: dns.name.Name
    algorithm: dns.name.Name
    secret: bytes = field(repr=False)


class RFC2136Provider:
    """Adds and removes TXT records at one nameserver with RFC 2136 updates."""

    def __init__(
        self,
        *,
        nameserver: str,
        tsig: TSIGKey | None = None,
        protocol: Literal["UDP", "TCP"] = "UDP",
        timeout: float = DEFAULT_DNS_TIMEOUT,
    ) -> None:
        self.nameserver = valid_nameserver(nameserver)
        self.tsig = tsig
        self.protocol = protocol
        self.timeout = timeout

    def __repr__(self) -> str:
        key = None if self.tsig is None else self.tsig.name.to_text()
        return f"RFC2136Provider(nameserver={self.nameserver!r}, tsig_key={key!r}, protocol={self.protocol!r})"

    def update_message(self, record: DNS01Record, *, action: Literal["add", "delete"]) -> dns.update.UpdateMessage:
        """The (signed) update that adds or deletes ``record``'s value in its zone. Pure."""
        if len(record.value.encode()) > 255:
            raise SolverConfigError("TXT value longer than 255 bytes")
        if self.tsig is None:
            update = dns.update.UpdateMessage(record.zone)
        else:
            update = dns.update.UpdateMessage(
                record.zone,
                keyring={self.tsig.name: dns.tsig.Key(self.tsig.name, self.tsig.secret, self.tsig.algorithm)},
                keyname=self.tsig.name,
                keyalgorithm=self.tsig.algorithm,
            )
        rdata = dns.rdtypes.ANY.TXT.TXT(dns.rdataclass.IN, dns.rdatatype.TXT, [record.value.encode()])
        if action == "add":
            update.add(record.fqdn, RECORD_TTL, rdata)
        else:
            update.delete(record.fqdn, rdata)
        return update

    async def present(self, record: DNS01Record) -> None:
        """Add the TXT record (other values of the same name stay)."""
        await self._send(self.update_message(record, action="add"))

    async def cleanup(self, record: DNS01Record) -> None:
        """Delete the TXT record's value; deleting a value that is not there succeeds."""
        await self._send(self.update_message(record, action="delete"))

    async def _send(self, update: dns.update.UpdateMessage) -> None:
        try:
            address, port = await server_endpoint(self.nameserver)
            if self.protocol == "TCP":
                reply = await dns.asyncquery.tcp(update, address, timeout=self.timeout, port=port)
            else:
                reply = await dns.asyncquery.udp(update, address, timeout=self.timeout, port=port)
        except dns.tsig.PeerError as exc:
            code = _TSIG_FAILURES.get(type(exc), "TSIG error")
            raise DNSUpdateError(
                f"DNS update failed: the server rejected the TSIG signature ({code}); "
                "check tsigKeyName, tsigAlgorithm and the TSIG secret"
            ) from exc
        except dns.exception.Timeout as exc:
            raise DNSUpdateError(f"DNS update failed: no answer from {self.nameserver} (i/o timeout)") from exc
        except (OSError, dns.exception.DNSException) as exc:
            raise DNSUpdateError(f"DNS update failed: {exc}") from exc
        rcode = reply.rcode()
        if rcode != dns.rcode.NOERROR:
            raise DNSUpdateError(f"DNS update failed. Server replied: {dns.rcode.to_text(rcode)}")


def _tsig_secret(config_name: str, config_key: str | None, ctx: SolverContext) -> bytes:
    """The TSIG Secret's value (``loadSecretKeySelector``): empty when no Secret is named."""
    if not config_name:
        return b""
    if not config_key:
        raise SolverConfigError("key of data in Secret resource must be specified")
    secret = ctx.secrets.get_secret(ctx.resource_namespace, config_name)
    if secret is None:
        raise SolverConfigError(f'secret "{config_name}" not found')
    value = (secret.data or {}).get(config_key)
    if value is None:
        raise SolverConfigError(f'data entry with key "{config_key}" not found in secret')
    return value


def rfc2136_provider(config: ACMEChallengeSolverDNS01, ctx: SolverContext) -> RFC2136Provider:
    """The ``DNSProviderFactory`` for ``dns01.rfc2136``: reads the TSIG Secret and validates the settings."""
    settings = config.rfc2136
    if settings is None:
        raise SolverConfigError("no rfc2136 provider config specified for challenge")
    selector = settings.tsig_secret_secret_ref
    secret = _tsig_secret(selector.name, selector.key, ctx) if selector is not None else b""
    algorithm = tsig_algorithm(settings.tsig_algorithm)
    tsig = None
    if settings.tsig_key_name and secret:
        tsig = TSIGKey(
            name=dns.name.from_text(settings.tsig_key_name), algorithm=algorithm, secret=decode_tsig_secret(secret)
        )
    return RFC2136Provider(nameserver=settings.nameserver, tsig=tsig, protocol=settings.protocol or "UDP")


__all__ = [
    "DEFAULT_PORT",
    "RECORD_TTL",
    "TSIG_ALGORITHMS",
    "RFC2136Provider",
    "TSIGKey",
    "decode_tsig_secret",
    "rfc2136_provider",
    "tsig_algorithm",
    "valid_nameserver",
]
