"""Choosing among an order's certificate chains by ``preferredChain``, as cert-manager does.

A certificate URL answers with the default chain and may name alternates in ``Link: <url>;
rel="alternate"`` headers (RFC 8555 §7.4.2). cert-manager's ``getPreferredCertChain``
(``pkg/controller/acmeorders/sync.go``) looks at the top-most certificate of each chain, the last
one served, and picks the first chain whose issuer common name equals ``preferredChain``: the default
chain first, then the alternates in the order listed. With no match the default chain is used. Pure.
"""

from __future__ import annotations

from cryptography import x509
from cryptography.x509.oid import NameOID

from certkeeper.pki.pem import load_pem_certificate_bundle


def issuer_common_name(certificate: x509.Certificate) -> str:
    """The issuer's common name as Go's ``Issuer.CommonName`` reads it (the last CN attribute), or ""."""
    names = certificate.issuer.get_attributes_for_oid(NameOID.COMMON_NAME)
    if not names:
        return ""
    value = names[-1].value
    return value if isinstance(value, str) else value.decode("utf-8", "replace")


def topmost_issuer_common_name(chain_pem: bytes) -> str:
    """The issuer CN of the last certificate of a PEM chain (raises pki's InvalidPem when it has none)."""
    return issuer_common_name(load_pem_certificate_bundle(chain_pem)[-1])


def chain_matches(chain_pem: bytes, preferred_chain: str) -> bool:
    """True when the chain's top-most certificate was issued by a CA named ``preferred_chain``."""
    return bool(preferred_chain) and topmost_issuer_common_name(chain_pem) == preferred_chain
