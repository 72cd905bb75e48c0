"""PEM decoding: limits checked before parsing, Go's block syntax, loaders, and fuzzing."""

from __future__ import annotations

import base64
import contextlib
import time
from collections.abc import Callable
from datetime import UTC, datetime
from unittest import mock

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding
from hypothesis import given
from hypothesis import strategies as st

from certkeeper.pki import pem
from certkeeper.pki.csr import build_csr
from certkeeper.pki.errors import InvalidPem, PemTooLarge, PkiError
from certkeeper.pki.keys import KeyAlgorithm, KeySpec, encode_private_key_pkcs8, load_pem_private_key
from certkeeper.pki.pem import (
    DEFAULT_PEM_LIMITS,
    PemBlock,
    PemLimits,
    decode_first_pem_block,
    decode_pem_blocks,
    encode_pem_certificates,
    load_pem_certificate,
    load_pem_certificate_bundle,
    load_pem_certificate_chain,
    load_pem_certificate_request,
)
from certkeeper.pki.template import CertificateTemplate
from tests.unit.pki.support import make_ca


def block(kind: str, der: bytes) -> bytes:
    body = base64.b64encode(der).decode()
    lines = "\n".join(body[i : i + 64] for i in range(0, len(body), 64))
    return f"-----BEGIN {kind}-----\n{lines}\n-----END {kind}-----\n".encode()


def test_default_limits_are_cert_managers() -> None:
    assert (
        PemLimits(
            max_certificate_size=36_500, max_private_key_size=13_000, max_chain_size=95_000, max_bundle_size=330_000
        )
        == DEFAULT_PEM_LIMITS
    )


@pytest.mark.parametrize("value", [0, -1, True, 1.5], ids=["zero", "negative", "bool", "float"])
def test_limits_must_be_positive_integers(value: object) -> None:
    with pytest.raises(ValueError, match="max_chain_size must be a positive number of bytes"):
        PemLimits(max_chain_size=value)  # type: ignore[arg-type]


KEY_PREFIX = "error decoding private key PEM block: "
CSR_PREFIX = "error decoding certificate request PEM block: "
LOADERS = [
    pytest.param(lambda d, lim: load_pem_private_key(d, limits=lim), "max_private_key_size", KEY_PREFIX, id="key"),
    pytest.param(
        lambda d, lim: load_pem_certificate_request(d, limits=lim), "max_certificate_size", CSR_PREFIX, id="csr"
    ),
    pytest.param(lambda d, lim: load_pem_certificate(d, limits=lim), "max_bundle_size", "", id="certificate"),
    pytest.param(lambda d, lim: load_pem_certificate_chain(d, limits=lim), "max_chain_size", "", id="chain"),
    pytest.param(lambda d, lim: load_pem_certificate_bundle(d, limits=lim), "max_bundle_size", "", id="bundle"),
]


@pytest.mark.parametrize(("loader", "limit_field", "prefix"), LOADERS)
def test_too_large_input_is_refused_before_any_parsing(
    loader: Callable[[bytes, PemLimits], object], limit_field: str, prefix: str
) -> None:
    limits = PemLimits(**{limit_field: 100})
    data = b"-----BEGIN CERTIFICATE-----\n" + b"A" * 200 + b"\n-----END CERTIFICATE-----\n"
    with mock.patch.object(pem, "_iter_blocks", side_effect=AssertionError("parsed")) as scanner:
        with pytest.raises(PemTooLarge) as caught:
            loader(data, limits)
        scanner.assert_not_called()
    assert str(caught.value) == f"{prefix}provided PEM data was larger than the maximum 100B"
    assert caught.value.limit == 100


def test_input_exactly_at_the_limit_is_accepted() -> None:
    data = block("THING", b"\x01\x02\x03")
    assert decode_pem_blocks(data, max_size=len(data)) == [PemBlock("THING", b"\x01\x02\x03")]
    with pytest.raises(PemTooLarge, match=f"maximum {len(data)}B"):
        decode_pem_blocks(data + b"\n", max_size=len(data))


