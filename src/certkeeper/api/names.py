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
