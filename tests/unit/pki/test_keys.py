"""Keys: generation limits, PEM encodings, parsing, description, equality, signature algorithms."""

from __future__ import annotations

import base64
import contextlib
import time

import pytest
from cryptography.hazmat.primitives.asymmetric import dsa, ec, ed25519, rsa
from cryptography.hazmat.primitives.serialization import (
    BestAvailableEncryption,
    Encoding,
    NoEncryption,
    PrivateFormat,
)
from hypothesis import given
from hypothesis import strategies as st

from certkeeper.pki.errors import InvalidPem, InvalidTemplate, PkiError, UnsupportedKey
from certkeeper.pki.keys import (
    KeyAlgorithm,
    KeyDescription,
    KeyEncoding,
    KeySpec,
    PrivateKey,
    SignatureAlgorithm,
    describe_key,
    encode_private_key_pem,
    encode_private_key_pkcs1,
    encode_private_key_pkcs8,
    generate_ecdsa_private_key,
    generate_private_key,
    generate_rsa_private_key,
    hash_for,
    load_pem_private_key,
    public_key_der,
    public_keys_equal,
    signature_algorithm_for_key,
    signature_algorithm_for_spec,
    supported_public_key,
)


def rsa_public_key(bits: int) -> rsa.RSAPublicKey:
    """An RSA public key of ``bits`` bits without the cost of generating a private key."""
    return rsa.RSAPublicNumbers(e=65537, n=(1 << (bits - 1)) | 1).public_key()


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        (KeySpec(algorithm=KeyAlgorithm.ECDSA), KeyDescription(algorithm=KeyAlgorithm.ECDSA, size=256)),
        (KeySpec(algorithm=KeyAlgorithm.ECDSA, size=384), KeyDescription(algorithm=KeyAlgorithm.ECDSA, size=384)),
        (KeySpec(algorithm=KeyAlgorithm.ECDSA, size=521), KeyDescription(algorithm=KeyAlgorithm.ECDSA, size=521)),
        (KeySpec(algorithm=KeyAlgorithm.ED25519, size=4096), KeyDescription(algorithm=KeyAlgorithm.ED25519, size=256)),
    ],
    ids=["ecdsa-default", "p384", "p521", "ed25519-ignores-size"],
)
def test_generate_by_spec(spec: KeySpec, expected: KeyDescription) -> None:
    assert describe_key(generate_private_key(spec)) == expected


def test_generate_rsa_default_is_2048(rsa2048: rsa.RSAPrivateKey) -> None:
    assert KeySpec().effective_size == 2048
    assert describe_key(rsa2048) == KeyDescription(algorithm=KeyAlgorithm.RSA, size=2048)
    assert rsa2048.private_numbers().public_numbers.e == 65537


@pytest.mark.parametrize(
    ("size", "message"),
    [
        (1024, "weak rsa key size specified: 1024. minimum key size: 2048"),
        (2047, "weak rsa key size specified: 2047. minimum key size: 2048"),
        (8193, "rsa key size specified too big: 8193. maximum key size: 8192"),
    ],
    ids=["1024", "2047", "8193"],
)
def test_rsa_size_limits(size: int, message: str) -> None:
    started = time.perf_counter()
    with pytest.raises(UnsupportedKey) as caught:
        generate_private_key(KeySpec(algorithm=KeyAlgorithm.RSA, size=size))
    assert str(caught.value) == message
    assert time.perf_counter() - started < 0.1, "the size must be refused before generating"


@pytest.mark.parametrize("size", [224, 255, 512], ids=str)
def test_ecdsa_curves_are_limited(size: int) -> None:
    with pytest.raises(UnsupportedKey, match=f"unsupported ecdsa key size specified: {size}"):
        generate_ecdsa_private_key(size)


def test_pkcs1_is_the_default_encoding(rsa2048: rsa.RSAPrivateKey, p256: ec.EllipticCurvePrivateKey) -> None:
    assert encode_private_key_pem(rsa2048).startswith(b"-----BEGIN RSA PRIVATE KEY-----\n")
    assert encode_private_key_pem(p256).startswith(b"-----BEGIN EC PRIVATE KEY-----\n")
    assert encode_private_key_pkcs1(p256) == encode_private_key_pem(p256, KeyEncoding.PKCS1)


