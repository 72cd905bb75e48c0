"""Signing: what issued certificates contain, checked with openssl; CSR validation; temporary certificates."""

from __future__ import annotations

import dataclasses
from datetime import timedelta
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import ExtendedKeyUsageOID, ExtensionOID, NameOID, ObjectIdentifier

from certkeeper.pki.csr import build_csr
from certkeeper.pki.errors import InvalidChain, InvalidCsr, SigningError
from certkeeper.pki.keys import KeyAlgorithm, KeySpec, PrivateKey, generate_ecdsa_private_key
from certkeeper.pki.pem import encode_pem_certificate, encode_pem_certificates, load_pem_certificate_chain
from certkeeper.pki.sign import (
    TEMPORARY_CA_COMMON_NAME,
    certificate_params_from_csr,
    certificate_params_from_template,
    generate_temporary_certificate,
    sign_certificate,
    sign_self_signed,
    sign_with_ca,
)
from certkeeper.pki.subject import SubjectFields
from certkeeper.pki.template import CertificateTemplate, CsrOptions, NameConstraintItems, NameConstraintsSpec, OtherName
from tests.unit.pki.support import NOW, make_ca, openssl_text, openssl_verify, openssl_verify_error

EC = KeySpec(algorithm=KeyAlgorithm.ECDSA)
UPN = "1.3.6.1.4.1.311.20.2.3"

LEAF = CertificateTemplate(
    common_name="a.example.com",
    subject=SubjectFields(organizations=("Example Org",)),
    dns_names=("a.example.com", "b.example.com"),
    ip_addresses=("10.1.2.3", "2001:db8::1"),
    uris=("spiffe://example.com/ns/a",),
    email_addresses=("admin@example.com",),
    other_names=(OtherName(oid=UPN, utf8_value="upn@example.com"),),
    usages=("digital signature", "key encipherment", "server auth", "client auth"),
    key=EC,
)


def issue(
    template: CertificateTemplate,
    key: PrivateKey,
    ca: tuple[x509.Certificate, PrivateKey],
    *,
    crl: tuple[str, ...] = (),
    ocsp: tuple[str, ...] = (),
    issuing: tuple[str, ...] = (),
) -> tuple[bytes, bytes, x509.Certificate]:
    csr = build_csr(template, key, options=CsrOptions(encode_basic_constraints=True))
    params = certificate_params_from_csr(
        csr, now=NOW, duration=template.duration, is_ca=template.is_ca, usages=template.usages
    )
    params = dataclasses.replace(
        params, crl_distribution_points=crl, ocsp_servers=ocsp, issuing_certificate_urls=issuing
    )
    signed = sign_with_ca(params, ca_certificates=[ca[0]], ca_key=ca[1])
    return signed.chain_pem, signed.ca_pem, signed.certificate


@pytest.mark.parametrize("ca_kind", ["p384", "rsa2048", "ed25519_key"])
def test_openssl_verifies_and_shows_everything(tmp_path: Path, ca_kind: str, request: pytest.FixtureRequest) -> None:
    ca = make_ca("Test Root", key=request.getfixturevalue(ca_kind))
    chain_pem, ca_pem, certificate = issue(LEAF, generate_ecdsa_private_key(256), ca)
    assert "OK" in openssl_verify(tmp_path, chain_pem, ca_pem)
    text = openssl_text(certificate)
    for expected in (
        "DNS:a.example.com, DNS:b.example.com",
        "email:admin@example.com",
        "IP Address:10.1.2.3, IP Address:2001:DB8:0:0:0:0:0:1",
        "URI:spiffe://example.com/ns/a",
        "othername: UPN::upn@example.com",
        "X509v3 Key Usage: critical",
        "Digital Signature, Key Encipherment",
        "TLS Web Server Authentication, TLS Web Client Authentication",
        "X509v3 Basic Constraints: critical",
        "CA:FALSE",
        "X509v3 Subject Key Identifier",
        "X509v3 Authority Key Identifier",
        "Subject: O = Example Org, CN = a.example.com",
        "Issuer: CN = Test Root",
    ):
        assert expected in text, expected


