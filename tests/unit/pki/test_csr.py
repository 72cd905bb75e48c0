"""CSRs built as cert-manager's GenerateCSR builds them, and read back."""

from __future__ import annotations

import base64
import contextlib
import time

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import ExtendedKeyUsageOID, ExtensionOID, NameOID
from hypothesis import given
from hypothesis import strategies as st

from certkeeper.pki.csr import (
    _signature_valid,
    build_csr,
    clear_csr_memos,
    csr_content,
    csr_extensions,
    csr_public_key,
    csr_sans,
    csr_template,
    verify_csr_signature,
)
from certkeeper.pki.errors import InvalidCsr, InvalidSubject, InvalidTemplate, PkiError
from certkeeper.pki.keys import KeyAlgorithm, KeySpec, SignatureAlgorithm, generate_ecdsa_private_key
from certkeeper.pki.pem import encode_pem_certificate_request, load_pem_certificate_request
from certkeeper.pki.subject import SubjectFields
from certkeeper.pki.template import (
    PLAIN_CSR_OPTIONS,
    CertificateTemplate,
    CsrOptions,
    NameConstraintItems,
    NameConstraintsSpec,
    OtherName,
)

EC = KeySpec(algorithm=KeyAlgorithm.ECDSA)
UPN = "1.3.6.1.4.1.311.20.2.3"


def frame(der: bytes) -> bytes:
    return b"-----BEGIN CERTIFICATE REQUEST-----\n" + base64.b64encode(der) + b"\n-----END CERTIFICATE REQUEST-----\n"


def oids(csr: x509.CertificateSigningRequest) -> list[tuple[str, bool]]:
    return [(ext.oid.dotted_string, ext.critical) for ext in csr.extensions]


def test_default_csr(p256: ec.EllipticCurvePrivateKey) -> None:
    csr = build_csr(CertificateTemplate(common_name="example.com", dns_names=("example.com",), key=EC), p256)
    assert csr.is_signature_valid
    assert csr.subject.rfc4514_string() == "CN=example.com"
    assert oids(csr) == [
        (ExtensionOID.SUBJECT_ALTERNATIVE_NAME.dotted_string, False),
        (ExtensionOID.KEY_USAGE.dotted_string, True),
    ]
    usage = csr.extensions.get_extension_for_class(x509.KeyUsage).value
    assert (usage.digital_signature, usage.key_encipherment, usage.key_cert_sign) == (True, True, False)
    assert isinstance(csr.signature_hash_algorithm, hashes.SHA256)


def test_ca_adds_cert_sign_and_ekus_keep_order(p256: ec.EllipticCurvePrivateKey) -> None:
    template = CertificateTemplate(
        common_name="ca", is_ca=True, usages=("client auth", "digital signature", "server auth"), key=EC
    )
    csr = build_csr(template, p256)
    usage = csr.extensions.get_extension_for_class(x509.KeyUsage).value
    assert (usage.digital_signature, usage.key_encipherment, usage.key_cert_sign) == (True, False, True)
    assert list(csr.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value) == [
        ExtendedKeyUsageOID.CLIENT_AUTH,
        ExtendedKeyUsageOID.SERVER_AUTH,
    ]
    assert not csr.extensions.get_extension_for_class(x509.ExtendedKeyUsage).critical


def test_usages_can_be_left_out_of_the_request(p256: ec.EllipticCurvePrivateKey) -> None:
    template = CertificateTemplate(common_name="x", usages=("server auth",), encode_usages_in_request=False, key=EC)
    assert oids(build_csr(template, p256)) == []


def test_basic_constraints_only_with_the_gate(p256: ec.EllipticCurvePrivateKey) -> None:
    template = CertificateTemplate(common_name="ca", is_ca=True, key=EC)
    assert ExtensionOID.BASIC_CONSTRAINTS.dotted_string not in dict(oids(build_csr(template, p256)))
    csr = build_csr(template, p256, options=CsrOptions(encode_basic_constraints=True))
    extension = csr.extensions.get_extension_for_class(x509.BasicConstraints)
    assert extension.critical
    assert extension.value == x509.BasicConstraints(ca=True, path_length=None)


