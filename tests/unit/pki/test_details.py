from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from certkeeper.pki.details import certificate_details_annotations, join_csv, split_csv
from certkeeper.pki.keys import KeyAlgorithm, KeySpec, generate_private_key
from certkeeper.pki.sign import certificate_params_from_template, sign_self_signed
from certkeeper.pki.subject import SubjectFields
from certkeeper.pki.template import CertificateTemplate

NOW = datetime(2030, 1, 1, tzinfo=UTC)


@pytest.mark.parametrize(
    ("values", "text"),
    [
        ([], ""),
        (["a"], "a"),
        (["a", "b"], "a,b"),
        (["a,b", "c"], '"a,b",c'),
        (['say "hi"'], '"say ""hi"""'),
        ([" lead"], '" lead"'),
        (["", "x"], ",x"),
    ],
)
def test_join_csv_quotes_like_go(values: list[str], text: str) -> None:
    assert join_csv(values) == text


@given(st.lists(st.text(alphabet=st.characters(blacklist_categories=["Cs"]), min_size=1), min_size=1, max_size=5))
def test_split_inverts_join(values: list[str]) -> None:
    assert split_csv(join_csv(values)) == values


def test_annotations_for_certificate() -> None:
    key = generate_private_key(KeySpec(algorithm=KeyAlgorithm.ECDSA))
    template = CertificateTemplate(
        common_name="example.com",
        subject=SubjectFields(organizations=("Acme, Inc", "Other"), countries=("GB",)),
        dns_names=("example.com", "www.example.com"),
        ip_addresses=("10.0.0.1",),
        key=KeySpec(algorithm=KeyAlgorithm.ECDSA),
    )
    cert = sign_self_signed(certificate_params_from_template(template, key.public_key(), now=NOW), key).certificate
    assert certificate_details_annotations(cert) == {
        "cert-manager.io/common-name": "example.com",
        # One multi-valued RDN, as Go writes it: DER sorts the SET, so the shorter value comes first.
        "cert-manager.io/subject-organizations": 'Other,"Acme, Inc"',
        "cert-manager.io/subject-countries": "GB",
        "cert-manager.io/alt-names": "example.com,www.example.com",
        "cert-manager.io/ip-sans": "10.0.0.1",
        "cert-manager.io/uri-sans": "",
    }
    assert certificate_details_annotations(None) == {}
