"""The ACME client against Debian's pebble 2.4.0: accounts, issuance, problems, nonces, metrics, TLS."""

from __future__ import annotations

from pathlib import Path

import pytest
from cryptography import x509
from prometheus_client import CollectorRegistry, generate_latest

from certkeeper.acme.client import AcmeClient
from certkeeper.acme.errors import (
    AccountDoesNotExist,
    AuthorizationFailed,
    BadNonce,
    Malformed,
    OrderFailed,
    TransportError,
)
from certkeeper.acme.jws import AccountKey
from certkeeper.acme.messages import Identifier, Status
from certkeeper.acme.metrics import AcmeClientMetrics
from certkeeper.acme.transport import AiohttpTransport, TlsOptions
from tests.harness.pebble import Pebble, PebbleConfig, challtestsrv_path
from tests.integration.acme.conftest import ClientFactory
from tests.integration.acme.flows import issue, openssl_verify


async def test_register_find_and_update_an_rsa_account(
    pebble: Pebble, client_for: ClientFactory, rsa_account_key: AccountKey
) -> None:
    client = client_for(pebble, rsa_account_key)
    created = await client.new_account(email="Admin@Example.COM")
    assert created.created
    assert created.account.status is Status.VALID
    assert created.account.contact == ["mailto:admin@example.com"]

    # Registering the same key again finds the account instead of making a new one.
    again = await client.new_account(email="admin@example.com")
    assert (again.created, again.uri) == (False, created.uri)

    # A fresh client (no account URL yet) finds it with onlyReturnExisting.
    fresh = client_for(pebble, rsa_account_key)
    found = await fresh.lookup_account()
    assert (found.created, found.uri) == (False, created.uri)

    updated = await fresh.update_account(email="Ops@Example.com")
    assert updated.account.contact == ["mailto:ops@example.com"]
    assert (await client.get_account()).account.contact == ["mailto:ops@example.com"]


async def test_lookup_of_an_unknown_key_is_account_does_not_exist(
    pebble: Pebble, client_for: ClientFactory, ec_account_key: AccountKey
) -> None:
    client = client_for(pebble, ec_account_key)
    with pytest.raises(AccountDoesNotExist) as caught:
        await client.lookup_account()
    assert caught.value.status == 400
    assert caught.value.type == "urn:ietf:params:acme:error:accountDoesNotExist"
    assert client.account_uri is None


async def test_issue_for_dns_names_and_a_wildcard_and_verify_with_openssl(
    pebble: Pebble, client_for: ClientFactory, ec_account_key: AccountKey, tmp_path: Path
) -> None:
    client = client_for(pebble, ec_account_key)
    await client.new_account(email="issuer@example.com")
    names = ("example.test", "*.example.test", "www.example.test")
    issued = await issue(client, names)

    leaf = issued.certificates[0]
    sans = leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert sorted(sans.get_values_for_type(x509.DNSName)) == sorted(names)
    assert sorted(i.value for i in issued.order.order.identifiers) == sorted(names)
    authorizations = [(await client.get_authorization(u)).authorization for u in issued.order.order.authorizations]
    assert sorted((a.identifier.value, bool(a.wildcard)) for a in authorizations) == [
        ("example.test", False),
        ("example.test", True),
        ("www.example.test", False),
    ]
    # The chain the client downloaded verifies up to pebble's root; so does the management intermediate.
    openssl_verify(tmp_path / "chain", chain_pem=issued.chain.pem, trusted_pem=pebble.root_pem())
    openssl_verify(
        tmp_path / "mgmt", chain_pem=issued.chain.pem, trusted_pem=pebble.root_pem() + pebble.intermediate_pem()
    )


async def test_issue_for_an_ip_address(pebble: Pebble, client_for: ClientFactory, ec_account_key: AccountKey) -> None:
    client = client_for(pebble, ec_account_key)
    await client.new_account()
    issued = await issue(client, ("ip.example.test",), ("127.0.0.1", "::1"))
    sans = issued.certificates[0].extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert sorted(str(a) for a in sans.get_values_for_type(x509.IPAddress)) == ["127.0.0.1", "::1"]


async def test_an_invalid_identifier_is_a_malformed_problem_with_its_detail(
    pebble: Pebble, client_for: ClientFactory, ec_account_key: AccountKey
) -> None:
    client = client_for(pebble, ec_account_key)
    await client.new_account()
    with pytest.raises(Malformed) as caught:
        await client.new_order([Identifier.dns("under_score.example.test")])
    problem = caught.value
    assert problem.type == "urn:ietf:params:acme:error:malformed"
    assert problem.status == 400
    assert "illegal character" in problem.detail
    assert str(problem).startswith("400 urn:ietf:params:acme:error:malformed: ")


