"""The certificate-details annotations, with Go's encoding/csv quoting."""

import pytest
from cryptography import x509

from certkeeper.api.constants import TLS_CERT_KEY
from certkeeper.pki.keys import generate_ecdsa_private_key
from certkeeper.pki.pem import load_pem_certificate
from certkeeper.pki.sign import certificate_params_from_template, sign_self_signed
from certkeeper.pki.subject import SubjectFields
from certkeeper.pki.template import CertificateTemplate
from certkeeper.policies.certificate_annotations import annotations_for_certificate, join_with_escape_csv

from .builders import NOW, make_secret


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        ([], ""),
        ([""], ""),
        (["", ""], ","),
        (["a", "b"], "a,b"),
        (["a,b", "c"], '"a,b",c'),
        ([" lead"], '" lead"'),
        (['q"x'], '"q""x"'),
        (["\\."], '"\\."'),
        (["x\ny"], '"x\ny"'),
        (["\u00a0x"], '"\u00a0x"'),
        (["\x1cx"], "\x1cx"),
        (["tab\t"], "tab\t"),
    ],
    ids=[
        "none",
        "one-empty",
        "two-empty",
        "plain",
        "comma",
        "leading-space",
        "quote",
        "backslash-dot",
        "newline",
        "nbsp",
        "file-separator",
        "trailing-tab",
    ],
)
def test_join_with_escape_csv_matches_go(values: list[str], expected: str) -> None:
    # Vectors printed by Go's csv.Writer (Write, Flush, trailing newline removed).
    assert join_with_escape_csv(values) == expected


def _certificate(template: CertificateTemplate) -> x509.Certificate:
    key = generate_ecdsa_private_key(256)
    params = certificate_params_from_template(template, key.public_key(), now=NOW)
    return sign_self_signed(params, key).certificate


def test_full_certificate() -> None:
    template = CertificateTemplate(
        common_name="example.com",
        subject=SubjectFields(
            organizations=("Org, Inc.", "Other"),
            countries=("GB",),
            organizational_units=("Unit",),
            localities=("London",),
            provinces=("Greater London",),
            street_addresses=("10 Downing Street",),
            postal_codes=("SW1A 2AA",),
            serial_number="42",
        ),
        dns_names=("example.com", "www.example.com"),
        ip_addresses=("10.0.0.1", "::1"),
        uris=("spiffe://cluster.local/ns/a",),
        email_addresses=("a@example.com",),
    )
    assert annotations_for_certificate(_certificate(template)) == {
        "cert-manager.io/common-name": "example.com",
        "cert-manager.io/subject-serialnumber": "42",
        # One multi-valued RDN: DER sorts the SET by encoding, so the shorter value comes first.
        "cert-manager.io/subject-organizations": 'Other,"Org, Inc."',
        "cert-manager.io/subject-organizationalunits": "Unit",
        "cert-manager.io/subject-countries": "GB",
        "cert-manager.io/subject-provinces": "Greater London",
        "cert-manager.io/subject-localities": "London",
        "cert-manager.io/subject-postalcodes": "SW1A 2AA",
        "cert-manager.io/subject-streetaddresses": "10 Downing Street",
        "cert-manager.io/email-sans": "a@example.com",
        "cert-manager.io/alt-names": "example.com,www.example.com",
        "cert-manager.io/ip-sans": "10.0.0.1,::1",
        "cert-manager.io/uri-sans": "spiffe://cluster.local/ns/a",
    }


def test_minimal_certificate_keeps_the_always_present_keys_empty() -> None:
    certificate = _certificate(CertificateTemplate(uris=("spiffe://x/y",)))
    assert annotations_for_certificate(certificate) == {
        "cert-manager.io/common-name": "",
        "cert-manager.io/alt-names": "",
        "cert-manager.io/ip-sans": "",
        "cert-manager.io/uri-sans": "spiffe://x/y",
    }


def test_no_certificate_no_annotations() -> None:
    assert annotations_for_certificate(None) == {}


def test_default_secret_certificate() -> None:
    data = make_secret().data
    assert data is not None
    annotations = annotations_for_certificate(load_pem_certificate(data[TLS_CERT_KEY]))
    assert annotations["cert-manager.io/alt-names"] == "example.com"
