"""A minimal strict DER reader for tests: enough to look inside the keystores certkeeper writes."""

from __future__ import annotations

from dataclasses import dataclass, field

CONSTRUCTED = 0x20


class DerError(ValueError):
    """Input that is not DER."""


@dataclass(frozen=True, slots=True)
class Node:
    """One TLV; ``children`` holds the parsed content of constructed values."""

    tag: int
    content: bytes
    children: list[Node] = field(default_factory=list)

    def __getitem__(self, index: int) -> Node:
        return self.children[index]

    def integer(self) -> int:
        assert self.tag == 0x02
        return int.from_bytes(self.content, "big", signed=True)

    def oid(self) -> str:
        assert self.tag == 0x06
        return decode_oid(self.content)


def read_tlv(data: bytes) -> tuple[int, bytes, bytes]:
    """(tag, content, rest) of the first TLV of ``data``; rejects non-minimal lengths."""
    if len(data) < 2:
        raise DerError("truncated TLV")
    tag, first = data[0], data[1]
    if tag & 0x1F == 0x1F:
        raise DerError("multi-octet tags are not used here")
    offset = 2
    if first < 0x80:
        length = first
    else:
        count = first & 0x7F
        if count == 0 or count > 4 or len(data) < 2 + count:
            raise DerError("bad length")
        length = int.from_bytes(data[2 : 2 + count], "big")
        if length < 0x80 or data[2] == 0:
            raise DerError("non-minimal length")
        offset += count
    if len(data) < offset + length:
        raise DerError("truncated content")
    return tag, data[offset : offset + length], data[offset + length :]


def parse(data: bytes, *, whole: bool = True) -> Node:
    """Parse one TLV (and everything nested in constructed values)."""
    tag, content, rest = read_tlv(data)
    if whole and rest:
        raise DerError("trailing data")
    children: list[Node] = []
    if tag & CONSTRUCTED:
        remaining = content
        while remaining:
            _, _, after = read_tlv(remaining)
            children.append(parse(remaining[: len(remaining) - len(after)]))
            remaining = after
    return Node(tag, content, children)


def decode_oid(content: bytes) -> str:
    """Dotted form of an OBJECT IDENTIFIER's content octets."""
    arcs: list[int] = []
    value = 0
    for byte in content:
        value = (value << 7) | (byte & 0x7F)
        if not byte & 0x80:
            arcs.append(value)
            value = 0
    if not arcs or content[-1] & 0x80:
        raise DerError("truncated OID")
    first = arcs[0]
    head = [0, first] if first < 40 else [1, first - 40] if first < 80 else [2, first - 80]
    return ".".join(str(arc) for arc in [*head, *arcs[1:]])
