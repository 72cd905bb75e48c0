"""AcmeClient flows against the in-process fake server (no network, no real sleeps)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from certkeeper.acme.ari import certificate_id
from certkeeper.acme.chains import topmost_issuer_common_name
from certkeeper.acme.client import AcmeClient, PollSettings, email_contact
from certkeeper.acme.errors import (
    AccountDoesNotExist,
    AcmeError,
    AlreadyReplaced,
    AuthorizationFailed,
    ExternalAccountRequired,
    InvalidResponse,
    NotSupported,
    OrderFailed,
    PollTimeout,
    RateLimited,
    Unauthorized,
)
from certkeeper.acme.jws import AccountKey, ExternalAccountBinding, MacAlgorithm
from certkeeper.acme.messages import ChallengeType, Identifier, Status
from certkeeper.acme.resources import OrderResource
from certkeeper.acme.transport import Action, HttpResponse
from certkeeper.pki.csr import build_csr
from certkeeper.pki.keys import KeyAlgorithm, KeySpec, generate_private_key
from certkeeper.pki.template import CertificateTemplate
from tests.unit.acme.fakes import BASE, FakeAcmeServer, StepClock, fresh_ec_key


@pytest.fixture(scope="module")
def rsa_key() -> AccountKey:
    return AccountKey(rsa.generate_private_key(public_exponent=65537, key_size=2048))


def make_client(server: FakeAcmeServer, key: AccountKey | None = None, clock: StepClock | None = None) -> AcmeClient:
    return AcmeClient(
        directory_url=f"{BASE}/dir",
        key=key or AccountKey(fresh_ec_key()),
        transport=server,
        clock=clock or StepClock(),
        poll=PollSettings(interval=timedelta(seconds=2), max_interval=timedelta(seconds=30)),
    )


def csr_der(*names: str) -> bytes:
    template = CertificateTemplate(dns_names=names, key=KeySpec(algorithm=KeyAlgorithm.ECDSA))
    return build_csr(template, generate_private_key(template.key)).public_bytes(serialization.Encoding.DER)


async def ready_order(client: AcmeClient, *names: str) -> OrderResource:
    order = await client.new_order([Identifier.dns(n) for n in names])
    for url in order.order.authorizations:
        authz = (await client.get_authorization(url)).authorization
        challenge = authz.challenge(ChallengeType.DNS_01 if authz.wildcard else ChallengeType.HTTP_01)
        assert challenge is not None
        await client.accept_challenge(challenge.url)
        await client.wait_authorization(url)
    return await client.wait_order(order.uri)


async def test_directory_is_fetched_once() -> None:
    server = FakeAcmeServer()
    client = make_client(server)
    first = await client.directory()
    assert await client.directory() is first
    assert [r.action for r in server.requests] == [Action.DISCOVER]


@pytest.mark.parametrize("algorithm", ["rsa", "ec"])
async def test_new_account_then_same_key_finds_it(algorithm: str, rsa_key: AccountKey) -> None:
    server = FakeAcmeServer()
    key = rsa_key if algorithm == "rsa" else AccountKey(fresh_ec_key())
    client = make_client(server, key)
    created = await client.new_account(email="Someone@Example.COM")
    assert created.created
    assert created.account.contact == ["mailto:someone@example.com"]
    assert client.account_uri == created.uri
    again = await make_client(server, key).new_account(email="someone@example.com")
    assert (again.created, again.uri) == (False, created.uri)


async def test_lookup_uses_only_return_existing() -> None:
    server = FakeAcmeServer()
    key = AccountKey(fresh_ec_key())
    with pytest.raises(AccountDoesNotExist):
        await make_client(server, key).lookup_account()
    assert not server.accounts
    created = await make_client(server, key).new_account()
    found = await make_client(server, key).lookup_account()
    assert (found.uri, found.created) == (created.uri, False)
    assert server.requests[-1].action is Action.GET_REGISTRATION


async def test_update_and_get_account_use_the_kid() -> None:
    server = FakeAcmeServer()
    client = make_client(server)
    await client.new_account(email="a@example.com")
    assert (await client.update_account(email="B@Example.com")).account.contact == ["mailto:b@example.com"]
    assert (await client.update_account(email=None)).account.contact == []
    assert (await client.get_account()).account.status is Status.VALID


async def test_requests_before_registration_say_what_is_missing() -> None:
    client = make_client(FakeAcmeServer())
    with pytest.raises(AcmeError, match="no account URL yet"):
        await client.new_order([Identifier.dns("example.com")])


async def test_email_contact_lowercases() -> None:
    assert email_contact("X@Y.Z") == ["mailto:x@y.z"]
    assert email_contact("") == []
    assert email_contact(None) == []


@pytest.mark.parametrize("algorithm", list(MacAlgorithm), ids=str)
async def test_external_account_binding(algorithm: MacAlgorithm) -> None:
    server = FakeAcmeServer(eab_required=True, eab_keys={"kid-1": b"k" * 32})
    with pytest.raises(ExternalAccountRequired):
        await make_client(server).new_account()
    bad = ExternalAccountBinding(key_id="kid-1", mac_key=b"x" * 32, algorithm=algorithm)
    with pytest.raises(Unauthorized):
        await make_client(server).new_account(external_account_binding=bad)
    good = ExternalAccountBinding(key_id="kid-1", mac_key=b"k" * 32, algorithm=algorithm)
    assert (await make_client(server).new_account(external_account_binding=good)).created


async def test_whole_issuance_with_polling_that_honours_retry_after() -> None:
    server = FakeAcmeServer(authz_pending_polls=2, order_processing_polls=2, retry_after="7")
    clock = StepClock()
    client = make_client(server, clock=clock)
    await client.new_account()
    ready = await ready_order(client, "example.com", "*.example.com")
    assert ready.order.status is Status.READY
    valid = await client.finalize_order(ready, csr_der("example.com", "*.example.com"))
    assert valid.order.status is Status.VALID
    # Two authorizations pending twice each with Retry-After: 7; then the finalize answer (processing, no
    # Retry-After: the default interval) and two processing polls with Retry-After: 7.
    assert clock.sleeps == [7.0] * 4 + [2.0, 7.0, 7.0]
    chain = await client.fetch_certificate(valid.order.certificate or "")
    leaf = x509.load_pem_x509_certificate(chain.pem)
    sans = leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert sorted(sans.get_values_for_type(x509.DNSName)) == ["*.example.com", "example.com"]


async def test_polls_use_the_default_interval_without_retry_after_and_cap_long_ones() -> None:
    server = FakeAcmeServer(authz_pending_polls=1)
    clock = StepClock()
    client = make_client(server, clock=clock)
    await client.new_account()
    order = await client.new_order([Identifier.dns("a.example.com"), Identifier.dns("b.example.com")])
    for url in order.order.authorizations:
        authz = (await client.get_authorization(url)).authorization
        await client.accept_challenge(authz.challenges[0].url)
    server.retry_after = None
    await client.wait_authorization(order.order.authorizations[0])
    server.retry_after = "86400"
    await client.wait_authorization(order.order.authorizations[1])
    assert clock.sleeps == [2.0, 30.0]


async def test_poll_stops_at_the_deadline() -> None:
    server = FakeAcmeServer(authz_pending_polls=1000)
    clock = StepClock()
    client = make_client(server, clock=clock)
    await client.new_account()
    order = await client.new_order([Identifier.dns("slow.example.com")])
    url = order.order.authorizations[0]
    await client.accept_challenge((await client.get_authorization(url)).authorization.challenges[0].url)
    with pytest.raises(PollTimeout) as caught:
        await client.wait_authorization(url, timeout=timedelta(seconds=9))
    assert caught.value.last_status == "pending"
    assert sum(clock.sleeps) == pytest.approx(9.0)


async def test_invalid_authorization_and_order_raise_with_the_servers_errors() -> None:
    server = FakeAcmeServer(authz_fails=True)
    client = make_client(server)
    await client.new_account()
    order = await client.new_order([Identifier.dns("bad.example.com")])
    url = order.order.authorizations[0]
    challenge = (await client.get_authorization(url)).authorization.challenge(ChallengeType.HTTP_01)
    assert challenge is not None
    await client.accept_challenge(challenge.url)
    with pytest.raises(AuthorizationFailed) as caught:
        await client.wait_authorization(url)
    assert str(caught.value) == (
        "acme: authorization error for bad.example.com: 403 urn:ietf:params:acme:error:incorrectResponse: wrong key"
    )
    with pytest.raises(OrderFailed) as failed:
        await client.wait_order(order.uri)
    assert str(failed.value) == (
        f"acme: order {order.uri} status: invalid; problem: "
        "403 urn:ietf:params:acme:error:unauthorized: an authorization failed"
    )


async def test_deactivate_authorization() -> None:
    server = FakeAcmeServer()
    client = make_client(server)
    await client.new_account()
    order = await client.new_order([Identifier.dns("gone.example.com")])
    result = await client.deactivate_authorization(order.order.authorizations[0])
    assert result.authorization.status is Status.DEACTIVATED
    assert server.requests[-1].action is Action.DEACTIVATE_AUTHORIZATION


async def test_unknown_challenge_types_are_kept() -> None:
    server = FakeAcmeServer()
    client = make_client(server)
    await client.new_account()
    order = await client.new_order([Identifier.dns("x.example.com")])
    authz = (await client.get_authorization(order.order.authorizations[0])).authorization
    assert [c.type for c in authz.challenges] == ["http-01", "dns-01", "tls-alpn-01", "future-01"]
    assert [c.known_type for c in authz.challenges][-1] is None


async def test_new_order_options_reach_the_server() -> None:
    from datetime import UTC, datetime

    server = FakeAcmeServer(profiles={"classic": "the usual", "short": "six days"})
    client = make_client(server)
    await client.new_account()
    not_after = datetime(2030, 3, 1, tzinfo=UTC)
    order = await client.new_order(
        [Identifier.dns("p.example.com"), Identifier.ip("2001:DB8::1")], not_after=not_after, profile="short"
    )
    stored = server.orders[order.uri]
    assert stored["profile"] == "short"
    assert stored["notAfter"] == "2030-03-01T00:00:00Z"
    assert stored["identifiers"][1] == {"type": "ip", "value": "2001:db8::1"}
    with pytest.raises(NotSupported, match="does not advertise a profile with name long"):
        await client.new_order([Identifier.dns("p.example.com")], profile="long")
    with pytest.raises(ValueError, match="at least one identifier"):
        await client.new_order([])


async def test_profiles_need_directory_support() -> None:
    client = make_client(FakeAcmeServer(profiles=None))
    await client.new_account()
    with pytest.raises(NotSupported, match="does not support profiles"):
        await client.new_order([Identifier.dns("p.example.com")], profile="short")


async def test_preferred_chain_default_first_then_alternates() -> None:
    server = FakeAcmeServer()
    client = make_client(server)
    await client.new_account()
    valid = await client.finalize_order(await ready_order(client, "c.example.com"), csr_der("c.example.com"))
    url = valid.order.certificate or ""
    default = await client.fetch_certificate(url)
    assert default.alternates == (f"{url}/alt/1",)
    assert await client.list_alternate_chains(url) == [f"{url}/alt/1"]
    assert topmost_issuer_common_name(default.pem) == "Fake Root A"

    chosen_a = await client.fetch_preferred_chain(url, "Fake Root A")
    assert (chosen_a.matched, chosen_a.url) == (True, url)
    chosen_b = await client.fetch_preferred_chain(url, "Fake Root B")
    assert (chosen_b.matched, chosen_b.url) == (True, f"{url}/alt/1")
    assert topmost_issuer_common_name(chosen_b.pem) == "Fake Root B"
    missing = await client.fetch_preferred_chain(url, "Fake Root C")
    assert (missing.matched, missing.pem) == (False, default.pem)
    unset = await client.fetch_preferred_chain(url, "")
    assert (unset.matched, unset.pem) == (False, default.pem)


async def test_a_certificate_that_is_not_pem_is_an_invalid_response() -> None:
    server = FakeAcmeServer()
    client = make_client(server)
    await client.new_account()
    server.inject("POST", f"{BASE}/cert/1", HttpResponse(status=200, body=b"garbage"))
    with pytest.raises(InvalidResponse, match="not a PEM chain"):
        await client.fetch_certificate(f"{BASE}/cert/1")


async def test_renewal_info_and_replaces() -> None:
    server = FakeAcmeServer()
    client = make_client(server)
    await client.new_account()
    valid = await client.finalize_order(await ready_order(client, "r.example.com"), csr_der("r.example.com"))
    leaf = x509.load_pem_x509_certificate((await client.fetch_certificate(valid.order.certificate or "")).pem)
    answer = await client.renewal_info(leaf)
    assert answer.cert_id == certificate_id(leaf)
    assert server.requests[-1].url == f"{BASE}/renewal-info/{answer.cert_id}"
    assert server.requests[-1].method == "GET"
    assert answer.retry_after == timedelta(hours=6)
    assert answer.renewal_info.explanation_url == f"{BASE}/why"

    replacement = await client.new_order([Identifier.dns("r.example.com")], replaces=answer.cert_id)
    assert replacement.order.replaces == answer.cert_id
    with pytest.raises(AlreadyReplaced):
        await client.new_order([Identifier.dns("r.example.com")], replaces=answer.cert_id)


async def test_renewal_info_needs_directory_support_and_an_aki() -> None:
    client = make_client(FakeAcmeServer(renewal_info=False))
    with pytest.raises(NotSupported, match="does not support ARI"):
        await client.renewal_info("a.b")
    supported = make_client(FakeAcmeServer())
    key = fresh_ec_key()
    name = x509.Name([])
    from datetime import UTC, datetime

    from cryptography.hazmat.primitives import hashes

    no_aki = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(datetime(2030, 1, 1, tzinfo=UTC))
        .not_valid_after(datetime(2030, 2, 1, tzinfo=UTC))
        .sign(key, hashes.SHA256())
    )
    with pytest.raises(AcmeError, match="missing AuthorityKeyId"):
        await supported.renewal_info(no_aki)


async def test_rate_limits_surface_with_retry_after() -> None:
    server = FakeAcmeServer()
    client = make_client(server)
    await client.new_account()
    server.inject(
        "POST",
        f"{BASE}/new-order",
        server.problem(429, "rateLimited", "too many new orders recently", **{"Retry-After": "120"}),
    )
    with pytest.raises(RateLimited) as caught:
        await client.new_order([Identifier.dns("busy.example.com")])
    assert caught.value.retry_after == timedelta(minutes=2)
    assert caught.value.status == 429


async def test_responses_without_location_are_invalid() -> None:
    server = FakeAcmeServer()
    client = make_client(server)
    await client.new_account()
    body = b'{"status":"pending","identifiers":[],"authorizations":[],"finalize":"x"}'
    server.inject("POST", f"{BASE}/new-order", HttpResponse(status=201, body=body))
    with pytest.raises(InvalidResponse, match="without a Location header"):
        await client.new_order([Identifier.dns("x.example.com")])
    server.inject("POST", f"{BASE}/new-order", HttpResponse(status=201, headers=(("Location", "u"),), body=b"[]"))
    with pytest.raises(InvalidResponse, match="not a valid Order"):
        await client.new_order([Identifier.dns("x.example.com")])


async def test_key_authorization_helpers_use_the_account_key() -> None:
    client = make_client(FakeAcmeServer())
    thumbprint = client.key.thumbprint()
    assert client.key_authorization("tok") == f"tok.{thumbprint}"
    assert len(client.dns01_txt_value("tok")) == 43


async def test_context_manager_closes_the_transport() -> None:
    server = FakeAcmeServer()
    async with make_client(server) as client:
        await client.directory()
    assert server.closed
