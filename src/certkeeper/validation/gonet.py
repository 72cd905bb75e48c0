"""Go's address parsers that cert-manager's rules rely on: IPs, CIDRs, ``host:port`` and request URIs.

cert-manager accepts exactly what Go's ``net.ParseIP``, ``net.ParseCIDR``, ``net.SplitHostPort`` and
``net/url.ParseRequestURI`` accept, and Python's ``ipaddress`` and ``urllib`` differ at the edges
(IPv6 zones, netmask-style CIDRs, IPv4 with leading zeros in some versions, lenient URL hosts). These
are small ports of the Go behaviour (Go 1.26), not of its code, checked against Go-generated golden
vectors in the tests. Every function is linear in its input. Pure.
"""

from __future__ import annotations

from typing import Final

_HEX: Final = frozenset("0123456789abcdefABCDEF")
_DIGITS: Final = frozenset("0123456789")
#: ASCII bytes Go's net/url leaves unescaped in a host (``shouldEscape(c, encodeHost)`` is false).
_HOST_CHARS: Final = frozenset(
    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789" + "!\"$&'()*+,-.:;<=>[]_~"
)
_USERINFO_CHARS: Final = frozenset(
    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789" + "-._:~!$&'()*+,;=%@"
)


class GoParseError(ValueError):
    """Input Go's parser refuses; the message is Go's where callers show it."""


def _ipv4_fields(text: str) -> bytes | None:
    fields = text.split(".")
    if len(fields) != 4:
        return None
    out = bytearray()
    for part in fields:
        if not part or len(part) > 3 or not all(ch in _DIGITS for ch in part):
            return None
        if len(part) > 1 and part[0] == "0":
            return None  # Go refuses leading zeros (they once meant octal)
        value = int(part)
        if value > 255:
            return None
        out.append(value)
    return bytes(out)


def _ipv6(text: str) -> bytes | None:
    """The 16 bytes of an IPv6 address without a zone, as netip.ParseAddr reads it, or None."""
    groups: list[bytes] = []
    ellipsis = -1
    s = text
    if s.startswith("::"):
        ellipsis = 0
        s = s[2:]
        if not s:
            return bytes(16)
    filled = 0
    while filled < 16:
        count = 0
        while count < len(s) and s[count] in _HEX:
            count += 1
            if count > 4:
                return None
        if count == 0:
            return None
        if count < len(s) and s[count] == ".":
            if (ellipsis < 0 and filled != 12) or filled + 4 > 16:
                return None
            ipv4 = _ipv4_fields(s)
            if ipv4 is None:
                return None
            groups.append(ipv4)
            filled += 4
            s = ""
            break
        groups.append(int(s[:count], 16).to_bytes(2, "big"))
        filled += 2
        s = s[count:]
        if not s:
            break
        if s[0] != ":" or len(s) == 1:
            return None
        s = s[1:]
        if s[0] == ":":
            if ellipsis >= 0:
                return None
            ellipsis = filled
            s = s[1:]
            if not s:
                break
    if s:
        return None
    address = b"".join(groups)
    if filled < 16:
        if ellipsis < 0:
            return None
        address = address[:ellipsis] + bytes(16 - filled) + address[ellipsis:]
    elif ellipsis >= 0:
        return None  # "::" must stand for at least one group of zeros
    return address


def _parse_addr(text: str) -> tuple[bytes, int, str] | None:
    """(bytes, bit length, zone) as netip.ParseAddr would return, or None."""
    for ch in text:
        if ch == ".":
            ipv4 = _ipv4_fields(text)
            return None if ipv4 is None else (ipv4, 32, "")
        if ch == ":":
            address, _, zone = text.partition("%")
            if "%" in text and not zone:
                return None
            ipv6 = _ipv6(address)
            return None if ipv6 is None else (ipv6, 128, zone)
        if ch == "%":
            return None
    return None


def parse_ip(text: str) -> bytes | None:
    """``net.ParseIP``: the address bytes (4 for IPv4, 16 for IPv6), or None if Go refuses it.

    No zones, no leading zeros in IPv4 octets, IPv4 embedded only as the last 32 bits of IPv6.
    """
    parsed = _parse_addr(text)
    if parsed is None or parsed[2]:
        return None
    return parsed[0]


def is_cidr(text: str) -> bool:
    """Whether ``net.ParseCIDR`` accepts ``text``: an address, ``/``, and a decimal prefix length."""
    address, slash, mask = text.partition("/")
    if not slash:
        return False
    parsed = _parse_addr(address)
    if parsed is None or parsed[2]:
        return False
    if not mask or not all(ch in _DIGITS for ch in mask):
        return False
    # Go's dtoi gives up at 0xFFFFFF; anything that long is out of range anyway.
    return len(mask) <= 8 and int(mask) <= parsed[1]


