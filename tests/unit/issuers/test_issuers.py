import dataclasses
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography import x509

from certkeeper.api.certmanager import (
    CAIssuer as CAIssuerSpec,
)
from certkeeper.api.certmanager import (
    CertificateRequest,
    CertificateRequestSpec,
    Issuer,
    IssuerSpec,
)
from certkeeper.api.certmanager import (
    SelfSignedIssuer as SelfSignedSpec,
)
from certkeeper.api.cmmeta import IssuerReference
from certkeeper.api.constants import KeyUsage
from certkeeper.api.core import Secret
from certkeeper.api.meta import ObjectMeta
from certkeeper.issuers.base import Failed, Issued, Pending, SignContext, issuer_type
from certkeeper.issuers.ca import CAIssuer
from certkeeper.issuers.selfsigned import SelfSignedIssuer
from certkeeper.pki.csr import build_csr
from certkeeper.pki.keys import KeyAlgorithm, KeySpec, encode_private_key_pem, generate_private_key
from certkeeper.pki.pem import DEFAULT_PEM_LIMITS, encode_pem_certificate, encode_pem_certificate_request
from certkeeper.pki.sign import certificate_params_from_template, sign_self_signed
from certkeeper.pki.template import CertificateTemplate

NOW = datetime(2030, 1, 1, tzinfo=UTC)
EC = KeySpec(algorithm=KeyAlgorithm.ECDSA)


class Secrets:
    def __init__(self, *secrets: Secret) -> None:
        self._by_key = {(s.namespace, s.name): s for s in secrets}

    def get_secret(self, namespace: str, name: str) -> Secret | None:
        return self._by_key.get((namespace, name))


def tls_secret(name: str, ns: str, **data: bytes) -> Secret:
    return Secret(api_version="v1", metadata=ObjectMeta(name=name, namespace=ns), type="kubernetes.io/tls", data=data)


def make_ca(is_ca: bool = True) -> tuple[bytes, bytes]:
    key = generate_private_key(EC)
    params = certificate_params_from_template(
        CertificateTemplate(common_name="test-ca", is_ca=is_ca), key.public_key(), now=NOW
    )
    cert = sign_self_signed(params, key).certificate
    return encode_pem_certificate(cert), encode_private_key_pem(key)


def request_for(
    template: CertificateTemplate, *, key_secret: str = "", ns: str = "ns"
) -> tuple[CertificateRequest, bytes]:
    key = generate_private_key(EC)
    usages: tuple[KeyUsage, ...] = ("digital signature", "key encipherment", "server auth")
    csr = build_csr(dataclasses.replace(template, key=EC, usages=usages), key)
    annotations = {"cert-manager.io/private-key-secret-name": key_secret} if key_secret else None
    cr = CertificateRequest(
        api_version="cert-manager.io/v1",
        metadata=ObjectMeta(name="cr-1", namespace=ns, annotations=annotations),
        spec=CertificateRequestSpec(
            issuer_ref=IssuerReference(name="iss"),
            request=encode_pem_certificate_request(csr),
            duration="24h",
            usages=list(usages),
        ),
    )
    return cr, encode_private_key_pem(key)


def ctx(*secrets: Secret, ns: str = "ns") -> SignContext:
    return SignContext(resource_namespace=ns, secrets=Secrets(*secrets), now=NOW, pem_limits=DEFAULT_PEM_LIMITS)


def issuer(spec: IssuerSpec) -> Issuer:
    return Issuer(api_version="cert-manager.io/v1", metadata=ObjectMeta(name="iss", namespace="ns"), spec=spec)


CA_ISSUER = issuer(IssuerSpec(ca=CAIssuerSpec(secret_name="ca", crl_distribution_points=["http://crl.example/ca"])))


async def test_ca_setup_reasons() -> None:
    crt, key = make_ca()
    ok = await CAIssuer().setup(CA_ISSUER, ctx(tls_secret("ca", "ns", **{"tls.crt": crt, "tls.key": key})))
    assert (ok.ready, ok.reason, ok.message) == (True, "KeyPairVerified", "Signing CA verified")
    missing = await CAIssuer().setup(CA_ISSUER, ctx())
    assert (missing.ready, missing.reason) == (False, "ErrGetKeyPair")
    assert missing.message == 'Error getting keypair for CA issuer: secret "ca" not found'
    leaf_crt, leaf_key = make_ca(is_ca=False)
    not_ca = await CAIssuer().setup(
        CA_ISSUER, ctx(tls_secret("ca", "ns", **{"tls.crt": leaf_crt, "tls.key": leaf_key}))
    )
    assert (not_ca.reason, not_ca.message) == (
        "ErrInvalidKeyPair",
        "Error getting keypair for CA issuer: certificate is not a CA",
    )
    _, other_key = make_ca()
    mismatch = await CAIssuer().setup(CA_ISSUER, ctx(tls_secret("ca", "ns", **{"tls.crt": crt, "tls.key": other_key})))
    assert mismatch.reason == "ErrInvalidKeyPair"