async def test_deactivated_authorization_fails_the_wait(
    pebble: Pebble, client_for: ClientFactory, ec_account_key: AccountKey
) -> None:
    client = client_for(pebble, ec_account_key)
    await client.new_account()
    order = await client.new_order([Identifier.dns("deactivate.example.test")])
    url = order.order.authorizations[0]
    deactivated = await client.deactivate_authorization(url)
    assert deactivated.authorization.status is Status.DEACTIVATED
    with pytest.raises(AuthorizationFailed, match=r"acme: authorization error for deactivate\.example\.test") as caught:
        await client.wait_authorization(url)
    assert caught.value.status == "deactivated"
    with pytest.raises(OrderFailed, match=r"acme: order .* status: (invalid|deactivated)"):
        await client.wait_order(order.uri)


async def test_bad_nonce_is_retried_with_fresh_nonces_until_success(
    tmp_path: Path, client_for: ClientFactory, ec_account_key: AccountKey
) -> None:
    registry = CollectorRegistry()
    # Half of all nonces rejected: 20 requests see a badNonce with certainty (1 - 2**-20), and 20 retries
    # per request make giving up as unlikely (2**-21 per request).
    with Pebble(tmp_path, PebbleConfig(nonce_reject_percent=50)) as server:
        client = client_for(server, ec_account_key, observer=AcmeClientMetrics(registry), bad_nonce_retries=20)
        await client.new_account()
        for n in range(19):
            await client.new_order([Identifier.dns(f"nonce{n}.example.test")])
        retries = client.network.bad_nonce_count
    assert retries > 0
    text = generate_latest(registry).decode()
    rejected = sum(
        float(line.rsplit(" ", 1)[1])
        for line in text.splitlines()
        if line.startswith("certmanager_http_acme_client_request_count_total{") and 'status="400"' in line
    )
    assert rejected == retries


async def test_bad_nonce_retries_are_bounded(
    tmp_path: Path, client_for: ClientFactory, ec_account_key: AccountKey
) -> None:
    with Pebble(tmp_path, PebbleConfig(nonce_reject_percent=100)) as server:
        client = client_for(server, ec_account_key, bad_nonce_retries=3)
        with pytest.raises(BadNonce) as caught:
            await client.new_account()
    assert caught.value.status == 400
    assert client.network.bad_nonce_count == 3


async def test_request_metrics_carry_cert_managers_labels(
    pebble: Pebble, client_for: ClientFactory, ec_account_key: AccountKey
) -> None:
    registry = CollectorRegistry()
    client = client_for(pebble, ec_account_key, observer=AcmeClientMetrics(registry))
    await client.new_account()
    await issue(client, ("metrics.example.test",))
    text = generate_latest(registry).decode()
    host = f"127.0.0.1:{pebble.acme_port}"
    for action, method in [
        ("discover", "GET"),
        ("register_account", "POST"),
        ("authorize_order", "POST"),
        ("get_authorization", "POST"),
        ("accept_challenge", "POST"),
        ("wait_authorization", "POST"),
        ("create_order_cert", "POST"),
        ("fetch_cert", "POST"),
    ]:
        labels = f'action="{action}",host="{host}",method="{method}",scheme="https"'
        assert f"certmanager_http_acme_client_request_count_total{{{labels}," in text, action
        assert f"certmanager_http_acme_client_request_duration_seconds_count{{{labels}," in text, action


async def test_tls_trusts_only_the_given_bundle_or_nothing_when_skipping(
    pebble: Pebble, ec_account_key: AccountKey
) -> None:
    # The system roots do not know the harness CA that signed pebble's certificate.
    async with AcmeClient(
        directory_url=pebble.directory_url, key=ec_account_key, transport=AiohttpTransport(trust_env=False)
    ) as untrusting:
        with pytest.raises(TransportError, match="certificate verify failed"):
            await untrusting.directory()
    async with AcmeClient(
        directory_url=pebble.directory_url,
        key=ec_account_key,
        transport=AiohttpTransport(tls=TlsOptions(skip_verify=True), trust_env=False),
    ) as skipping:
        directory = await skipping.directory()
    assert directory.new_account.startswith(f"https://127.0.0.1:{pebble.acme_port}/")


def test_debian_pebble_ships_challtestsrv() -> None:
    # A fact the DNS-01/HTTP-01 end-to-end tests may rely on; this test fails if packaging changes.
    path = challtestsrv_path()
    assert path is not None
    assert path.name == "pebble-challtestsrv"
