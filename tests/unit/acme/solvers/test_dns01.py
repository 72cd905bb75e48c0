"""The DNS-01 solver without a network: record names, TXT values, provider dispatch and the check's outcome."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

import pytest

from certkeeper.acme.solvers.base import (
    DNS01Record,
    DNSLookupError,
    DNSProvider,
    DNSProviderRegistry,
    SolverConfigError,
    SolverContext,
)
from certkeeper.acme.solvers.dns01 import (
    FALLBACK_NAMESERVERS,
    DNS01Solver,
    challenge_record_fqdn,
    dns01_txt_value,
    system_nameservers,
)
from certkeeper.acme.solvers.propagation import DNSResolver
from certkeeper.api.acme_solvers import (
    ACMEChallengeSolverDNS01,
    ACMEIssuerDNS01ProviderCloudflare,
    ACMEIssuerDNS01ProviderRFC2136,
)
from certkeeper.api.cmmeta import SecretKeySelector
from tests.unit.acme.solvers.builders import MemorySecrets, dns01_solver, http01_solver, make_challenge

CTX = SolverContext(resource_namespace="certs", secrets=MemorySecrets())
RFC2136 = ACMEChallengeSolverDNS01(rfc2136=ACMEIssuerDNS01ProviderRFC2136(nameserver="192.0.2.53"))


@pytest.mark.parametrize(
    ("domain", "fqdn"),
    [
        ("example.com", "_acme-challenge.example.com."),
        ("www.example.com", "_acme-challenge.www.example.com."),
        ("*.example.com", "_acme-challenge.example.com."),
        ("example.com.", "_acme-challenge.example.com."),
    ],
    ids=["apex", "subdomain", "wildcard-uses-base", "already-absolute"],
)
def test_challenge_record_fqdn(domain: str, fqdn: str) -> None:
    assert challenge_record_fqdn(domain) == fqdn


def test_txt_value_is_unpadded_base64url_sha256() -> None:
    # Expected value computed independently: printf %s <keyauth> | openssl dgst -sha256 -binary | base64url.
    key_authorization = "evaGxfADs6pSRb2LAv9IZf17Dt3juxGJ-PCt92wr-oA.nP1qzpXGymHBrUEepNY9HCsQk7K8KhOypzEt62jcerQ"
    assert dns01_txt_value(key_authorization) == "NGwKoXBgCT8JhEa0bK7AwfSqHyu_ZWeugV07fLGIVq0"
    assert len(dns01_txt_value("x")) == 43


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ("nameserver 10.0.0.1\nnameserver 2001:db8::53\n", ["10.0.0.1:53", "[2001:db8::53]:53"]),
        ("# comment\nsearch example.com\noptions ndots:5\nnameserver 127.0.0.53\n", ["127.0.0.53:53"]),
        ("nameserver\n", list(FALLBACK_NAMESERVERS)),
        ("", list(FALLBACK_NAMESERVERS)),
    ],
    ids=["v4-and-v6", "other-lines", "empty-entry", "empty-file"],
)
def test_system_nameservers(tmp_path: Path, content: str, expected: list[str]) -> None:
    resolv = tmp_path / "resolv.conf"
    resolv.write_text(content)
    assert system_nameservers(resolv) == expected


def test_system_nameservers_without_file(tmp_path: Path) -> None:
    assert system_nameservers(tmp_path / "missing") == list(FALLBACK_NAMESERVERS)


class FakeResolver(DNSResolver):
    """Canned lookups: a CNAME map, zones by suffix, and which (fqdn, value) pairs are visible."""

    def __init__(self, *, cnames: dict[str, str] | None = None, visible: bool = True, fail: str | None = None) -> None:
        super().__init__()
        self.cnames = cnames or {}
        self.visible = visible
        self.fail = fail
        self.calls: list[tuple[str, str, tuple[str, ...], bool]] = []

    async def follow_cnames(self, fqdn: str, nameservers: Sequence[str]) -> str:
        while fqdn in self.cnames:
            fqdn = self.cnames[fqdn]
        return fqdn

    async def find_zone(self, fqdn: str, nameservers: Sequence[str]) -> str:
        if self.fail:
            raise DNSLookupError(self.fail)
        return fqdn.split(".", 2)[-1]

    async def check_txt_propagation(
        self, fqdn: str, value: str, nameservers: Sequence[str], *, use_authoritative: bool
    ) -> bool:
        if self.fail:
            raise DNSLookupError(self.fail)
        self.calls.append((fqdn, value, tuple(nameservers), use_authoritative))
        return self.visible


class RecordingProvider:
    def __init__(self) -> None:
        self.presented: list[DNS01Record] = []
        self.cleaned: list[DNS01Record] = []

    async def present(self, record: DNS01Record) -> None:
        self.presented.append(record)

    async def cleanup(self, record: DNS01Record) -> None:
        self.cleaned.append(record)


class NoSleepClock:
    """A Clock whose sleeps return at once and are recorded."""

    def __init__(self) -> None:
        self.slept: list[float] = []

    def now(self) -> datetime:
        return datetime(2025, 1, 1, tzinfo=UTC)

    def monotonic(self) -> float:
        return 0.0

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)


def solver_with(
    provider: RecordingProvider,
    resolver: FakeResolver,
    clock: NoSleepClock | None = None,
    *,
    check_authoritative: bool = True,
) -> DNS01Solver:
    def factory(config: ACMEChallengeSolverDNS01, ctx: SolverContext) -> DNSProvider:
        assert ctx is CTX
        return provider

    registry: DNSProviderRegistry = {"rfc2136": factory}
    return DNS01Solver(
        providers=registry,
        resolver=resolver,
        nameservers=["10.0.0.1:53"],
        clock=clock or NoSleepClock(),
        check_authoritative=check_authoritative,
    )


async def test_present_and_cleanup_pass_the_record_to_the_provider() -> None:
    provider = RecordingProvider()
    solver = solver_with(provider, FakeResolver())
    challenge = make_challenge("www.example.test", key="txt-value", solver=dns01_solver(dns01=RFC2136))
    await solver.present(challenge, CTX)
    await solver.cleanup(challenge, CTX)
    expected = DNS01Record(
        dns_name="www.example.test",
        fqdn="_acme-challenge.www.example.test.",
        zone="example.test.",
        value="txt-value",
    )
    assert provider.presented == [expected]
    assert provider.cleaned == [expected]


async def test_wildcard_challenge_uses_the_base_name() -> None:
    provider = RecordingProvider()
    solver = solver_with(provider, FakeResolver())
    challenge = make_challenge("example.test", wildcard=True, solver=dns01_solver(dns01=RFC2136))
    await solver.present(challenge, CTX)
    assert provider.presented[0].fqdn == "_acme-challenge.example.test."
    assert provider.presented[0].dns_name == "example.test"


@pytest.mark.parametrize(
    ("strategy", "fqdn"),
    [(None, "_acme-challenge.a.test."), ("None", "_acme-challenge.a.test."), ("Follow", "_acme-challenge.b.other.")],
    ids=["unset", "None", "Follow"],
)
async def test_cname_strategy(strategy: str | None, fqdn: str) -> None:
    provider = RecordingProvider()
    resolver = FakeResolver(cnames={"_acme-challenge.a.test.": "x.other.", "x.other.": "_acme-challenge.b.other."})
    solver = solver_with(provider, resolver)
    config = ACMEChallengeSolverDNS01(cname_strategy=strategy, rfc2136=RFC2136.rfc2136)  # type: ignore[arg-type]
    await solver.present(make_challenge("a.test", solver=dns01_solver(dns01=config)), CTX)
    assert provider.presented[0].fqdn == fqdn


@pytest.mark.parametrize(
    ("config", "message"),
    [
        (ACMEChallengeSolverDNS01(), "no dns provider config specified for challenge"),
        (
            ACMEChallengeSolverDNS01(
                cloudflare=ACMEIssuerDNS01ProviderCloudflare(api_token_secret_ref=SecretKeySelector(name="cf"))
            ),
            'no solver provider configured for "cloudflare"',
        ),
    ],
    ids=["no-provider", "unregistered-provider"],
)
async def test_provider_errors(config: ACMEChallengeSolverDNS01, message: str) -> None:
    solver = solver_with(RecordingProvider(), FakeResolver())
    with pytest.raises(SolverConfigError, match=message):
        await solver.present(make_challenge(solver=dns01_solver(dns01=config)), CTX)


async def test_http01_challenge_has_no_dns01_config() -> None:
    solver = solver_with(RecordingProvider(), FakeResolver())
    with pytest.raises(SolverConfigError, match="no dns01 challenge solver configuration found"):
        await solver.cleanup(make_challenge(solver=http01_solver()), CTX)
    result = await solver.check(make_challenge(solver=http01_solver()), CTX)
    assert not result.ready
    assert result.reason == "no dns01 challenge solver configuration found"


async def test_zone_lookup_failure_stops_present() -> None:
    provider = RecordingProvider()
    solver = solver_with(provider, FakeResolver(fail="no SOA"))
    with pytest.raises(DNSLookupError, match="no SOA"):
        await solver.present(make_challenge(solver=dns01_solver(dns01=RFC2136)), CTX)
    assert provider.presented == []


async def test_check_ready_waits_the_ttl_after_propagation() -> None:
    clock = NoSleepClock()
    resolver = FakeResolver(visible=True)
    solver = solver_with(RecordingProvider(), resolver, clock)
    result = await solver.check(make_challenge("a.test", key="v", solver=dns01_solver(dns01=RFC2136)), CTX)
    assert result.ready
    assert clock.slept == [60]
    assert resolver.calls == [("_acme-challenge.a.test.", "v", ("10.0.0.1:53",), True)]


async def test_check_not_propagated() -> None:
    clock = NoSleepClock()
    solver = solver_with(RecordingProvider(), FakeResolver(visible=False), clock)
    result = await solver.check(make_challenge("a.test", solver=dns01_solver(dns01=RFC2136)), CTX)
    assert not result.ready
    assert result.reason == 'DNS record for "a.test" not yet propagated'
    assert clock.slept == []


async def test_check_lookup_error_is_a_reason() -> None:
    solver = solver_with(RecordingProvider(), FakeResolver(fail="NS 10.0.0.1:53 returned SERVFAIL for x."))
    result = await solver.check(make_challenge(solver=dns01_solver(dns01=RFC2136)), CTX)
    assert result == type(result)(ready=False, reason="NS 10.0.0.1:53 returned SERVFAIL for x.")


@pytest.mark.parametrize(
    ("solver_nameservers", "authoritative", "expected"),
    [
        (None, True, (("10.0.0.1:53",), True)),
        (None, False, (("10.0.0.1:53",), False)),
        (
            ["1.1.1.1:53", "https://dns.example/dns-query"],
            True,
            (("1.1.1.1:53", "https://dns.example/dns-query"), False),
        ),
    ],
    ids=["defaults-authoritative", "recursive-only", "solver-nameservers-disable-authoritative"],
)
async def test_check_nameservers(
    solver_nameservers: list[str] | None, authoritative: bool, expected: tuple[tuple[str, ...], bool]
) -> None:
    resolver = FakeResolver()
    solver = solver_with(RecordingProvider(), resolver, check_authoritative=authoritative)
    config = ACMEChallengeSolverDNS01(nameservers=solver_nameservers, rfc2136=RFC2136.rfc2136)
    await solver.check(make_challenge(solver=dns01_solver(dns01=config)), CTX)
    assert resolver.calls[0][2:] == expected