def test_pkcs8_encoding(rsa2048: rsa.RSAPrivateKey, p256: ec.EllipticCurvePrivateKey) -> None:
    for key in (rsa2048, p256):
        assert encode_private_key_pem(key, KeyEncoding.PKCS8).startswith(b"-----BEGIN PRIVATE KEY-----\n")


def test_ed25519_is_always_pkcs8(ed25519_key: ed25519.Ed25519PrivateKey) -> None:
    assert encode_private_key_pem(ed25519_key, KeyEncoding.PKCS1) == encode_private_key_pkcs8(ed25519_key)
    assert encode_private_key_pem(ed25519_key).startswith(b"-----BEGIN PRIVATE KEY-----\n")


@pytest.mark.parametrize("encoding", list(KeyEncoding), ids=str)
@pytest.mark.parametrize("kind", ["rsa2048", "p256", "p384", "ed25519_key"])
def test_every_encoding_parses_back(kind: str, encoding: KeyEncoding, request: pytest.FixtureRequest) -> None:
    key: PrivateKey = request.getfixturevalue(kind)
    parsed = load_pem_private_key(encode_private_key_pem(key, encoding))
    assert type(parsed) is type(key)
    assert public_keys_equal(parsed, key)


def test_block_type_must_match_key_kind(p256: ec.EllipticCurvePrivateKey) -> None:
    relabelled = encode_private_key_pkcs1(p256).replace(b"EC PRIVATE KEY", b"RSA PRIVATE KEY")
    with pytest.raises(InvalidPem, match="error parsing rsa private key: the block does not hold a key of that kind"):
        load_pem_private_key(relabelled)


@pytest.mark.parametrize(
    "kind", ["ENCRYPTED PRIVATE KEY", "CERTIFICATE", "OPENSSH PRIVATE KEY"], ids=["encrypted", "cert", "openssh"]
)
def test_unknown_block_types_are_refused(kind: str) -> None:
    with pytest.raises(InvalidPem, match=f"unknown private key type: {kind}"):
        load_pem_private_key(f"-----BEGIN {kind}-----\nAAAA\n-----END {kind}-----\n".encode())


def test_encrypted_pkcs8_is_refused(p256: ec.EllipticCurvePrivateKey) -> None:
    encrypted = p256.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, BestAvailableEncryption(b"pw"))
    relabelled = encrypted.replace(b"ENCRYPTED PRIVATE KEY", b"PRIVATE KEY")
    with pytest.raises(InvalidPem, match="error parsing pkcs#8 private key"):
        load_pem_private_key(relabelled)


def test_unsupported_curves_and_kinds_are_refused() -> None:
    k1 = ec.generate_private_key(ec.SECP256K1())
    with pytest.raises(UnsupportedKey, match="unsupported elliptic curve secp256k1"):
        load_pem_private_key(encode_private_key_pkcs8(k1))
    dsa_key = dsa.generate_private_key(2048)
    pem = dsa_key.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption())
    with pytest.raises(UnsupportedKey, match="invalid key type"):
        load_pem_private_key(pem)
    with pytest.raises(UnsupportedKey, match="unsupported public key type DSAPublicKey"):
        supported_public_key(dsa_key.public_key())


def test_error_messages_never_contain_key_material(p256: ec.EllipticCurvePrivateKey) -> None:
    pem = encode_private_key_pkcs1(p256)
    body = pem.split(b"\n")[1]
    damaged = pem.replace(body, body[:10] + b"AAAA" + body[14:])
    with pytest.raises(PkiError) as caught:
        load_pem_private_key(damaged)
    message = str(caught.value)
    assert body[:8].decode() not in message
    assert str(p256.private_numbers().private_value) not in message


