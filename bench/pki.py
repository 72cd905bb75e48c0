"""Key generation and certificate signing rates through certkeeper.pki, beside raw cryptography.

For RSA-2048, ECDSA P-256 and Ed25519 it measures, on one core:

* keys/s: ``certkeeper.pki.keys.generate_private_key`` vs cryptography's ``generate_private_key``;
* certificates/s: the CA issuer's path through certkeeper (``certificate_params_from_csr`` then
  ``sign_with_ca``: CSR signature check, usage validation, signing, chain ordering and PEM) vs the
  same certificate built directly with cryptography's ``CertificateBuilder`` (CSR signature check,
  the same extensions, signing, PEM). certkeeper additionally verifies the new certificate against
  its CA while ordering the chain, which is where most of the difference comes from (the CA's own
  self-signature check is remembered across requests, as in the engine; the CSR's checks are not).

The signer (CA) key has the row's algorithm; the CSR's key too. Prints a table; never asserts.
Usage: ``python bench/pki.py [--seconds 3]``.
"""

from __future__ import annotations

import argparse
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import ExtendedKeyUsageOID

from certkeeper.pki.csr import build_csr, clear_csr_memos
from certkeeper.pki.keys import KeyAlgorithm, KeySpec, PrivateKey, generate_private_key
from certkeeper.pki.sign import certificate_params_from_csr, certificate_params_from_template, sign_with_ca
from certkeeper.pki.sign import sign_certificate as certkeeper_sign_certificate
from certkeeper.pki.template import CertificateTemplate

NOW = datetime.now(UTC)
USAGES = ("digital signature", "key encipherment", "server auth")


@dataclass(frozen=True)
class Algorithm:
    label: str
    spec: KeySpec
    raw_generate: Callable[[], PrivateKey]
    raw_hash: hashes.SHA256 | None


ALGORITHMS = (
    Algorithm(
        "RSA-2048",
        KeySpec(algorithm=KeyAlgorithm.RSA, size=2048),
        lambda: rsa.generate_private_key(public_exponent=65537, key_size=2048),
        hashes.SHA256(),
    ),
    Algorithm(
        "ECDSA P-256",
        KeySpec(algorithm=KeyAlgorithm.ECDSA, size=256),
        lambda: ec.generate_private_key(ec.SECP256R1()),
        hashes.SHA256(),
    ),
    Algorithm("Ed25519", KeySpec(algorithm=KeyAlgorithm.ED25519), ed25519.Ed25519PrivateKey.generate, None),
)


def rate(work: Callable[[], object], seconds: float) -> float:
    """Operations per second of ``work``, run for about ``seconds`` (at least once)."""
    count = 0
    started = time.perf_counter()
    deadline = started + seconds
    while True:
        work()
        count += 1
        now = time.perf_counter()
        if now >= deadline:
            return count / (now - started)


def make_ca(algorithm: Algorithm) -> tuple[x509.Certificate, PrivateKey]:
    key = generate_private_key(algorithm.spec)
    template = CertificateTemplate(common_name=f"bench {algorithm.label} CA", is_ca=True, key=algorithm.spec)
    params = certificate_params_from_template(template, key.public_key(), now=NOW)
    return certkeeper_sign_certificate(params, signer_key=key), key


def raw_sign(
    csr: x509.CertificateSigningRequest, ca: x509.Certificate, ca_key: PrivateKey, hash_: hashes.SHA256 | None
) -> bytes:
    """The same certificate, built directly with cryptography."""
    if not csr.is_signature_valid:
        raise ValueError("bad CSR signature")
    public_key = csr.public_key()
    if not isinstance(public_key, rsa.RSAPublicKey | ec.EllipticCurvePublicKey | ed25519.Ed25519PublicKey):
        raise TypeError("unsupported key")
    ca_ski = ca.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    san = csr.extensions.get_extension_for_class(x509.SubjectAlternativeName)
    not_before = NOW.replace(microsecond=0)
    builder = (
        x509.CertificateBuilder()
        .subject_name(csr.subject)
        .issuer_name(ca.subject)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_before + timedelta(days=90))
        .add_extension(
            x509.KeyUsage(True, False, True, False, False, False, False, False, False),
            critical=True,
        )
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ca_ski), critical=False)
        .add_extension(san.value, critical=san.critical)
    )
    return builder.sign(ca_key, hash_).public_bytes(Encoding.PEM)


def measure(algorithm: Algorithm, seconds: float) -> tuple[float, float, float, float]:
    """(certkeeper keys/s, raw keys/s, certkeeper certs/s, raw certs/s) for one algorithm."""
    keys_certkeeper = rate(lambda: generate_private_key(algorithm.spec), seconds)
    keys_raw = rate(algorithm.raw_generate, seconds)
    ca, ca_key = make_ca(algorithm)
    leaf_key = generate_private_key(algorithm.spec)
    template = CertificateTemplate(
        common_name="bench.example.com",
        dns_names=("bench.example.com", "www.bench.example.com"),
        usages=USAGES,
        key=algorithm.spec,
    )
    csr = build_csr(template, leaf_key)

    def certkeeper_issue() -> bytes:
        # Every round is a new request: forget the CSR's remembered signature check and public key
        # (the engine checks each request's CSR once in admission and reuses that when signing). The
        # CA's own self-signature check stays remembered across requests, as it does in the engine.
        clear_csr_memos()
        params = certificate_params_from_csr(csr, now=NOW, usages=USAGES)
        return sign_with_ca(params, ca_certificates=[ca], ca_key=ca_key).chain_pem

    certs_certkeeper = rate(certkeeper_issue, seconds)
    certs_raw = rate(lambda: raw_sign(csr, ca, ca_key, algorithm.raw_hash), seconds)
    return keys_certkeeper, keys_raw, certs_certkeeper, certs_raw


def pin_to_one_core() -> str:
    """Restrict this process to one CPU where the OS allows it; say which."""
    if hasattr(os, "sched_setaffinity") and hasattr(os, "sched_getaffinity"):
        cpu = min(os.sched_getaffinity(0))
        os.sched_setaffinity(0, {cpu})
        return f"pinned to CPU {cpu}"
    return "not pinned (no sched_setaffinity on this OS)"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--seconds", type=float, default=3.0, help="duration of each measurement (default 3)")
    args = parser.parse_args()
    print(f"certkeeper.pki vs raw cryptography, {args.seconds:g}s per measurement, {pin_to_one_core()}")
    header = ("algorithm", "keys/s certkeeper", "keys/s raw", "certs/s certkeeper", "certs/s raw", "certs ratio")
    rows = []
    for algorithm in ALGORITHMS:
        keys_ck, keys_raw, certs_ck, certs_raw = measure(algorithm, args.seconds)
        rows.append(
            (
                algorithm.label,
                f"{keys_ck:,.1f}",
                f"{keys_raw:,.1f}",
                f"{certs_ck:,.1f}",
                f"{certs_raw:,.1f}",
                f"{certs_ck / certs_raw:.2f}",
            )
        )
    widths = [max(len(row[i]) for row in (header, *rows)) for i in range(len(header))]
    for row in (header, tuple("-" * width for width in widths), *rows):
        first = row[0].ljust(widths[0])
        rest = [cell.rjust(width) for cell, width in zip(row[1:], widths[1:], strict=True)]
        print("  ".join([first, *rest]))


if __name__ == "__main__":
    main()
