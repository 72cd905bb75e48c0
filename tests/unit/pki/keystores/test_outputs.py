"""Tests for certkeeper.pki.outputs (kept beside the keystore tests, which share its fixtures)."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    NoEncryption,
    PrivateFormat,
    load_der_private_key,
)

from certkeeper.pki.keystores import KeystorePrivateKey
from certkeeper.pki.outputs import (
    COMBINED_PEM_KEY,
    DER_KEY,
    OutputFormat,
    additional_output_data,
    combine_pem,
    encode_private_key_der,
)

from .conftest import run
from .der_reader import parse

CHAIN_PEM = b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"


def _pem_body(pem: bytes) -> bytes:
    lines = pem.strip().splitlines()
    return base64.b64decode(b"".join(lines[1:-1]))


def _shape(der: bytes) -> str:
    """PKCS#1 / SEC 1 / PKCS#8, told apart by their top-level fields."""
    top = parse(der)
    tags = [child.tag for child in top.children]
    if tags[:3] == [0x02, 0x30, 0x04]:
        return "PKCS#8"
    if tags == [0x02] * 9:
        return "PKCS#1"
    if tags == [0x02, 0x04, 0xA0, 0xA1] and top[0].integer() == 1:
        return "SEC1 with curve and public key"
    return f"unknown {tags}"


@pytest.mark.parametrize(
    ("key_type", "encoding", "shape", "pem_label"),
    [
        ("rsa", None, "PKCS#1", b"RSA PRIVATE KEY"),
        ("rsa", "", "PKCS#1", b"RSA PRIVATE KEY"),
        ("rsa", "PKCS1", "PKCS#1", b"RSA PRIVATE KEY"),
        ("rsa", "PKCS8", "PKCS#8", b"PRIVATE KEY"),
        ("ec", "PKCS1", "SEC1 with curve and public key", b"EC PRIVATE KEY"),
        ("ec", "PKCS8", "PKCS#8", b"PRIVATE KEY"),
        ("ed25519", "PKCS1", "PKCS#8", b"PRIVATE KEY"),
        ("ed25519", "PKCS8", "PKCS#8", b"PRIVATE KEY"),
    ],
    ids=["rsa-unset", "rsa-empty", "rsa-pkcs1", "rsa-pkcs8", "ec-pkcs1", "ec-pkcs8", "ed25519-pkcs1", "ed25519-pkcs8"],
)
def test_key_der_follows_the_encoding_of_tls_key(
    key_type: str, encoding: str | None, shape: str, pem_label: bytes, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    key: KeystorePrivateKey = request.getfixturevalue(f"{key_type}_key")
    der = encode_private_key_der(key, encoding)
    assert _shape(der) == shape
    # The same bytes tls.key carries in its PEM block of that type.
    pem_format = PrivateFormat.PKCS8 if pem_label == b"PRIVATE KEY" else PrivateFormat.TraditionalOpenSSL
    pem = key.private_bytes(Encoding.PEM, pem_format, NoEncryption())
    assert pem.startswith(b"-----BEGIN " + pem_label + b"-----\n")
    assert der == _pem_body(pem)
    pkcs8 = (Encoding.DER, PrivateFormat.PKCS8, NoEncryption())
    assert load_der_private_key(der, None).private_bytes(*pkcs8) == key.private_bytes(*pkcs8)
    path = tmp_path / "key.der"
    path.write_bytes(der)
    checked = run(["openssl", "pkey", "-inform", "DER", "-in", str(path), "-noout"])
    assert checked.returncode == 0, checked.stderr


def test_unknown_encoding_is_an_error(ec_key: KeystorePrivateKey) -> None:
    with pytest.raises(ValueError, match=r"^error encoding private key: unknown key encoding: PKCS12$"):
        encode_private_key_der(ec_key, "PKCS12")


def test_combined_pem_is_key_newline_chain(ec_key: KeystorePrivateKey) -> None:
    key_pem = ec_key.private_bytes(Encoding.PEM, PrivateFormat.TraditionalOpenSSL, NoEncryption())
    combined = combine_pem(key_pem, CHAIN_PEM)
    assert combined == key_pem + b"\n" + CHAIN_PEM
    assert b"-----END EC PRIVATE KEY-----\n\n-----BEGIN CERTIFICATE-----\n" in combined
    assert combine_pem(b"", b"") == b"\n"


def test_additional_output_data(ec_key: KeystorePrivateKey) -> None:
    key_pem = ec_key.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption())
    data = additional_output_data(
        ["CombinedPEM", OutputFormat.DER],
        private_key=ec_key,
        key_encoding="PKCS8",
        key_pem=key_pem,
        chain_pem=CHAIN_PEM,
    )
    assert data == {COMBINED_PEM_KEY: key_pem + b"\n" + CHAIN_PEM, DER_KEY: _pem_body(key_pem)}
    assert (DER_KEY, COMBINED_PEM_KEY) == ("key.der", "tls-combined.pem")
    none = additional_output_data([], private_key=ec_key, key_encoding=None, key_pem=key_pem, chain_pem=CHAIN_PEM)
    assert none == {}


def test_unknown_output_format_is_an_error(ec_key: KeystorePrivateKey) -> None:
    with pytest.raises(ValueError, match=r"^unknown additional output format PKCS12$"):
        additional_output_data(["DER", "PKCS12"], private_key=ec_key, key_encoding=None, key_pem=b"", chain_pem=b"")
