from __future__ import annotations

import pytest
from cryptography.hazmat.decrepit.ciphers.algorithms import RC2 as ReferenceRC2
from cryptography.hazmat.primitives.ciphers import Cipher, modes
from hypothesis import given, settings
from hypothesis import strategies as st

from certkeeper.pki.keystores import rc2

from .conftest import openssl_version, run

# RFC 2268 §5: (key, effective key bits, plaintext, ciphertext).
RFC2268_VECTORS = [
    ("0000000000000000", 63, "0000000000000000", "ebb773f993278eff"),
    ("ffffffffffffffff", 64, "ffffffffffffffff", "278b27e42e2f0d49"),
    ("3000000000000000", 64, "1000000000000001", "30649edf9be7d2c2"),
    ("88", 64, "0000000000000000", "61a8a244adacccf0"),
    ("88bca90e90875a", 64, "0000000000000000", "6ccf4308974c267f"),
    ("88bca90e90875a7f0f79c384627bafb2", 64, "0000000000000000", "1a807d272bbe5db1"),
    ("88bca90e90875a7f0f79c384627bafb2", 128, "0000000000000000", "2269552ab0f85ca6"),
    ("88bca90e90875a7f0f79c384627bafb216f80a6f85920584c42fceb0be255daf1e", 129, "0000000000000000", "5b78d3a43dfff1f1"),
]


@pytest.mark.parametrize(
    ("key", "bits", "plaintext", "ciphertext"), RFC2268_VECTORS, ids=[f"rfc2268-{i}" for i in range(8)]
)
def test_rfc2268_vectors(key: str, bits: int, plaintext: str, ciphertext: str) -> None:
    cipher = rc2.RC2(bytes.fromhex(key), bits)
    assert cipher.encrypt_block(bytes.fromhex(plaintext)).hex() == ciphertext
    assert cipher.decrypt_block(bytes.fromhex(ciphertext)).hex() == plaintext


@settings(max_examples=50)
@given(key=st.binary(min_size=16, max_size=16), iv=st.binary(min_size=8, max_size=8), blocks=st.binary(max_size=64))
def test_cbc_matches_cryptography_for_128_bit_keys(key: bytes, iv: bytes, blocks: bytes) -> None:
    # cryptography's decrepit RC2 supports exactly one variant (128-bit key, 128 effective bits): an oracle.
    plaintext = blocks[: len(blocks) - len(blocks) % 8]
    encryptor = Cipher(ReferenceRC2(key), modes.CBC(iv)).encryptor()
    expected = encryptor.update(plaintext) + encryptor.finalize()
    assert rc2.cbc_encrypt(key, 128, iv, plaintext) == expected
    assert rc2.cbc_decrypt(key, 128, iv, expected) == plaintext


@settings(max_examples=50)
@given(
    key=st.binary(min_size=1, max_size=128),
    bits=st.integers(1, 1024),
    block=st.binary(min_size=8, max_size=8),
)
def test_decrypt_inverts_encrypt(key: bytes, bits: int, block: bytes) -> None:
    cipher = rc2.RC2(key, bits)
    assert cipher.decrypt_block(cipher.encrypt_block(block)) == block


def test_rc2_40_cbc_matches_openssl() -> None:
    # The variant PKCS#12 uses (5-byte key, 40 effective bits), checked against OpenSSL's legacy provider.
    key, iv, plaintext = bytes.fromhex("0102030405"), bytes(range(8)), b"abcdefgh12345678"
    providers = ["-provider", "legacy", "-provider", "default"] if openssl_version() >= (3, 0) else []
    args = ["openssl", "enc", "-rc2-40-cbc", *providers, "-K", key.hex(), "-iv", iv.hex(), "-nopad", "-e"]
    result = run(args, stdin=plaintext)
    assert result.returncode == 0, result.stderr
    assert rc2.cbc_encrypt(key, 40, iv, plaintext) == result.stdout


@pytest.mark.parametrize(
    "call",
    [
        lambda: rc2.RC2(b"", 64),
        lambda: rc2.RC2(bytes(129), 64),
        lambda: rc2.RC2(bytes(8), 0),
        lambda: rc2.RC2(bytes(8), 1025),
        lambda: rc2.RC2(bytes(8), 64).encrypt_block(bytes(7)),
        lambda: rc2.cbc_encrypt(bytes(5), 40, bytes(8), bytes(9)),
        lambda: rc2.cbc_decrypt(bytes(5), 40, bytes(7), bytes(8)),
    ],
    ids=["empty-key", "long-key", "zero-bits", "too-many-bits", "short-block", "unpadded", "short-iv"],
)
def test_rejects_bad_parameters(call: object) -> None:
    assert callable(call)
    with pytest.raises(ValueError):  # noqa: PT011 - each case has its own message
        call()