async def test_ca_signs_and_openssl_verifies(tmp_path: Path) -> None:
    crt, key = make_ca()
    cr, _ = request_for(CertificateTemplate(dns_names=("a.example.com",), ip_addresses=("10.0.0.1",)))
    result = await CAIssuer().sign(cr, CA_ISSUER, ctx(tls_secret("ca", "ns", **{"tls.crt": crt, "tls.key": key})))
    assert isinstance(result, Issued)
    assert result.ca == crt
    leaf = x509.load_pem_x509_certificate(result.certificate)
    assert leaf.not_valid_after_utc - leaf.not_valid_before_utc == timedelta(hours=24)
    (tmp_path / "ca.pem").write_bytes(crt)
    (tmp_path / "leaf.pem").write_bytes(result.certificate)
    verify = subprocess.run(
        [
            "openssl",
            "verify",
            "-attime",
            str(int(NOW.timestamp()) + 60),
            "-CAfile",
            str(tmp_path / "ca.pem"),
            str(tmp_path / "leaf.pem"),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert verify.returncode == 0, verify.stderr
    text = subprocess.run(
        ["openssl", "x509", "-in", str(tmp_path / "leaf.pem"), "-noout", "-text"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert "DNS:a.example.com" in text
    assert "IP Address:10.0.0.1" in text
    assert "TLS Web Server Authentication" in text
    assert "http://crl.example/ca" in text


async def test_ca_sign_pending_and_failed_reasons() -> None:
    cr, _ = request_for(CertificateTemplate(dns_names=("a.example.com",)))
    missing = await CAIssuer().sign(cr, CA_ISSUER, ctx())
    assert missing == Pending("SecretMissing", 'Referenced secret ns/ca not found: secret "ca" not found')
    bad = await CAIssuer().sign(cr, CA_ISSUER, ctx(tls_secret("ca", "ns", **{"tls.crt": b"junk", "tls.key": b"junk"})))
    assert isinstance(bad, Pending)
    assert bad.reason == "SecretInvalidData"
    crt, key = make_ca()
    garbage = CertificateRequest(
        api_version=cr.api_version,
        metadata=cr.metadata,
        spec=CertificateRequestSpec(
            issuer_ref=cr.spec.issuer_ref,
            request=BROKEN_CSR,
        ),
    )
    failed = await CAIssuer().sign(garbage, CA_ISSUER, ctx(tls_secret("ca", "ns", **{"tls.crt": crt, "tls.key": key})))
    assert isinstance(failed, Failed)
    assert failed.reason == "SigningError"


BROKEN_CSR = b"-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n-----END CERTIFICATE REQUEST-----\n"
SELF_SIGNED = issuer(IssuerSpec(self_signed=SelfSignedSpec()))


async def test_self_signed_signs_with_the_next_private_key() -> None:
    cr, key_pem = request_for(CertificateTemplate(common_name="me", dns_names=("me.example",)), key_secret="next-key")
    result = await SelfSignedIssuer().sign(cr, SELF_SIGNED, ctx(tls_secret("next-key", "ns", **{"tls.key": key_pem})))
    assert isinstance(result, Issued)
    assert result.certificate == result.ca
    assert result.warnings == ()
    cert = x509.load_pem_x509_certificate(result.certificate)
    assert cert.issuer == cert.subject


async def test_self_signed_reasons() -> None:
    cr, key_pem = request_for(CertificateTemplate(dns_names=("x.example",)))
    missing_annotation = await SelfSignedIssuer().sign(cr, SELF_SIGNED, ctx())
    assert isinstance(missing_annotation, Failed)
    assert missing_annotation.reason == "MissingAnnotation"
    cr, key_pem = request_for(CertificateTemplate(dns_names=("x.example",)), key_secret="k")
    assert isinstance(await SelfSignedIssuer().sign(cr, SELF_SIGNED, ctx()), Pending)
    parse = await SelfSignedIssuer().sign(cr, SELF_SIGNED, ctx(tls_secret("k", "ns", **{"tls.key": b"nope"})))
    assert isinstance(parse, Pending)
    assert parse.reason == "ErrorParsingKey"
    other = encode_private_key_pem(generate_private_key(EC))
    mismatch = await SelfSignedIssuer().sign(cr, SELF_SIGNED, ctx(tls_secret("k", "ns", **{"tls.key": other})))
    assert isinstance(mismatch, Failed)
    assert mismatch.reason == "ErrorKeyMatch"
    empty_dn = await SelfSignedIssuer().sign(cr, SELF_SIGNED, ctx(tls_secret("k", "ns", **{"tls.key": key_pem})))
    assert isinstance(empty_dn, Issued)
    assert [w.reason for w in empty_dn.warnings] == ["BadConfig"]


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        (IssuerSpec(ca=CAIssuerSpec(secret_name="x")), "ca"),
        (IssuerSpec(self_signed=SelfSignedSpec()), "selfsigned"),
        (IssuerSpec(), None),
    ],
)
def test_issuer_type(spec: IssuerSpec, expected: str | None) -> None:
    assert issuer_type(spec) == expected
