"""What Debian's pebble 2.4.0 lacks, against pebble/v2 v2.10.3: ARI (RFC 9773), ``replaces``, profiles."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from cryptography.hazmat.primitives import serialization

from certkeeper.acme.ari import certificate_id
from certkeeper.acme.errors import AlreadyReplaced, InvalidResponse, Malformed, NotSupported
from certkeeper.acme.jws import AccountKey
from certkeeper.acme.messages import Identifier
from tests.harness.pebble import Pebble, PebbleConfig
from tests.integration.acme.conftest import ClientFactory
from tests.integration.acme.flows import issue

SHORT_LIVED_SECONDS = 6 * 24 * 3600


@pytest.fixture(scope="module")
def current_pebble(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Pebble]:
    config = PebbleConfig(current=True, profiles={"default": 90 * 24 * 3600, "shortlived": SHORT_LIVED_SECONDS})
    with Pebble(tmp_path_factory.mktemp("pebble-current"), config) as server:
        yield server


async def test_directory_advertises_renewal_info_and_profiles(
    current_pebble: Pebble, client_for: ClientFactory, ec_account_key: AccountKey
) -> None:
    directory = await client_for(current_pebble, ec_account_key).directory()
    assert directory.renewal_info
    assert sorted(directory.profiles) == ["default", "shortlived"]


async def test_renewal_info_window_and_retry_after(
    current_pebble: Pebble, client_for: ClientFactory, ec_account_key: AccountKey
) -> None:
    client = client_for(current_pebble, ec_account_key)
    await client.new_account()
    leaf = (await issue(client, ("ari.example.test",))).certificates[0]

    answer = await client.renewal_info(leaf)
    window = answer.renewal_info.suggested_window
    assert answer.cert_id == certificate_id(leaf)
    assert leaf.not_valid_before_utc <= window.start < window.end <= leaf.not_valid_after_utc
    assert answer.retry_after == timedelta(hours=6)
    # The same answer by CertID string.
    assert (await client.renewal_info(answer.cert_id)).renewal_info == answer.renewal_info


async def test_renewal_info_explanation_and_a_broken_window(
    current_pebble: Pebble, client_for: ClientFactory, ec_account_key: AccountKey
) -> None:
    client = client_for(current_pebble, ec_account_key)
    await client.new_account()
    leaf = (await issue(client, ("ari-set.example.test",))).certificates[0]
    pem = leaf.public_bytes(serialization.Encoding.PEM)
    start = datetime(2030, 1, 1, tzinfo=UTC)
    window = {"start": start.isoformat(), "end": (start + timedelta(days=1)).isoformat()}
    current_pebble.set_renewal_info(
        pem, json.dumps({"suggestedWindow": window, "explanationURL": "https://ca.example/why"})
    )
    answer = await client.renewal_info(leaf)
    assert answer.renewal_info.suggested_window.start == start
    assert answer.renewal_info.explanation_url == "https://ca.example/why"

    current_pebble.set_renewal_info(
        pem, json.dumps({"suggestedWindow": {"start": window["end"], "end": window["start"]}})
    )
    with pytest.raises(InvalidResponse, match="start must be before end"):
        await client.renewal_info(leaf)
    current_pebble.set_renewal_info(pem, "not json")
    with pytest.raises(InvalidResponse):
        await client.renewal_info(leaf)


async def test_a_replacement_order_names_the_old_certificate_once(
    current_pebble: Pebble, client_for: ClientFactory, ec_account_key: AccountKey
) -> None:
    client = client_for(current_pebble, ec_account_key)
    await client.new_account()
    old = (await issue(client, ("replace.example.test",))).certificates[0]
    cert_id = certificate_id(old)

    renewed = await issue(client, ("replace.example.test",), replaces=cert_id)
    assert renewed.order.order.replaces == cert_id
    # Once the replacement was issued, a second replacement of the same certificate is refused.
    with pytest.raises(AlreadyReplaced) as caught:
        await client.new_order([Identifier.dns("replace.example.test")], replaces=cert_id)
    assert caught.value.status == 409
    assert "already has a replacement order" in caught.value.detail


async def test_a_malformed_replaces_is_a_malformed_problem(
    current_pebble: Pebble, client_for: ClientFactory, ec_account_key: AccountKey
) -> None:
    client = client_for(current_pebble, ec_account_key)
    await client.new_account()
    with pytest.raises(Malformed, match="ARI CertID"):
        await client.new_order([Identifier.dns("bad-replaces.example.test")], replaces="not-a-cert-id")


async def test_an_order_with_a_profile_gets_that_profiles_validity(
    current_pebble: Pebble, client_for: ClientFactory, ec_account_key: AccountKey
) -> None:
    client = client_for(current_pebble, ec_account_key)
    await client.new_account()
    issued = await issue(client, ("profile.example.test",), profile="shortlived")
    assert issued.order.order.profile == "shortlived"
    leaf = issued.certificates[0]
    lifetime = leaf.not_valid_after_utc - leaf.not_valid_before_utc
    assert abs(lifetime.total_seconds() - SHORT_LIVED_SECONDS) <= 2

    with pytest.raises(NotSupported, match="does not advertise a profile with name weekly"):
        await client.new_order([Identifier.dns("profile.example.test")], profile="weekly")


async def test_profiles_are_refused_where_the_directory_has_none(
    pebble: Pebble, client_for: ClientFactory, ec_account_key: AccountKey
) -> None:
    client = client_for(pebble, ec_account_key)
    await client.new_account()
    with pytest.raises(NotSupported, match="does not support profiles"):
        await client.new_order([Identifier.dns("profile.example.test")], profile="shortlived")
    with pytest.raises(NotSupported, match="does not support ARI"):
        await client.renewal_info("AAAA.AAAA")