@pytest.mark.parametrize("critical", [True, False], ids=["critical", "non-critical"])
def test_name_constraints_with_their_critical_flag(p256: ec.EllipticCurvePrivateKey, critical: bool) -> None:
    constraints = NameConstraintsSpec(critical=critical, permitted=NameConstraintItems(dns_domains=("example.com",)))
    template = CertificateTemplate(common_name="ca", is_ca=True, name_constraints=constraints, key=EC)
    extension = build_csr(template, p256).extensions.get_extension_for_class(x509.NameConstraints)
    assert extension.critical is critical
    assert extension.value.permitted_subtrees == [x509.DNSName("example.com")]
    plain = build_csr(template, p256, options=PLAIN_CSR_OPTIONS)
    assert x509.NameConstraints not in {type(e.value) for e in plain.extensions}


def test_san_is_critical_when_the_subject_is_empty(p256: ec.EllipticCurvePrivateKey) -> None:
    csr = build_csr(CertificateTemplate(dns_names=("example.com",), key=EC), p256)
    assert csr.subject.public_bytes() == b"\x30\x00"
    assert csr.extensions.get_extension_for_class(x509.SubjectAlternativeName).critical


def test_all_san_kinds_in_order(p256: ec.EllipticCurvePrivateKey) -> None:
    template = CertificateTemplate(
        common_name="a",
        dns_names=("a.example.com", "b.example.com"),
        ip_addresses=("10.0.0.1", "::1"),
        uris=("spiffe://example.com/a",),
        email_addresses=("a@example.com",),
        other_names=(OtherName(oid=UPN, utf8_value="upn@example.com"),),
        key=EC,
    )
    san = build_csr(template, p256).extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert [type(n).__name__ for n in san] == [
        "DNSName",
        "DNSName",
        "RFC822Name",
        "IPAddress",
        "IPAddress",
        "UniformResourceIdentifier",
        "OtherName",
    ]
    plain = build_csr(template, p256, options=PLAIN_CSR_OPTIONS)
    assert csr_sans(plain).other_names == ()


def test_literal_subject_only_with_the_gate(p256: ec.EllipticCurvePrivateKey) -> None:
    template = CertificateTemplate(literal_subject="CN=lit,O=Org,DC=example", dns_names=("x",), key=EC)
    assert build_csr(template, p256).subject.rfc4514_string() == "CN=lit,O=Org,DC=example"
    content = csr_content(template, CsrOptions())
    assert content.common_name == "lit"
    assert build_csr(template, p256, options=PLAIN_CSR_OPTIONS).subject.public_bytes() == b"\x30\x00"


def test_structured_subject(p256: ec.EllipticCurvePrivateKey) -> None:
    template = CertificateTemplate(
        common_name="cn", subject=SubjectFields(organizations=("Org",), countries=("GB",), serial_number="7"), key=EC
    )
    assert build_csr(template, p256).subject.rfc4514_string() == "2.5.4.5=7,CN=cn,O=Org,C=GB"


@pytest.mark.parametrize(
    "template",
    [CertificateTemplate(key=EC), CertificateTemplate(literal_subject="O=no-cn", key=EC)],
    ids=["nothing", "literal-without-cn"],
)
def test_a_name_is_required(p256: ec.EllipticCurvePrivateKey, template: CertificateTemplate) -> None:
    with pytest.raises(InvalidTemplate) as caught:
        build_csr(template, p256)
    assert str(caught.value) == (
        "at least one of commonName (from the commonName field or from a literalSubject), dnsNames, emailSANs, "
        "ipAddresses, otherNames, or uriSANs must be set"
    )


def test_other_names_alone_count_as_a_name_only_when_encoded(p256: ec.EllipticCurvePrivateKey) -> None:
    template = CertificateTemplate(other_names=(OtherName(oid=UPN, utf8_value="u"),), key=EC)
    assert csr_sans(build_csr(template, p256)).other_names == (OtherName(oid=UPN, utf8_value="u"),)
    with pytest.raises(InvalidTemplate, match="at least one of commonName"):
        build_csr(template, p256, options=PLAIN_CSR_OPTIONS)


