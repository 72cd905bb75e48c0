"""Checks of the Secret alone: reasons and messages as cert-manager's checks.go, and totality."""

from datetime import timedelta

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import dsa
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import NameOID
from msgspec.structs import replace

from certkeeper.api.certmanager import Certificate, CertificatePrivateKey
from certkeeper.api.cmmeta import IssuerReference
from certkeeper.api.constants import TLS_CERT_KEY, TLS_PRIVATE_KEY_KEY
from certkeeper.api.core import Secret
from certkeeper.pki.keys import PrivateKey, generate_ecdsa_private_key
from certkeeper.policies.checks.secret import (
    format_issuer_ref,
    secret_certificate_name_annotation_mismatch,
    secret_does_not_exist,
    secret_is_missing_data,
    secret_issuer_annotations_mismatch,
    secret_private_key_mismatches_spec,
    secret_public_keys_differ,
)
from certkeeper.policies.input import Check, PolicyInput
from certkeeper.policies.reasons import Reason, Violation

from .builders import (
    KEY,
    NOW,
    OTHER_KEY,
    certificate_pem,
    issuer_annotations,
    key_pem,
    make_certificate,
    make_secret,
)

ALL_SECRET_CHECKS: list[Check] = [
    secret_does_not_exist,
    secret_is_missing_data,
    secret_public_keys_differ,
    secret_issuer_annotations_mismatch,
    secret_certificate_name_annotation_mismatch,
    secret_private_key_mismatches_spec,
]


def _input(*, certificate: Certificate | None = None, secret: Secret | None = None) -> PolicyInput:
    return PolicyInput(certificate=certificate or make_certificate(), secret=secret)


def test_healthy_secret_passes_every_secret_check() -> None:
    healthy = _input(secret=make_secret())
    assert [check(healthy, NOW) for check in ALL_SECRET_CHECKS] == [None] * len(ALL_SECRET_CHECKS)


@pytest.mark.parametrize("check", ALL_SECRET_CHECKS, ids=lambda c: c.__name__)
def test_every_check_reports_a_missing_secret_itself(check: Check) -> None:
    assert check(_input(), NOW) == Violation(
        reason=Reason.DOES_NOT_EXIST, message="Issuing certificate as Secret does not exist"
    )


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (None, "Issuing certificate as Secret does not contain any data"),
        ({}, "Issuing certificate as Secret does not contain any data"),
        ({TLS_CERT_KEY: b"test"}, "Issuing certificate as Secret does not contain a private key"),
        (
            {TLS_PRIVATE_KEY_KEY: b"", TLS_CERT_KEY: b"test"},
            "Issuing certificate as Secret does not contain a private key",
        ),
        ({TLS_PRIVATE_KEY_KEY: b"test"}, "Issuing certificate as Secret does not contain a certificate"),
    ],
    ids=["no-data", "empty-data", "no-key", "empty-key", "no-certificate"],
)
def test_missing_data(data: dict[str, bytes] | None, message: str) -> None:
    secret = replace(make_secret(), data=data)
    assert secret_is_missing_data(_input(secret=secret), NOW) == Violation(reason=Reason.MISSING_DATA, message=message)


def _dsa_certificate_pem() -> bytes:
    key = dsa.generate_private_key(key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "dsa")])
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(NOW - timedelta(days=1))
        .not_valid_after(NOW + timedelta(days=1))
        .sign(key, hashes.SHA256())
    )
    return certificate.public_bytes(Encoding.PEM)