def test_blocks_between_garbage_are_found_in_order() -> None:
    data = b"comment\n" + block("A", b"a") + b"\n#foo\n  \n" + block("B", b"bb") + b"trailer"
    assert decode_pem_blocks(data, max_size=1000) == [PemBlock("A", b"a"), PemBlock("B", b"bb")]


@pytest.mark.parametrize(
    "broken",
    [
        b"-----BEGIN A-----\n!!!!\n-----END A-----\n",
        b"-----BEGIN A-----\nYQ==\n-----END B-----\n",
        b"-----BEGIN A----\nYQ==\n-----END A-----\n",
        b"-----BEGIN A-----\nYQ==\n-----END A----- trailing\n",
        b"-----BEGIN A-----\nYQ==\n",
    ],
    ids=["bad-base64", "mismatched-end", "bad-type-line", "text-after-end", "no-end"],
)
def test_malformed_blocks_are_skipped(broken: bytes) -> None:
    assert decode_pem_blocks(broken + block("GOOD", b"g"), max_size=1000) == [PemBlock("GOOD", b"g")]


def test_headers_are_accepted_and_dropped() -> None:
    data = b"-----BEGIN A-----\nProc-Type: 4,ENCRYPTED\nDEK-Info: x\n\nYQ==\n-----END A-----\n"
    assert decode_pem_blocks(data, max_size=1000) == [PemBlock("A", b"a")]


def test_block_repr_never_shows_the_der() -> None:
    assert repr(PemBlock("PRIVATE KEY", b"secret")) == "PemBlock(type='PRIVATE KEY', der=<6 bytes>)"


def test_no_block_is_an_error() -> None:
    with pytest.raises(InvalidPem, match="no PEM data was found in given input"):
        decode_first_pem_block(b"nothing here", max_size=100)
    with pytest.raises(InvalidPem, match="no valid certificates found"):
        load_pem_certificate_chain(b"nothing here")


def test_certificate_loaders_keep_input_order_and_parse_every_block(p256: ec.EllipticCurvePrivateKey) -> None:
    root, root_key = make_ca("root")
    intermediate, _ = make_ca("intermediate", issuer=(root, root_key))
    data = encode_pem_certificates([intermediate, root])
    assert load_pem_certificate_chain(data) == [intermediate, root]
    assert load_pem_certificate_bundle(data) == [intermediate, root]
    assert load_pem_certificate(data) == intermediate
    with pytest.raises(InvalidPem, match=r"error parsing X\.509 certificate"):
        load_pem_certificate(data + encode_private_key_pkcs8(p256))


def test_csr_loader_refuses_garbage_der() -> None:
    with pytest.raises(InvalidPem, match="error parsing certificate request"):
        load_pem_certificate_request(block("CERTIFICATE REQUEST", b"\x30\x03\x02\x01\x00"))


