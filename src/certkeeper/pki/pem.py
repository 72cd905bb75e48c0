"""Size-limited PEM decoding of keys, certificates, chains, CSRs and trust bundles. Pure.

Follows cert-manager's ``internal/pem/decode.go`` (limits, checked before any parsing, and the error
"provided PEM data was larger than the maximum %dB") and ``pkg/util/pki/parse.go`` (what is decoded
with which limit, and the error messages). The limits exist because of GHSA-r4pg-vg54-wxx4: Go's
``pem.Decode`` was quadratic on crafted input. Our own scanner is O(n log n): the positions of every
END marker are found in one pass, so a BEGIN without an END costs a binary search, not a rescan.

Block syntax follows Go's ``encoding/pem``: text before, between and after blocks is ignored, a block
that is malformed (bad type line, missing or mismatched END line, bad base64) is skipped, RFC 1421
headers are accepted and dropped.

Parsed certificates and CSRs are memoised on the exact bytes and size limit (``cache.py``): the
controllers parse the same Secret and request many times per issuance, and the objects are immutable.
Private keys are not memoised here.
"""

from __future__ import annotations

import base64
import binascii
import bisect
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Final

from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

from certkeeper.pki.cache import bytes_memo
from certkeeper.pki.errors import InvalidPem, PemTooLarge

#: A 16k-bit RSA CA certificate plus about a kilobyte (cert-manager's maxCACertificatePEMSize).
_MAX_CA_CERTIFICATE_SIZE: Final = 6_500
#: Default limit for one certificate or CSR: about 250 long DNS names on top of a CA-sized certificate.
MAX_CERTIFICATE_SIZE: Final = 30_000 + _MAX_CA_CERTIFICATE_SIZE
#: Default limit for a private key: a 16k-bit RSA key.
MAX_PRIVATE_KEY_SIZE: Final = 13_000
#: Default limit for a chain: nine CA certificates and one large leaf.
MAX_CHAIN_SIZE: Final = 9 * _MAX_CA_CERTIFICATE_SIZE + MAX_CERTIFICATE_SIZE
#: Default limit for a trust bundle: 150 certificates of 2,200 bytes.
MAX_BUNDLE_SIZE: Final = 150 * 2_200

_BEGIN: Final = b"-----BEGIN "
_END: Final = b"\n-----END "
_DASHES: Final = b"-----"
_LINE_SPACE: Final = b" \t\r"
#: What cryptography raises for DER it cannot load (an unknown version is not a ValueError).
_DER_ERRORS: Final = (ValueError, x509.InvalidVersion)