def test_describe_and_compare_public_keys(p256: ec.EllipticCurvePrivateKey, p384: ec.EllipticCurvePrivateKey) -> None:
    assert describe_key(p384.public_key()) == KeyDescription(algorithm=KeyAlgorithm.ECDSA, size=384)
    assert describe_key(rsa_public_key(3072)) == KeyDescription(algorithm=KeyAlgorithm.RSA, size=3072)
    assert public_keys_equal(p256, p256.public_key())
    assert not public_keys_equal(p256, p384)
    assert public_key_der(p256) == public_key_der(p256.public_key())


def test_public_key_equality_agrees_with_comparing_their_der(
    p256: ec.EllipticCurvePrivateKey,
    p384: ec.EllipticCurvePrivateKey,
    rsa2048: rsa.RSAPrivateKey,
    ed25519_key: ed25519.Ed25519PrivateKey,
) -> None:
    reparsed = load_pem_private_key(encode_private_key_pem(p256, KeyEncoding.PKCS8))
    keys: list[PrivateKey] = [p256, p384, rsa2048, ed25519_key, reparsed, generate_ecdsa_private_key(256)]
    for a in keys:
        for b in keys:
            for left in (a, a.public_key()):
                for right in (b, b.public_key()):
                    assert public_keys_equal(left, right) == (public_key_der(left) == public_key_der(right))
    assert public_keys_equal(reparsed, p256.public_key())


@pytest.mark.parametrize(
    ("bits", "expected"),
    [
        (2048, SignatureAlgorithm.SHA256_WITH_RSA),
        (3071, SignatureAlgorithm.SHA256_WITH_RSA),
        (3072, SignatureAlgorithm.SHA384_WITH_RSA),
        (4095, SignatureAlgorithm.SHA384_WITH_RSA),
        (4096, SignatureAlgorithm.SHA512_WITH_RSA),
        (8192, SignatureAlgorithm.SHA512_WITH_RSA),
    ],
    ids=str,
)
def test_rsa_signature_algorithm_by_size(bits: int, expected: SignatureAlgorithm) -> None:
    assert signature_algorithm_for_key(rsa_public_key(bits)) is expected


def test_small_rsa_signer_is_refused() -> None:
    with pytest.raises(UnsupportedKey, match="invalid size 1024 for RSA key on signing certificate"):
        signature_algorithm_for_key(rsa_public_key(1024))


@pytest.mark.parametrize(
    ("size", "expected"),
    [
        (256, SignatureAlgorithm.ECDSA_WITH_SHA256),
        (384, SignatureAlgorithm.ECDSA_WITH_SHA384),
        (521, SignatureAlgorithm.ECDSA_WITH_SHA512),
    ],
    ids=str,
)
def test_ecdsa_signature_algorithm_by_curve(size: int, expected: SignatureAlgorithm) -> None:
    assert signature_algorithm_for_key(generate_ecdsa_private_key(size)) is expected
    assert signature_algorithm_for_spec(KeySpec(algorithm=KeyAlgorithm.ECDSA, size=size)) is expected


def test_ed25519_signs_pure(ed25519_key: ed25519.Ed25519PrivateKey) -> None:
    assert signature_algorithm_for_key(ed25519_key) is SignatureAlgorithm.PURE_ED25519
    assert hash_for(SignatureAlgorithm.PURE_ED25519) is None


@pytest.mark.parametrize(
    ("spec", "requested", "expected"),
    [
        (KeySpec(), None, SignatureAlgorithm.SHA256_WITH_RSA),
        (KeySpec(size=4096), None, SignatureAlgorithm.SHA512_WITH_RSA),
        (KeySpec(size=3072), None, SignatureAlgorithm.SHA384_WITH_RSA),
        (KeySpec(algorithm=KeyAlgorithm.ECDSA), None, SignatureAlgorithm.ECDSA_WITH_SHA256),
        (KeySpec(algorithm=KeyAlgorithm.ED25519), None, SignatureAlgorithm.PURE_ED25519),
        (KeySpec(), SignatureAlgorithm.SHA512_WITH_RSA, SignatureAlgorithm.SHA512_WITH_RSA),
        (
            KeySpec(algorithm=KeyAlgorithm.ECDSA),
            SignatureAlgorithm.ECDSA_WITH_SHA512,
            SignatureAlgorithm.ECDSA_WITH_SHA512,
        ),
    ],
    ids=["rsa-default", "rsa-4096", "rsa-3072", "ecdsa-default", "ed25519", "rsa-requested", "ecdsa-requested"],
)
def test_signature_algorithm_for_spec(
    spec: KeySpec, requested: SignatureAlgorithm | None, expected: SignatureAlgorithm
) -> None:
    assert signature_algorithm_for_spec(spec, requested) is expected


