"""External Account Binding and alternate chains against Debian's pebble 2.4.0."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography.x509.oid import NameOID

from certkeeper.acme.chains import topmost_issuer_common_name
from certkeeper.acme.errors import AcmeProblem, ExternalAccountRequired
from certkeeper.acme.jws import AccountKey, ExternalAccountBinding, MacAlgorithm, b64url_encode, decode_eab_key
from certkeeper.pki.pem import load_pem_certificate
from tests.harness.pebble import Pebble, PebbleConfig
from tests.integration.acme.conftest import ClientFactory
from tests.integration.acme.flows import issue, openssl_verify

#: The MAC key as a CA hands it out and as it sits in the issuer's Secret: unpadded base64url.
EAB_KEY_TEXT = b64url_encode(secrets.token_bytes(32))


@pytest.fixture(scope="module")
def eab_pebble(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Pebble]:
    config = PebbleConfig(eab_required=True, eab_keys={"kid-1": EAB_KEY_TEXT, "kid-2": EAB_KEY_TEXT})
    with Pebble(tmp_path_factory.mktemp("pebble-eab"), config) as server:
        yield server


@pytest.fixture(scope="module")
def chains_pebble(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Pebble]:
    config = PebbleConfig(alternate_roots=2, chain_length=2)
    with Pebble(tmp_path_factory.mktemp("pebble-chains"), config) as server:
        yield server


async def test_a_new_account_without_binding_is_refused_when_required(
    eab_pebble: Pebble, client_for: ClientFactory, ec_account_key: AccountKey
) -> None:
    client = client_for(eab_pebble, ec_account_key)
    assert (await client.directory()).external_account_required
    with pytest.raises(ExternalAccountRequired) as caught:
        await client.new_account(email="eab@example.com")
    assert caught.value.type == "urn:ietf:params:acme:error:externalAccountRequired"


@pytest.mark.parametrize("algorithm", list(MacAlgorithm), ids=str)
async def test_a_bound_account_registers_with_each_mac_algorithm(
    eab_pebble: Pebble, client_for: ClientFactory, ec_account_key: AccountKey, algorithm: MacAlgorithm
) -> None:
    binding = ExternalAccountBinding(key_id="kid-1", mac_key=decode_eab_key(EAB_KEY_TEXT), algorithm=algorithm)
    client = client_for(eab_pebble, ec_account_key)
    account = await client.new_account(email="eab@example.com", external_account_binding=binding)
    assert account.created
    issued = await issue(client, ("eab.example.test",))
    assert issued.certificates


@pytest.mark.parametrize(
    ("key_id", "mac_key"),
    [("kid-1", secrets.token_bytes(32)), ("kid-unknown", decode_eab_key(EAB_KEY_TEXT))],
    ids=["wrong-mac-key", "unknown-key-id"],
)
async def test_a_bad_binding_is_a_problem_with_a_detail(
    eab_pebble: Pebble, client_for: ClientFactory, ec_account_key: AccountKey, key_id: str, mac_key: bytes
) -> None:
    client = client_for(eab_pebble, ec_account_key)
    with pytest.raises(AcmeProblem) as caught:
        await client.new_account(external_account_binding=ExternalAccountBinding(key_id=key_id, mac_key=mac_key))
    assert caught.value.is_client_error
    assert caught.value.type.startswith("urn:ietf:params:acme:error:")
    assert caught.value.detail
    assert EAB_KEY_TEXT not in str(caught.value)


def _root_common_name(pebble: Pebble, index: int) -> str:
    names = load_pem_certificate(pebble.root_pem(index)).subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    return str(names[0].value)


async def test_alternate_chains_are_listed_and_the_preferred_one_is_chosen_by_issuer_cn(
    chains_pebble: Pebble, client_for: ClientFactory, ec_account_key: AccountKey, tmp_path: Path
) -> None:
    client = client_for(chains_pebble, ec_account_key)
    await client.new_account()
    issued = await issue(client, ("chains.example.test",))
    certificate_url = issued.chain.url
    assert len(issued.chain.alternates) == 2
    assert await client.list_alternate_chains(certificate_url) == list(issued.chain.alternates)
    assert topmost_issuer_common_name(issued.chain.pem) == _root_common_name(chains_pebble, 0)

    for index in (0, 1, 2):
        root_cn = _root_common_name(chains_pebble, index)
        chosen = await client.fetch_preferred_chain(certificate_url, root_cn)
        assert chosen.matched, root_cn
        assert topmost_issuer_common_name(chosen.pem) == root_cn
        assert chosen.url == (certificate_url if index == 0 else issued.chain.alternates[index - 1])
        openssl_verify(tmp_path / f"root{index}", chain_pem=chosen.pem, trusted_pem=chains_pebble.root_pem(index))

    # No match: cert-manager keeps the default chain.
    fallback = await client.fetch_preferred_chain(certificate_url, "No Such Root")
    assert (fallback.matched, fallback.url, fallback.pem) == (False, certificate_url, issued.chain.pem)