@dataclass(frozen=True, slots=True, kw_only=True)
class PemLimits:
    """Upper bounds, in bytes, for PEM input of each kind (cert-manager's ``pemSizeLimitsConfig``)."""

    max_certificate_size: int = MAX_CERTIFICATE_SIZE
    max_private_key_size: int = MAX_PRIVATE_KEY_SIZE
    max_chain_size: int = MAX_CHAIN_SIZE
    max_bundle_size: int = MAX_BUNDLE_SIZE

    def __post_init__(self) -> None:
        for name in ("max_certificate_size", "max_private_key_size", "max_chain_size", "max_bundle_size"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
                raise ValueError(f"PemLimits.{name} must be a positive number of bytes, got {value!r}")


DEFAULT_PEM_LIMITS: Final = PemLimits()


@dataclass(frozen=True, slots=True)
class PemBlock:
    """One decoded PEM block: its type (``CERTIFICATE``, ``PRIVATE KEY``, ...) and its DER bytes."""

    type: str
    der: bytes

    def __repr__(self) -> str:
        # The DER may be a private key: never let it reach a log line through repr().
        return f"PemBlock(type={self.type!r}, der=<{len(self.der)} bytes>)"


def check_pem_size(data: bytes, limit: int, *, context: str = "") -> None:
    """Raise :class:`PemTooLarge` if ``data`` is longer than ``limit`` bytes."""
    if len(data) > limit:
        raise PemTooLarge(limit, context=context)


def _line_end(data: bytes, start: int) -> tuple[int, int]:
    """Return (end of the line's content, start of the next line) for the line starting at ``start``."""
    newline = data.find(b"\n", start)
    if newline < 0:
        return len(data), len(data)
    return newline, newline + 1


def _strip_line(data: bytes, start: int, end: int) -> bytes:
    return data[start:end].rstrip(_LINE_SPACE)


def _iter_blocks(data: bytes) -> Iterator[PemBlock]:
    """Yield every well-formed block of ``data`` in order, skipping malformed ones as Go does."""
    end_markers: list[int] = []
    found = data.find(_END)
    while found >= 0:
        end_markers.append(found)
        found = data.find(_END, found + 1)
    pos = 0
    while True:
        if data.startswith(_BEGIN, pos):
            type_start = pos + len(_BEGIN)
        else:
            found = data.find(b"\n" + _BEGIN, pos)
            if found < 0:
                return
            type_start = found + 1 + len(_BEGIN)
        line_end, pos = _line_end(data, type_start)
        type_line = _strip_line(data, type_start, line_end)
        if not type_line.endswith(_DASHES):
            continue
        block_type = type_line[: -len(_DASHES)]
        body_start = pos
        had_headers = False
        while True:
            if body_start >= len(data):
                return
            header_end, next_line = _line_end(data, body_start)
            if b":" not in data[body_start:header_end]:
                break
            had_headers = True
            body_start = next_line
        if not had_headers and data.startswith(_END[1:], body_start):
            end_index, trailer_start = body_start, body_start + len(_END) - 1
        else:
            index = bisect.bisect_left(end_markers, body_start)
            if index == len(end_markers):
                continue
            end_index = end_markers[index]
            trailer_start = end_index + len(_END)
        expected_trailer = block_type + _DASHES
        if data[trailer_start : trailer_start + len(expected_trailer)] != expected_trailer:
            continue
        after_trailer = trailer_start + len(expected_trailer)
        rest_end, next_pos = _line_end(data, after_trailer)
        if _strip_line(data, after_trailer, rest_end):
            continue
        body = data[body_start:end_index].translate(None, b" \t\r\n")
        try:
            der = base64.b64decode(body, validate=True)
        except (binascii.Error, ValueError):
            continue
        pos = next_pos
        yield PemBlock(block_type.decode("latin-1"), der)


def decode_pem_blocks(data: bytes, *, max_size: int, context: str = "") -> list[PemBlock]:
    """Every PEM block in ``data``, after checking ``data`` is at most ``max_size`` bytes."""
    check_pem_size(data, max_size, context=context)
    return list(_iter_blocks(data))


def decode_first_pem_block(data: bytes, *, max_size: int, context: str = "") -> PemBlock:
    """The first PEM block in ``data`` (size-checked first); :class:`InvalidPem` if there is none."""
    check_pem_size(data, max_size, context=context)
    for block in _iter_blocks(data):
        return block
    prefix = f"{context}: " if context else ""
    raise InvalidPem(f"{prefix}no PEM data was found in given input")


def decode_private_key_block(data: bytes, *, limits: PemLimits = DEFAULT_PEM_LIMITS) -> PemBlock:
    """The first PEM block of a private key, with the private-key size limit."""
    return decode_first_pem_block(
        data, max_size=limits.max_private_key_size, context="error decoding private key PEM block"
    )


def load_pem_certificate_request(
    data: bytes, *, limits: PemLimits = DEFAULT_PEM_LIMITS
) -> x509.CertificateSigningRequest:
    """Parse the first PEM block of ``data`` as a PKCS#10 CSR (certificate size limit).

    Like cert-manager, the block type is not checked and the signature is not verified here
    (``csr.verify_csr_signature`` does that).
    """
    return _load_certificate_request(data, limits.max_certificate_size)


@bytes_memo()
def _load_certificate_request(data: bytes, max_size: int) -> x509.CertificateSigningRequest:
    block = decode_first_pem_block(data, max_size=max_size, context="error decoding certificate request PEM block")
    try:
        return x509.load_der_x509_csr(block.der)
    except _DER_ERRORS as exc:
        raise InvalidPem(f"error parsing certificate request: {exc}") from exc


def _der_header(der: bytes, pos: int) -> tuple[int, int]:
    """(content length, content start) of the DER element at ``pos``; IndexError/ValueError if cut short."""
    first = der[pos + 1]
    if first < 0x80:
        return first, pos + 2
    count = first & 0x7F
    if not 0 < count <= 4:
        raise ValueError("unsupported DER length")
    return int.from_bytes(der[pos + 2 : pos + 2 + count], "big"), pos + 2 + count


def _serial_number_sign(der: bytes) -> int | None:
    """-1, 0 or 1 for a certificate's serial number, or None if ``der`` is not shaped like one."""
    try:
        _, pos = _der_header(der, 0)  # Certificate SEQUENCE
        _, pos = _der_header(der, pos)  # TBSCertificate SEQUENCE
        if der[pos] == 0xA0:  # [0] EXPLICIT version
            length, start = _der_header(der, pos)
            pos = start + length
        if der[pos] != 0x02:
            return None
        length, start = _der_header(der, pos)
        content = der[start : start + length]
    except (IndexError, ValueError):
        return None
    if not content:
        return None
    if content[0] & 0x80:
        return -1
    return 1 if any(content) else 0


def _load_certificate(der: bytes) -> x509.Certificate:
    # cryptography only warns (CryptographyDeprecationWarning) about a serial that is not positive, and
    # will refuse it in a future release; Go refuses negative ones. Refuse both, without the warning.
    sign = _serial_number_sign(der)
    if sign is not None and sign <= 0:
        raise InvalidPem("error parsing X.509 certificate: the serial number is not positive (RFC 5280 4.1.2.2)")
    try:
        return x509.load_der_x509_certificate(der)
    except _DER_ERRORS as exc:
        raise InvalidPem(f"error parsing X.509 certificate: {exc}") from exc


def _load_certificates(data: bytes, max_size: int) -> list[x509.Certificate]:
    return list(_parse_certificates(data, max_size))


@bytes_memo()
def _parse_certificates(data: bytes, max_size: int) -> tuple[x509.Certificate, ...]:
    # cert-manager parses every block as a certificate, whatever its type line says.
    certificates = tuple(_load_certificate(block.der) for block in decode_pem_blocks(data, max_size=max_size))
    if not certificates:
        raise InvalidPem("error decoding certificate PEM block: no valid certificates found")
    return certificates


def load_pem_certificate(data: bytes, *, limits: PemLimits = DEFAULT_PEM_LIMITS) -> x509.Certificate:
    """The first certificate of ``data``.

    As cert-manager's ``DecodeX509CertificateBytes``, this decodes all of ``data`` with the bundle
    limit (``tls.crt`` holds a whole chain) and fails if any block is not a certificate.
    """
    return _parse_certificates(data, limits.max_bundle_size)[0]


def load_pem_certificate_chain(data: bytes, *, limits: PemLimits = DEFAULT_PEM_LIMITS) -> list[x509.Certificate]:
    """Every certificate of ``data``, in input order, with the (tight) chain size limit."""
    return _load_certificates(data, limits.max_chain_size)


def load_pem_certificate_bundle(data: bytes, *, limits: PemLimits = DEFAULT_PEM_LIMITS) -> list[x509.Certificate]:
    """Every certificate of a trust bundle, in input order, with the (generous) bundle size limit."""
    return _load_certificates(data, limits.max_bundle_size)


def encode_pem_certificate(certificate: x509.Certificate) -> bytes:
    """One certificate as PEM (``-----BEGIN CERTIFICATE-----``, 64-column base64)."""
    return certificate.public_bytes(Encoding.PEM)


def encode_pem_certificates(certificates: Sequence[x509.Certificate]) -> bytes:
    """Certificates as concatenated PEM blocks, in the given order."""
    return b"".join(encode_pem_certificate(certificate) for certificate in certificates)


def encode_pem_certificate_request(csr: x509.CertificateSigningRequest) -> bytes:
    """A CSR as PEM (``-----BEGIN CERTIFICATE REQUEST-----``)."""
    return csr.public_bytes(Encoding.PEM)
