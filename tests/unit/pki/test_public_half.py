"""The public half of a stored private key: same parse and errors as load_pem_private_key, memo by digest."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

from certkeeper.pki import public_half
from certkeeper.pki.errors import InvalidPem, PemTooLarge
from certkeeper.pki.keys import (
    KeyEncoding,
    encode_private_key_pem,
    generate_ecdsa_private_key,
    generate_ed25519_private_key,
    load_pem_private_key,
    public_key_der,
)
from certkeeper.pki.pem import PemLimits
from certkeeper.pki.public_half import clear_memo, memo_size, private_key_public_half


@pytest.fixture(autouse=True)
def empty_memo() -> Iterator[None]:
    clear_memo()
    yield
    clear_memo()


@pytest.mark.parametrize(
    ("key", "encoding"),
    [
        (generate_ecdsa_private_key(256), KeyEncoding.PKCS1),
        (generate_ecdsa_private_key(384), KeyEncoding.PKCS8),
        (generate_ed25519_private_key(), KeyEncoding.PKCS8),
    ],
    ids=["p256-sec1", "p384-pkcs8", "ed25519"],
)
def test_the_public_half_is_the_parsed_keys_public_key(
    key: ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey, encoding: KeyEncoding
) -> None:
    pem = encode_private_key_pem(key, encoding)
    half = private_key_public_half(pem)
    assert public_key_der(half) == public_key_der(load_pem_private_key(pem))
    assert public_key_der(half) == public_key_der(key)


def test_an_rsa_key_gives_its_public_half(rsa2048: rsa.RSAPrivateKey) -> None:
    half = private_key_public_half(encode_private_key_pem(rsa2048))
    assert isinstance(half, rsa.RSAPublicKey)
    assert public_key_der(half) == public_key_der(rsa2048)


def test_the_same_bytes_are_parsed_once_and_the_memo_holds_no_private_material() -> None:
    pem = encode_private_key_pem(generate_ecdsa_private_key())
    first = private_key_public_half(pem)
    assert private_key_public_half(pem) is first
    assert memo_size() == 1
    for (digest, _limits), value in public_half._MEMO._entries.items():
        assert len(digest) == 32
        assert digest not in pem
        assert isinstance(value, ec.EllipticCurvePublicKey)


@pytest.mark.parametrize(
    ("data", "error"),
    [
        (b"not a pem", InvalidPem),
        (b"-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n", InvalidPem),
        (b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n", InvalidPem),
    ],
    ids=["no-pem", "bad-der", "wrong-block"],
)
def test_bad_input_is_refused_every_time_and_never_memoised(data: bytes, error: type[Exception]) -> None:
    for _ in range(2):
        with pytest.raises(error):
            private_key_public_half(data)
    assert memo_size() == 0


def test_input_over_the_limit_is_refused_by_the_parser_without_being_memoised() -> None:
    pem = encode_private_key_pem(generate_ecdsa_private_key())
    with pytest.raises(PemTooLarge):
        private_key_public_half(pem, limits=PemLimits(max_private_key_size=len(pem) - 1))
    assert memo_size() == 0


def test_the_limits_are_part_of_the_memo_key() -> None:
    pem = encode_private_key_pem(generate_ecdsa_private_key())
    private_key_public_half(pem)
    with pytest.raises(PemTooLarge):
        private_key_public_half(pem + b"\n" * 10, limits=PemLimits(max_private_key_size=len(pem) + 5))
    private_key_public_half(pem, limits=PemLimits(max_private_key_size=len(pem) + 5))
    assert memo_size() == 2


def test_the_memo_keeps_the_most_recently_used_entries() -> None:
    memo = public_half._DigestMemo(2)
    keys = [generate_ecdsa_private_key().public_key() for _ in range(3)]
    memo.put((b"a", PemLimits()), keys[0])
    memo.put((b"b", PemLimits()), keys[1])
    assert memo.get((b"a", PemLimits())) is keys[0]
    memo.put((b"c", PemLimits()), keys[2])
    assert len(memo) == 2
    assert memo.get((b"b", PemLimits())) is None
    assert memo.get((b"a", PemLimits())) is keys[0]
    assert memo.get((b"c", PemLimits())) is keys[2]
