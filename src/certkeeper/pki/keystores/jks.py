"""keystore.jks and truststore.jks as cert-manager writes them: Sun's JKS format, written here (no pyjks).

Follows cert-manager's pkg/controller/certificates/issuing/internal/keystore.go (encodeJKSKeystore,
encodeJKSTruststore, addCAsToJKSStore), which uses github.com/pavlo-v-chernykh/keystore-go/v4:

- keystore: one PrivateKeyEntry under ``alias`` (default ``certificate``) holding the PKCS#8 key, protected
  with Sun's JKS key protector, and the full chain from tls.crt; then, if the issuer returned CA
  certificates, one trustedCertEntry per CA aliased ``ca``, ``ca-1``, ``ca-2``, ...
- truststore: the trustedCertEntries only.

Format (all integers big-endian)::

    u32 0xFEEDFEED, u32 version 2, u32 entry count, entries..., SHA-1 integrity digest
    private key entry:  u32 1, alias, u64 creation ms, u32 len + EncryptedPrivateKeyInfo, u32 n, n certs
    trusted cert entry: u32 2, alias, u64 creation ms, cert
    alias / cert type:  u16 length + UTF-8 bytes;  cert: type "X509", u32 length + DER
    digest = SHA-1(password bytes || "Mighty Aphrodite" || everything before the digest)

Key protection (OID 1.3.6.1.4.1.42.2.17.1.1): a 20-byte random salt; the key is XORed with the stream
SHA-1(pw || salt), SHA-1(pw || previous digest), ...; then SHA-1(pw || plaintext) is appended as a check.

Like keystore-go, the password bytes are widened one byte at a time (``00 b``), which equals Java's UTF-16
for ASCII passwords, and aliases are lower-cased, so a later entry with the same alias replaces an earlier one.
Entries are written in insertion order (keystore-go writes Go map order, which is random). Time is the
``created_at`` parameter; the only other input is the ``random_bytes`` source for the salt. Pure.
"""

from __future__ import annotations

import hashlib
import os
import struct
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Final

from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

from certkeeper.pki.keystores import der
from certkeeper.pki.keystores.pbe import RandomBytes
from certkeeper.pki.keystores.pkcs8 import KeystorePrivateKey, encode_pkcs8_der

#: ``spec.keystores.jks.alias`` when unset.
DEFAULT_JKS_ALIAS: Final = "certificate"

_MAGIC: Final = 0xFEEDFEED
_VERSION: Final = 2
_PRIVATE_KEY_TAG: Final = 1
_TRUSTED_CERTIFICATE_TAG: Final = 2
_WHITENER: Final = b"Mighty Aphrodite"
_KEY_PROTECTOR_OID: Final = "1.3.6.1.4.1.42.2.17.1.1"
_SALT_LENGTH: Final = 20
_DIGEST_LENGTH: Final = 20
# keystore-go passes the type through; cert-manager sets "X509", which Java accepts as an alias of "X.509".
_CERTIFICATE_TYPE: Final = "X509"
_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)


def _sha1(*parts: bytes) -> bytes:
    # The JKS format is defined with SHA-1; nothing here relies on its collision resistance.
    digest = hashlib.sha1(usedforsecurity=False)
    for part in parts:
        digest.update(part)
    return digest.digest()


def _password_bytes(password: bytes) -> bytes:
    return b"".join(b"\x00" + bytes([byte]) for byte in password)


def protect_private_key(pkcs8: bytes, password: bytes, salt: bytes) -> bytes:
    """Sun's JKS key protection of a PKCS#8 key: an EncryptedPrivateKeyInfo in DER."""
    if len(salt) != _SALT_LENGTH:
        raise ValueError("the JKS key protector uses a 20-byte salt")
    pw = _password_bytes(password)
    stream = bytearray()
    block = salt
    while len(stream) < len(pkcs8):
        block = _sha1(pw, block)
        stream += block
    protected = salt + bytes(a ^ b for a, b in zip(pkcs8, stream, strict=False)) + _sha1(pw, pkcs8)
    return der.sequence(der.algorithm_identifier(_KEY_PROTECTOR_OID, der.null()), der.octet_string(protected))