@pytest.mark.parametrize(
    ("algorithm", "requested", "message"),
    [
        (
            KeyAlgorithm.RSA,
            SignatureAlgorithm.ECDSA_WITH_SHA256,
            "for key algorithm RSA the allowed signature algorithms are [SHA256WithRSA SHA384WithRSA SHA512WithRSA]",
        ),
        (
            KeyAlgorithm.ED25519,
            SignatureAlgorithm.SHA256_WITH_RSA,
            "for key algorithm Ed25519 the allowed signature algorithms are [PureEd25519]",
        ),
        (
            KeyAlgorithm.ECDSA,
            SignatureAlgorithm.PURE_ED25519,
            "for key algorithm ECDSA the allowed signature algorithms are "
            "[ECDSAWithSHA256 ECDSAWithSHA384 ECDSAWithSHA512]",
        ),
    ],
    ids=["rsa", "ed25519", "ecdsa"],
)
def test_requested_signature_algorithm_must_match_the_key(
    algorithm: KeyAlgorithm, requested: SignatureAlgorithm, message: str
) -> None:
    with pytest.raises(InvalidTemplate) as caught:
        signature_algorithm_for_spec(KeySpec(algorithm=algorithm), requested)
    assert str(caught.value) == message


@given(st.binary(max_size=3000))
def test_random_der_in_every_key_block_only_raises_typed_errors(der: bytes) -> None:
    body = base64.b64encode(der)
    for kind in (b"PRIVATE KEY", b"RSA PRIVATE KEY", b"EC PRIVATE KEY"):
        started = time.perf_counter()
        with contextlib.suppress(PkiError):
            load_pem_private_key(b"-----BEGIN " + kind + b"-----\n" + body + b"\n-----END " + kind + b"-----\n")
        assert time.perf_counter() - started < 1.0


@given(st.data())
def test_truncated_keys_only_raise_typed_errors(data: st.DataObject) -> None:
    pem = encode_private_key_pkcs8(_SAMPLE_KEY)
    der = base64.b64decode(b"".join(pem.split(b"\n")[1:-2]))
    cut = data.draw(st.integers(min_value=0, max_value=len(der) - 1))
    flip = data.draw(st.integers(min_value=0, max_value=255))
    mutated = der[:cut] + bytes([der[cut] ^ flip]) + der[cut + 1 :]
    framed = b"-----BEGIN PRIVATE KEY-----\n" + base64.b64encode(mutated) + b"\n-----END PRIVATE KEY-----\n"
    with contextlib.suppress(PkiError):
        load_pem_private_key(framed)


_SAMPLE_KEY = generate_ecdsa_private_key(256)


def test_inconsistent_rsa_key_is_refused() -> None:
    """Parsing skips cryptography's slow prime tests but still refuses a key whose d does not fit e."""
    key = generate_rsa_private_key(2048)
    loaded = load_pem_private_key(encode_private_key_pem(key))
    assert isinstance(loaded, rsa.RSAPrivateKey)
    assert loaded.private_numbers() == key.private_numbers()
    n = key.private_numbers()
    tampered = rsa.RSAPrivateNumbers(n.p, n.q, n.d + 2, n.dmp1, n.dmq1, n.iqmp, n.public_numbers)
    bad = tampered.private_key(unsafe_skip_rsa_key_validation=True)
    with pytest.raises(InvalidPem):
        load_pem_private_key(encode_private_key_pem(bad))
