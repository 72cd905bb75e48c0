"""A tiny DER (X.690) encoder: just the types PKCS#12 and the JKS key protector need.

The keystore writers build their ASN.1 structures with these functions instead of pulling in pyasn1. Every
function returns one complete TLV. SET OF contents are sorted by their encodings, as DER requires and as Go's
encoding/asn1 does (so files match what cert-manager's go-pkcs12 writes). Pure.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Final

TAG_INTEGER: Final = 0x02
TAG_BIT_STRING: Final = 0x03
TAG_OCTET_STRING: Final = 0x04
TAG_NULL: Final = 0x05
TAG_OID: Final = 0x06
TAG_UTF8_STRING: Final = 0x0C
TAG_PRINTABLE_STRING: Final = 0x13
TAG_SEQUENCE: Final = 0x30
TAG_SET: Final = 0x31
TAG_BMP_STRING: Final = 0x1E

_CONSTRUCTED: Final = 0x20
_CONTEXT: Final = 0x80


def encode_length(length: int) -> bytes:
    """The definite-length octets for ``length`` (short form below 128, long form above)."""
    if length < 0:
        raise ValueError("a DER length cannot be negative")
    if length < 0x80:
        return bytes([length])
    body = length.to_bytes((length.bit_length() + 7) // 8, "big")
    return bytes([0x80 | len(body)]) + body


def tlv(tag: int, content: bytes) -> bytes:
    """One TLV with a single-octet ``tag`` (all tags used here are below 31)."""
    if not 0 <= tag <= 0xFF or tag & 0x1F == 0x1F:
        raise ValueError("only single-octet tags are supported")
    return bytes([tag]) + encode_length(len(content)) + content


def sequence(*items: bytes) -> bytes:
    """SEQUENCE of already encoded ``items`` in the given order."""
    return tlv(TAG_SEQUENCE, b"".join(items))


def set_of(items: Iterable[bytes]) -> bytes:
    """SET OF already encoded ``items``, sorted by encoding as DER (X.690 §11.6) requires."""
    return tlv(TAG_SET, b"".join(sorted(items)))


def integer(value: int) -> bytes:
    """INTEGER in minimal form; only non-negative values occur in keystores."""
    if value < 0:
        raise ValueError("negative INTEGERs are not supported")
    length = value.bit_length() // 8 + 1
    return tlv(TAG_INTEGER, value.to_bytes(length, "big", signed=True))


def octet_string(value: bytes) -> bytes:
    """OCTET STRING."""
    return tlv(TAG_OCTET_STRING, value)


def bit_string(value: bytes) -> bytes:
    """BIT STRING of whole octets (no unused bits)."""
    return tlv(TAG_BIT_STRING, b"\x00" + value)


def null() -> bytes:
    """NULL."""
    return tlv(TAG_NULL, b"")


def utf8_string(value: str) -> bytes:
    """UTF8String."""
    return tlv(TAG_UTF8_STRING, value.encode("utf-8"))


def bmp_string(value: str) -> bytes:
    """BMPString (UCS-2 big endian); characters outside the Basic Multilingual Plane are rejected."""
    return tlv(TAG_BMP_STRING, encode_ucs2(value))


def encode_ucs2(value: str) -> bytes:
    """UCS-2 big endian octets of ``value``, as PKCS#12 BMPStrings and passwords use."""
    if any(ord(char) > 0xFFFF or 0xD800 <= ord(char) <= 0xDFFF for char in value):
        raise ValueError("string contains characters that cannot be encoded in UCS-2")
    return value.encode("utf-16-be")


def oid(dotted: str) -> bytes:
    """OBJECT IDENTIFIER from its dotted form (``1.2.840.113549.1.12.10.1.3``)."""
    try:
        arcs = [int(part) for part in dotted.split(".")]
    except ValueError:
        raise ValueError(f"not a dotted object identifier: {dotted!r}") from None
    if len(arcs) < 2 or arcs[0] > 2 or (arcs[0] < 2 and arcs[1] > 39) or any(arc < 0 for arc in arcs):
        raise ValueError(f"not a valid object identifier: {dotted!r}")
    body = bytearray()
    for arc in [arcs[0] * 40 + arcs[1], *arcs[2:]]:
        chunk = [arc & 0x7F]
        arc >>= 7
        while arc:
            chunk.append(0x80 | (arc & 0x7F))
            arc >>= 7
        body.extend(reversed(chunk))
    return tlv(TAG_OID, bytes(body))


def explicit(number: int, inner: bytes) -> bytes:
    """``[number] EXPLICIT``: a constructed context-specific tag around one encoded value."""
    return tlv(_CONTEXT | _CONSTRUCTED | number, inner)


def implicit_primitive(number: int, content: bytes) -> bytes:
    """``[number] IMPLICIT`` for a primitive type such as OCTET STRING: the content with a context tag."""
    return tlv(_CONTEXT | number, content)


def algorithm_identifier(algorithm: str, parameters: bytes | None = None) -> bytes:
    """AlgorithmIdentifier; ``parameters`` is omitted entirely when None (not encoded as NULL)."""
    return sequence(oid(algorithm), *([] if parameters is None else [parameters]))
