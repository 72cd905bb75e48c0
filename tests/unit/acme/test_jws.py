"""JWS signing, JWK thumbprints, key authorizations and External Account Binding."""

from __future__ import annotations

import hashlib
import hmac
import json

import pytest
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from hypothesis import given
from hypothesis import strategies as st

from certkeeper.acme.jws import (
    AccountKey,
    ExternalAccountBinding,
    MacAlgorithm,
    b64url_decode,
    b64url_encode,
    decode_eab_key,
    dns01_txt_value,
    jwk_thumbprint,
    key_authorization,
    sign_jws,
)
from tests.unit.acme.fakes import _verify

#: RFC 7638 §3.1: the example RSA key and its thumbprint.
RFC7638_JWK = {
    "kty": "RSA",
    "n": "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3o"
    "knjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5"
    "hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw",
    "e": "AQAB",
    "alg": "RS256",
    "kid": "2011-04-29",
}


@pytest.fixture(scope="module")
def rsa_key() -> AccountKey:
    return AccountKey(rsa.generate_private_key(public_exponent=65537, key_size=2048))


def test_rfc7638_thumbprint_vector() -> None:
    assert jwk_thumbprint(RFC7638_JWK) == "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"


def test_thumbprint_refuses_unknown_key_types() -> None:
    with pytest.raises(ValueError, match="unsupported JWK key type 'OKP'"):
        jwk_thumbprint({"kty": "OKP", "crv": "Ed25519", "x": "AA"})


def test_dns01_value_is_base64url_sha256_of_the_key_authorization() -> None:
    # SHA-256("abc") is ba7816bf...; its base64url form is well known.
    assert dns01_txt_value("abc") == "ungWv48Bz-pBQUDeXa4iI7ADYaOWF3qctBD_YfIAFa0"


def test_key_authorization_is_token_dot_thumbprint(rsa_key: AccountKey) -> None:
    assert key_authorization("evaGxfADs6pSRb2LAv9IZf17Dt3juxGJ-PCt92wr-oA", rsa_key) == (
        f"evaGxfADs6pSRb2LAv9IZf17Dt3juxGJ-PCt92wr-oA.{rsa_key.thumbprint()}"
    )


@pytest.mark.parametrize(
    ("curve", "alg", "crv", "size"),
    [(ec.SECP256R1(), "ES256", "P-256", 32), (ec.SECP384R1(), "ES384", "P-384", 48)],
    ids=["P-256", "P-384"],
)
def test_ecdsa_keys_sign_raw_r_s_and_publish_fixed_length_coordinates(
    curve: ec.EllipticCurve, alg: str, crv: str, size: int
) -> None:
    for _ in range(16):
        key = AccountKey(ec.generate_private_key(curve))
        jwk = key.jwk()
        assert (key.algorithm, jwk["crv"], jwk["kty"]) == (alg, crv, "EC")
        assert len(b64url_decode(jwk["x"])) == len(b64url_decode(jwk["y"])) == size
        signature = key.sign(b"payload")
        assert len(signature) == 2 * size
        assert _verify(jwk, alg, b"payload", signature)
        assert not _verify(jwk, alg, b"other", signature)


def test_rsa_keys_sign_rs256(rsa_key: AccountKey) -> None:
    jwk = rsa_key.jwk()
    assert list(jwk) == ["e", "kty", "n"]
    assert rsa_key.algorithm == "RS256"
    assert _verify(jwk, "RS256", b"payload", rsa_key.sign(b"payload"))


@pytest.mark.parametrize(
    ("make", "error", "message"),
    [
        (
            lambda: rsa.generate_private_key(public_exponent=65537, key_size=1024),  # noqa: S505 - refused on purpose
            ValueError,
            "at least 2048 bits",
        ),
        (lambda: ec.generate_private_key(ec.SECP521R1()), ValueError, "P-256 or P-384, not secp521r1"),
        (ed25519.Ed25519PrivateKey.generate, TypeError, "RSA or ECDSA, not"),
    ],
    ids=["rsa-1024", "p-521", "ed25519"],
)
def test_unsupported_account_keys_are_refused(make: object, error: type[Exception], message: str) -> None:
    assert callable(make)
    with pytest.raises(error, match=message):
        AccountKey(make())


def test_account_key_repr_hides_the_key() -> None:
    assert repr(AccountKey(ec.generate_private_key(ec.SECP256R1()))) == "AccountKey()"


