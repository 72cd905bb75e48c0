"""SANs, otherName values, IP and CIDR parsing, OIDs and name constraints."""

from __future__ import annotations

import ipaddress

import pytest
from cryptography import x509
from cryptography.x509.oid import ObjectIdentifier
from hypothesis import given
from hypothesis import strategies as st

from certkeeper.pki.errors import InvalidTemplate
from certkeeper.pki.sans import (
    SanValues,
    decode_utf8_string,
    encode_utf8_string,
    general_names,
    name_constraints_extension,
    name_constraints_spec,
    non_utf8_other_names,
    parse_ip_address,
    parse_ip_network,
    parse_object_identifier,
    san_values,
)
from certkeeper.pki.template import NameConstraintItems, NameConstraintsSpec, OtherName

UPN = "1.3.6.1.4.1.311.20.2.3"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("10.0.0.1", ipaddress.IPv4Address("10.0.0.1")),
        ("::ffff:10.0.0.1", ipaddress.IPv4Address("10.0.0.1")),
        ("2001:db8::1", ipaddress.IPv6Address("2001:db8::1")),
    ],
    ids=["v4", "v4-mapped", "v6"],
)
def test_parse_ip_address(text: str, expected: ipaddress.IPv4Address | ipaddress.IPv6Address) -> None:
    assert parse_ip_address(text) == expected


@pytest.mark.parametrize("text", ["10.0.0", "010.0.0.1", "fe80::1%eth0", "example.com", ""], ids=str)
def test_invalid_ip_addresses(text: str) -> None:
    with pytest.raises(InvalidTemplate, match="failed to parse IP address"):
        parse_ip_address(text)


def test_parse_ip_network_masks_host_bits_like_go() -> None:
    assert parse_ip_network("10.1.2.3/8") == ipaddress.IPv4Network("10.0.0.0/8")
    for bad in ("10.0.0.1", "10.0.0.0/33", "x/8"):
        with pytest.raises(InvalidTemplate, match="invalid CIDR address"):
            parse_ip_network(bad)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "zero length OBJECT IDENTIFIER"),
        ("1.2.x", 'strconv.Atoi: parsing "x": invalid syntax'),
        ("1..2", 'strconv.Atoi: parsing "": invalid syntax'),
        ("7.1", "invalid object identifier 7.1"),
    ],
    ids=["empty", "letter", "empty-arc", "first-arc"],
)
def test_parse_object_identifier_errors(text: str, message: str) -> None:
    with pytest.raises(InvalidTemplate) as caught:
        parse_object_identifier(text)
    assert str(caught.value) == message


def test_parse_object_identifier_normalises_leading_zeros() -> None:
    assert parse_object_identifier("1.02.3") == ObjectIdentifier("1.2.3")


@pytest.mark.parametrize("length", [0, 1, 127, 128, 255, 256, 70_000], ids=str)
def test_utf8_string_der_round_trip(length: int) -> None:
    der = encode_utf8_string("é" * length)
    assert der[0] == 0x0C
    assert decode_utf8_string(der) == "é" * length


@pytest.mark.parametrize(
    "der",
    [b"", b"\x0c", b"\x13\x01a", b"\x0c\x02a", b"\x0c\x81\x01a", b"\x0c\x01\xff", b"\x0c\x01ab", b"\x0c\x80"],
    ids=["empty", "no-length", "printable", "short", "non-minimal", "bad-utf8", "trailing", "indefinite"],
)
def test_decode_utf8_string_refuses_anything_else(der: bytes) -> None:
    assert decode_utf8_string(der) is None


@given(st.binary(max_size=64))
def test_decode_utf8_string_never_raises(der: bytes) -> None:
    result = decode_utf8_string(der)
    assert result is None or encode_utf8_string(result) == der


def test_general_names_in_cert_managers_order() -> None:
    names = general_names(
        dns_names=["a.example.com"],
        email_addresses=["a@example.com"],
        ip_addresses=["10.0.0.1"],
        uris=["spiffe://example.com/a"],
        other_names=[OtherName(oid=UPN, utf8_value="upn@example.com")],
    )
    assert [type(name).__name__ for name in names] == [
        "DNSName",
        "RFC822Name",
        "IPAddress",
        "UniformResourceIdentifier",
        "OtherName",
    ]
    san = x509.SubjectAlternativeName(names)
    assert san_values(san) == SanValues(
        dns_names=("a.example.com",),
        email_addresses=("a@example.com",),
        ip_addresses=("10.0.0.1",),
        uris=("spiffe://example.com/a",),
        other_names=(OtherName(oid=UPN, utf8_value="upn@example.com"),),
    )


@pytest.mark.parametrize(
    "kwargs",
    [{"dns_names": ["bücher.example"]}, {"uris": ["https://é.example"]}, {"email_addresses": ["é@example.com"]}],
    ids=["dns", "uri", "email"],
)
def test_non_ascii_names_are_refused(kwargs: dict[str, list[str]]) -> None:
    with pytest.raises(InvalidTemplate, match="cannot be encoded as an IA5String"):
        general_names(**kwargs)  # type: ignore[arg-type]


def test_non_utf8_other_names_are_reported() -> None:
    san = x509.SubjectAlternativeName([x509.OtherName(ObjectIdentifier("1.2.3"), b"\x13\x01a")])
    assert non_utf8_other_names(san) == ["1.2.3"]
    assert san_values(san).other_names == ()


def test_name_constraints_build_and_read_back() -> None:
    spec = NameConstraintsSpec(
        critical=True,
        permitted=NameConstraintItems(
            dns_domains=("example.com",),
            ip_ranges=("10.0.0.0/8", "2001:db8::/32"),
            email_addresses=("example.com",),
            uri_domains=(".example.com",),
        ),
        excluded=NameConstraintItems(dns_domains=("bad.example.com",)),
    )
    value = name_constraints_extension(spec)
    assert value is not None
    assert [type(n).__name__ for n in value.permitted_subtrees or ()] == [
        "DNSName",
        "IPAddress",
        "IPAddress",
        "RFC822Name",
        "UniformResourceIdentifier",
    ]
    assert name_constraints_spec(value, critical=True) == spec


def test_empty_name_constraints_encode_nothing() -> None:
    assert name_constraints_extension(NameConstraintsSpec()) is None
    assert name_constraints_extension(NameConstraintsSpec(permitted=NameConstraintItems())) is None
    only_excluded = name_constraints_extension(
        NameConstraintsSpec(permitted=NameConstraintItems(), excluded=NameConstraintItems(dns_domains=("x",)))
    )
    assert only_excluded is not None
    assert only_excluded.permitted_subtrees is None


def test_invalid_cidr_in_name_constraints() -> None:
    with pytest.raises(InvalidTemplate, match=r"invalid CIDR address: 10\.0\.0\.0$"):
        name_constraints_extension(NameConstraintsSpec(permitted=NameConstraintItems(ip_ranges=("10.0.0.0",))))
