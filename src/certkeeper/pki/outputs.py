"""Additional output formats of a Certificate's Secret: ``key.der`` and ``tls-combined.pem``.

Follows cert-manager's ``setAdditionalOutputFormats`` (pkg/controller/certificates/issuing/internal/secret.go)
and ``OutputFormatDER`` / ``OutputFormatCombinedPEM`` (internal/controller/certificates/secrets.go):

- ``DER`` writes ``key.der``: the bytes inside tls.key's PEM block, so the key in the same encoding as tls.key
  (``spec.privateKey.encoding``: PKCS1, the default, gives PKCS#1 RSAPrivateKey for RSA and SEC 1
  ECPrivateKey for ECDSA; Ed25519 and PKCS8 give PKCS#8 PrivateKeyInfo), as pkg/util/pki's EncodePrivateKey.
- ``CombinedPEM`` writes ``tls-combined.pem``: tls.key, one ``\\n``, then tls.crt, byte for byte.

Pure.
"""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum
from typing import Final

from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat

#: Secret data keys (cert-manager pkg/apis/certmanager/v1/types_certificate.go).
DER_KEY: Final = "key.der"
COMBINED_PEM_KEY: Final = "tls-combined.pem"

OutputPrivateKey = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey


class OutputFormat(StrEnum):
    """``spec.additionalOutputFormats[].type``; values are the wire strings."""

    DER = "DER"
    COMBINED_PEM = "CombinedPEM"


def encode_private_key_der(private_key: OutputPrivateKey, encoding: str | None) -> bytes:
    """The DER inside tls.key for ``encoding`` (``PKCS1``, ``PKCS8``; None or empty means PKCS1).

    Raises ValueError for another encoding, with pkg/util/pki's message.
    """
    if encoding in (None, "", "PKCS1"):
        if isinstance(private_key, rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey):
            # TraditionalOpenSSL is PKCS#1 for RSA and SEC 1 (with curve and public key, like Go) for ECDSA.
            return private_key.private_bytes(Encoding.DER, PrivateFormat.TraditionalOpenSSL, NoEncryption())
    elif encoding != "PKCS8":
        raise ValueError(f"error encoding private key: unknown key encoding: {encoding}")
    return private_key.private_bytes(Encoding.DER, PrivateFormat.PKCS8, NoEncryption())


def combine_pem(key_pem: bytes, chain_pem: bytes) -> bytes:
    """tls-combined.pem: ``key_pem`` (tls.key), a newline, then ``chain_pem`` (tls.crt), unchanged."""
    return key_pem + b"\n" + chain_pem


def additional_output_data(
    formats: Iterable[str],
    *,
    private_key: OutputPrivateKey,
    key_encoding: str | None,
    key_pem: bytes,
    chain_pem: bytes,
) -> dict[str, bytes]:
    """The Secret data for ``spec.additionalOutputFormats`` (their ``type`` values, in order).

    ``key_pem`` and ``chain_pem`` are the tls.key and tls.crt being written, ``private_key`` the key in
    tls.key and ``key_encoding`` its ``spec.privateKey.encoding``. Raises ValueError for an unknown type.
    """
    data: dict[str, bytes] = {}
    for output_type in formats:
        if output_type == OutputFormat.DER:
            data[DER_KEY] = encode_private_key_der(private_key, key_encoding)
        elif output_type == OutputFormat.COMBINED_PEM:
            data[COMBINED_PEM_KEY] = combine_pem(key_pem, chain_pem)
        else:
            raise ValueError(f"unknown additional output format {output_type}")
    return data