def _decode(body: bytes) -> tuple[dict[str, object], bytes, dict[str, str]]:
    jws = json.loads(body)
    return json.loads(b64url_decode(jws["protected"])), b64url_decode(jws["payload"]), jws


def test_sign_jws_with_jwk_and_with_kid() -> None:
    key = AccountKey(ec.generate_private_key(ec.SECP256R1()))
    header, payload, jws = _decode(sign_jws(key, url="https://ca/new-account", nonce="abc", payload=b'{"a":1}'))
    assert header == {"alg": "ES256", "nonce": "abc", "url": "https://ca/new-account", "jwk": key.jwk()}
    assert payload == b'{"a":1}'
    signed = f"{jws['protected']}.{jws['payload']}".encode()
    assert _verify(key.jwk(), "ES256", signed, b64url_decode(jws["signature"]))

    header, payload, jws = _decode(
        sign_jws(key, url="https://ca/order/1", nonce="n2", payload=None, kid="https://ca/a/1")
    )
    assert header == {"alg": "ES256", "nonce": "n2", "url": "https://ca/order/1", "kid": "https://ca/a/1"}
    assert jws["payload"] == ""  # POST-as-GET


@pytest.mark.parametrize("algorithm", list(MacAlgorithm), ids=str)
def test_external_account_binding_macs_the_account_jwk(algorithm: MacAlgorithm) -> None:
    key = AccountKey(ec.generate_private_key(ec.SECP256R1()))
    binding = ExternalAccountBinding(key_id="kid-7", mac_key=b"secret-key", algorithm=algorithm)
    jws = binding.sign(account_key=key, url="https://ca/new-account")
    assert json.loads(b64url_decode(jws.protected)) == {
        "alg": str(algorithm),
        "kid": "kid-7",
        "url": "https://ca/new-account",
    }
    assert json.loads(b64url_decode(jws.payload)) == key.jwk()
    digest = {"HS256": hashlib.sha256, "HS384": hashlib.sha384, "HS512": hashlib.sha512}[algorithm]
    expected = hmac.new(b"secret-key", f"{jws.protected}.{jws.payload}".encode(), digest).digest()
    assert b64url_decode(jws.signature) == expected
    assert "secret-key" not in repr(binding)


def test_external_account_binding_needs_a_key_id_and_a_key() -> None:
    with pytest.raises(ValueError, match="key ID"):
        ExternalAccountBinding(key_id="", mac_key=b"k")
    with pytest.raises(ValueError, match="non-empty MAC key"):
        ExternalAccountBinding(key_id="k", mac_key=b"")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("zWNDZM6eQGHWpSRTPal5eIUYFTu7EajVIoguysqZ9wG44nMEtx3MUAsUDkMTQ12W", None),
        ("YWJj", b"abc"),
        ("YWJjZA", b"abcd"),
        ("YWJj\n", b"abc"),
        (b"YW\r\nJj", b"abc"),
        ("_-8", b"\xff\xef"),
    ],
    ids=["pebble-sample", "plain", "unpadded", "trailing-newline", "crlf-inside", "url-alphabet"],
)
def test_decode_eab_key_accepts_unpadded_base64url(text: str | bytes, expected: bytes | None) -> None:
    key = decode_eab_key(text)
    assert key == expected if expected is not None else len(key) == 48


@pytest.mark.parametrize("text", ["YWJjZA==", "a+b/", "Y", "", "é", "a b"], ids=str)
def test_decode_eab_key_refuses_other_encodings_without_echoing_the_key(text: str) -> None:
    with pytest.raises(ValueError, match="failed to decode external account binding key data") as caught:
        decode_eab_key(text)
    assert text not in str(caught.value) or not text


@given(st.binary(max_size=200))
def test_base64url_round_trip(data: bytes) -> None:
    encoded = b64url_encode(data)
    assert "=" not in encoded
    assert b64url_decode(encoded) == data


@given(st.one_of(st.text(max_size=300), st.binary(max_size=300)))
def test_decode_eab_key_never_fails_otherwise(text: str | bytes) -> None:
    try:
        key = decode_eab_key(text)
    except ValueError as exc:
        message = str(exc)
    else:
        message = ""
        assert key
    assert not message or message.startswith("failed to decode external account binding key data")
