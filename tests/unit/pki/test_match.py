"""Matching keys, CSRs and certificates against a template, following match_test.go."""

from __future__ import annotations

import dataclasses
import random
from datetime import timedelta

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.x509.oid import NameOID, ObjectIdentifier
from hypothesis import given
from hypothesis import strategies as st

from certkeeper.pki.csr import build_csr
from certkeeper.pki.errors import InvalidCsr
from certkeeper.pki.keys import KeyAlgorithm, KeySpec, PrivateKey
from certkeeper.pki.match import (
    RequestFields,
    fuzzy_certificate_mismatches,
    private_key_mismatches,
    public_key_matches_certificate,
    public_key_matches_csr,
    request_mismatches,
)
from certkeeper.pki.sign import certificate_params_from_template, sign_certificate
from certkeeper.pki.subject import SubjectFields
from certkeeper.pki.template import CertificateTemplate, OtherName
from tests.unit.pki.support import NOW

EC = KeySpec(algorithm=KeyAlgorithm.ECDSA)
UPN = "1.3.6.1.4.1.311.20.2.3"


@pytest.mark.parametrize(
    ("key_name", "spec", "violations"),
    [
        ("rsa2048", KeySpec(algorithm=KeyAlgorithm.RSA, size=2048), []),
        ("rsa2048", KeySpec(), []),
        ("rsa2048", KeySpec(algorithm=KeyAlgorithm.RSA, size=4096), ["spec.privateKey.size"]),
        ("p256", KeySpec(algorithm=KeyAlgorithm.ECDSA, size=256), []),
        ("p256", KeySpec(algorithm=KeyAlgorithm.ECDSA), []),
        ("p256", KeySpec(algorithm=KeyAlgorithm.ECDSA, size=521), ["spec.privateKey.size"]),
        ("p256", KeySpec(algorithm=KeyAlgorithm.RSA, size=2048), ["spec.privateKey.algorithm"]),
        ("ed25519_key", KeySpec(algorithm=KeyAlgorithm.ED25519), []),
        ("ed25519_key", KeySpec(algorithm=KeyAlgorithm.ED25519, size=4096), []),
        ("rsa2048", KeySpec(algorithm=KeyAlgorithm.ED25519), ["spec.privateKey.algorithm"]),
    ],
    ids=[
        "rsa-match",
        "rsa-default-2048",
        "rsa-size",
        "ecdsa-match",
        "ecdsa-default-p256",
        "ecdsa-size",
        "algorithm",
        "ed25519",
        "ed25519-size-ignored",
        "ed25519-algorithm",
    ],
)
def test_private_key_mismatches(
    key_name: str, spec: KeySpec, violations: list[str], request: pytest.FixtureRequest
) -> None:
    key: PrivateKey = request.getfixturevalue(key_name)
    assert private_key_mismatches(key, spec) == violations
    assert private_key_mismatches(key.public_key(), spec) == violations


BASE = CertificateTemplate(
    common_name="cn",
    subject=SubjectFields(
        organizations=("o1", "o2"),
        countries=("GB",),
        organizational_units=("ou",),
        localities=("l",),
        provinces=("p",),
        street_addresses=("s",),
        postal_codes=("pc",),
        serial_number="42",
    ),
    dns_names=("a.example.com", "b.example.com"),
    ip_addresses=("10.0.0.1", "::1"),
    uris=("spiffe://x/a",),
    email_addresses=("a@example.com",),
    other_names=(OtherName(oid=UPN, utf8_value="a@upn"), OtherName(oid="1.2.3", utf8_value="b")),
    usages=("digital signature",),
    duration=timedelta(hours=24),
    key=EC,
)
MATCHING = RequestFields(usages=("digital signature",), duration=timedelta(hours=24))


@pytest.fixture
def csr(p256: ec.EllipticCurvePrivateKey) -> x509.CertificateSigningRequest:
    return build_csr(BASE, p256)


def test_a_request_built_from_the_template_matches(csr: x509.CertificateSigningRequest) -> None:
    assert request_mismatches(csr, BASE, MATCHING) == []


