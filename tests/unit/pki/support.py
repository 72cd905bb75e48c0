"""Helpers shared by the pki tests: a fixed clock, openssl runners, and small CA builders."""

from __future__ import annotations

import subprocess
from datetime import UTC, datetime
from pathlib import Path

from cryptography import x509

from certkeeper.pki.keys import PrivateKey, generate_ecdsa_private_key
from certkeeper.pki.pem import encode_pem_certificates
from certkeeper.pki.sign import certificate_params_from_template, sign_certificate
from certkeeper.pki.template import CertificateTemplate

NOW = datetime(2026, 6, 10, 12, 34, 56, 789000, tzinfo=UTC)


def openssl(*args: str, stdin: bytes | None = None) -> str:
    """Run openssl, failing the test with its stderr if it exits non-zero."""
    result = subprocess.run(["openssl", *args], input=stdin, capture_output=True, timeout=30, check=False)
    assert result.returncode == 0, result.stderr.decode(errors="replace")
    return result.stdout.decode()


def openssl_text(certificate: x509.Certificate) -> str:
    """``openssl x509 -text -noout`` of a certificate."""
    return openssl("x509", "-text", "-noout", stdin=encode_pem_certificates([certificate]))


def _verify(tmp_path: Path, leaf: bytes, ca: bytes, untrusted: bytes) -> subprocess.CompletedProcess[bytes]:
    (tmp_path / "ca.pem").write_bytes(ca)
    (tmp_path / "leaf.pem").write_bytes(leaf)
    args = ["openssl", "verify", "-attime", str(int(NOW.timestamp()) + 60), "-CAfile", str(tmp_path / "ca.pem")]
    if untrusted:
        (tmp_path / "untrusted.pem").write_bytes(untrusted)
        args += ["-untrusted", str(tmp_path / "untrusted.pem")]
    return subprocess.run([*args, str(tmp_path / "leaf.pem")], capture_output=True, timeout=30, check=False)


def openssl_verify(tmp_path: Path, leaf: bytes, ca: bytes, untrusted: bytes = b"") -> str:
    """``openssl verify -CAfile ca [-untrusted chain] leaf`` at a time inside the test validity; must pass."""
    result = _verify(tmp_path, leaf, ca, untrusted)
    assert result.returncode == 0, (result.stdout + result.stderr).decode(errors="replace")
    return result.stdout.decode()


def openssl_verify_error(tmp_path: Path, leaf: bytes, ca: bytes, untrusted: bytes = b"") -> str:
    """Like :func:`openssl_verify`, but verification must fail; returns openssl's output."""
    result = _verify(tmp_path, leaf, ca, untrusted)
    assert result.returncode != 0, result.stdout.decode(errors="replace")
    return (result.stdout + result.stderr).decode(errors="replace")


def make_ca(
    common_name: str,
    *,
    key: PrivateKey | None = None,
    issuer: tuple[x509.Certificate, PrivateKey] | None = None,
) -> tuple[x509.Certificate, PrivateKey]:
    """A CA certificate and its key, self-signed or signed by ``issuer``."""
    key = key or generate_ecdsa_private_key(256)
    params = certificate_params_from_template(
        CertificateTemplate(common_name=common_name, is_ca=True), key.public_key(), now=NOW
    )
    if issuer is None:
        return sign_certificate(params, signer_key=key), key
    return sign_certificate(params, signer_key=issuer[1], issuer=issuer[0]), key
