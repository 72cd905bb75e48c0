"""One certificate chain from a bag of certificates: ordered leaf to root, every link verified. Pure.

Follows cert-manager's ``pkg/util/pki/parse_certificate_chain.go``: duplicates are dropped, at most
1000 distinct certificates are considered (the merge is quadratic), single-certificate chains are
glued together while one is issued by another (issuer name equal to subject name and the signature
verifying, the parent being allowed to sign certificates), and anything that does not end up as one
chain (a break, a branch, an unrelated certificate, two leaves) is "malformed or broken".

The result follows ``toBundleAndCA``: ``chain_pem`` runs from the leaf to the highest certificate that
is not self-signed (a self-signed root is left out, RFC 5246 7.4.2); ``ca_pem`` is the root-most
certificate, or empty when the input is a single certificate that is not a self-signed CA.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives.serialization import Encoding

from certkeeper.pki.errors import InvalidChain
from certkeeper.pki.pem import DEFAULT_PEM_LIMITS, PemLimits, encode_pem_certificate, load_pem_certificate_chain

MAX_CHAIN_CERTIFICATES: Final = 1000


@dataclass(frozen=True, slots=True, kw_only=True)
class CertificateChain:
    """An ordered chain: ``certificates`` from the leaf to the root-most certificate (root included)."""

    certificates: tuple[x509.Certificate, ...]
    chain_pem: bytes
    ca_pem: bytes

    @property
    def leaf(self) -> x509.Certificate:
        """The end of the chain that nothing else in the chain was issued by."""
        return self.certificates[0]

    @property
    def root(self) -> x509.Certificate:
        """The root-most certificate (a self-signed root, or the highest intermediate given)."""
        return self.certificates[-1]


def _may_sign_certificates(parent: x509.Certificate) -> bool:
    """Go's CheckSignatureFrom constraints: a v3 parent must be a CA and, with KeyUsage, have certSign."""
    try:
        extensions = parent.extensions
    except (ValueError, TypeError, x509.DuplicateExtension, x509.UnsupportedGeneralNameType):
        return False
    try:
        basic = extensions.get_extension_for_class(x509.BasicConstraints).value
    except x509.ExtensionNotFound:
        return parent.version is x509.Version.v1
    if not basic.ca:
        return False
    try:
        usage = extensions.get_extension_for_class(x509.KeyUsage).value
    except x509.ExtensionNotFound:
        return True
    return usage.key_cert_sign


@functools.lru_cache(maxsize=512)
def issued_by(child: x509.Certificate, parent: x509.Certificate) -> bool:
    """True when ``parent`` issued ``child``: names chain, parent may sign, and the signature verifies.

    Memoised on the pair (cryptography hashes and compares certificates by their DER): building each
    issued chain checks that the same CA certificate is self-signed, a ~100 us signature check.
    """
    try:
        if child.issuer.public_bytes() != parent.subject.public_bytes():
            return False
    except (ValueError, TypeError):
        return False  # a malformed name links nothing
    if not _may_sign_certificates(parent):
        return False
    try:
        child.verify_directly_issued_by(parent)
    except (InvalidSignature, ValueError, TypeError, UnsupportedAlgorithm):
        return False
    return True


def is_self_signed(certificate: x509.Certificate) -> bool:
    """True for a certificate that verifies as issued by itself (so it must also be a CA)."""
    return issued_by(certificate, certificate)


def _der(certificate: x509.Certificate) -> bytes:
    return certificate.public_bytes(Encoding.DER)


class _Links:
    """Memoised "is issued by" over the distinct input certificates (indices into ``certificates``)."""

    def __init__(self, certificates: Sequence[x509.Certificate]) -> None:
        self.certificates = certificates
        self._cache: dict[tuple[int, int], bool] = {}

    def issued_by(self, child: int, parent: int) -> bool:
        key = (child, parent)
        if key not in self._cache:
            self._cache[key] = issued_by(self.certificates[child], self.certificates[parent])
        return self._cache[key]

    def merge(self, a: list[int], b: list[int]) -> list[int] | None:
        """Glue two leaf-first chains if the root of one was issued by the leaf of the other."""
        if self.issued_by(b[-1], a[0]):
            return b + a
        if self.issued_by(a[-1], b[0]):
            return a + b
        return None


def build_certificate_chain(certificates: Sequence[x509.Certificate]) -> CertificateChain:
    """Order ``certificates`` (any order, duplicates allowed) into a single verified chain."""
    if not certificates:
        raise InvalidChain("certificate chain is empty")
    unique = sorted({_der(certificate): certificate for certificate in certificates}.items())
    if len(unique) > MAX_CHAIN_CERTIFICATES:
        raise InvalidChain(f"certificate chain is too long, must be less than {MAX_CHAIN_CERTIFICATES} certificates")
    distinct = [certificate for _, certificate in unique]
    links = _Links(distinct)
    chains: list[list[int]] = [[index] for index in range(len(distinct))]
    while len(chains) > 1:
        last = chains.pop()
        for position, chain in enumerate(chains):
            merged = links.merge(last, chain)
            if merged is not None:
                chains[position] = merged
                break
        else:
            raise InvalidChain("certificate chain is malformed or broken")
    ordered = tuple(distinct[index] for index in chains[0])
    return _bundle(ordered)


def _bundle(ordered: tuple[x509.Certificate, ...]) -> CertificateChain:
    root = ordered[-1]
    root_self_signed = is_self_signed(root)
    ca_pem = encode_pem_certificate(root)
    if len(ordered) == 1:
        return CertificateChain(certificates=ordered, chain_pem=ca_pem, ca_pem=ca_pem if root_self_signed else b"")
    in_chain = list(ordered[:-1]) if root_self_signed else list(ordered)
    chain_pem = b"".join(encode_pem_certificate(cert) for cert in in_chain if not is_self_signed(cert))
    return CertificateChain(certificates=ordered, chain_pem=chain_pem, ca_pem=ca_pem)


def parse_certificate_chain_pem(data: bytes, *, limits: PemLimits = DEFAULT_PEM_LIMITS) -> CertificateChain:
    """Decode PEM (chain size limit) and order it into one chain (``ParseSingleCertificateChainPEM``)."""
    return build_certificate_chain(load_pem_certificate_chain(data, limits=limits))