def test_many_unterminated_blocks_do_not_take_quadratic_time() -> None:
    # GHSA-r4pg-vg54-wxx4: BEGIN lines without END made Go rescan to the end each time.
    data = b"-----BEGIN A-----\n" * (DEFAULT_PEM_LIMITS.max_bundle_size // 18)
    started = time.perf_counter()
    assert decode_pem_blocks(data, max_size=DEFAULT_PEM_LIMITS.max_bundle_size) == []
    assert time.perf_counter() - started < 1.0


def test_many_blocks_at_the_bundle_limit_decode_quickly() -> None:
    one = block("CERTIFICATE", b"x" * 30)
    data = one * (DEFAULT_PEM_LIMITS.max_bundle_size // len(one))
    started = time.perf_counter()
    assert len(decode_pem_blocks(data, max_size=DEFAULT_PEM_LIMITS.max_bundle_size)) == len(data) // len(one)
    assert time.perf_counter() - started < 1.0


PARSERS: list[Callable[[bytes], object]] = [
    lambda d: decode_pem_blocks(d, max_size=DEFAULT_PEM_LIMITS.max_bundle_size),
    load_pem_private_key,
    load_pem_certificate_request,
    load_pem_certificate,
    load_pem_certificate_chain,
    load_pem_certificate_bundle,
]


def _only_typed_errors(data: bytes) -> None:
    for parse in PARSERS:
        started = time.perf_counter()
        with contextlib.suppress(PkiError):
            parse(data)
        assert time.perf_counter() - started < 1.0


@given(st.binary(max_size=4096))
def test_random_bytes_only_raise_typed_errors(data: bytes) -> None:
    _only_typed_errors(data)


PEM_TYPES = st.sampled_from(
    ["CERTIFICATE", "PRIVATE KEY", "RSA PRIVATE KEY", "EC PRIVATE KEY", "CERTIFICATE REQUEST", "X"]
)


@given(st.lists(st.tuples(PEM_TYPES, st.binary(max_size=600)), max_size=4), st.binary(max_size=64))
def test_well_framed_random_der_only_raises_typed_errors(blocks: list[tuple[str, bytes]], noise: bytes) -> None:
    _only_typed_errors(noise.join(block(kind, der) for kind, der in blocks))


@given(st.text(alphabet="-BEGINDCRTFAT \n=/+QZ09:", max_size=2000))
def test_pem_shaped_text_only_raises_typed_errors(text: str) -> None:
    _only_typed_errors(text.encode())


def test_certificate_der_survives_encode_and_decode(p256: ec.EllipticCurvePrivateKey) -> None:
    root, _ = make_ca("root", key=p256)
    blocks = decode_pem_blocks(encode_pem_certificates([root, root]), max_size=10_000)
    assert [x509.load_der_x509_certificate(b.der) for b in blocks] == [root, root]


def test_unknown_versions_are_invalid_pem(p256: ec.EllipticCurvePrivateKey) -> None:
    # cryptography raises InvalidVersion, which is not a ValueError, for these; found by fuzzing.
    root, _ = make_ca("root", key=p256)
    der = root.public_bytes(Encoding.DER).replace(b"\xa0\x03\x02\x01\x02", b"\xa0\x03\x02\x01\x07", 1)
    with pytest.raises(InvalidPem, match=r"error parsing X\.509 certificate"):
        load_pem_certificate_chain(block("CERTIFICATE", der))
    csr = build_csr(CertificateTemplate(common_name="x", key=KeySpec(algorithm=KeyAlgorithm.ECDSA)), p256)
    csr_der = csr.public_bytes(Encoding.DER).replace(b"\x02\x01\x00", b"\x02\x01\x01", 1)
    with pytest.raises(InvalidPem, match="error parsing certificate request"):
        load_pem_certificate_request(block("CERTIFICATE REQUEST", csr_der))


@pytest.mark.parametrize("serial", [b"\xff", b"\x80", b"\x00"], ids=["minus-one", "minus-128", "zero"])
def test_serial_numbers_must_be_positive(p256: ec.EllipticCurvePrivateKey, serial: bytes) -> None:
    # cryptography would only warn (and will refuse later); Go refuses negative serials.
    builder = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([]))
        .issuer_name(x509.Name([]))
        .public_key(p256.public_key())
        .serial_number(1)
        .not_valid_before(datetime(2026, 1, 1, tzinfo=UTC))
        .not_valid_after(datetime(2027, 1, 1, tzinfo=UTC))
    )
    der = builder.sign(p256, hashes.SHA256()).public_bytes(Encoding.DER)
    patched = der.replace(b"\xa0\x03\x02\x01\x02\x02\x01\x01", b"\xa0\x03\x02\x01\x02\x02\x01" + serial, 1)
    assert patched != der
    with pytest.raises(InvalidPem, match="the serial number is not positive"):
        load_pem_certificate(block("CERTIFICATE", patched))