def test_errors_from_parts_surface(p256: ec.EllipticCurvePrivateKey) -> None:
    with pytest.raises(InvalidTemplate, match="failed to build key usages: unknown key usages: \\[nope\\]"):
        build_csr(CertificateTemplate(common_name="x", usages=("nope",), key=EC), p256)
    with pytest.raises(InvalidTemplate, match="failed to parse IP address"):
        build_csr(CertificateTemplate(ip_addresses=("300.1.1.1",), key=EC), p256)
    with pytest.raises(InvalidSubject):
        build_csr(CertificateTemplate(literal_subject="CN=#00", key=EC), p256)


@pytest.mark.parametrize(
    ("spec", "requested", "hash_name"),
    [
        (KeySpec(), None, "sha256"),
        (KeySpec(), SignatureAlgorithm.SHA512_WITH_RSA, "sha512"),
        (KeySpec(size=4096), None, "sha512"),
    ],
    ids=["rsa-default", "rsa-requested", "rsa-spec-size"],
)
def test_rsa_csr_signature_algorithm(
    rsa2048: rsa.RSAPrivateKey, spec: KeySpec, requested: SignatureAlgorithm | None, hash_name: str
) -> None:
    csr = build_csr(CertificateTemplate(common_name="x", key=spec, signature_algorithm=requested), rsa2048)
    assert csr.signature_hash_algorithm is not None
    assert csr.signature_hash_algorithm.name == hash_name


def test_ed25519_csr(ed25519_key: ed25519.Ed25519PrivateKey) -> None:
    csr = build_csr(CertificateTemplate(common_name="x", key=KeySpec(algorithm=KeyAlgorithm.ED25519)), ed25519_key)
    assert csr.signature_hash_algorithm is None
    verify_csr_signature(csr)


def test_signature_algorithm_must_suit_the_actual_key(p256: ec.EllipticCurvePrivateKey) -> None:
    with pytest.raises(InvalidTemplate, match="for key algorithm ECDSA the allowed signature algorithms"):
        build_csr(CertificateTemplate(common_name="x"), p256)


def test_tampered_csr_fails_verification(p256: ec.EllipticCurvePrivateKey) -> None:
    csr = build_csr(CertificateTemplate(common_name="x", key=EC), p256)
    der = bytearray(csr.public_bytes(Encoding.DER))
    index = der.find(b"x", 20)
    der[index] = ord("y")
    with pytest.raises(InvalidCsr, match="signature is invalid"):
        verify_csr_signature(x509.load_der_x509_csr(bytes(der)))


def test_a_csr_signature_is_checked_once_per_request_and_a_bad_one_is_refused_every_time(
    p256: ec.EllipticCurvePrivateKey,
) -> None:
    csr = build_csr(CertificateTemplate(common_name="memo", key=EC), p256)
    pem = csr.public_bytes(Encoding.PEM)
    verify_csr_signature(csr)
    hits = _signature_valid.cache_info().hits
    verify_csr_signature(x509.load_pem_x509_csr(pem))  # another object with the same DER
    assert _signature_valid.cache_info().hits == hits + 1
    der = bytearray(csr.public_bytes(Encoding.DER))
    der[der.find(b"memo", 20)] = ord("n")
    tampered = x509.load_der_x509_csr(bytes(der))
    for _ in range(2):
        with pytest.raises(InvalidCsr, match="signature is invalid"):
            verify_csr_signature(tampered)


def test_clear_csr_memos_forgets_the_checks(p256: ec.EllipticCurvePrivateKey) -> None:
    csr = build_csr(CertificateTemplate(common_name="memo-clear", key=EC), p256)
    verify_csr_signature(csr)
    csr_public_key(csr)
    clear_csr_memos()
    assert _signature_valid.cache_info().currsize == 0
    assert csr_public_key.cache_info().currsize == 0


