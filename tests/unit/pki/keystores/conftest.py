"""Shared material for keystore tests: keys, a small CA hierarchy, a deterministic random source, tool runners."""

from __future__ import annotations

import re
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.hazmat.primitives.serialization import load_pem_private_key
from cryptography.x509.oid import NameOID

from certkeeper.pki.keystores import KeystorePrivateKey

TESTDATA = Path(__file__).parent / "testdata"
GOLDEN = TESTDATA / "golden"
#: The password the golden files were written with (non-ASCII on purpose).
GOLDEN_PASSWORD = "pässwörd-€".encode()
#: The JKS creation time the golden files were written with.
GOLDEN_CREATED_AT = datetime(2025, 6, 1, 12, 0, 0, 123000, tzinfo=UTC)
CREATED_AT = datetime(2026, 3, 14, 15, 9, 26, 535000, tzinfo=UTC)


class CountingRandom:
    """Yields 0x00, 0x01, 0x02, ... like the Go generator's reader, so outputs are reproducible."""

    def __init__(self) -> None:
        self.consumed = 0

    def __call__(self, count: int) -> bytes:
        out = bytes((self.consumed + i) & 0xFF for i in range(count))
        self.consumed += count
        return out


@dataclass(frozen=True, slots=True, kw_only=True)
class Hierarchy:
    """root -> intermediate -> leaves; plus an unrelated CA. Certificates only, keys stay in fixtures."""

    root: x509.Certificate
    intermediate: x509.Certificate
    other_ca: x509.Certificate
    rsa_leaf: x509.Certificate
    ec_leaf: x509.Certificate
    ed25519_leaf: x509.Certificate


@dataclass(frozen=True, slots=True, kw_only=True)
class GoldenVectors:
    """The documented vectors under testdata/ that golden/ was generated from."""

    key: KeystorePrivateKey
    chain: list[x509.Certificate]
    cas: list[x509.Certificate]


def _name(common_name: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "certkeeper"),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )


def _certificate(
    subject: x509.Name,
    public_key: rsa.RSAPublicKey | ec.EllipticCurvePublicKey | ed25519.Ed25519PublicKey,
    issuer: x509.Name,
    issuer_key: ec.EllipticCurvePrivateKey,
    *,
    serial: int,
    ca: bool,
) -> x509.Certificate:
    start = datetime(2026, 1, 1, tzinfo=UTC)
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(public_key)
        .serial_number(serial)
        .not_valid_before(start)
        .not_valid_after(start + timedelta(days=3650))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
        .sign(issuer_key, hashes.SHA256())
    )


@pytest.fixture(scope="session")
def rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(scope="session")
def ec_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


@pytest.fixture(scope="session")
def ed25519_key() -> ed25519.Ed25519PrivateKey:
    return ed25519.Ed25519PrivateKey.generate()


@pytest.fixture(scope="session")
def hierarchy(
    rsa_key: rsa.RSAPrivateKey, ec_key: ec.EllipticCurvePrivateKey, ed25519_key: ed25519.Ed25519PrivateKey
) -> Hierarchy:
    root_key = ec.generate_private_key(ec.SECP256R1())
    intermediate_key = ec.generate_private_key(ec.SECP256R1())
    other_key = ec.generate_private_key(ec.SECP256R1())
    root_name, intermediate_name, other_name = _name("root"), _name("intermediate"), _name("other")
    leaf_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "leaf.example.com")])

    def leaf(public_key: rsa.RSAPublicKey | ec.EllipticCurvePublicKey | ed25519.Ed25519PublicKey) -> x509.Certificate:
        return _certificate(leaf_name, public_key, intermediate_name, intermediate_key, serial=10, ca=False)

    return Hierarchy(
        root=_certificate(root_name, root_key.public_key(), root_name, root_key, serial=1, ca=True),
        intermediate=_certificate(
            intermediate_name, intermediate_key.public_key(), root_name, root_key, serial=2, ca=True
        ),
        other_ca=_certificate(other_name, other_key.public_key(), other_name, other_key, serial=3, ca=True),
        rsa_leaf=leaf(rsa_key.public_key()),
        ec_leaf=leaf(ec_key.public_key()),
        ed25519_leaf=leaf(ed25519_key.public_key()),
    )


@pytest.fixture(scope="session")
def golden_vectors() -> GoldenVectors:
    key = load_pem_private_key((TESTDATA / "vector-leaf-key.pem").read_bytes(), None)
    assert isinstance(key, ec.EllipticCurvePrivateKey)
    return GoldenVectors(
        key=key,
        chain=x509.load_pem_x509_certificates((TESTDATA / "vector-chain.pem").read_bytes()),
        cas=x509.load_pem_x509_certificates((TESTDATA / "vector-ca.pem").read_bytes()),
    )


def run(args: Sequence[str], *, stdin: bytes | None = None) -> subprocess.CompletedProcess[bytes]:
    """Run a peer tool (openssl, keytool) without raising; tests look at returncode and output."""
    return subprocess.run(list(args), input=stdin, capture_output=True, timeout=60, check=False)


def openssl_version() -> tuple[int, int]:
    """(major, minor) of the openssl command line tool."""
    match = re.match(rb"OpenSSL (\d+)\.(\d+)", run(["openssl", "version"]).stdout)
    assert match, "openssl is required by these tests"
    return int(match[1]), int(match[2])