@pytest.mark.parametrize(
    ("data", "reason", "message"),
    [
        (
            {TLS_PRIVATE_KEY_KEY: b"test", TLS_CERT_KEY: b"test"},
            Reason.INVALID_KEY_PAIR,
            "Issuing certificate as Secret contains invalid private key data: "
            "error decoding private key PEM block: no PEM data was found in given input",
        ),
        (
            {TLS_PRIVATE_KEY_KEY: key_pem(), TLS_CERT_KEY: b"test"},
            Reason.INVALID_CERTIFICATE,
            "Issuing certificate as Secret contains an invalid certificate: "
            "error decoding certificate PEM block: no valid certificates found",
        ),
        (
            {TLS_PRIVATE_KEY_KEY: key_pem(), TLS_CERT_KEY: certificate_pem(OTHER_KEY)},
            Reason.INVALID_KEY_PAIR,
            "Issuing certificate as Secret contains a private key that does not match the certificate",
        ),
    ],
    ids=["corrupt-key-and-certificate", "corrupt-certificate", "non-matching-pair"],
)
def test_public_keys_differ(data: dict[str, bytes], reason: Reason, message: str) -> None:
    violation = secret_public_keys_differ(_input(secret=make_secret(data=data)), NOW)
    assert violation == Violation(reason=reason, message=message)


def test_public_keys_differ_when_the_certificate_key_is_unusable() -> None:
    secret = make_secret(data={TLS_PRIVATE_KEY_KEY: key_pem(), TLS_CERT_KEY: _dsa_certificate_pem()})
    violation = secret_public_keys_differ(_input(secret=secret), NOW)
    assert violation is not None
    assert violation.reason is Reason.INVALID_KEY_PAIR
    assert violation.message.startswith("Secret contains an invalid key-pair: ")


@pytest.mark.parametrize(
    ("ref", "annotations", "issuer"),
    [
        (
            IssuerReference(name="testissuer"),
            {"cert-manager.io/issuer-name": "oldissuer"},
            "Issuer.cert-manager.io/oldissuer",
        ),
        (
            IssuerReference(name="testissuer", kind="NewIssuerKind"),
            {"cert-manager.io/issuer-name": "testissuer", "cert-manager.io/issuer-kind": "OldIssuerKind"},
            "OldIssuerKind.cert-manager.io/testissuer",
        ),
        (
            IssuerReference(name="testissuer", kind="IssuerKind", group="old.example.com"),
            {
                "cert-manager.io/issuer-name": "testissuer",
                "cert-manager.io/issuer-kind": "IssuerKind",
                "cert-manager.io/issuer-group": "new.example.com",
            },
            "IssuerKind.new.example.com/testissuer",
        ),
        (IssuerReference(name="ca", kind="ClusterIssuer"), {}, "Issuer.cert-manager.io/"),
        (IssuerReference(name="ca"), {"cert-manager.io/issuer-group": "cert-manager.io"}, "Issuer.cert-manager.io/"),
    ],
    ids=["name", "kind", "group", "unannotated-vs-cluster-issuer", "group-only-annotation-checks-name"],
)
def test_incorrect_issuer(ref: IssuerReference, annotations: dict[str, str], issuer: str) -> None:
    policy_input = _input(certificate=make_certificate(issuer_ref=ref), secret=make_secret(annotations=annotations))
    assert secret_issuer_annotations_mismatch(policy_input, NOW) == Violation(
        reason=Reason.INCORRECT_ISSUER, message=f'Issuing certificate as Secret was previously issued by "{issuer}"'
    )


@pytest.mark.parametrize(
    ("ref", "annotations"),
    [
        (IssuerReference(name="anything"), {}),
        (IssuerReference(name="ca", kind="Issuer", group="cert-manager.io"), {"cert-manager.io/issuer-name": "ca"}),
        (IssuerReference(name="ca"), {"cert-manager.io/issuer-name": "ca", "cert-manager.io/issuer-kind": ""}),
        (
            IssuerReference(name="ca", kind="ClusterIssuer"),
            issuer_annotations(IssuerReference(name="ca", kind="ClusterIssuer")),
        ),
    ],
    ids=["unannotated-namespaced-issuer", "defaults-explicit", "empty-kind-is-default", "cluster-issuer"],
)
def test_matching_issuer(ref: IssuerReference, annotations: dict[str, str]) -> None:
    policy_input = _input(certificate=make_certificate(issuer_ref=ref), secret=make_secret(annotations=annotations))
    assert secret_issuer_annotations_mismatch(policy_input, NOW) is None