def test_signature_algorithm_follows_the_signer(p384: ec.EllipticCurvePrivateKey, rsa2048: rsa.RSAPrivateKey) -> None:
    for signer, name in ((p384, "ecdsa-with-SHA384"), (rsa2048, "sha256WithRSAEncryption")):
        _, _, certificate = issue(LEAF, generate_ecdsa_private_key(256), make_ca("ca", key=signer))
        assert f"Signature Algorithm: {name}" in openssl_text(certificate)


def test_ca_certificate_with_name_constraints(tmp_path: Path, p256: ec.EllipticCurvePrivateKey) -> None:
    root = make_ca("root", key=generate_ecdsa_private_key(384))
    template = CertificateTemplate(
        common_name="Constrained CA",
        is_ca=True,
        key=EC,
        name_constraints=NameConstraintsSpec(
            critical=True,
            permitted=NameConstraintItems(dns_domains=("example.com",), ip_ranges=("10.0.0.0/8",)),
            excluded=NameConstraintItems(dns_domains=("bad.example.com",), email_addresses=("example.org",)),
        ),
    )
    chain_pem, ca_pem, intermediate = issue(template, p256, root)
    text = openssl_text(intermediate)
    for expected in (
        "CA:TRUE",
        "Certificate Sign",
        "X509v3 Name Constraints: critical",
        "Permitted:",
        "DNS:example.com",
        "IP:10.0.0.0/255.0.0.0",
        "Excluded:",
        "DNS:bad.example.com",
        "email:example.org",
    ):
        assert expected in text, expected
    assert "OK" in openssl_verify(tmp_path, chain_pem, ca_pem)

    inside = dataclasses.replace(LEAF, ip_addresses=("10.1.2.3",), email_addresses=())
    _, _, allowed = issue(inside, generate_ecdsa_private_key(256), (intermediate, p256))
    assert "OK" in openssl_verify(tmp_path, encode_pem_certificate(allowed), ca_pem, untrusted=chain_pem)
    excluded = CertificateTemplate(dns_names=("bad.example.com",), key=EC)
    _, _, refused = issue(excluded, generate_ecdsa_private_key(256), (intermediate, p256))
    output = openssl_verify_error(tmp_path, encode_pem_certificate(refused), ca_pem, untrusted=chain_pem)
    assert "excluded subtree violation" in output


def test_chain_and_ca_from_an_intermediate(tmp_path: Path) -> None:
    root = make_ca("root")
    intermediate = make_ca("intermediate", issuer=root)
    csr = build_csr(LEAF, generate_ecdsa_private_key(256))
    params = certificate_params_from_csr(csr, now=NOW, usages=LEAF.usages)
    signed = sign_with_ca(params, ca_certificates=[intermediate[0], root[0]], ca_key=intermediate[1])
    assert load_pem_certificate_chain(signed.chain_pem) == [signed.certificate, intermediate[0]]
    assert signed.ca_pem == encode_pem_certificate(root[0])
    assert "OK" in openssl_verify(tmp_path, signed.chain_pem, signed.ca_pem, untrusted=signed.chain_pem)


def test_validity_serial_and_identifiers(p256: ec.EllipticCurvePrivateKey) -> None:
    ca = make_ca("ca")
    serials = set()
    for duration in (None, timedelta(hours=1)):
        template = dataclasses.replace(LEAF, duration=duration)
        _, _, certificate = issue(template, p256, ca)
        assert certificate.not_valid_before_utc == NOW.replace(microsecond=0)
        assert certificate.not_valid_after_utc - certificate.not_valid_before_utc == (duration or timedelta(days=90))
        assert 0 < certificate.serial_number < 2**159
        serials.add(certificate.serial_number)
        ski = certificate.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
        assert ski == x509.SubjectKeyIdentifier.from_public_key(p256.public_key())
        aki = certificate.extensions.get_extension_for_class(x509.AuthorityKeyIdentifier).value
        ca_ski = ca[0].extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
        assert aki.key_identifier == ca_ski.digest
    assert len(serials) == 2


