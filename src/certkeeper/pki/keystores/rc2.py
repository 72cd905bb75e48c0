"""RC2 (RFC 2268) block cipher with an effective key length, in pure Python.

cert-manager's default PKCS#12 profile, LegacyRC2, encrypts the certificate bag with
pbeWithSHAAnd40BitRC2-CBC: a 5-byte key with 40 effective bits. cryptography's decrepit ``RC2`` accepts only
128-bit keys with 128 effective bits, so the 40-bit variant is implemented here. Only a few kilobytes of
certificates pass through it per keystore, so speed does not matter. Pure.
"""

from __future__ import annotations

from typing import Final

BLOCK_SIZE: Final = 8

# PITABLE of RFC 2268 §2: a permutation of 0..255 derived from the digits of pi.
_PITABLE: Final = bytes.fromhex(
    "d978f9c419ddb5ed28e9fd794aa0d89dc67e37832b76538e624c6488448bfba2"
    "179a59f587b34f1361456d8d09817d32bd8f40eb86b77b0bf09521225c6b4e82"
    "54d66593ce60b21c7356c014a78cf1dc1275ca1f3bbee4d1423dd430a33cb626"
    "6fbf0eda4669075727f21d9bbc944303f811c7f690ef3ee706c3d52fc8661ed7"
    "08e8eade8052eef784aa72ac354d6a2a961ad2715a1549744b9fd05e0418a4ec"
    "c2e0416e0f51cbcc2491af50a1f47039997c3a8523b8b47afc02365b25559731"
    "2d5dfa98e38a92ae05df2910676cbac9d300e6cfe19ea82c6316013f58e289a9"
    "0d38341bab33ffb0bb480c5fb9b1cd2ec5f3db47e5a59c770aa62068fe7fc1ad"
)
_ROTATIONS: Final = (1, 2, 3, 5)
_MASK: Final = 0xFFFF
# Mixing rounds between the two mashing rounds (RFC 2268 §3.3): 5 mix, mash, 6 mix, mash, 5 mix.
_SCHEDULE: Final = (5, 6, 5)


def _expand_key(key: bytes, effective_bits: int) -> tuple[int, ...]:
    """The 64 16-bit subkeys K[0..63] of RFC 2268 §2."""
    if not 1 <= len(key) <= 128:
        raise ValueError("an RC2 key is 1 to 128 bytes long")
    if not 1 <= effective_bits <= 1024:
        raise ValueError("the RC2 effective key length is 1 to 1024 bits")
    expanded = bytearray(128)
    expanded[: len(key)] = key
    for i in range(len(key), 128):
        expanded[i] = _PITABLE[(expanded[i - 1] + expanded[i - len(key)]) & 0xFF]
    # Reduce the search space to `effective_bits`: the last T8 bytes determine the rest.
    t8 = (effective_bits + 7) // 8
    tm = 0xFF % (1 << (8 + effective_bits - 8 * t8))
    expanded[128 - t8] = _PITABLE[expanded[128 - t8] & tm]
    for i in range(127 - t8, -1, -1):
        expanded[i] = _PITABLE[expanded[i + 1] ^ expanded[i + t8]]
    return tuple(expanded[2 * i] | (expanded[2 * i + 1] << 8) for i in range(64))


def _rotate_left(word: int, shift: int) -> int:
    return ((word << shift) | (word >> (16 - shift))) & _MASK


def _rotate_right(word: int, shift: int) -> int:
    return ((word >> shift) | (word << (16 - shift))) & _MASK


class RC2:
    """An RC2 key schedule; encrypts and decrypts single 8-byte blocks."""

    __slots__ = ("_subkeys",)

    def __init__(self, key: bytes, effective_bits: int) -> None:
        self._subkeys = _expand_key(key, effective_bits)

    def encrypt_block(self, block: bytes) -> bytes:
        """Encrypt one 8-byte block (RFC 2268 §3)."""
        r = _words(block)
        k = self._subkeys
        j = 0
        for phase, rounds in enumerate(_SCHEDULE):
            if phase:
                for i in range(4):
                    r[i] = (r[i] + k[r[i - 1] & 63]) & _MASK
            for _ in range(rounds):
                for i in range(4):
                    mixed = r[i] + k[j] + (r[i - 1] & r[i - 2]) + (~r[i - 1] & r[i - 3])
                    r[i] = _rotate_left(mixed & _MASK, _ROTATIONS[i])
                    j += 1
        return _block(r)

    def decrypt_block(self, block: bytes) -> bytes:
        """Decrypt one 8-byte block (RFC 2268 §4)."""
        r = _words(block)
        k = self._subkeys
        j = 63
        for phase, rounds in enumerate(reversed(_SCHEDULE)):
            if phase:
                for i in range(3, -1, -1):
                    r[i] = (r[i] - k[r[i - 1] & 63]) & _MASK
            for _ in range(rounds):
                for i in range(3, -1, -1):
                    word = _rotate_right(r[i], _ROTATIONS[i])
                    r[i] = (word - k[j] - (r[i - 1] & r[i - 2]) - (~r[i - 1] & r[i - 3])) & _MASK
                    j -= 1
        return _block(r)


def _words(block: bytes) -> list[int]:
    if len(block) != BLOCK_SIZE:
        raise ValueError("RC2 works on 8-byte blocks")
    return [int.from_bytes(block[i : i + 2], "little") for i in range(0, BLOCK_SIZE, 2)]


def _block(words: list[int]) -> bytes:
    return b"".join(word.to_bytes(2, "little") for word in words)


def cbc_encrypt(key: bytes, effective_bits: int, iv: bytes, plaintext: bytes) -> bytes:
    """RC2-CBC over ``plaintext``, which the caller has already padded to a multiple of 8 bytes."""
    if len(iv) != BLOCK_SIZE or len(plaintext) % BLOCK_SIZE:
        raise ValueError("RC2-CBC needs an 8-byte IV and whole 8-byte blocks")
    cipher = RC2(key, effective_bits)
    previous = iv
    out = bytearray()
    for offset in range(0, len(plaintext), BLOCK_SIZE):
        chunk = plaintext[offset : offset + BLOCK_SIZE]
        previous = cipher.encrypt_block(bytes(a ^ b for a, b in zip(chunk, previous, strict=True)))
        out += previous
    return bytes(out)


def cbc_decrypt(key: bytes, effective_bits: int, iv: bytes, ciphertext: bytes) -> bytes:
    """RC2-CBC decryption; returns the still padded plaintext."""
    if len(iv) != BLOCK_SIZE or len(ciphertext) % BLOCK_SIZE:
        raise ValueError("RC2-CBC needs an 8-byte IV and whole 8-byte blocks")
    cipher = RC2(key, effective_bits)
    previous = iv
    out = bytearray()
    for offset in range(0, len(ciphertext), BLOCK_SIZE):
        chunk = ciphertext[offset : offset + BLOCK_SIZE]
        out += bytes(a ^ b for a, b in zip(cipher.decrypt_block(chunk), previous, strict=True))
        previous = chunk
    return bytes(out)
