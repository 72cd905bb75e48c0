"""The private key types keystores accept, and their unencrypted PKCS#8 DER (as Go's MarshalPKCS8PrivateKey).

Both keystore formats store the key as PKCS#8, whatever ``spec.privateKey.encoding`` says (cert-manager's
keystore.go converts it). Pure.
"""

from __future__ import annotations

from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat

#: The key algorithms a Certificate can ask for (RSA, ECDSA, Ed25519).
KeystorePrivateKey = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey


def encode_pkcs8_der(private_key: KeystorePrivateKey) -> bytes:
    """The key as an unencrypted PKCS#8 PrivateKeyInfo in DER."""
    if not isinstance(private_key, rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey):
        raise TypeError("keystores hold RSA, ECDSA or Ed25519 private keys")
    return private_key.private_bytes(Encoding.DER, PrivateFormat.PKCS8, NoEncryption())
