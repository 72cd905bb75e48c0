"""Chain ordering and verification, following parse_certificate_chain_test.go's table."""

from __future__ import annotations

import base64
import contextlib
import time
from dataclasses import dataclass

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding
from hypothesis import given
from hypothesis import strategies as st

from certkeeper.pki.chain import (
    CertificateChain,
    build_certificate_chain,
    is_self_signed,
    issued_by,
    parse_certificate_chain_pem,
)
from certkeeper.pki.errors import InvalidChain, PemTooLarge, PkiError
from certkeeper.pki.keys import PrivateKey, generate_ecdsa_private_key
from certkeeper.pki.match import fuzzy_certificate_mismatches, public_key_matches_certificate
from certkeeper.pki.pem import encode_pem_certificate, encode_pem_certificates, load_pem_certificate_chain
from certkeeper.pki.sign import certificate_params_from_template, sign_certificate, sign_with_ca
from certkeeper.pki.template import CertificateTemplate
from tests.unit.pki.support import NOW, make_ca


@dataclass(frozen=True)
class Bundle:
    cert: x509.Certificate
    key: PrivateKey

    @property
    def pem(self) -> bytes:
        return encode_pem_certificate(self.cert)


def ca(name: str, issuer: Bundle | None = None, key: PrivateKey | None = None) -> Bundle:
    cert, key = make_ca(name, key=key, issuer=None if issuer is None else (issuer.cert, issuer.key))
    return Bundle(cert, key)


@dataclass(frozen=True)
class Hierarchy:
    root: Bundle
    int_a1: Bundle
    int_a2: Bundle
    int_b1: Bundle
    int_b2: Bundle
    leaf: Bundle
    leaf_inter_cn: Bundle
    random: Bundle


def build_hierarchy() -> Hierarchy:
    root = ca("root")
    int_a1 = ca("intA-1", root)
    int_a2 = ca("intA-2", int_a1)
    int_b1 = ca("intB-1", root)
    return Hierarchy(
        root=root,
        int_a1=int_a1,
        int_a2=int_a2,
        int_b1=int_b1,
        int_b2=ca("intB-2", int_b1),
        leaf=ca("leaf", int_a2),
        leaf_inter_cn=ca("intA-2", int_a2),
        random=ca("random"),
    )


_HIERARCHY = build_hierarchy()


@pytest.fixture
def h() -> Hierarchy:
    return _HIERARCHY


CASES = [
    ("two in order", ["int_a1", "root"], ["int_a1"], "root"),
    ("leaf and intermediate", ["leaf", "int_a2"], ["leaf", "int_a2"], "int_a2"),
    ("two out of order", ["root", "int_a1"], ["int_a1"], "root"),
    ("three out of order", ["root", "int_a2", "int_a1"], ["int_a2", "int_a1"], "root"),
    ("four in order", ["leaf", "int_a1", "int_a2", "root"], ["leaf", "int_a2", "int_a1"], "root"),
    ("same CN twice", ["leaf_inter_cn", "int_a1", "int_a2", "root"], ["leaf_inter_cn", "int_a2", "int_a1"], "root"),
    ("four out of order", ["root", "int_a1", "leaf", "int_a2"], ["leaf", "int_a2", "int_a1"], "root"),
    (
        "duplicates",
        ["int_a2", "int_a1", "root", "leaf", "int_a1", "root"],
        ["leaf", "int_a2", "int_a1"],
        "root",
    ),
    ("no root", ["int_a1", "int_a2", "leaf"], ["leaf", "int_a2", "int_a1"], "int_a1"),
    ("single leaf", ["leaf"], ["leaf"], None),
    ("single intermediate", ["int_a1"], ["int_a1"], None),
    ("single root", ["root"], ["root"], "root"),
]