def test_issuer_urls(p256: ec.EllipticCurvePrivateKey) -> None:
    _, _, certificate = issue(
        LEAF,
        p256,
        make_ca("ca"),
        crl=("http://crl.example.com/a.crl", "http://crl2.example.com/a.crl"),
        ocsp=("http://ocsp.example.com",),
        issuing=("http://ca.example.com/ca.crt",),
    )
    text = openssl_text(certificate)
    assert "OCSP - URI:http://ocsp.example.com" in text
    assert "CA Issuers - URI:http://ca.example.com/ca.crt" in text
    points = certificate.extensions.get_extension_for_class(x509.CRLDistributionPoints).value
    assert [p.full_name for p in points] == [
        [x509.UniformResourceIdentifier("http://crl.example.com/a.crl")],
        [x509.UniformResourceIdentifier("http://crl2.example.com/a.crl")],
    ]


def test_san_is_critical_when_the_subject_is_empty(p256: ec.EllipticCurvePrivateKey) -> None:
    _, _, certificate = issue(CertificateTemplate(dns_names=("x.example.com",), key=EC), p256, make_ca("ca"))
    assert certificate.subject.public_bytes() == b"\x30\x00"
    assert certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName).critical


def test_request_fields_override_the_csr_when_it_encodes_none(p256: ec.EllipticCurvePrivateKey) -> None:
    template = dataclasses.replace(LEAF, encode_usages_in_request=False)
    csr = build_csr(template, p256)
    params = certificate_params_from_csr(csr, now=NOW, is_ca=True, usages=("server auth",))
    ca = make_ca("ca")
    certificate = sign_with_ca(params, ca_certificates=[ca[0]], ca_key=ca[1]).certificate
    assert params.is_ca
    assert params.ext_key_usages == (ExtendedKeyUsageOID.SERVER_AUTH,)
    assert certificate.extensions.get_extension_for_class(x509.BasicConstraints).value.ca


def test_request_fields_must_agree_with_what_the_csr_encodes(p256: ec.EllipticCurvePrivateKey) -> None:
    csr = build_csr(LEAF, p256, options=CsrOptions(encode_basic_constraints=True))
    with pytest.raises(InvalidCsr) as caught:
        certificate_params_from_csr(csr, now=NOW, is_ca=True, usages=LEAF.usages)
    assert str(caught.value) == "encoded CSR error: IsCA false does not match expected value true"
    with pytest.raises(InvalidCsr) as caught:
        certificate_params_from_csr(csr, now=NOW, usages=("digital signature", "server auth", "client auth"))
    assert str(caught.value) == (
        "encoded CSR error: the KeyUsages [ 'digital signature', 'key encipherment' ] do not match "
        "the expected KeyUsages [ 'digital signature' ]"
    )
    with pytest.raises(InvalidCsr) as caught:
        certificate_params_from_csr(csr, now=NOW, usages=("digital signature", "key encipherment", "server auth"))
    assert str(caught.value) == (
        "encoded CSR error: the ExtKeyUsages [ 'server auth', 'client auth' ] do not match "
        "the expected ExtKeyUsages [ 'server auth' ]"
    )


def test_unknown_ekus_from_the_csr_are_kept_after_the_requested_ones(p256: ec.EllipticCurvePrivateKey) -> None:
    custom = ObjectIdentifier("1.2.3.4.5")
    csr = (
        x509.CertificateSigningRequestBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "x")]))
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH, custom]), critical=False)
        .sign(p256, hashes.SHA256())
    )
    params = certificate_params_from_csr(csr, now=NOW, usages=("server auth",))
    assert params.ext_key_usages == (ExtendedKeyUsageOID.SERVER_AUTH, custom)
    with pytest.raises(InvalidCsr, match=r"the KeyUsages \[\] do not match"):
        # An EKU in the CSR makes its (absent) KeyUsage count too, as in Go.
        certificate_params_from_csr(csr, now=NOW, usages=("server auth", "digital signature"))


def test_other_csr_extensions_are_dropped(p256: ec.EllipticCurvePrivateKey) -> None:
    csr = (
        x509.CertificateSigningRequestBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "x")]))
        .add_extension(x509.OCSPNoCheck(), critical=False)
        .sign(p256, hashes.SHA256())
    )
    ca = make_ca("ca")
    params = certificate_params_from_csr(csr, now=NOW)
    certificate = sign_with_ca(params, ca_certificates=[ca[0]], ca_key=ca[1]).certificate
    assert ExtensionOID.OCSP_NO_CHECK not in {e.oid for e in certificate.extensions}


