"""Names cert-manager derives for the objects it creates (``pkg/api/util/names.go``). Pure."""

from __future__ import annotations

import hashlib
import re

_ALPHANUMERIC = re.compile(r"[a-zA-Z\d]")


def dns_safe_shorten(name: str, max_length: int) -> str:
    """Cut ``name`` to at most ``max_length`` characters, ending on a letter or digit."""
    if len(name) < max_length:
        return name
    if max_length <= 0:
        return ""
    matches = list(_ALPHANUMERIC.finditer(name[:max_length]))
    return name[: matches[-1].end()] if matches else ""


def dns_safe_shorten_52(name: str) -> str:
    return dns_safe_shorten(name, 52)


def secure_unique_name(full_name: str, max_length: int) -> str:
    """``full_name`` if short enough, else a DNS-safe prefix plus the SHA-256 of the whole name."""
    hash_length = 64
    if max_length < hash_length:
        raise ValueError(f"max_length must be at least {hash_length}")
    if len(full_name) <= max_length:
        return full_name
    digest = hashlib.sha256(full_name.encode()).hexdigest()
    prefix = dns_safe_shorten(full_name, max_length - hash_length - 1)
    return f"{prefix}-{digest}" if prefix else digest


def certificate_request_name(certificate_name: str, revision: int) -> str:
    """``<certificate>-<revision>`` (gate StableCertificateRequestName), shortened past 233 characters."""
    return f"{secure_unique_name(certificate_name, 233)}-{revision}"


def fnv32(data: bytes) -> int:
    """FNV-1 32-bit (Go's ``hash/fnv.New32``): multiply, then xor, per byte."""
    value = 0x811C9DC5
    for byte in data:
        value = (value * 0x01000193) & 0xFFFFFFFF
        value ^= byte
    return value


def compute_name(prefix: str, go_json: bytes) -> str:
    """``<prefix shortened to 52>-<fnv32 decimal>`` (``ComputeName``), at most 63 characters.

    ``go_json`` is the object as Go's ``json.Marshal`` encodes it: the hash only matches cert-manager's
    (so a certkeeper controller finds the Orders cert-manager made, and the reverse) when the bytes do.
    """
    return f"{dns_safe_shorten_52(prefix)}-{fnv32(go_json)}"


def go_json_string(value: str) -> str:
    """A string as Go's ``encoding/json`` writes it (HTML-safe escaping of <, > and &, U+2028/9)."""
    out = ['"']
    for char in value:
        code = ord(char)
        if char == '"':
            out.append('\\"')
        elif char == "\\":
            out.append("\\\\")
        elif char == "\n":
            out.append("\\n")
        elif char == "\r":
            out.append("\\r")
        elif char == "\t":
            out.append("\\t")
        elif code < 0x20 or char in "<>&" or code in (0x2028, 0x2029):
            out.append(f"\\u{code:04x}")
        else:
            out.append(char)
    out.append('"')
    return "".join(out)


def _go_list(values: list[str]) -> str:
    return "[" + ",".join(go_json_string(v) for v in values) + "]"


def order_spec_go_json(
    *,
    issuer_name: str,
    issuer_kind: str,
    issuer_group: str,
    common_name: str,
    dns_names: list[str],
    ip_addresses: list[str],
    duration: str | None,
    profile: str,
    replaces: str,
) -> bytes:
    """cert-manager's ``OrderSpec`` with ``request`` nil, as ``json.Marshal`` encodes it for ComputeName.

    Field order and ``omitempty`` follow ``pkg/apis/acme/v1/types_order.go``; ``duration`` is the
    already-normalised Go duration string (``metav1.Duration`` marshals ``Duration.String()``).
    """
    ref = '{"name":' + go_json_string(issuer_name)
    if issuer_kind:
        ref += ',"kind":' + go_json_string(issuer_kind)
    if issuer_group:
        ref += ',"group":' + go_json_string(issuer_group)
    ref += "}"
    parts = ['"request":null', '"issuerRef":' + ref]
    if common_name:
        parts.append('"commonName":' + go_json_string(common_name))
    if dns_names:
        parts.append('"dnsNames":' + _go_list(dns_names))
    if ip_addresses:
        parts.append('"ipAddresses":' + _go_list(ip_addresses))
    if duration:
        parts.append('"duration":' + go_json_string(duration))
    if profile:
        parts.append('"profile":' + go_json_string(profile))
    if replaces:
        parts.append('"replaces":' + go_json_string(replaces))
    return ("{" + ",".join(parts) + "}").encode()


def order_name(request_name: str, spec_json: bytes) -> str:
    """The Order for a CertificateRequest: long request names also hash the request name."""
    if len(request_name) >= 52:
        spec_json = (
            b'{"certificateRequestName":' + go_json_string(request_name).encode() + b',"spec":' + spec_json + b"}"
        )
    return compute_name(request_name, spec_json)
