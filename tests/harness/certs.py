"""The test control plane's own PKI: one CA that signs the API server's serving certificate and every
client certificate the harness mints, plus the service-account signing key.

Client certificates are how identities authenticate to the test API server: kube-apiserver maps the
subject's CN to the user name and each O to a group (``--client-ca-file``), so any identity, a user or a
``system:serviceaccount:<ns>:<name>``, can be minted at any time without restarting the server.
ECDSA P-256 throughout: key generation costs microseconds, which keeps the session start fast.

Test support code, not product code: it uses cryptography directly so the harness does not depend on
the certkeeper.pki code it helps to test. Key material goes to 0600 files and never into messages.
"""

from __future__ import annotations

import datetime
import ipaddress
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

#: Certificates the harness signs are valid this long; a benchmark run never gets near it.
VALIDITY = datetime.timedelta(days=7)
#: Backdating absorbs small clock differences between the harness and the API server.
BACKDATE = datetime.timedelta(minutes=5)


@dataclass(frozen=True, slots=True, kw_only=True)
class KeyPairFiles:
    """A PEM certificate and its PEM private key on disk."""

    cert_file: Path
    key_file: Path


def _write(path: Path, data: bytes, *, private: bool) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    # Create with the final mode so a key is never readable by others, not even briefly.
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600 if private else 0o644)
    with os.fdopen(fd, "wb") as f:
        f.write(data)


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


class HarnessCA:
    """A throwaway CA whose files live in ``directory`` (``ca.crt``, ``ca.key``)."""

    def __init__(self, directory: Path, *, common_name: str = "certkeeper-test-ca") -> None:
        self.directory = directory
        self._key = ec.generate_private_key(ec.SECP256R1())
        now = datetime.datetime.now(datetime.UTC)
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
        self.certificate = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(self._key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - BACKDATE)
            .not_valid_after(now + VALIDITY)
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(
                x509.KeyUsage(
                    digital_signature=True,
                    content_commitment=False,
                    key_encipherment=False,
                    data_encipherment=False,
                    key_agreement=False,
                    key_cert_sign=True,
                    crl_sign=True,
                    encipher_only=False,
                    decipher_only=False,
                ),
                critical=True,
            )
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(self._key.public_key()), critical=False)
            .sign(self._key, hashes.SHA256())
        )
        self.cert_file = directory / "ca.crt"
        _write(self.cert_file, self.cert_pem, private=False)
        _write(directory / "ca.key", _key_pem(self._key), private=True)

    @property
    def cert_pem(self) -> bytes:
        """The CA certificate in PEM, as a ``caBundle`` or ``certificate-authority-data`` wants it."""
        return self.certificate.public_bytes(serialization.Encoding.PEM)

    def issue(
        self,
        directory: Path,
        *,
        common_name: str,
        organizations: Sequence[str] = (),
        dns_names: Sequence[str] = (),
        ip_addresses: Sequence[str] = (),
        server: bool = False,
    ) -> KeyPairFiles:
        """Sign a fresh key for a client (``server=False``) or a TLS server; write ``tls.crt``/``tls.key``."""
        key = ec.generate_private_key(ec.SECP256R1())
        now = datetime.datetime.now(datetime.UTC)
        attributes = [x509.NameAttribute(NameOID.ORGANIZATION_NAME, o) for o in organizations]
        attributes.append(x509.NameAttribute(NameOID.COMMON_NAME, common_name))
        builder = (
            x509.CertificateBuilder()
            .subject_name(x509.Name(attributes))
            .issuer_name(self.certificate.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - BACKDATE)
            .not_valid_after(now + VALIDITY)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(
                x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH if server else ExtendedKeyUsageOID.CLIENT_AUTH]),
                critical=False,
            )
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(self._key.public_key()),
                critical=False,
            )
        )
        sans: list[x509.GeneralName] = [x509.DNSName(d) for d in dns_names]
        sans += [x509.IPAddress(ipaddress.ip_address(ip)) for ip in ip_addresses]
        if sans:
            builder = builder.add_extension(x509.SubjectAlternativeName(sans), critical=False)
        certificate = builder.sign(self._key, hashes.SHA256())
        files = KeyPairFiles(cert_file=directory / "tls.crt", key_file=directory / "tls.key")
        _write(files.cert_file, certificate.public_bytes(serialization.Encoding.PEM), private=False)
        _write(files.key_file, _key_pem(key), private=True)
        return files


def write_service_account_keys(directory: Path) -> KeyPairFiles:
    """The key pair kube-apiserver signs and verifies service-account tokens with (``sa.key``/``sa.pub``)."""
    key = ec.generate_private_key(ec.SECP256R1())
    public = key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    files = KeyPairFiles(cert_file=directory / "sa.pub", key_file=directory / "sa.key")
    _write(files.cert_file, public, private=False)
    _write(files.key_file, _key_pem(key), private=True)
    return files
