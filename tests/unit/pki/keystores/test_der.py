from __future__ import annotations

import pytest
from cryptography import x509
from cryptography.x509.oid import NameOID
from hypothesis import given
from hypothesis import strategies as st

from certkeeper.pki.keystores import der

from .der_reader import parse, read_tlv


@pytest.mark.parametrize(
    ("encoded", "expected"),
    [
        (der.integer(0), "020100"),
        (der.integer(127), "02017f"),
        (der.integer(128), "02020080"),
        (der.integer(2048), "02020800"),
        (der.null(), "0500"),
        (der.octet_string(b"\x01\x02"), "04020102"),
        (der.oid("1.2.840.113549.1.12.10.1.3"), "060b2a864886f70d010c0a0103"),
        (der.oid("2.16.840.1.113894.746875.1.1"), "060c6086480186f966adca7b0101"),
        (der.oid("2.5.29.37.0"), "0604551d2500"),
        (der.bmp_string("ab"), "1e0400610062"),
        (der.bit_string(b"\xff"), "030200ff"),
        (der.explicit(0, der.null()), "a0020500"),
        (der.implicit_primitive(0, b"\xaa"), "8001aa"),
        (der.algorithm_identifier("1.3.14.3.2.26"), "300706052b0e03021a"),
        (der.set_of([der.integer(2), der.integer(1)]), "3106020101020102"),
        (der.set_of([]), "3100"),
    ],
    ids=[
        "int-0", "int-127", "int-128", "int-2048", "null", "octets", "oid-certbag", "oid-java-trust", "oid-any-eku",
        "bmp", "bitstring", "explicit", "implicit", "algid-no-params", "set-sorted", "set-empty",
    ],
)  # fmt: skip
def test_known_encodings(encoded: bytes, expected: str) -> None:
    assert encoded.hex() == expected


@pytest.mark.parametrize(
    ("length", "expected"),
    [(0, "00"), (127, "7f"), (128, "8180"), (255, "81ff"), (256, "820100"), (65536, "83010000")],
    ids=["0", "127", "128", "255", "256", "65536"],
)
def test_length_forms(length: int, expected: str) -> None:
    assert der.encode_length(length).hex() == expected


def test_oid_matches_cryptography() -> None:
    # cryptography's Name DER contains the OID TLVs, an independent encoder to compare with.
    for name_oid in (NameOID.COMMON_NAME, NameOID.DOMAIN_COMPONENT, NameOID.EMAIL_ADDRESS):
        name = x509.Name([x509.NameAttribute(name_oid, "x")])
        assert der.oid(name_oid.dotted_string) in name.public_bytes()


@pytest.mark.parametrize(
    "call",
    [
        lambda: der.oid("3.1"),
        lambda: der.oid("1.40"),
        lambda: der.oid("1"),
        lambda: der.oid("1.a"),
        lambda: der.integer(-1),
        lambda: der.encode_length(-1),
        lambda: der.tlv(0x1F, b""),
        lambda: der.bmp_string("\U0001f600"),
    ],
    ids=["oid-arc0", "oid-arc1", "oid-short", "oid-text", "negative-int", "negative-length", "long-tag", "non-bmp"],
)
def test_rejects_what_it_cannot_encode(call: object) -> None:
    assert callable(call)
    with pytest.raises(ValueError):  # noqa: PT011 - each case has its own message
        call()


_oids = st.builds(
    lambda first, second, rest: ".".join(str(arc) for arc in [first, second, *rest]),
    st.integers(0, 2),
    st.integers(0, 39),
    st.lists(st.integers(0, 2**64), max_size=8),
)
_leaves = st.one_of(
    st.integers(0, 2**200).map(der.integer),
    st.binary(max_size=300).map(der.octet_string),
    _oids.map(der.oid),
    st.just(der.null()),
    st.text(alphabet=st.characters(max_codepoint=0xFFFF, codec="utf-8"), max_size=40).map(der.bmp_string),
)
_trees = st.recursive(
    _leaves,
    lambda children: st.one_of(
        st.lists(children, max_size=5).map(lambda items: der.sequence(*items)),
        st.lists(children, max_size=5).map(der.set_of),
        st.tuples(st.integers(0, 3), children).map(lambda pair: der.explicit(*pair)),
    ),
    max_leaves=20,
)


@given(_trees)
def test_reader_reads_back_every_encoding(encoded: bytes) -> None:
    node = parse(encoded)
    tag, content, rest = read_tlv(encoded)
    assert (node.tag, node.content, rest) == (tag, content, b"")


@given(st.integers(0, 2**300))
def test_integer_round_trip(value: int) -> None:
    assert parse(der.integer(value)).integer() == value


@given(_oids)
def test_oid_round_trip(dotted: str) -> None:
    assert parse(der.oid(dotted)).oid() == dotted


@given(st.lists(st.binary(max_size=20).map(der.octet_string), max_size=6))
def test_set_of_is_sorted_and_complete(items: list[bytes]) -> None:
    node = parse(der.set_of(items))
    encodings = [der.octet_string(child.content) for child in node.children]
    assert encodings == sorted(items)