CHANGES = [
    (
        "reordered lists",
        {
            "dns_names": ("b.example.com", "a.example.com"),
            "subject": dataclasses.replace(BASE.subject, organizations=("o2", "o1")),
        },
        [],
    ),
    ("ip written differently", {"ip_addresses": ("::ffff:10.0.0.1", "0:0:0:0:0:0:0:1")}, []),
    ("other names reordered", {"other_names": tuple(reversed(BASE.other_names or ()))}, []),
    ("other names unset", {"other_names": None}, []),
    ("ips", {"ip_addresses": ("10.0.0.2", "::1")}, ["spec.ipAddresses"]),
    ("uris", {"uris": ()}, ["spec.uris"]),
    ("emails", {"email_addresses": ("b@example.com",)}, ["spec.emailAddresses"]),
    ("dns", {"dns_names": ("a.example.com",)}, ["spec.dnsNames"]),
    ("other names", {"other_names": (OtherName(oid=UPN, utf8_value="a@upn"),)}, ["spec.otherNames"]),
    ("common name", {"common_name": "other"}, ["spec.commonName"]),
    ("serial", {"subject": dataclasses.replace(BASE.subject, serial_number="")}, ["spec.subject.serialNumber"]),
    ("postal codes", {"subject": dataclasses.replace(BASE.subject, postal_codes=())}, ["spec.subject.postCodes"]),
    ("is ca", {"is_ca": True}, ["spec.isCA"]),
    ("usages", {"usages": ("digital signature", "server auth")}, ["spec.usages"]),
    ("duration", {"duration": timedelta(hours=25)}, ["spec.duration"]),
    ("duration unset", {"duration": None}, []),
    (
        "everything in order",
        {
            "ip_addresses": (),
            "uris": (),
            "email_addresses": (),
            "dns_names": (),
            "other_names": (),
            "common_name": "x",
            "subject": SubjectFields(),
        },
        [
            "spec.ipAddresses",
            "spec.uris",
            "spec.emailAddresses",
            "spec.dnsNames",
            "spec.otherNames",
            "spec.commonName",
            "spec.subject.serialNumber",
            "spec.subject.organizations",
            "spec.subject.countries",
            "spec.subject.localities",
            "spec.subject.organizationalUnits",
            "spec.subject.postCodes",
            "spec.subject.provinces",
            "spec.subject.streetAddresses",
        ],
    ),
]


@pytest.mark.parametrize(("changes", "violations"), [c[1:] for c in CHANGES], ids=[c[0] for c in CHANGES])
def test_request_mismatches(
    csr: x509.CertificateSigningRequest, changes: dict[str, object], violations: list[str]
) -> None:
    template = dataclasses.replace(BASE, **changes)  # type: ignore[arg-type]
    assert request_mismatches(csr, template, MATCHING) == violations


def test_other_names_without_a_san_extension_are_a_violation(p256: ec.EllipticCurvePrivateKey) -> None:
    csr = build_csr(CertificateTemplate(common_name="cn", key=EC), p256)
    template = CertificateTemplate(common_name="cn", other_names=())
    assert request_mismatches(csr, template, RequestFields()) == ["spec.otherNames"]
    assert request_mismatches(csr, dataclasses.replace(template, other_names=None), RequestFields()) == []


def test_non_utf8_other_names_cannot_be_compared(p256: ec.EllipticCurvePrivateKey) -> None:
    san = x509.SubjectAlternativeName([x509.OtherName(ObjectIdentifier("1.2.3"), b"\x13\x01a")])
    csr = (
        x509.CertificateSigningRequestBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "cn")]))
        .add_extension(san, critical=False)
        .sign(p256, hashes.SHA256())
    )
    with pytest.raises(InvalidCsr, match=r"otherName is not an utf8 value, got: 1\.2\.3$"):
        request_mismatches(csr, CertificateTemplate(common_name="cn", other_names=()), RequestFields())