def split_host_port(text: str) -> tuple[str, str]:
    """``net.SplitHostPort``: (host, port); raises :class:`GoParseError` with Go's reason."""
    colon = text.rfind(":")
    if colon < 0:
        raise GoParseError("missing port in address")
    start, stop = 0, 0
    if text.startswith("["):
        end = text.find("]")
        if end < 0:
            raise GoParseError("missing ']' in address")
        if end + 1 == len(text):
            raise GoParseError("missing port in address")
        if end + 1 != colon:
            if text[end + 1] == ":":
                raise GoParseError("too many colons in address")
            raise GoParseError("missing port in address")
        host = text[1:end]
        start, stop = 1, end + 1
    else:
        host = text[:colon]
        if ":" in host:
            raise GoParseError("too many colons in address")
    if "[" in text[start:]:
        raise GoParseError("unexpected '[' in address")
    if "]" in text[stop:]:
        raise GoParseError("unexpected ']' in address")
    return host, text[colon + 1 :]


def _check_escapes(text: str, mode: str) -> None:
    """net/url's ``unescape`` checks for ``mode`` "host", "zone" or "path".

    Every ``%`` starts a two-digit hex escape. In a host only non-ASCII bytes (and ``%25``) may be
    escaped; in an IPv6 zone an escape must decode to an ASCII byte a host may hold (or a space). In both,
    raw ASCII must be a host character.
    """
    i = 0
    while i < len(text):
        ch = text[i]
        if ch == "%":
            escape = text[i : i + 3]
            if i + 2 >= len(text) or text[i + 1] not in _HEX or text[i + 2] not in _HEX:
                raise GoParseError(f"invalid URL escape {escape!r}")
            value = int(text[i + 1 : i + 3], 16)
            if mode == "host" and value < 0x80 and escape != "%25":
                raise GoParseError(f"invalid URL escape {escape!r}")
            if mode == "zone" and escape != "%25" and value != 0x20 and chr(value) not in _HOST_CHARS:
                raise GoParseError(f"invalid URL escape {escape!r}")
            i += 3
            continue
        if mode != "path" and ord(ch) < 0x80 and ch not in _HOST_CHARS:
            raise GoParseError(f"invalid character {ch!r} in host name")
        i += 1


def _valid_optional_port(port: str) -> bool:
    return port == "" or (port[0] == ":" and all(ch in _DIGITS for ch in port[1:]))


def _parse_host(host: str) -> str:
    bracket = host.rfind("[")
    if bracket > 0:
        raise GoParseError("invalid IP-literal")
    if bracket == 0:
        close = host.rfind("]")
        if close < 0:
            raise GoParseError("missing ']' in host")
        if not _valid_optional_port(host[close + 1 :]):
            raise GoParseError(f"invalid port {host[close + 1 :]!r} after host")
        literal = host[1:close]
        zone_at = literal.find("%25")
        address_part = literal if zone_at < 0 else literal[:zone_at]
        _check_escapes(address_part, "host")
        if zone_at >= 0:
            _check_escapes(literal[zone_at:], "zone")
            literal = address_part + "%" + literal[zone_at + 3 :]
        parsed = _parse_addr(literal)
        if parsed is None or parsed[1] == 32:
            raise GoParseError("invalid IP-literal")
        return host
    colon = host.find(":")
    if colon >= 0 and not _valid_optional_port(host[colon:]):
        # http(s) URLs may have one colon in the authority (Go 1.26 urlstrictcolons).
        raise GoParseError(f"invalid port {host[colon:]!r} after host")
    _check_escapes(host, "host")
    return host


def request_uri_host(text: str) -> str:
    """The host of an ``https://`` URL as ``url.ParseRequestURI`` reads it ("" when there is none).

    Only absolute ``scheme://authority...`` URLs are handled, which is all cert-manager passes in.
    """
    if any(ord(ch) < 0x20 or ord(ch) == 0x7F for ch in text):
        raise GoParseError("net/url: invalid control character in URL")
    scheme, sep, rest = text.partition("://")
    if not sep or not scheme:
        raise GoParseError("missing protocol scheme")
    rest = "//" + rest
    rest = rest[:-1] if rest.endswith("?") and rest.count("?") == 1 else rest.partition("?")[0]
    authority = rest[2:]
    slash = authority.find("/")
    path = ""
    if slash >= 0:
        authority, path = authority[:slash], authority[slash:]
    at = authority.rfind("@")
    host = _parse_host(authority[at + 1 :])
    if at >= 0:
        userinfo = authority[:at]
        if not all(ch in _USERINFO_CHARS for ch in userinfo):
            raise GoParseError("net/url: invalid userinfo")
        for part in userinfo.split(":", 1):
            _check_escapes(part, "path")
    _check_escapes(path, "path")
    return host


__all__ = ["GoParseError", "is_cidr", "parse_ip", "request_uri_host", "split_host_port"]