def _go_lower(alias: str) -> str:
    # Go's strings.ToLower maps each rune with simple case mapping; str.lower() applies full mappings
    # (U+0130 becomes two characters, and a final capital sigma becomes "ς"), so map one character at a time.
    return "".join("i" if char == "\u0130" else char.lower() for char in alias)


def _utf(value: str) -> bytes:
    encoded = value.encode("utf-8")
    if len(encoded) > 0xFFFF:
        raise ValueError("a JKS alias is at most 65535 bytes long")
    return struct.pack(">H", len(encoded)) + encoded


def _timestamp(created_at: datetime) -> bytes:
    if created_at.tzinfo is None:
        raise ValueError("created_at must be timezone-aware")
    milliseconds = (created_at - _EPOCH) // timedelta(milliseconds=1)
    return struct.pack(">Q", milliseconds & 0xFFFFFFFFFFFFFFFF)


def _certificate(certificate: x509.Certificate) -> bytes:
    body = certificate.public_bytes(Encoding.DER)
    return _utf(_CERTIFICATE_TYPE) + struct.pack(">I", len(body)) + body


def _private_key_entry(
    alias: str, created_at: datetime, protected_key: bytes, chain: Sequence[x509.Certificate]
) -> bytes:
    head = struct.pack(">I", _PRIVATE_KEY_TAG) + _utf(alias) + _timestamp(created_at)
    key = struct.pack(">I", len(protected_key)) + protected_key
    certificates = struct.pack(">I", len(chain)) + b"".join(_certificate(cert) for cert in chain)
    return head + key + certificates


def _trusted_entry(alias: str, created_at: datetime, certificate: x509.Certificate) -> bytes:
    head = struct.pack(">I", _TRUSTED_CERTIFICATE_TAG) + _utf(alias) + _timestamp(created_at)
    return head + _certificate(certificate)


def _store(entries: dict[str, bytes], password: bytes) -> bytes:
    body = struct.pack(">III", _MAGIC, _VERSION, len(entries)) + b"".join(entries.values())
    return body + _sha1(_password_bytes(password), _WHITENER, body)


def ca_alias(index: int) -> str:
    """The alias cert-manager gives the ``index``-th CA certificate: ``ca``, then ``ca-1``, ``ca-2``, ..."""
    return "ca" if index == 0 else f"ca-{index}"


def _add_cas(entries: dict[str, bytes], ca_certificates: Sequence[x509.Certificate], created_at: datetime) -> None:
    for index, certificate in enumerate(ca_certificates):
        alias = ca_alias(index)
        entries[alias] = _trusted_entry(alias, created_at, certificate)


def encode_jks_keystore(
    private_key: KeystorePrivateKey,
    chain: Sequence[x509.Certificate],
    ca_certificates: Sequence[x509.Certificate],
    password: bytes,
    *,
    created_at: datetime,
    alias: str = DEFAULT_JKS_ALIAS,
    random_bytes: RandomBytes = os.urandom,
) -> bytes:
    """keystore.jks: the key and full ``chain`` (leaf first) under ``alias``, then the CAs as ``ca``, ``ca-N``.

    ``password`` (the Secret's bytes) protects both the key entry and the store. Raises ValueError for an
    empty chain or an alias longer than 65535 bytes.
    """
    if not chain:
        raise ValueError("a JKS keystore needs at least the leaf certificate")
    key_alias = _go_lower(alias)
    protected = protect_private_key(encode_pkcs8_der(private_key), password, random_bytes(_SALT_LENGTH))
    entries = {key_alias: _private_key_entry(key_alias, created_at, protected, chain)}
    _add_cas(entries, ca_certificates, created_at)
    return _store(entries, password)


def encode_jks_truststore(
    ca_certificates: Sequence[x509.Certificate], password: bytes, *, created_at: datetime
) -> bytes:
    """truststore.jks: the CA certificates as trustedCertEntries ``ca``, ``ca-1``, ...

    Raises ValueError when ``ca_certificates`` is empty (cert-manager writes no truststore then).
    """
    if not ca_certificates:
        raise ValueError("a JKS truststore needs at least one CA certificate")
    entries: dict[str, bytes] = {}
    _add_cas(entries, ca_certificates, created_at)
    return _store(entries, password)
