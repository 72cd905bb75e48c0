from __future__ import annotations

import pytest
from cryptography import x509
from cryptography.x509.name import _ASN1Type  # the only way to build a BIT STRING attribute
from cryptography.x509.oid import NameOID

from certkeeper.pki.keystores.names import go_name_string

from .conftest import GOLDEN, GoldenVectors


def test_matches_go_for_the_golden_certificates(golden_vectors: GoldenVectors) -> None:
    expected = (GOLDEN / "subjects.txt").read_text(encoding="utf-8").splitlines()
    actual = [go_name_string(cert.subject) for cert in [*golden_vectors.chain, *golden_vectors.cas]]
    assert actual == expected


DC = NameOID.DOMAIN_COMPONENT.dotted_string


def _name(*attributes: tuple[x509.ObjectIdentifier, str]) -> x509.Name:
    return x509.Name([x509.NameAttribute(oid, value) for oid, value in attributes])


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        (_name(), ""),
        (_name((NameOID.COMMON_NAME, "a")), "CN=a"),
        # Go regroups known types into C, ST, L, STREET, POSTALCODE, O, OU, CN, SERIALNUMBER and prints reversed.
        (
            _name(
                (NameOID.COMMON_NAME, "cn"), (NameOID.ORGANIZATION_NAME, "o"), (NameOID.COUNTRY_NAME, "CC"),
                (NameOID.LOCALITY_NAME, "l"), (NameOID.STATE_OR_PROVINCE_NAME, "st"),
                (NameOID.STREET_ADDRESS, "street"), (NameOID.POSTAL_CODE, "pc"),
                (NameOID.ORGANIZATIONAL_UNIT_NAME, "ou"), (NameOID.SERIAL_NUMBER, "sn"),
            ),
            "SERIALNUMBER=sn,CN=cn,OU=ou,O=o,POSTALCODE=pc,STREET=street,L=l,ST=st,C=CC",
        ),
        (_name((NameOID.ORGANIZATION_NAME, "a"), (NameOID.ORGANIZATION_NAME, "b")), "O=a+O=b"),
        (_name((NameOID.COMMON_NAME, "first"), (NameOID.COMMON_NAME, "last")), "CN=last"),
        (_name((NameOID.ORGANIZATION_NAME, "")), "O="),
        (_name((NameOID.COMMON_NAME, '#a,b+c"d\\e<f>g;h #')), 'CN=\\#a\\,b\\+c\\"d\\\\e\\<f\\>g\\;h #'),
        (_name((NameOID.COMMON_NAME, " padded ")), "CN=\\ padded\\ "),
        (_name((NameOID.DOMAIN_COMPONENT, "com"), (NameOID.COMMON_NAME, "x")), f"CN=x,{DC}=#1303636f6d"),
        (_name((NameOID.EMAIL_ADDRESS, "a@b")), "1.2.840.113549.1.9.1=#0c03614062"),
        (_name((NameOID.USER_ID, "a*b")), "0.9.2342.19200300.100.1.1=#0c03612a62"),
        (_name((NameOID.USER_ID, "é")), "0.9.2342.19200300.100.1.1=#0c02c3a9"),
        (
            x509.Name([x509.NameAttribute(NameOID.X500_UNIQUE_IDENTIFIER, b"\x01", _ASN1Type.BitString)]),
            "2.5.4.45=#03020001",
        ),
    ],
    ids=[
        "empty", "cn", "go-order", "multi-valued", "last-cn-wins", "empty-o-kept", "escaping",
        "edge-spaces", "dc-printable", "email-utf8", "asterisk-is-not-printable", "non-ascii", "bit-string",
    ],
)  # fmt: skip
def test_go_rendering_rules(name: x509.Name, expected: str) -> None:
    assert go_name_string(name) == expected


def test_multi_valued_rdn_in_certificate_order_is_flattened() -> None:
    rdn = x509.RelativeDistinguishedName(
        [x509.NameAttribute(NameOID.COMMON_NAME, "cn"), x509.NameAttribute(NameOID.ORGANIZATION_NAME, "o")]
    )
    assert go_name_string(x509.Name([rdn])) == "CN=cn,O=o"
