"""Subjects: RFC 4514 literal subjects as go-ldap parses them, hardening, DER encoding, structured fields."""

from __future__ import annotations

import contextlib
import time

import pytest
from cryptography import x509
from cryptography.x509.name import _ASN1Type
from cryptography.x509.oid import NameOID, ObjectIdentifier
from hypothesis import given
from hypothesis import strategies as st

from certkeeper.pki.errors import InvalidSubject
from certkeeper.pki.subject import (
    MAX_LITERAL_SUBJECT_ATTRIBUTES,
    MAX_LITERAL_SUBJECT_LENGTH,
    LiteralAttribute,
    SubjectFields,
    first_common_name,
    literal_subject_name,
    name_attribute,
    name_is_empty,
    parse_literal_subject,
    subject_fields_of,
    subject_name,
)

MEMORY_BOMB = "DF=#6666666666665006838820013100000746939546349182108463491821809FBFFFFFFFFF"


def values(text: str) -> list[list[tuple[str, str]]]:
    """(type, value) pairs per RDN in string order, for comparing with go-ldap's test tables."""
    return [[(a.type, a.value) for a in rdn] for rdn in reversed(parse_literal_subject(text))]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", []),
        ("   ", []),
        (
            "cn=Jim\\2C \\22Hasse Hö\\22 Hansson!,dc=dummy,dc=com",
            [[("cn", 'Jim, "Hasse Hö" Hansson!')], [("dc", "dummy")], [("dc", "com")]],
        ),
        (
            "OU=Sales+CN=J. Smith,DC=example,DC=net",
            [[("OU", "Sales"), ("CN", "J. Smith")], [("DC", "example")], [("DC", "net")]],
        ),
        ("CN=Lu\\C4\\8Di\\C4\\87", [[("CN", "Lučić")]]),
        ("  CN  =  Lu\\C4\\8Di\\C4\\87  ", [[("CN", "Lučić")]]),
        ("   A   =   1   ,   B   =   2   ", [[("A", "1")], [("B", "2")]]),
        ("   A   =   1   +   B   =   2   ", [[("A", "1"), ("B", "2")]]),
        ("   \\ \\ A\\ \\    =   \\ \\ 1\\ \\    ", [[("  A  ", "  1  ")]]),
        ("cn=john.doe;dc=example,dc=net", [[("cn", "john.doe")], [("dc", "example")], [("dc", "net")]]),
        ("cn=⭐;dc=❤️=\\==,dc=❤️\\\\", [[("cn", "⭐")], [("dc", "❤️===")], [("dc", "❤️\\")]]),
        ("cn=john.doe\\;weird name,dc=example", [[("cn", "john.doe;weird name")], [("dc", "example")]]),
        ("cn=ZXhhbXBsZVRleHQ=,dc=dummy", [[("cn", "ZXhhbXBsZVRleHQ=")], [("dc", "dummy")]]),
        ("1.3.6.1.4.1.1466.0=test", [[("1.3.6.1.4.1.1466.0", "test")]]),
        ("CN=a\\\\ ", [[("CN", "a\\")]]),
        ("CN=a\\ ", [[("CN", "a ")]]),
        ("CN= #not-hex", [[("CN", "#not-hex")]]),
    ],
    ids=[
        "empty",
        "blank",
        "escapes",
        "multi-valued",
        "hex-utf8",
        "spaces-around-hex-utf8",
        "spaces",
        "spaces-multi-valued",
        "escaped-spaces-kept",
        "semicolon-separator",
        "unicode-and-equals",
        "escaped-semicolon",
        "equals-in-value",
        "numeric-oid",
        "escaped-backslash-then-space",
        "escaped-trailing-space",
        "hash-after-space-is-literal",
    ],
)
def test_parses_like_go_ldap(text: str, expected: list[list[tuple[str, str]]]) -> None:
    assert values(text) == expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("*", "DN ended with incomplete type, value pair"),
        ("cn=Jim\\0Test", "failed to decode escaped character: encoding/hex: invalid byte: U+0054 'T'"),
        ("cn=Jim\\0", "failed to decode escaped character: encoding/hex: invalid byte: 0"),
        ("DC=example,=net", "DN ended with incomplete type, value pair"),
        ("test,DC=example,DC=com", "incomplete type, value pair"),
        ("=test,DC=example,DC=com", "incomplete type, value pair"),
        ("1.3.6.1.4.1.1466.0=test+", "DN ended with incomplete type, value pair"),
        ("1.3.6.1.4.1.1466.0=test;", "DN ended with incomplete type, value pair"),
        ("1.3.6.1.4.1.1466.0=test+,", "incomplete type, value pair"),
        ("CN=a\\", "got corrupted escaped character: 'a\\'"),
        ('CN=say "hi"', "got unescaped character: '\"'"),
        ("CN=a<b", "got unescaped character: '<'"),
        ("CN=a\x00b", "got unescaped NULL character"),
        ("CN=\\FF\\FE", "literal subject contains a value that is not valid UTF-8"),
        ("123.544.555=x", 'literal subject attribute type "123.544.555" is not a valid OID'),
    ],
    ids=[
        "star",
        "bad-hex",
        "short-hex",
        "empty-type",
        "no-equals",
        "leading-equals",
        "trailing-plus",
        "trailing-semicolon",
        "plus-comma",
        "dangling-backslash",
        "quote",
        "angle",
        "nul",
        "invalid-utf8",
        "oid-first-arc-above-2",
    ],
)
def test_errors_like_go_ldap(text: str, message: str) -> None:
    with pytest.raises(InvalidSubject) as caught:
        literal_subject_name(text)
    assert str(caught.value).startswith(message)


