"""DNS-01 against a real BIND: RFC 2136 updates with TSIG, propagation checks, cleanup, and failures."""

from __future__ import annotations

import base64
import re

import dns.rdatatype
import pytest

from certkeeper.acme.solvers.base import DNSProviderRegistry, DNSUpdateError, SolverContext
from certkeeper.acme.solvers.dns01 import DNS01Solver
from certkeeper.acme.solvers.dnsquery import DNSClient
from certkeeper.acme.solvers.propagation import DNSResolver, txt_values
from certkeeper.acme.solvers.rfc2136 import rfc2136_provider
from certkeeper.api.acme import Challenge
from certkeeper.api.acme_solvers import ACMEChallengeSolverDNS01, ACMEIssuerDNS01ProviderRFC2136, CNAMEStrategy
from certkeeper.api.cmmeta import SecretKeySelector
from tests.harness.bind import TSIG_ALGORITHMS, Bind, TSIGKeySpec
from tests.integration.acme.solvers.conftest import BIG_TXT_COUNT
from tests.unit.acme.solvers.builders import MemorySecrets, dns01_solver, make_challenge

NAMESPACE = "certs"
REGISTRY: DNSProviderRegistry = {"rfc2136": rfc2136_provider}


def context(key: TSIGKeySpec, *, secret: bytes | None = None) -> SolverContext:
    value = key.secret.encode() if secret is None else secret
    return SolverContext(resource_namespace=NAMESPACE, secrets=MemorySecrets({(NAMESPACE, "tsig"): {"secret": value}}))


def rfc2136_config(
    bind: Bind,
    key: TSIGKeySpec,
    *,
    key_name: str | None = None,
    protocol: str | None = None,
    cname_strategy: CNAMEStrategy | None = None,
    nameservers: list[str] | None = None,
) -> ACMEChallengeSolverDNS01:
    return ACMEChallengeSolverDNS01(
        cname_strategy=cname_strategy,
        nameservers=nameservers,
        rfc2136=ACMEIssuerDNS01ProviderRFC2136(
            nameserver=bind.nameserver,
            tsig_key_name=key_name or key.name,
            tsig_algorithm=key.cert_manager_algorithm,
            tsig_secret_secret_ref=SecretKeySelector(name="tsig", key="secret"),
            protocol=protocol,  # type: ignore[arg-type]  # "UDP" | "TCP" from the tests
        ),
    )


def solver_for(bind: Bind, *, authoritative: bool = True) -> DNS01Solver:
    """The DNS-01 solver as the controller builds it, pointed at BIND, without the 60 s settle wait."""
    return DNS01Solver(
        providers=REGISTRY,
        resolver=DNSResolver(client=DNSClient(timeout=2.0), authoritative_port=bind.port),
        nameservers=[bind.nameserver],
        check_authoritative=authoritative,
        propagation_wait=0,
    )


def challenge(domain: str, config: ACMEChallengeSolverDNS01, *, key: str, wildcard: bool | None = None) -> Challenge:
    return make_challenge(domain, key=key, solver=dns01_solver(dns01=config), wildcard=wildcard)


async def txt_at(bind: Bind, name: str) -> list[str]:
    response = await DNSClient(timeout=2.0).query(name, dns.rdatatype.TXT, [bind.nameserver])
    return sorted(txt_values(response))


@pytest.mark.parametrize("algorithm", TSIG_ALGORITHMS)
async def test_present_check_cleanup(bind: Bind, algorithm: str) -> None:
    key = bind.key(algorithm)
    solver = solver_for(bind)
    ch = challenge(f"{algorithm}.example.test", rfc2136_config(bind, key), key=f"value-{algorithm}")
    record = f"_acme-challenge.{algorithm}.example.test."
    ctx = context(key)

    assert not (await solver.check(ch, ctx)).ready
    await solver.present(ch, ctx)
    assert await txt_at(bind, record) == [f"value-{algorithm}"]
    result = await solver.check(ch, ctx)  # at the zone's authoritative server, found through NS + A
    assert result.ready, result.reason

    await solver.cleanup(ch, ctx)
    assert await txt_at(bind, record) == []
    result = await solver.check(ch, ctx)
    assert not result.ready
    assert result.reason == f'DNS record for "{algorithm}.example.test" not yet propagated'


async def test_tcp_and_idempotence(bind: Bind) -> None:
    key = bind.key("hmac-sha256")
    solver = solver_for(bind)
    ch = challenge("tcp.example.test", rfc2136_config(bind, key, protocol="TCP"), key="tcp-value")
    ctx = context(key)
    await solver.present(ch, ctx)
    await solver.present(ch, ctx)
    assert await txt_at(bind, "_acme-challenge.tcp.example.test.") == ["tcp-value"]
    await solver.cleanup(ch, ctx)
    await solver.cleanup(ch, ctx)
    assert await txt_at(bind, "_acme-challenge.tcp.example.test.") == []


async def test_wildcard_maps_to_the_base_name(bind: Bind) -> None:
    """example.test and *.example.test both answer at _acme-challenge.example.test; cleanup removes only its own."""
    key = bind.key("hmac-sha512")
    solver = solver_for(bind)
    ctx = context(key)
    config = rfc2136_config(bind, key)
    plain = challenge("wild.example.test", config, key="plain-value")
    wildcard = challenge("wild.example.test", config, key="wildcard-value", wildcard=True)
    await solver.present(plain, ctx)
    await solver.present(wildcard, ctx)
    assert await txt_at(bind, "_acme-challenge.wild.example.test.") == ["plain-value", "wildcard-value"]
    assert (await solver.check(wildcard, ctx)).ready
    await solver.cleanup(plain, ctx)
    assert await txt_at(bind, "_acme-challenge.wild.example.test.") == ["wildcard-value"]
    assert (await solver.check(wildcard, ctx)).ready
    await solver.cleanup(wildcard, ctx)
    assert await txt_at(bind, "_acme-challenge.wild.example.test.") == []


