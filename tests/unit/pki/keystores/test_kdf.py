from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from certkeeper.pki.keystores.kdf import (
    PURPOSE_IV,
    PURPOSE_KEY,
    PURPOSE_MAC,
    KdfHash,
    bmp_password,
    go_string,
    pkcs12_kdf,
)

from .conftest import run


@pytest.mark.parametrize(
    ("password", "salt", "expected"),
    [
        # go-pkcs12's pbkdf_test.go: a 3DES key (24 bytes, longer than one SHA-1 output) for "sesame".
        (bmp_password("sesame"), "ffffffffffffffff", "7cd9fd3e2b3be7691a44e3bef0f9ea0fb9b897d4e325d9d1"),
        # The same file's case where step 6C produces an I_j with a leading zero byte.
        (b"\x00\x00", "f37e05b518324b4b", "00f759ff47d14dd03665d5943cb3c4a39a2555c02aed66e1"),
    ],
    ids=["sesame", "leading-zero"],
)
def test_published_vectors(password: bytes, salt: str, expected: str) -> None:
    assert pkcs12_kdf("sha1", password, bytes.fromhex(salt), 2048, PURPOSE_KEY, 24).hex() == expected


def _openssl_kdf(hash_name: KdfHash, password: bytes, salt: bytes, iterations: int, purpose: int, length: int) -> str:
    result = run(
        [
            "openssl", "kdf", "-keylen", str(length), "-kdfopt", f"digest:{hash_name.upper()}",
            "-kdfopt", f"hexpass:{password.hex()}", "-kdfopt", f"hexsalt:{salt.hex()}",
            "-kdfopt", f"iter:{iterations}", "-kdfopt", f"id:{purpose}", "PKCS12KDF",
        ]
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    return re.sub(r"[^0-9a-f]", "", result.stdout.decode().lower())


@pytest.mark.parametrize(
    ("hash_name", "password", "salt", "iterations", "purpose", "length"),
    [
        ("sha1", "changeit", "0001020304050607", 2048, PURPOSE_KEY, 5),
        ("sha1", "changeit", "0001020304050607", 2048, PURPOSE_IV, 8),
        ("sha1", "pässwörd-€", "08090a0b0c0d0e0f", 1, PURPOSE_MAC, 20),
        ("sha256", "changeit", "000102030405060708090a0b0c0d0e0f", 2048, PURPOSE_MAC, 32),
        ("sha512", "x", "ff", 3, PURPOSE_KEY, 150),
        ("sha1", "", "", 1, PURPOSE_KEY, 41),
    ],
    ids=["rc2-key", "iv", "legacy-mac-key", "sha256-mac-key", "sha512-multi-block", "empty-password-and-salt"],
)
def test_matches_openssl(
    hash_name: KdfHash, password: str, salt: str, iterations: int, purpose: int, length: int
) -> None:
    bmp, raw_salt = bmp_password(password), bytes.fromhex(salt)
    expected = _openssl_kdf(hash_name, bmp, raw_salt, iterations, purpose, length)
    assert pkcs12_kdf(hash_name, bmp, raw_salt, iterations, purpose, length).hex() == expected


@pytest.mark.parametrize(
    ("iterations", "purpose", "length"), [(0, 1, 8), (1, 4, 8), (1, 1, -1)], ids=["no-iterations", "purpose", "length"]
)
def test_rejects_bad_parameters(iterations: int, purpose: int, length: int) -> None:
    with pytest.raises(ValueError, match="PKCS#12 KDF"):
        pkcs12_kdf("sha1", b"\x00\x00", b"salt", iterations, purpose, length)


def test_bmp_password_is_nul_terminated_ucs2() -> None:
    assert bmp_password("a€") == b"\x00a\x20\xac\x00\x00"
    assert bmp_password("") == b"\x00\x00"
    with pytest.raises(ValueError, match="UCS-2"):
        bmp_password("\U0001f511")


@pytest.mark.parametrize(
    ("raw", "text"),
    [
        (b"changeit", "changeit"),
        ("pässwörd-€".encode(), "pässwörd-€"),
        (b"a\xffb", "a\ufffdb"),
        (b"\xe2\x82A", "\ufffd\ufffdA"),  # a truncated sequence: one replacement per byte, as Go's range
        (b"\xed\xa0\x80", "\ufffd\ufffd\ufffd"),  # an encoded surrogate is invalid UTF-8 in Go too
    ],
    ids=["ascii", "utf8", "invalid-byte", "truncated", "surrogate"],
)
def test_go_string(raw: bytes, text: str) -> None:
    assert go_string(raw) == text


@given(st.binary(max_size=64))
def test_go_string_is_total_and_keeps_valid_utf8(raw: bytes) -> None:
    text = go_string(raw)
    assert all(not 0xD800 <= ord(char) <= 0xDFFF for char in text)
    try:
        assert text == raw.decode("utf-8")
    except UnicodeDecodeError:
        assert "\ufffd" in text
