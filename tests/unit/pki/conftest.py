"""Keys shared by the pki tests; RSA is slow to generate, so each kind is made once per session."""

from __future__ import annotations

import pytest
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

from certkeeper.pki.keys import generate_ecdsa_private_key, generate_ed25519_private_key, generate_rsa_private_key


@pytest.fixture(scope="session")
def rsa2048() -> rsa.RSAPrivateKey:
    return generate_rsa_private_key(2048)


@pytest.fixture(scope="session")
def p256() -> ec.EllipticCurvePrivateKey:
    return generate_ecdsa_private_key(256)


@pytest.fixture(scope="session")
def p384() -> ec.EllipticCurvePrivateKey:
    return generate_ecdsa_private_key(384)


@pytest.fixture(scope="session")
def ed25519_key() -> ed25519.Ed25519PrivateKey:
    return generate_ed25519_private_key()