def test_hex_values_are_refused_fast() -> None:
    started = time.perf_counter()
    with pytest.raises(InvalidSubject) as caught:
        literal_subject_name(MEMORY_BOMB)
    assert time.perf_counter() - started < 0.05
    assert str(caught.value) == (
        f'unsupported distinguished name (DN) "{MEMORY_BOMB}": '
        'notation does not support x509.subject identities containing "=#"'
    )
    with pytest.raises(InvalidSubject, match="=#"):
        literal_subject_name("CN=ok,1.3.6.1.4.1.1466.0=#04024869")


def test_unrecognised_types_are_kept_for_validation_and_refused_for_encoding() -> None:
    assert parse_literal_subject("cn=foo,O=bar") == [
        [LiteralAttribute(type="O", oid=NameOID.ORGANIZATION_NAME, value="bar")],
        [LiteralAttribute(type="cn", oid=None, value="foo")],
    ]
    with pytest.raises(InvalidSubject) as caught:
        literal_subject_name("cn=foo,O=bar")
    assert str(caught.value) == "Literal subject contains unrecognized key with value [foo]"


def test_input_is_bounded() -> None:
    with pytest.raises(InvalidSubject, match=f"longer than {MAX_LITERAL_SUBJECT_LENGTH} characters"):
        parse_literal_subject("CN=" + "a" * MAX_LITERAL_SUBJECT_LENGTH)
    many = ",".join(["O=x"] * (MAX_LITERAL_SUBJECT_ATTRIBUTES + 1))
    with pytest.raises(InvalidSubject, match=f"more than {MAX_LITERAL_SUBJECT_ATTRIBUTES} attributes"):
        parse_literal_subject(many)
    assert len(parse_literal_subject(",".join(["O=x"] * MAX_LITERAL_SUBJECT_ATTRIBUTES))) == 256


def test_cert_managers_rdn_example_keeps_order_in_der() -> None:
    text = (
        "SERIALNUMBER=42, L=some-locality, ST=some-state-or-province, STREET=some-street, CN=foo-long.com, "
        "OU=FooLong, OU=Barq, OU=Baz, OU=Dept., O=Corp., C=US+1.2.544.555= A Test Value "
    )
    name = literal_subject_name(text)
    assert [[(a.oid.dotted_string, a.value) for a in rdn] for rdn in name.rdns] == [
        [("2.5.4.6", "US"), ("1.2.544.555", "A Test Value")],
        [("2.5.4.10", "Corp.")],
        [("2.5.4.11", "Dept.")],
        [("2.5.4.11", "Baz")],
        [("2.5.4.11", "Barq")],
        [("2.5.4.11", "FooLong")],
        [("2.5.4.3", "foo-long.com")],
        [("2.5.4.9", "some-street")],
        [("2.5.4.8", "some-state-or-province")],
        [("2.5.4.7", "some-locality")],
        [("2.5.4.5", "42")],
    ]
    assert first_common_name(name) == "foo-long.com"


def test_known_short_names_map_to_their_oids() -> None:
    name = literal_subject_name("UID=jsmith,DC=example,STREET=s,SERIALNUMBER=1")
    assert [attribute.oid for attribute in name] == [
        NameOID.SERIAL_NUMBER,
        NameOID.STREET_ADDRESS,
        NameOID.DOMAIN_COMPONENT,
        NameOID.USER_ID,
    ]