def test_literal_subject_is_compared_as_der(p256: ec.EllipticCurvePrivateKey) -> None:
    template = CertificateTemplate(literal_subject="CN=cn,O=org", dns_names=("x",), key=EC)
    csr = build_csr(template, p256)
    assert request_mismatches(csr, template, RequestFields()) == []
    changed = dataclasses.replace(template, literal_subject="O=org,CN=cn")
    assert request_mismatches(csr, changed, RequestFields()) == ["spec.literalSubject"]
    # A literal subject replaces the common name and subject comparisons entirely.
    assert request_mismatches(csr, dataclasses.replace(template, common_name="other"), RequestFields()) == []


def _certificate(key: PrivateKey, common_name: str = "", dns: tuple[str, ...] = ()) -> x509.Certificate:
    template = CertificateTemplate(common_name=common_name, dns_names=dns)
    return sign_certificate(certificate_params_from_template(template, key.public_key(), now=NOW), signer_key=key)


FUZZY = [
    ("exact", ("a", ("a",)), ("a", ("a",)), []),
    ("cn missing but in dns", ("", ("a",)), ("a", ("a",)), []),
    ("cn among dns names", ("b", ("a", "b")), ("a", ("a", "b")), []),
    ("cn requested as dns name", ("a", ("a", "b")), ("", ("a", "b")), []),
    ("cn not on certificate", ("", ("b",)), ("a", ("b",)), ["spec.commonName"]),
    ("both missing", ("", ("x",)), ("a", ("b",)), ["spec.commonName", "spec.dnsNames"]),
    ("dns not requested", ("a", ("a", "c")), ("a", ("a",)), ["spec.dnsNames"]),
]


@pytest.mark.parametrize(("issued", "wanted", "violations"), [c[1:] for c in FUZZY], ids=[c[0] for c in FUZZY])
def test_fuzzy_certificate_mismatches(
    p256: ec.EllipticCurvePrivateKey,
    issued: tuple[str, tuple[str, ...]],
    wanted: tuple[str, tuple[str, ...]],
    violations: list[str],
) -> None:
    certificate = _certificate(p256, *issued)
    template = CertificateTemplate(common_name=wanted[0], dns_names=wanted[1])
    assert fuzzy_certificate_mismatches(certificate, template) == violations


def test_fuzzy_compares_the_other_sans(p256: ec.EllipticCurvePrivateKey) -> None:
    template = CertificateTemplate(
        common_name="a", ip_addresses=("10.0.0.1",), uris=("spiffe://x",), email_addresses=("a@x",)
    )
    certificate = sign_certificate(
        certificate_params_from_template(template, p256.public_key(), now=NOW), signer_key=p256
    )
    assert fuzzy_certificate_mismatches(certificate, template) == []
    assert fuzzy_certificate_mismatches(certificate, CertificateTemplate(common_name="a")) == [
        "spec.ipAddresses",
        "spec.uris",
        "spec.emailAddresses",
    ]


def test_public_key_matching(
    p256: ec.EllipticCurvePrivateKey, p384: ec.EllipticCurvePrivateKey, rsa2048: rsa.RSAPrivateKey
) -> None:
    certificate = _certificate(p256, "a")
    assert public_key_matches_certificate(p256, certificate)
    assert public_key_matches_certificate(p256.public_key(), certificate)
    assert not public_key_matches_certificate(p384, certificate)
    assert not public_key_matches_certificate(rsa2048, certificate)
    csr = build_csr(CertificateTemplate(common_name="a", key=EC), p256)
    assert public_key_matches_csr(p256, csr)
    assert not public_key_matches_csr(p384, csr)


def test_ed25519_public_key_matching(ed25519_key: ed25519.Ed25519PrivateKey) -> None:
    assert public_key_matches_certificate(ed25519_key, _certificate(ed25519_key, "a"))


@given(st.lists(st.sampled_from("abcd")), st.lists(st.sampled_from("abcd")), st.randoms())
def test_unordered_equality_is_multiset_equality(a: list[str], b: list[str], rng: random.Random) -> None:
    from collections import Counter

    from certkeeper.pki.match import _same

    shuffled = list(a)
    rng.shuffle(shuffled)
    assert _same(a, shuffled)
    assert _same(a, b) is (Counter(a) == Counter(b))
    assert _same(iter(a), iter(b)) is (Counter(a) == Counter(b))