@pytest.mark.parametrize(
    ("name", "kind", "group", "expected"),
    [
        ("n", "", "", "Issuer.cert-manager.io/n"),
        ("n", "K", "g.io", "K.g.io/n"),
        ("", "", "", "Issuer.cert-manager.io/"),
    ],
)
def test_format_issuer_ref(name: str, kind: str, group: str, expected: str) -> None:
    assert format_issuer_ref(name, kind, group) == expected


def test_incorrect_certificate() -> None:
    secret = make_secret(annotations={"cert-manager.io/certificate-name": "foo"})
    assert secret_certificate_name_annotation_mismatch(_input(secret=secret), NOW) == Violation(
        reason=Reason.INCORRECT_CERTIFICATE,
        message='Secret was issued for "foo". If this message is not transient, you might have two conflicting '
        "Certificates pointing to the same secret.",
    )


@pytest.mark.parametrize("annotations", [{}, {"cert-manager.io/certificate-name": "test"}], ids=["absent", "same"])
def test_certificate_name_annotation_absent_or_equal(annotations: dict[str, str]) -> None:
    assert secret_certificate_name_annotation_mismatch(_input(secret=make_secret(annotations=annotations)), NOW) is None


def test_empty_certificate_name_annotation_is_still_compared() -> None:
    secret = make_secret(annotations={"cert-manager.io/certificate-name": ""})
    violation = secret_certificate_name_annotation_mismatch(_input(secret=secret), NOW)
    assert violation is not None
    assert violation.message.startswith('Secret was issued for "".')


P384 = generate_ecdsa_private_key(384)


@pytest.mark.parametrize(
    ("private_key", "key", "violations"),
    [
        (None, KEY, "[spec.privateKey.algorithm]"),
        (CertificatePrivateKey(algorithm="RSA", size=2048), KEY, "[spec.privateKey.algorithm]"),
        (CertificatePrivateKey(algorithm="ECDSA"), P384, "[spec.privateKey.size]"),
        (CertificatePrivateKey(algorithm="ECDSA", size=521), KEY, "[spec.privateKey.size]"),
        (CertificatePrivateKey(algorithm="Ed25519"), KEY, "[spec.privateKey.algorithm]"),
    ],
    ids=["default-rsa", "rsa", "ecdsa-default-size", "ecdsa-521", "ed25519"],
)
def test_private_key_mismatches_spec(
    private_key: CertificatePrivateKey | None, key: PrivateKey, violations: str
) -> None:
    secret = make_secret(data={TLS_PRIVATE_KEY_KEY: key_pem(key), TLS_CERT_KEY: certificate_pem(key)})
    certificate = make_certificate(private_key=private_key)
    assert secret_private_key_mismatches_spec(_input(certificate=certificate, secret=secret), NOW) == Violation(
        reason=Reason.SECRET_MISMATCH, message=f"Existing private key is not up to date for spec: {violations}"
    )


def test_private_key_matching_a_sized_spec() -> None:
    secret = make_secret(data={TLS_PRIVATE_KEY_KEY: key_pem(P384), TLS_CERT_KEY: certificate_pem(P384)})
    certificate = make_certificate(private_key=CertificatePrivateKey(algorithm="ECDSA", size=384))
    assert secret_private_key_mismatches_spec(_input(certificate=certificate, secret=secret), NOW) is None


def test_private_key_check_reports_an_unparseable_key_itself() -> None:
    secret = make_secret(data={TLS_PRIVATE_KEY_KEY: b"invalid", TLS_CERT_KEY: certificate_pem()})
    violation = secret_private_key_mismatches_spec(_input(secret=secret), NOW)
    assert violation is not None
    assert violation.reason is Reason.INVALID_KEY_PAIR