@pytest.mark.parametrize(
    ("value", "string_type"),
    [
        ("Corp. (UK) Ltd, 1-2 a/b:c=d?e'f+g", _ASN1Type.PrintableString),
        ("", _ASN1Type.PrintableString),
        ("*.example.com", _ASN1Type.UTF8String),
        ("A&B", _ASN1Type.UTF8String),
        ("a@b", _ASN1Type.UTF8String),
        ("Lučić", _ASN1Type.UTF8String),
    ],
    ids=["printable", "empty", "asterisk", "ampersand", "at", "non-ascii"],
)
def test_strings_are_typed_as_go_marshals_them(value: str, string_type: _ASN1Type) -> None:
    attribute = name_attribute(NameOID.ORGANIZATION_NAME, value)
    der = x509.Name([x509.RelativeDistinguishedName([attribute])]).public_bytes()
    assert der[11] == string_type.value


def test_domain_component_is_not_ia5_unlike_cryptographys_default() -> None:
    der = literal_subject_name("DC=example").public_bytes()
    assert der.hex() == "30193117301506" + "0a0992268993f22c640119" + "1307" + b"example".hex()


def test_lengths_cryptography_would_refuse_are_accepted_silently() -> None:
    name = subject_name(SubjectFields(countries=("USA",)), "")
    assert [a.value for a in name] == ["USA"]
    assert [a.value for a in literal_subject_name("CN=")] == [""]
    assert len(first_common_name(literal_subject_name("CN=" + "x" * 65))) == 65


def test_structured_subject_uses_go_order_and_multi_valued_rdns() -> None:
    fields = SubjectFields(
        organizations=("b-org", "a-org"),
        countries=("GB",),
        organizational_units=("ou",),
        localities=("London",),
        provinces=("England",),
        street_addresses=("1 Road",),
        postal_codes=("N1",),
        serial_number="42",
    )
    name = subject_name(fields, "example.com")
    assert [sorted((a.oid.dotted_string, a.value) for a in rdn) for rdn in name.rdns] == [
        [("2.5.4.6", "GB")],
        [("2.5.4.8", "England")],
        [("2.5.4.7", "London")],
        [("2.5.4.9", "1 Road")],
        [("2.5.4.17", "N1")],
        [("2.5.4.10", "a-org"), ("2.5.4.10", "b-org")],
        [("2.5.4.11", "ou")],
        [("2.5.4.3", "example.com")],
        [("2.5.4.5", "42")],
    ]
    assert subject_fields_of(name) == ("example.com", fields)


def test_empty_subject() -> None:
    name = subject_name(SubjectFields())
    assert name_is_empty(name)
    assert name.public_bytes() == b"\x30\x00"
    assert not name_is_empty(subject_name(SubjectFields(), "cn"))


def test_repeated_attribute_in_one_rdn_is_an_error() -> None:
    with pytest.raises(InvalidSubject, match="repeated attribute"):
        subject_name(SubjectFields(organizations=("x", "x")))


def test_subject_fields_keep_the_last_common_name() -> None:
    name = literal_subject_name("CN=second,CN=first")
    assert first_common_name(name) == "first"
    assert subject_fields_of(name)[0] == "second"


@given(st.text(max_size=300))
def test_random_text_only_raises_invalid_subject(text: str) -> None:
    started = time.perf_counter()
    with contextlib.suppress(InvalidSubject):
        literal_subject_name(text)
    assert time.perf_counter() - started < 0.5


@given(st.text(alphabet='CNOUDL=,+;\\#"<> 0123456789.abcdefABCDEF\x00é', max_size=200))
def test_dn_shaped_text_only_raises_invalid_subject(text: str) -> None:
    with contextlib.suppress(InvalidSubject):
        literal_subject_name(text)


@given(st.text(alphabet="0123456789ABCDEFabcdef", min_size=1, max_size=4000))
def test_any_hex_value_fails_fast(hex_digits: str) -> None:
    started = time.perf_counter()
    with pytest.raises(InvalidSubject, match="=#"):
        literal_subject_name("DF=#" + hex_digits)
    assert time.perf_counter() - started < 0.05


KNOWN = st.sampled_from(
    [NameOID.COMMON_NAME, NameOID.ORGANIZATION_NAME, NameOID.ORGANIZATIONAL_UNIT_NAME, NameOID.LOCALITY_NAME,
     NameOID.DOMAIN_COMPONENT, NameOID.SERIAL_NUMBER, ObjectIdentifier("1.2.3.4")]
)  # fmt: skip
VALUES = st.text(st.characters(exclude_categories=["Cs"]), min_size=1, max_size=30)


@given(st.lists(st.lists(st.tuples(KNOWN, VALUES), min_size=1, max_size=3, unique_by=lambda t: t[0]), max_size=5))
def test_round_trip_through_cryptographys_rfc4514(rdns: list[list[tuple[ObjectIdentifier, str]]]) -> None:
    name = x509.Name([x509.RelativeDistinguishedName([name_attribute(oid, v) for oid, v in rdn]) for rdn in rdns])
    assert literal_subject_name(name.rfc4514_string()).public_bytes() == name.public_bytes()
