"""The PKCS#12 key derivation function (RFC 7292 appendix B.2) and PKCS#12 password encodings.

Legacy PKCS#12 PBE schemes (pbeWithSHAAnd3-KeyTripleDES-CBC, pbeWithSHAAnd40BitRC2-CBC) and the classic
PKCS#12 MAC derive their keys, IVs and MAC keys with this KDF from the password as a NUL-terminated BMPString.
PBES2 and PBMAC1 instead take the password as UTF-8 (RFC 9579; go-pkcs12 does the same). Pure.
"""

from __future__ import annotations

import hashlib
from typing import Final, Literal

from certkeeper.pki.keystores.der import encode_ucs2

KdfHash = Literal["sha1", "sha256", "sha512"]

#: Diversifier IDs of RFC 7292 B.3: what the derived bytes are for.
PURPOSE_KEY: Final = 1
PURPOSE_IV: Final = 2
PURPOSE_MAC: Final = 3

# Hash block size v in bytes (the output size u comes from hashlib).
_BLOCK_SIZE: Final[dict[KdfHash, int]] = {"sha1": 64, "sha256": 64, "sha512": 128}
_MAX_ITERATIONS: Final = 10_000_000


def _fill(pattern: bytes, block_size: int) -> bytes:
    """``pattern`` repeated to the next multiple of ``block_size`` (empty stays empty)."""
    if not pattern:
        return b""
    length = block_size * -(-len(pattern) // block_size)
    return (pattern * (length // len(pattern) + 1))[:length]


def pkcs12_kdf(hash_name: KdfHash, password: bytes, salt: bytes, iterations: int, purpose: int, length: int) -> bytes:
    """Derive ``length`` bytes for ``purpose`` from a BMPString ``password`` (see :func:`bmp_password`)."""
    if not 1 <= iterations <= _MAX_ITERATIONS:
        raise ValueError(f"PKCS#12 KDF iterations must be between 1 and {_MAX_ITERATIONS}")
    if purpose not in (PURPOSE_KEY, PURPOSE_IV, PURPOSE_MAC) or length < 0:
        raise ValueError("invalid PKCS#12 KDF purpose or length")
    v = _BLOCK_SIZE[hash_name]
    diversifier = bytes([purpose]) * v
    state = bytearray(_fill(salt, v) + _fill(password, v))
    modulus = 1 << (8 * v)
    output = bytearray()
    while len(output) < length:
        digest = hashlib.new(hash_name, diversifier + state).digest()
        for _ in range(iterations - 1):
            digest = hashlib.new(hash_name, digest).digest()
        output += digest
        if len(output) >= length:
            break
        # Step 6C: treat I as v-byte big-endian integers and add B + 1 to each, modulo 2^(8v).
        addend = int.from_bytes(_fill(digest, v)[:v], "big") + 1
        for offset in range(0, len(state), v):
            block = (int.from_bytes(state[offset : offset + v], "big") + addend) % modulus
            state[offset : offset + v] = block.to_bytes(v, "big")
    return bytes(output[:length])


def go_string(password: bytes) -> str:
    """Decode Secret bytes the way Go's ``string(b)`` followed by ``range`` does.

    cert-manager hands go-pkcs12 ``string(pw)``; iterating that yields U+FFFD for every byte that is not
    part of valid UTF-8, so each such byte becomes one replacement character here too.
    """
    text = password.decode("utf-8", errors="surrogateescape")
    return "".join("\ufffd" if 0xDC80 <= ord(char) <= 0xDCFF else char for char in text)


def bmp_password(password: str) -> bytes:
    """The password as a NUL-terminated BMPString (RFC 7292 B.1); non-BMP characters are rejected."""
    return encode_ucs2(password) + b"\x00\x00"