def test_a_forged_csr_is_refused(p256: ec.EllipticCurvePrivateKey) -> None:
    der = bytearray(build_csr(LEAF, p256).public_bytes(Encoding.DER))
    der[der.find(b"a.example.com")] = ord("z")
    with pytest.raises(InvalidCsr, match="signature is invalid"):
        certificate_params_from_csr(x509.load_der_x509_csr(bytes(der)), now=NOW)


def test_self_signed(tmp_path: Path, ed25519_key: ed25519.Ed25519PrivateKey) -> None:
    template = CertificateTemplate(common_name="self", is_ca=True, key=KeySpec(algorithm=KeyAlgorithm.ED25519))
    params = certificate_params_from_template(template, ed25519_key.public_key(), now=NOW)
    signed = sign_self_signed(params, ed25519_key)
    assert signed.chain_pem == signed.ca_pem == signed.certificate_pem
    assert signed.certificate.issuer == signed.certificate.subject
    assert ExtensionOID.AUTHORITY_KEY_IDENTIFIER not in {e.oid for e in signed.certificate.extensions}
    assert "OK" in openssl_verify(tmp_path, signed.chain_pem, signed.ca_pem)


def test_signing_keys_must_belong(p256: ec.EllipticCurvePrivateKey, p384: ec.EllipticCurvePrivateKey) -> None:
    params = certificate_params_from_template(LEAF, p256.public_key(), now=NOW)
    with pytest.raises(SigningError, match="does not match the certificate's public key"):
        sign_self_signed(params, p384)
    ca = make_ca("ca")
    with pytest.raises(SigningError, match="does not match the issuer certificate"):
        sign_with_ca(params, ca_certificates=[ca[0]], ca_key=p384)
    with pytest.raises(SigningError, match="no CA certificates"):
        sign_with_ca(params, ca_certificates=[], ca_key=p384)


def test_a_non_ca_issuer_gives_a_broken_chain(p256: ec.EllipticCurvePrivateKey) -> None:
    not_ca = sign_self_signed(
        certificate_params_from_template(CertificateTemplate(common_name="leaf"), p256.public_key(), now=NOW), p256
    ).certificate
    params = certificate_params_from_template(LEAF, generate_ecdsa_private_key(256).public_key(), now=NOW)
    with pytest.raises(InvalidChain, match="malformed or broken"):
        sign_with_ca(params, ca_certificates=[not_ca], ca_key=p256)


def test_naive_now_is_a_programming_error(p256: ec.EllipticCurvePrivateKey) -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        certificate_params_from_template(LEAF, p256.public_key(), now=NOW.replace(tzinfo=None))


def test_temporary_certificate(tmp_path: Path, p256: ec.EllipticCurvePrivateKey) -> None:
    pem = generate_temporary_certificate(LEAF, p256, now=NOW)
    (certificate,) = load_pem_certificate_chain(pem)
    assert certificate.issuer.rfc4514_string() == f"CN={TEMPORARY_CA_COMMON_NAME}"
    assert certificate.subject.get_attributes_for_oid(NameOID.SERIAL_NUMBER)[0].value == "1234567890"
    assert certificate.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == "a.example.com"
    assert certificate.public_key() == p256.public_key()
    assert certificate.signature_hash_algorithm is not None
    assert certificate.signature_hash_algorithm.name == "sha512"
    assert certificate.not_valid_after_utc - certificate.not_valid_before_utc == timedelta(days=90)
    assert "DNS:a.example.com" in openssl_text(certificate)


def test_temporary_certificate_ignores_literal_subject_like_upstream(p256: ec.EllipticCurvePrivateKey) -> None:
    template = CertificateTemplate(literal_subject="CN=lit", dns_names=("x.example.com",), key=EC)
    (certificate,) = load_pem_certificate_chain(generate_temporary_certificate(template, p256, now=NOW))
    assert certificate.subject.rfc4514_string() == "2.5.4.5=1234567890"


def test_sign_certificate_self_signed_params(p256: ec.EllipticCurvePrivateKey) -> None:
    params = certificate_params_from_template(
        CertificateTemplate(common_name="ca", is_ca=True), p256.public_key(), now=NOW
    )
    certificate = sign_certificate(params, signer_key=p256)
    assert certificate.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    assert encode_pem_certificates([certificate]) == encode_pem_certificate(certificate)
