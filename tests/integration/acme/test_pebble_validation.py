"""pebble really validating: HTTP-01 and DNS-01 answered through pebble-challtestsrv (mock DNS via -dnsserver).

This proves the key authorization and the DNS-01 TXT value the client computes are what a real CA
checks, and that the harness's ``httpPort`` and ``-dnsserver`` wiring works for the solver tests.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from certkeeper.acme.client import AcmeClient
from certkeeper.acme.errors import AuthorizationFailed
from certkeeper.acme.jws import AccountKey
from certkeeper.acme.messages import Authorization, Challenge, ChallengeType, Identifier, Status
from tests.harness.pebble import ChallTestSrv, Pebble, PebbleConfig
from tests.integration.acme.conftest import ClientFactory
from tests.integration.acme.flows import Presenter, issue, openssl_verify


@pytest.fixture(scope="module")
def challtestsrv(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ChallTestSrv]:
    with ChallTestSrv(tmp_path_factory.mktemp("challtestsrv")) as server:
        yield server


@pytest.fixture(scope="module")
def validating_pebble(tmp_path_factory: pytest.TempPathFactory, challtestsrv: ChallTestSrv) -> Iterator[Pebble]:
    config = PebbleConfig(always_valid=False, http_port=challtestsrv.http_port, dns_server=challtestsrv.dns_address)
    with Pebble(tmp_path_factory.mktemp("pebble-validating"), config) as server:
        yield server


def _presenter(challtestsrv: ChallTestSrv) -> Presenter:
    """Publish the key authorization (HTTP-01) or its digest as a TXT record (DNS-01) where pebble looks."""

    def present(client: AcmeClient, authz: Authorization, challenge: Challenge) -> None:
        assert challenge.token is not None
        if challenge.type == ChallengeType.DNS_01:
            challtestsrv.set_txt(f"_acme-challenge.{authz.identifier.value}.", client.dns01_txt_value(challenge.token))
        else:
            challtestsrv.add_http01(challenge.token, client.key_authorization(challenge.token))

    return present


async def test_http01_and_dns01_validated_by_pebble_then_issued(
    validating_pebble: Pebble,
    challtestsrv: ChallTestSrv,
    client_for: ClientFactory,
    ec_account_key: AccountKey,
    tmp_path: Path,
) -> None:
    client = client_for(validating_pebble, ec_account_key)
    await client.new_account()
    names = ("real.example.test", "*.real.example.test")
    issued = await issue(client, names, present=_presenter(challtestsrv))
    for url in issued.order.order.authorizations:
        authz = (await client.get_authorization(url)).authorization
        validated = [c.type for c in authz.challenges if c.status is Status.VALID]
        assert validated == (["dns-01"] if authz.wildcard else ["http-01"])
    openssl_verify(tmp_path, chain_pem=issued.chain.pem, trusted_pem=validating_pebble.root_pem())


async def test_a_wrong_key_authorization_fails_with_the_validation_error(
    validating_pebble: Pebble, challtestsrv: ChallTestSrv, client_for: ClientFactory, ec_account_key: AccountKey
) -> None:
    client = client_for(validating_pebble, ec_account_key)
    await client.new_account()
    order = await client.new_order([Identifier.dns("wrong.example.test")])
    url = order.order.authorizations[0]
    challenge = (await client.get_authorization(url)).authorization.challenge(ChallengeType.HTTP_01)
    assert challenge is not None
    assert challenge.token is not None
    challtestsrv.add_http01(challenge.token, f"{challenge.token}.not-the-thumbprint")
    await client.accept_challenge(challenge.url)
    with pytest.raises(AuthorizationFailed) as caught:
        await client.wait_authorization(url)
    assert caught.value.identifier == "wrong.example.test"
    assert caught.value.errors
    assert caught.value.errors[0].type.startswith("urn:ietf:params:acme:error:")
    assert "not-the-thumbprint" in caught.value.errors[0].detail