def test_a_csr_public_key_is_the_keys_public_half(p256: ec.EllipticCurvePrivateKey) -> None:
    csr = build_csr(CertificateTemplate(common_name="memo-key", key=EC), p256)
    assert csr_public_key(csr) == p256.public_key()
    assert csr_public_key(x509.load_der_x509_csr(csr.public_bytes(Encoding.DER))) is csr_public_key(csr)


def test_malformed_extensions_are_invalid_csr(p256: ec.EllipticCurvePrivateKey) -> None:
    # A KeyUsage with encipherOnly but not keyAgreement: cryptography refuses to parse it.
    raw = x509.UnrecognizedExtension(ExtensionOID.KEY_USAGE, bytes.fromhex("03020001"))
    csr = (
        x509.CertificateSigningRequestBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "x")]))
        .add_extension(raw, critical=True)
        .sign(p256, hashes.SHA256())
    )
    with pytest.raises(InvalidCsr, match="malformed extensions"):
        csr_extensions(csr)


def test_csr_template_reads_back_what_was_asked(p256: ec.EllipticCurvePrivateKey) -> None:
    template = CertificateTemplate(
        common_name="cn",
        subject=SubjectFields(organizations=("Org",)),
        dns_names=("a.example.com",),
        ip_addresses=("10.0.0.1",),
        uris=("spiffe://x/y",),
        email_addresses=("a@example.com",),
        other_names=(OtherName(oid=UPN, utf8_value="u@example.com"),),
        is_ca=True,
        usages=("digital signature", "server auth"),
        key=KeySpec(algorithm=KeyAlgorithm.ECDSA, size=256),
        name_constraints=NameConstraintsSpec(critical=True, permitted=NameConstraintItems(dns_domains=("x",))),
    )
    csr = build_csr(template, p256, options=CsrOptions(encode_basic_constraints=True))
    parsed = csr_template(load_pem_certificate_request(encode_pem_certificate_request(csr)))
    assert parsed == CertificateTemplate(
        common_name="cn",
        subject=SubjectFields(organizations=("Org",)),
        dns_names=("a.example.com",),
        ip_addresses=("10.0.0.1",),
        uris=("spiffe://x/y",),
        email_addresses=("a@example.com",),
        other_names=(OtherName(oid=UPN, utf8_value="u@example.com"),),
        is_ca=True,
        usages=("digital signature", "cert sign", "server auth"),
        key=KeySpec(algorithm=KeyAlgorithm.ECDSA, size=256),
        name_constraints=NameConstraintsSpec(critical=True, permitted=NameConstraintItems(dns_domains=("x",))),
    )


@given(st.binary(min_size=1, max_size=2000))
def test_random_der_as_csr_only_raises_typed_errors(der: bytes) -> None:
    pem = frame(der)
    started = time.perf_counter()
    with contextlib.suppress(PkiError):
        csr = load_pem_certificate_request(pem)
        verify_csr_signature(csr)
        csr_template(csr)
    assert time.perf_counter() - started < 1.0


@given(st.data())
def test_mutated_csrs_only_raise_typed_errors(data: st.DataObject) -> None:
    der = bytearray(_SAMPLE_DER)
    for _ in range(data.draw(st.integers(min_value=1, max_value=4))):
        index = data.draw(st.integers(min_value=0, max_value=len(der) - 1))
        der[index] = data.draw(st.integers(min_value=0, max_value=255))
    pem = frame(bytes(der))
    with contextlib.suppress(PkiError):
        csr = load_pem_certificate_request(pem)
        csr_template(csr)
        verify_csr_signature(csr)


def _sample_der() -> bytes:
    template = CertificateTemplate(
        common_name="cn",
        dns_names=("a.example.com",),
        ip_addresses=("10.0.0.1",),
        other_names=(OtherName(oid=UPN, utf8_value="u"),),
        usages=("server auth",),
        is_ca=True,
        name_constraints=NameConstraintsSpec(permitted=NameConstraintItems(ip_ranges=("10.0.0.0/8",))),
        key=EC,
    )
    csr = build_csr(template, generate_ecdsa_private_key(256), options=CsrOptions(encode_basic_constraints=True))
    return csr.public_bytes(Encoding.DER)


_SAMPLE_DER = _sample_der()
