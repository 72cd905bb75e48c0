"""ARI CertIDs (RFC 9773) and preferred-chain matching (cert-manager's issuer-CN rule)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from certkeeper.acme.ari import InvalidCertId, certificate_id, check_window, serial_number_octets
from certkeeper.acme.chains import chain_matches, issuer_common_name, topmost_issuer_common_name
from certkeeper.acme.messages import RenewalInfo, SuggestedWindow
from certkeeper.pki.errors import InvalidPem

KEY = ec.generate_private_key(ec.SECP256R1())
START = datetime(2030, 1, 1, tzinfo=UTC)


def certificate(
    *, serial: int = 1, aki: bytes | None = None, issuer: x509.Name | None = None, subject_cn: str = "leaf"
) -> x509.Certificate:
    builder = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject_cn)]))
        .issuer_name(issuer or x509.Name([]))
        .public_key(KEY.public_key())
        .serial_number(serial)
        .not_valid_before(START)
        .not_valid_after(START + timedelta(days=1))
    )
    if aki is not None:
        extension = x509.AuthorityKeyIdentifier(
            key_identifier=aki, authority_cert_issuer=None, authority_cert_serial_number=None
        )
        builder = builder.add_extension(extension, critical=False)
    return builder.sign(KEY, hashes.SHA256())


def test_rfc9773_example_cert_id() -> None:
    # RFC 9773 §4.1: keyIdentifier 69:88:5B:6B:87:46:40:41:E1:B3:7B:84:7B:A0:AE:2C:DE:01:C8:D4, serial 00:87:65:43:21.
    aki = bytes.fromhex("69885B6B87464041E1B37B847BA0AE2CDE01C8D4")
    assert certificate_id(certificate(serial=0x87654321, aki=aki)) == "aYhba4dGQEHhs3uEe6CuLN4ByNQ.AIdlQyE"


@pytest.mark.parametrize(
    ("serial", "octets"),
    [(0, "00"), (1, "01"), (127, "7f"), (128, "0080"), (255, "00ff"), (256, "0100"), (-1, "ff"), (-129, "ff7f")],
    ids=str,
)
def test_serial_octets_are_minimal_twos_complement(serial: int, octets: str) -> None:
    assert serial_number_octets(serial).hex() == octets


def test_a_certificate_without_aki_has_no_cert_id() -> None:
    with pytest.raises(InvalidCertId, match="missing AuthorityKeyId"):
        certificate_id(certificate())


def test_window_start_must_precede_end() -> None:
    check_window(RenewalInfo(suggested_window=SuggestedWindow(start=START, end=START + timedelta(seconds=1))))
    with pytest.raises(ValueError, match="start must be before end"):
        check_window(RenewalInfo(suggested_window=SuggestedWindow(start=START, end=START)))


def _name(*cns: str) -> x509.Name:
    return x509.Name(
        [x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Org")]
        + [x509.NameAttribute(NameOID.COMMON_NAME, cn) for cn in cns]
    )


def test_issuer_common_name_is_gos_last_cn() -> None:
    assert issuer_common_name(certificate(issuer=_name("Root X1"))) == "Root X1"
    assert issuer_common_name(certificate(issuer=_name("First", "Second"))) == "Second"
    assert issuer_common_name(certificate(issuer=_name())) == ""


def test_chain_matching_looks_at_the_topmost_certificate() -> None:
    leaf = certificate(issuer=_name("Intermediate"))
    top = certificate(issuer=_name("Root X1"), subject_cn="Intermediate")
    pem = b"".join(c.public_bytes(serialization.Encoding.PEM) for c in (leaf, top))
    assert topmost_issuer_common_name(pem) == "Root X1"
    assert chain_matches(pem, "Root X1")
    assert not chain_matches(pem, "Intermediate")
    assert not chain_matches(pem, "")
    with pytest.raises(InvalidPem):
        topmost_issuer_common_name(b"not pem")
