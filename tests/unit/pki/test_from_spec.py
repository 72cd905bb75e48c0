"""The adapter from API models to pki inputs, and RequestMatchesSpec including issuerRef."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import msgspec
import pytest
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from certkeeper.api.certmanager import CertificateRequest, CertificateSpec
from certkeeper.api.features import FeatureGates
from certkeeper.pki.csr import build_csr
from certkeeper.pki.errors import InvalidPem, InvalidTemplate, RenewalWindowError
from certkeeper.pki.from_spec import (
    certificate_renewal_time,
    certificate_template,
    csr_options,
    key_encoding,
    key_spec,
    private_key_matches_spec,
    renewal,
    request_matches_spec,
)
from certkeeper.pki.keys import KeyAlgorithm, KeyEncoding, KeySpec, SignatureAlgorithm
from certkeeper.pki.pem import encode_pem_certificate_request
from certkeeper.pki.renewal import Renewal, RenewalWindow
from certkeeper.pki.subject import SubjectFields
from certkeeper.pki.template import CertificateTemplate, CsrOptions, NameConstraintItems, NameConstraintsSpec, OtherName

NOW = datetime(2026, 6, 10, 12, 0, tzinfo=UTC)


def spec(**fields: Any) -> CertificateSpec:
    return msgspec.convert({"secretName": "tls", "issuerRef": {"name": "ca"}, **fields}, CertificateSpec)


def test_minimal_spec() -> None:
    assert certificate_template(spec(commonName="x")) == CertificateTemplate(common_name="x")


def test_every_field_is_carried_over() -> None:
    full = spec(
        commonName="cn",
        literalSubject="CN=lit",
        subject={"organizations": ["o"], "countries": ["GB"], "serialNumber": "1", "postalCodes": ["pc"]},
        dnsNames=["a.example.com"],
        ipAddresses=["10.0.0.1"],
        uris=["spiffe://x"],
        emailAddresses=["a@x"],
        otherNames=[{"oid": "1.2.3", "utf8Value": "v"}],
        isCA=True,
        usages=["cert sign", "server auth"],
        privateKey={"algorithm": "ECDSA", "size": 384, "encoding": "PKCS8"},
        signatureAlgorithm="ECDSAWithSHA384",
        encodeUsagesInRequest=False,
        duration="1h30m",
        nameConstraints={
            "critical": True,
            "permitted": {"dnsDomains": ["x"]},
            "excluded": {"ipRanges": ["10.0.0.0/8"]},
        },
    )
    assert certificate_template(full) == CertificateTemplate(
        common_name="cn",
        literal_subject="CN=lit",
        subject=SubjectFields(organizations=("o",), countries=("GB",), serial_number="1", postal_codes=("pc",)),
        dns_names=("a.example.com",),
        ip_addresses=("10.0.0.1",),
        uris=("spiffe://x",),
        email_addresses=("a@x",),
        other_names=(OtherName(oid="1.2.3", utf8_value="v"),),
        is_ca=True,
        usages=("cert sign", "server auth"),
        key=KeySpec(algorithm=KeyAlgorithm.ECDSA, size=384),
        signature_algorithm=SignatureAlgorithm.ECDSA_WITH_SHA384,
        encode_usages_in_request=False,
        duration=timedelta(hours=1, minutes=30),
        name_constraints=NameConstraintsSpec(
            critical=True,
            permitted=NameConstraintItems(dns_domains=("x",)),
            excluded=NameConstraintItems(ip_ranges=("10.0.0.0/8",)),
        ),
    )
    assert key_encoding(full.private_key) is KeyEncoding.PKCS8


def test_unset_and_empty_other_names_differ() -> None:
    assert certificate_template(spec(commonName="x")).other_names is None
    assert certificate_template(spec(commonName="x", otherNames=[])).other_names == ()


def test_key_defaults() -> None:
    assert key_spec(None) == KeySpec()
    assert key_spec(spec(privateKey={}).private_key) == KeySpec()
    assert key_spec(spec(privateKey={"algorithm": "Ed25519"}).private_key) == KeySpec(algorithm=KeyAlgorithm.ED25519)
    assert key_encoding(None) is KeyEncoding.PKCS1


def test_bad_duration_names_the_field() -> None:
    message = r'^spec\.duration: time: unknown unit " days" in duration "90 days"$'
    with pytest.raises(InvalidTemplate, match=message):
        certificate_template(spec(commonName="x", duration="90 days"))


def test_csr_options_follow_gates() -> None:
    assert csr_options(FeatureGates()) == CsrOptions()


def test_renewal_and_renewal_time() -> None:
    windowed = spec(
        renewBefore="1h",
        renewal={
            "policy": "RenewBefore",
            "windows": [{"cron": "0 10 * * *", "windowDuration": "2h", "timezone": "UTC"}],
        },
    )
    assert renewal(windowed) == Renewal(
        windows=(RenewalWindow(cron="0 10 * * *", window_duration=timedelta(hours=2), timezone="UTC"),)
    )
    assert renewal(spec()) is None
    assert certificate_renewal_time(spec(), NOW, NOW + timedelta(hours=3)) == NOW + timedelta(hours=2)
    assert certificate_renewal_time(spec(renewBeforePercentage=50), NOW, NOW + timedelta(hours=4)) == NOW + timedelta(
        hours=2
    )
    assert certificate_renewal_time(spec(renewal={"policy": "Disabled"}), NOW, NOW + timedelta(hours=3)) is None
    assert certificate_renewal_time(windowed, NOW, NOW + timedelta(days=2)) == datetime(2026, 6, 12, 11, tzinfo=UTC)
    with pytest.raises(RenewalWindowError):
        certificate_renewal_time(windowed, NOW, NOW + timedelta(hours=5))


def request(csr_pem: bytes, **fields: Any) -> CertificateRequest:
    body = {
        "apiVersion": "cert-manager.io/v1",
        "kind": "CertificateRequest",
        "metadata": {"name": "r", "namespace": "ns"},
        "spec": {"issuerRef": {"name": "ca"}, "request": csr_pem, **fields},
    }
    return msgspec.convert(body, CertificateRequest, from_attributes=False, strict=False)


@pytest.fixture
def csr_pem(p256: ec.EllipticCurvePrivateKey) -> bytes:
    template = certificate_template(spec(commonName="cn", dnsNames=["a"], privateKey={"algorithm": "ECDSA"}))
    return encode_pem_certificate_request(build_csr(template, p256))


ISSUER_REFS = [
    (
        "same",
        {"name": "ca", "kind": "Issuer", "group": "cert-manager.io"},
        {"name": "ca", "kind": "Issuer", "group": "cert-manager.io"},
        [],
    ),
    ("both empty", {"name": "ca"}, {"name": "ca"}, []),
    (
        "certificate defaulted, request group empty",
        {"name": "ca", "kind": "Issuer"},
        {"name": "ca", "kind": "Issuer", "group": "cert-manager.io"},
        [],
    ),
    (
        "certificate defaulted, request kind empty",
        {"name": "ca", "group": "cert-manager.io"},
        {"name": "ca", "kind": "Issuer", "group": "cert-manager.io"},
        [],
    ),
    ("name differs", {"name": "ca"}, {"name": "other"}, ["spec.issuerRef"]),
    ("kind differs", {"name": "ca"}, {"name": "ca", "kind": "ClusterIssuer"}, ["spec.issuerRef"]),
    ("group differs", {"name": "ca"}, {"name": "ca", "group": "example.com"}, ["spec.issuerRef"]),
]


@pytest.mark.parametrize(
    ("request_ref", "certificate_ref", "violations"), [c[1:] for c in ISSUER_REFS], ids=[c[0] for c in ISSUER_REFS]
)
def test_issuer_ref_comparison_ignores_defaults(
    csr_pem: bytes, request_ref: dict[str, str], certificate_ref: dict[str, str], violations: list[str]
) -> None:
    certificate = spec(commonName="cn", dnsNames=["a"], issuerRef=certificate_ref)
    assert request_matches_spec(request(csr_pem, issuerRef=request_ref), certificate) == violations


def test_request_fields_are_compared(csr_pem: bytes) -> None:
    certificate = spec(commonName="cn", dnsNames=["a"], duration="1h", usages=["digital signature"])
    mismatched = request(csr_pem, isCA=True, duration="2h", usages=["server auth"])
    assert request_matches_spec(mismatched, certificate) == ["spec.isCA", "spec.usages", "spec.duration"]
    matching = request(csr_pem, duration="60m", usages=["digital signature"])
    assert request_matches_spec(matching, certificate) == []


def test_undecodable_request_is_an_error() -> None:
    with pytest.raises(InvalidPem):
        request_matches_spec(request(b"not a csr"), spec(commonName="cn"))


def test_private_key_matches_spec(p256: ec.EllipticCurvePrivateKey, rsa2048: rsa.RSAPrivateKey) -> None:
    assert private_key_matches_spec(rsa2048, spec()) == []
    assert private_key_matches_spec(p256, spec()) == ["spec.privateKey.algorithm"]
    assert private_key_matches_spec(p256, spec(privateKey={"algorithm": "ECDSA", "size": 384})) == [
        "spec.privateKey.size"
    ]
