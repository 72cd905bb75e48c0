"""The bounded memo of parsed PEM input: same bytes and limit share one immutable result, nothing else does."""

from __future__ import annotations

import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from certkeeper.pki import pem
from certkeeper.pki.cache import bytes_memo
from certkeeper.pki.csr import build_csr
from certkeeper.pki.errors import InvalidPem, PemTooLarge
from certkeeper.pki.keys import KeyAlgorithm, KeySpec
from certkeeper.pki.pem import PemLimits, encode_pem_certificates, load_pem_certificate_chain
from certkeeper.pki.template import CertificateTemplate
from tests.unit.pki.support import make_ca


class Counting:
    def __init__(self) -> None:
        self.calls: list[bytes] = []

    def parse(self, data: bytes, limit: int) -> tuple[int, ...]:
        self.calls.append(bytes(data))
        if data.startswith(b"bad"):
            raise ValueError("bad input")
        return (len(data), limit)


def test_same_bytes_and_arguments_are_parsed_once() -> None:
    counting = Counting()
    parse = bytes_memo(maxsize=8)(counting.parse)
    first = parse(b"abc", 10)
    assert parse(b"abc", 10) is first
    assert parse(b"abc", 11) == (3, 11)  # another limit is another entry
    assert counting.calls == [b"abc", b"abc"]


def test_failures_are_not_kept() -> None:
    counting = Counting()
    parse = bytes_memo(maxsize=8)(counting.parse)
    for _ in range(2):
        with pytest.raises(ValueError, match="bad input"):
            parse(b"bad", 1)
    assert counting.calls == [b"bad", b"bad"]
    assert parse.cache_info().currsize == 0


def test_only_bytes_are_memoised() -> None:
    counting = Counting()
    parse = bytes_memo(maxsize=8)(counting.parse)
    data = bytearray(b"abc")
    assert parse(data, 1) == (3, 1)  # type: ignore[arg-type]  # what a careless caller may pass
    data[:] = b"abcd"
    assert parse(data, 1) == (4, 1)  # type: ignore[arg-type]
    assert len(counting.calls) == 2


def test_large_input_is_not_memoised() -> None:
    counting = Counting()
    parse = bytes_memo(maxsize=8, max_input=4)(counting.parse)
    for data in (b"1234", b"1234", b"12345", b"12345"):
        parse(data, 0)
    assert counting.calls == [b"1234", b"12345", b"12345"]


def test_the_memo_is_bounded() -> None:
    counting = Counting()
    parse = bytes_memo(maxsize=2)(counting.parse)
    for data in (b"a", b"b", b"c", b"a"):
        parse(data, 0)
    assert counting.calls == [b"a", b"b", b"c", b"a"]  # "a" was evicted by "c"
    assert parse.cache_info().currsize == 2


def test_a_memoised_chain_is_a_fresh_list_each_time_and_limits_still_apply() -> None:
    pem._parse_certificates.cache_clear()
    root, root_key = make_ca("root")
    leaf, _ = make_ca("intermediate", issuer=(root, root_key))
    data = encode_pem_certificates([leaf, root])
    chain = load_pem_certificate_chain(data)
    chain.reverse()  # the caller's list is its own
    assert load_pem_certificate_chain(data) == [leaf, root]
    assert pem._parse_certificates.cache_info().hits == 1
    with pytest.raises(PemTooLarge):
        load_pem_certificate_chain(data, limits=PemLimits(max_chain_size=len(data) - 1))


def test_a_memoised_request_is_the_same_object(p256: ec.EllipticCurvePrivateKey) -> None:
    pem._load_certificate_request.cache_clear()
    template = CertificateTemplate(dns_names=("a.example",), key=KeySpec(algorithm=KeyAlgorithm.ECDSA))
    data = pem.encode_pem_certificate_request(build_csr(template, p256))
    assert pem.load_pem_certificate_request(data) is pem.load_pem_certificate_request(data)
    with pytest.raises(InvalidPem):
        pem.load_pem_certificate_request(data.replace(b"REQUEST-----\n", b"REQUEST-----\n!!", 1))