@pytest.mark.parametrize(("given_order", "chain", "ca_name"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_orders_and_splits_like_cert_manager(
    h: Hierarchy, given_order: list[str], chain: list[str], ca_name: str | None
) -> None:
    data = b"\n#foo\n  \n".join(getattr(h, name).pem for name in given_order)
    result = parse_certificate_chain_pem(data)
    assert result.chain_pem == b"".join(getattr(h, name).pem for name in chain)
    assert result.ca_pem == (b"" if ca_name is None else getattr(h, ca_name).pem)


@pytest.mark.parametrize(
    "given_order",
    [
        ["root", "int_a1", "leaf"],
        ["root", "int_a1", "leaf", "int_a2", "random"],
        ["root", "int_a1", "int_a2", "int_b1", "int_b2"],
    ],
    ids=["break", "unrelated", "branches"],
)
def test_broken_chains_are_refused(h: Hierarchy, given_order: list[str]) -> None:
    with pytest.raises(InvalidChain) as caught:
        parse_certificate_chain_pem(b"".join(getattr(h, name).pem for name in given_order))
    assert str(caught.value) == "certificate chain is malformed or broken"


def test_certificates_run_from_leaf_to_root(h: Hierarchy) -> None:
    result = build_certificate_chain([h.root.cert, h.leaf.cert, h.int_a1.cert, h.int_a2.cert])
    assert result.certificates == (h.leaf.cert, h.int_a2.cert, h.int_a1.cert, h.root.cert)
    assert (result.leaf, result.root) == (h.leaf.cert, h.root.cert)


def _long_chain(length: int) -> tuple[Bundle, list[Bundle]]:
    key = generate_ecdsa_private_key(256)
    root = ca("root", key=key)
    chain, current = [], root
    for index in range(length):
        current = ca(f"int-{index}", current, key=key)
        chain.append(current)
    return root, chain


def test_a_long_chain_in_reverse_is_ordered_quickly() -> None:
    root, chain = _long_chain(100)
    data = b"".join(b.pem for b in reversed(chain)) + root.pem
    started = time.perf_counter()
    result = parse_certificate_chain_pem(data)
    assert time.perf_counter() - started < 2.0
    assert result.chain_pem == b"".join(b.pem for b in reversed(chain))
    assert result.ca_pem == root.pem


def test_an_overlong_pem_chain_is_refused_by_size() -> None:
    _, chain = _long_chain(501)
    with pytest.raises(PemTooLarge) as caught:
        parse_certificate_chain_pem(b"".join(b.pem for b in chain))
    assert str(caught.value) == "provided PEM data was larger than the maximum 95000B"


def test_more_than_1000_distinct_certificates_are_refused() -> None:
    key = generate_ecdsa_private_key(256)
    certificates = [ca(f"cert-{i}", key=key).cert for i in range(1001)]
    with pytest.raises(InvalidChain) as caught:
        build_certificate_chain(certificates)
    assert str(caught.value) == "certificate chain is too long, must be less than 1000 certificates"


def test_empty_input_is_refused() -> None:
    with pytest.raises(InvalidChain, match="empty"):
        build_certificate_chain([])


def _self_signed_leaf(key: ec.EllipticCurvePrivateKey) -> x509.Certificate:
    params = certificate_params_from_template(CertificateTemplate(common_name="leaf"), key.public_key(), now=NOW)
    return sign_certificate(params, signer_key=key)


def test_a_self_signed_non_ca_is_not_a_root(p256: ec.EllipticCurvePrivateKey) -> None:
    leaf = _self_signed_leaf(p256)
    assert not is_self_signed(leaf)
    assert build_certificate_chain([leaf]) == CertificateChain(
        certificates=(leaf,), chain_pem=encode_pem_certificate(leaf), ca_pem=b""
    )


def test_a_non_ca_cannot_issue(p256: ec.EllipticCurvePrivateKey) -> None:
    parent = _self_signed_leaf(p256)
    child_key = generate_ecdsa_private_key(256)
    params = certificate_params_from_template(CertificateTemplate(common_name="child"), child_key.public_key(), now=NOW)
    child = sign_certificate(params, signer_key=p256, issuer=parent)
    assert not issued_by(child, parent)
    with pytest.raises(InvalidChain):
        build_certificate_chain([child, parent])


def test_a_forged_signature_does_not_link(h: Hierarchy) -> None:
    impostor = ca("intA-2")  # same name as the real intermediate, different key
    assert not issued_by(h.leaf.cert, impostor.cert)
    assert issued_by(h.leaf.cert, h.int_a2.cert)
    with pytest.raises(InvalidChain):
        build_certificate_chain([h.leaf.cert, impostor.cert])


def test_issued_by_is_remembered_per_pair_and_not_confused_by_equal_names(h: Hierarchy) -> None:
    impostor = ca("intA-2")
    for _ in range(2):
        assert issued_by(h.leaf.cert, h.int_a2.cert)
        assert not issued_by(h.leaf.cert, impostor.cert)
    hits = issued_by.cache_info().hits
    assert issued_by(h.leaf.cert, h.int_a2.cert)
    assert issued_by.cache_info().hits == hits + 1


@given(st.lists(st.sampled_from(["root", "int_a1", "int_a2", "int_b1", "int_b2", "leaf", "random"]), min_size=1))
def test_any_bag_is_a_verified_chain_or_refused(names: list[str]) -> None:
    h = _HIERARCHY
    try:
        result = build_certificate_chain([getattr(h, name).cert for name in names])
    except InvalidChain:
        return
    assert set(result.certificates) == {getattr(h, name).cert for name in names}
    for child, parent in zip(result.certificates, result.certificates[1:], strict=False):
        assert issued_by(child, parent)


def test_chain_pem_round_trips(h: Hierarchy) -> None:
    result = parse_certificate_chain_pem(encode_pem_certificates([h.leaf.cert, h.int_a2.cert, h.int_a1.cert]))
    assert parse_certificate_chain_pem(result.chain_pem + result.ca_pem).chain_pem == result.chain_pem


_LEAF_KEY = generate_ecdsa_private_key(256)
_LEAF_PARAMS = certificate_params_from_template(
    CertificateTemplate(common_name="x", dns_names=("a",)), _LEAF_KEY.public_key(), now=NOW
)
_SIGNED = sign_with_ca(_LEAF_PARAMS, ca_certificates=[_HIERARCHY.root.cert], ca_key=_HIERARCHY.root.key)
_SAMPLES = (_HIERARCHY.root.cert.public_bytes(Encoding.DER), _SIGNED.certificate.public_bytes(Encoding.DER))


@given(st.data())
def test_mutated_certificates_only_raise_typed_errors(data: st.DataObject) -> None:
    # Found by fuzzing: negative serials (a warning in cryptography), names that raise TypeError.
    der = bytearray(data.draw(st.sampled_from(_SAMPLES)))
    for _ in range(data.draw(st.integers(min_value=1, max_value=3))):
        der[data.draw(st.integers(min_value=0, max_value=len(der) - 1))] = data.draw(st.integers(0, 255))
    pem = b"-----BEGIN CERTIFICATE-----\n" + base64.b64encode(bytes(der)) + b"\n-----END CERTIFICATE-----\n"
    root = _HIERARCHY.root
    with contextlib.suppress(PkiError):
        (certificate,) = load_pem_certificate_chain(pem)
        with contextlib.suppress(PkiError):
            build_certificate_chain([certificate, root.cert])
        with contextlib.suppress(PkiError):
            fuzzy_certificate_mismatches(certificate, CertificateTemplate(common_name="x"))
        public_key_matches_certificate(root.key, certificate)
        sign_with_ca(_LEAF_PARAMS, ca_certificates=[certificate], ca_key=root.key)