async def test_wildcard_spelled_out_in_dns_name(bind: Bind) -> None:
    key = bind.key("hmac-sha1")
    solver = solver_for(bind)
    ctx = context(key)
    ch = challenge("*.star.example.test", rfc2136_config(bind, key), key="star-value", wildcard=True)
    await solver.present(ch, ctx)
    assert await txt_at(bind, "_acme-challenge.star.example.test.") == ["star-value"]
    await solver.cleanup(ch, ctx)
    assert await txt_at(bind, "_acme-challenge.star.example.test.") == []


async def test_cname_follow_writes_into_the_delegated_zone(bind: Bind) -> None:
    key = bind.key("hmac-sha256")
    solver = solver_for(bind)
    ctx = context(key)
    ch = challenge("delegated.example.test", rfc2136_config(bind, key, cname_strategy="Follow"), key="delegated-value")
    await solver.present(ch, ctx)
    assert await txt_at(bind, "_acme-challenge.delegated.acme.test.") == ["delegated-value"]
    result = await solver.check(ch, ctx)  # the check follows the CNAME itself
    assert result.ready, result.reason
    await solver.cleanup(ch, ctx)
    assert await txt_at(bind, "_acme-challenge.delegated.acme.test.") == []


async def test_solver_nameservers_are_asked_directly(bind: Bind) -> None:
    key = bind.key("hmac-md5")
    # Authoritative checks on, but a solver's own nameservers turn them off: only bind.nameserver is asked.
    solver = DNS01Solver(
        providers=REGISTRY,
        resolver=DNSResolver(client=DNSClient(timeout=2.0), authoritative_port=1),
        nameservers=["127.0.0.1:1"],
        propagation_wait=0,
    )
    ch = challenge("own-ns.example.test", rfc2136_config(bind, key, nameservers=[bind.nameserver]), key="own-value")
    ctx = context(key)
    await solver.present(ch, ctx)
    result = await solver.check(ch, ctx)
    assert result.ready, result.reason
    await solver.cleanup(ch, ctx)


@pytest.mark.parametrize(
    ("key_name", "secret", "message"),
    [
        (
            None,
            base64.b64encode(b"\x01" * 32),
            "DNS update failed: the server rejected the TSIG signature (BADSIG); "
            "check tsigKeyName, tsigAlgorithm and the TSIG secret",
        ),
        (
            "no-such-key",
            None,
            "DNS update failed: the server rejected the TSIG signature (BADKEY); "
            "check tsigKeyName, tsigAlgorithm and the TSIG secret",
        ),
    ],
    ids=["wrong-secret", "unknown-key"],
)
async def test_bad_tsig_fails_clearly(bind: Bind, key_name: str | None, secret: bytes | None, message: str) -> None:
    key = bind.key("hmac-sha256")
    solver = solver_for(bind)
    ch = challenge("badtsig.example.test", rfc2136_config(bind, key, key_name=key_name), key="never")
    ctx = context(key, secret=secret)
    with pytest.raises(DNSUpdateError) as caught:
        await solver.present(ch, ctx)
    assert str(caught.value) == message
    assert key.secret not in str(caught.value)
    assert await txt_at(bind, "_acme-challenge.badtsig.example.test.") == []


async def test_key_without_grant_is_refused(bind: Bind) -> None:
    solver = solver_for(bind)
    ch = challenge("refused.example.test", rfc2136_config(bind, bind.readonly_key), key="never")
    with pytest.raises(DNSUpdateError, match=re.escape("DNS update failed. Server replied: REFUSED")):
        await solver.present(ch, context(bind.readonly_key))


async def test_unsigned_update_is_refused(bind: Bind) -> None:
    solver = solver_for(bind)
    config = ACMEChallengeSolverDNS01(rfc2136=ACMEIssuerDNS01ProviderRFC2136(nameserver=bind.nameserver))
    ch = challenge("unsigned.example.test", config, key="never")
    with pytest.raises(DNSUpdateError, match=re.escape("DNS update failed. Server replied: REFUSED")):
        await solver.present(ch, SolverContext(resource_namespace=NAMESPACE, secrets=MemorySecrets()))


async def test_unreachable_nameserver_fails(bind: Bind) -> None:
    key = bind.key("hmac-sha256")
    config = ACMEChallengeSolverDNS01(
        rfc2136=ACMEIssuerDNS01ProviderRFC2136(
            nameserver="127.0.0.1:1",
            tsig_key_name=key.name,
            tsig_secret_secret_ref=SecretKeySelector(name="tsig", key="secret"),
        )
    )
    provider = rfc2136_provider(config, context(key))
    provider.timeout = 0.3
    record_solver = solver_for(bind)
    record = await record_solver.record_for(challenge("timeout.example.test", config, key="v"), config)
    with pytest.raises(DNSUpdateError, match="DNS update failed"):
        await provider.present(record)


async def test_truncated_udp_answer_is_retried_over_tcp(bind: Bind) -> None:
    response = await DNSClient(timeout=2.0).query("big.example.test.", dns.rdatatype.TXT, [bind.nameserver])
    assert len(txt_values(response)) == BIG_TXT_COUNT
