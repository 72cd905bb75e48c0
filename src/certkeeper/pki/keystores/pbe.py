"""Password-based encryption and MACs for PKCS#12, with the parameters go-pkcs12 writes.

Encryption schemes (RFC 7292 appendix C, RFC 8018):

- ``rc2-40``: pbeWithSHAAnd40BitRC2-CBC, key and IV from the PKCS#12 KDF over the BMPString password;
- ``3des``: pbeWithSHAAnd3-KeyTripleDES-CBC, likewise;
- ``pbes2``: PBES2 with PBKDF2-HMAC-SHA-256 (UTF-8 password) and AES-256-CBC with a random IV.

MACs: the classic PKCS#12 HMAC (SHA-1 or SHA-256, key from the PKCS#12 KDF, purpose 3) or PBMAC1 (RFC 9579:
HMAC-SHA-256 keyed by 32 bytes of PBKDF2-HMAC-SHA-256 over the UTF-8 password).

Randomness is drawn from the caller's ``random_bytes`` in the order go-pkcs12 draws it (salt, then IV), so
a deterministic source reproduces go-pkcs12's bytes exactly. Pure apart from that source.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable
from typing import Final, Literal

from cryptography.hazmat.decrepit.ciphers.algorithms import TripleDES
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from certkeeper.pki.keystores import der, rc2
from certkeeper.pki.keystores.kdf import PURPOSE_IV, PURPOSE_KEY, PURPOSE_MAC, KdfHash, bmp_password, pkcs12_kdf

RandomBytes = Callable[[int], bytes]
EncryptionScheme = Literal["rc2-40", "3des", "pbes2"]
MacScheme = Literal["sha1", "sha256", "pbmac1"]

OID_PBE_SHA1_RC2_40: Final = "1.2.840.113549.1.12.1.6"
OID_PBE_SHA1_3DES: Final = "1.2.840.113549.1.12.1.3"
OID_PBES2: Final = "1.2.840.113549.1.5.13"
OID_PBKDF2: Final = "1.2.840.113549.1.5.12"
OID_PBMAC1: Final = "1.2.840.113549.1.5.14"
OID_HMAC_SHA256: Final = "1.2.840.113549.2.9"
OID_AES256_CBC: Final = "2.16.840.1.101.3.4.1.42"
OID_SHA1: Final = "1.3.14.3.2.26"
OID_SHA256: Final = "2.16.840.1.101.3.4.2.1"

_AES256_KEY_LENGTH: Final = 32
_PBMAC1_KEY_LENGTH: Final = 32


def _pad(data: bytes, block_size: int) -> bytes:
    # PKCS#5/#7 padding; a full block is added when the data is already aligned.
    count = block_size - len(data) % block_size
    return data + bytes([count]) * count


def _pbkdf2_params(salt: bytes, iterations: int, *, key_length: int | None, prf_null: bool) -> bytes:
    prf = der.algorithm_identifier(OID_HMAC_SHA256, der.null() if prf_null else None)
    fields = [der.octet_string(salt), der.integer(iterations)]
    if key_length is not None:
        fields.append(der.integer(key_length))
    return der.algorithm_identifier(OID_PBKDF2, der.sequence(*fields, prf))


def encrypt(
    scheme: EncryptionScheme,
    password: str,
    plaintext: bytes,
    *,
    iterations: int,
    salt_length: int,
    random_bytes: RandomBytes,
) -> tuple[bytes, bytes]:
    """Encrypt ``plaintext``; returns (AlgorithmIdentifier DER, ciphertext)."""
    salt = random_bytes(salt_length)
    if scheme == "pbes2":
        iv = random_bytes(16)
        # go-pkcs12 >= 0.7.4 writes the PRF's NULL parameter, as RFC 8018 A.2 requires (BoringSSL insists).
        kdf = _pbkdf2_params(salt, iterations, key_length=None, prf_null=True)
        algorithm = der.algorithm_identifier(
            OID_PBES2, der.sequence(kdf, der.algorithm_identifier(OID_AES256_CBC, der.octet_string(iv)))
        )
        key = hashlib.pbkdf2_hmac("sha256", password.encode("utf-8"), salt, iterations, _AES256_KEY_LENGTH)
        encryptor = Cipher(algorithms.AES(key), modes.CBC(iv)).encryptor()
        return algorithm, encryptor.update(_pad(plaintext, 16)) + encryptor.finalize()
    bmp = bmp_password(password)
    params = der.sequence(der.octet_string(salt), der.integer(iterations))
    iv = pkcs12_kdf("sha1", bmp, salt, iterations, PURPOSE_IV, 8)
    if scheme == "rc2-40":
        key = pkcs12_kdf("sha1", bmp, salt, iterations, PURPOSE_KEY, 5)
        ciphertext = rc2.cbc_encrypt(key, 40, iv, _pad(plaintext, rc2.BLOCK_SIZE))
        return der.algorithm_identifier(OID_PBE_SHA1_RC2_40, params), ciphertext
    key = pkcs12_kdf("sha1", bmp, salt, iterations, PURPOSE_KEY, 24)
    encryptor = Cipher(TripleDES(key), modes.CBC(iv)).encryptor()
    ciphertext = encryptor.update(_pad(plaintext, 8)) + encryptor.finalize()
    return der.algorithm_identifier(OID_PBE_SHA1_3DES, params), ciphertext


def mac_data(
    scheme: MacScheme,
    password: str,
    message: bytes,
    *,
    iterations: int,
    salt_length: int,
    random_bytes: RandomBytes,
) -> bytes:
    """The PFX MacData over ``message`` (the DER of the AuthenticatedSafe)."""
    salt = random_bytes(salt_length)
    if scheme == "pbmac1":
        utf8 = password.encode("utf-8")
        key = hashlib.pbkdf2_hmac("sha256", utf8, salt, iterations, _PBMAC1_KEY_LENGTH)
        digest = hmac.new(key, message, "sha256").digest()
        params = der.sequence(
            _pbkdf2_params(salt, iterations, key_length=_PBMAC1_KEY_LENGTH, prf_null=False),
            der.algorithm_identifier(OID_HMAC_SHA256),
        )
        # RFC 9579: the classic macSalt and iterations are ignored; go-pkcs12 writes an empty salt and 0.
        return der.sequence(
            der.sequence(der.algorithm_identifier(OID_PBMAC1, params), der.octet_string(digest)),
            der.octet_string(b""),
            der.integer(0),
        )
    hash_name: KdfHash = scheme
    size = hashlib.new(hash_name).digest_size
    key = pkcs12_kdf(hash_name, bmp_password(password), salt, iterations, PURPOSE_MAC, size)
    digest = hmac.new(key, message, hash_name).digest()
    algorithm = der.algorithm_identifier(OID_SHA1 if scheme == "sha1" else OID_SHA256)
    fields = [der.sequence(algorithm, der.octet_string(digest)), der.octet_string(salt)]
    # iterations is `INTEGER DEFAULT 1`: DER leaves a default value out.
    if iterations != 1:
        fields.append(der.integer(iterations))
    return der.sequence(*fields)
