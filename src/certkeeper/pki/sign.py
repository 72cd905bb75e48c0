"""Signing: certificate templates from CSRs or specs, self-signed and CA-signed issuance. Pure except
for randomness (serial numbers and the temporary CA's key come from the OS CSPRNG via cryptography).

Follows cert-manager's ``pkg/util/pki/certificatetemplate.go`` (``CertificateTemplateFromCSR`` with
the duration, BasicConstraints and key-usage validator-mutators and their "encoded CSR error"
messages), ``SignCertificate`` / ``SignCSRTemplate`` in ``csr.go`` (signature algorithm from the
*signer's* key; chain and CA as the CA issuer returns them) and ``temporarycertificate.go``.

Issued certificates carry: a random positive serial below 2^159, notBefore = ``now`` (to the second)
and notAfter = notBefore + duration, KeyUsage (critical), ExtendedKeyUsage, BasicConstraints
(critical, always), SubjectKeyIdentifier, AuthorityKeyIdentifier (unless self-signed), the CA
issuer's OCSP / issuing-certificate URLs and CRL distribution points, name constraints and the
request's SANs (critical when the subject is empty).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Final

from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.x509.oid import AuthorityInformationAccessOID, NameOID, ObjectIdentifier

from certkeeper.pki.chain import build_certificate_chain
from certkeeper.pki.csr import csr_content, csr_extensions, csr_public_key, csr_subject, verify_csr_signature
from certkeeper.pki.errors import InvalidCsr, SigningError
from certkeeper.pki.keys import (
    PrivateKey,
    PublicKey,
    generate_ecdsa_private_key,
    hash_for,
    public_keys_equal,
    signature_algorithm_for_key,
    supported_public_key,
)
from certkeeper.pki.pem import encode_pem_certificate
from certkeeper.pki.subject import name_attribute, name_is_empty
from certkeeper.pki.template import DEFAULT_DURATION, PLAIN_CSR_OPTIONS, CertificateTemplate, CsrOptions
from certkeeper.pki.usages import (
    ext_key_usage_strings,
    format_usages,
    key_usage_bits,
    key_usage_extension,
    key_usage_strings,
    key_usages_for,
    split_ext_key_usages,
)

TEMPORARY_CA_COMMON_NAME: Final = "cert-manager.local"
TEMPORARY_SUBJECT_SERIAL_NUMBER: Final = "1234567890"
_SERIAL_LIMIT: Final = 1 << 159


@dataclass(frozen=True, slots=True, kw_only=True)
class CertificateParams:
    """Everything an issued certificate will contain except issuer, serial and signature."""

    subject: x509.Name
    public_key: PublicKey
    not_before: datetime
    not_after: datetime
    is_ca: bool = False
    key_usage: int = 0
    ext_key_usages: tuple[ObjectIdentifier, ...] = ()
    subject_alternative_name: x509.SubjectAlternativeName | None = None
    name_constraints: x509.NameConstraints | None = None
    name_constraints_critical: bool = False
    crl_distribution_points: tuple[str, ...] = ()
    ocsp_servers: tuple[str, ...] = ()
    issuing_certificate_urls: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class SignedCertificate:
    """An issued certificate with the PEM an issuer returns (``Certificate`` and ``CA`` fields)."""

    certificate: x509.Certificate
    certificate_pem: bytes
    chain_pem: bytes
    ca_pem: bytes


def _validity(now: datetime, duration: timedelta | None) -> tuple[datetime, datetime]:
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    not_before = now.astimezone(UTC).replace(microsecond=0)
    return not_before, not_before + (DEFAULT_DURATION if duration is None else duration)


def _check_key_usages(
    requested_bits: int | None,
    requested_ekus: tuple[ObjectIdentifier, ...] | None,
    bits: int,
    ekus: tuple[ObjectIdentifier, ...],
) -> None:
    if requested_bits is None and requested_ekus is None:
        return
    csr_bits = requested_bits or 0
    if csr_bits != bits:
        raise InvalidCsr(
            f"encoded CSR error: the KeyUsages {format_usages(key_usage_strings(csr_bits))} do not match "
            f"the expected KeyUsages {format_usages(key_usage_strings(bits))}"
        )
    known, _ = split_ext_key_usages(requested_ekus or ())
    if known != ekus:
        raise InvalidCsr(
            f"encoded CSR error: the ExtKeyUsages {format_usages(ext_key_usage_strings(known))} do not match "
            f"the expected ExtKeyUsages {format_usages(ext_key_usage_strings(ekus))}"
        )


def certificate_params_from_csr(
    csr: x509.CertificateSigningRequest,
    *,
    now: datetime,
    duration: timedelta | None = None,
    is_ca: bool = False,
    usages: Sequence[str] = (),
) -> CertificateParams:
    """The certificate a CertificateRequest asks for (``CertificateTemplateFromCertificateRequest``).

    The CSR's signature is checked. ``is_ca`` and ``usages`` come from the request's spec and win;
    when the CSR encodes BasicConstraints, KeyUsage or ExtendedKeyUsage they must agree with them.
    SANs and name constraints come from the CSR; other CSR extensions are dropped. EKU OIDs the CSR
    asks for that Go does not know are kept, after the request's ones.
    """
    verify_csr_signature(csr)
    subject = csr_subject(csr)
    public_key = csr_public_key(csr)
    extensions = csr_extensions(csr)
    bits, ekus = key_usages_for(usages, is_ca=is_ca)
    san: x509.SubjectAlternativeName | None = None
    constraints: x509.NameConstraints | None = None
    constraints_critical = False
    requested_bits: int | None = None
    requested_ekus: tuple[ObjectIdentifier, ...] | None = None
    unknown_ekus: tuple[ObjectIdentifier, ...] = ()
    for extension in extensions:
        value = extension.value
        if isinstance(value, x509.BasicConstraints) and value.ca != is_ca:
            raise InvalidCsr(
                f"encoded CSR error: IsCA {str(value.ca).lower()} does not match expected value {str(is_ca).lower()}"
            )
        if isinstance(value, x509.SubjectAlternativeName):
            san = value
        elif isinstance(value, x509.NameConstraints):
            constraints, constraints_critical = value, extension.critical
        elif isinstance(value, x509.KeyUsage):
            requested_bits = key_usage_bits(value)
        elif isinstance(value, x509.ExtendedKeyUsage):
            requested_ekus = tuple(value)
            unknown_ekus = split_ext_key_usages(requested_ekus)[1]
    _check_key_usages(requested_bits, requested_ekus, bits, ekus)
    not_before, not_after = _validity(now, duration)
    return CertificateParams(
        subject=subject,
        public_key=public_key,
        not_before=not_before,
        not_after=not_after,
        is_ca=is_ca,
        key_usage=bits,
        ext_key_usages=ekus + unknown_ekus,
        subject_alternative_name=san,
        name_constraints=constraints,
        name_constraints_critical=constraints_critical,
    )


def certificate_params_from_template(
    template: CertificateTemplate,
    public_key: PublicKey,
    *,
    now: datetime,
    options: CsrOptions = PLAIN_CSR_OPTIONS,
) -> CertificateParams:
    """The certificate a spec asks for, without a CSR (``CertificateTemplateFromCertificate``).

    Upstream builds this from ``GenerateCSR`` without options, hence :data:`PLAIN_CSR_OPTIONS`.
    """
    content = csr_content(template, options)
    bits, ekus = key_usages_for(template.usages, is_ca=template.is_ca)
    san = next((value for value, _ in content.extensions if isinstance(value, x509.SubjectAlternativeName)), None)
    constraints = next((value for value, _ in content.extensions if isinstance(value, x509.NameConstraints)), None)
    not_before, not_after = _validity(now, template.effective_duration)
    return CertificateParams(
        subject=content.subject,
        public_key=public_key,
        not_before=not_before,
        not_after=not_after,
        is_ca=template.is_ca,
        key_usage=bits,
        ext_key_usages=ekus,
        subject_alternative_name=san,
        name_constraints=constraints,
        name_constraints_critical=bool(template.name_constraints and template.name_constraints.critical),
    )


def _random_serial_number() -> int:
    while True:
        serial = x509.random_serial_number()
        if 0 < serial < _SERIAL_LIMIT:
            return serial


def _issuer_public_key(issuer: x509.Certificate) -> PublicKey:
    try:
        return supported_public_key(issuer.public_key())
    except (ValueError, UnsupportedAlgorithm) as exc:
        raise SigningError(f"the issuer certificate's public key cannot be used: {exc}") from exc


def _authority_key_identifier(issuer: x509.Certificate) -> x509.AuthorityKeyIdentifier:
    try:
        ski = issuer.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    except (x509.ExtensionNotFound, x509.DuplicateExtension, ValueError, TypeError):
        return x509.AuthorityKeyIdentifier.from_issuer_public_key(_issuer_public_key(issuer))
    return x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ski)


def sign_certificate(
    params: CertificateParams, *, signer_key: PrivateKey, issuer: x509.Certificate | None = None
) -> x509.Certificate:
    """Sign ``params`` with ``signer_key``: as ``issuer`` when given, else self-signed.

    The signature algorithm follows the signer's key (RSA by size, ECDSA by curve, Ed25519 pure).
    """
    self_signed = issuer is None
    if self_signed and not public_keys_equal(signer_key, params.public_key):
        raise SigningError("the signing key does not match the certificate's public key")
    if issuer is not None and not public_keys_equal(signer_key, _issuer_public_key(issuer)):
        raise SigningError("the signing key does not match the issuer certificate")
    try:
        issuer_name = params.subject if issuer is None else issuer.subject
    except (ValueError, TypeError) as exc:
        raise SigningError(f"the issuer certificate has a malformed subject: {exc}") from exc
    builder = (
        x509.CertificateBuilder()
        .subject_name(params.subject)
        .issuer_name(issuer_name)
        .public_key(params.public_key)
        .serial_number(_random_serial_number())
        .not_valid_before(params.not_before)
        .not_valid_after(params.not_after)
    )
    extensions: list[tuple[x509.ExtensionType, bool]] = []
    if params.key_usage:
        extensions.append((key_usage_extension(params.key_usage), True))
    if params.ext_key_usages:
        extensions.append((x509.ExtendedKeyUsage(list(params.ext_key_usages)), False))
    extensions.append((x509.BasicConstraints(ca=params.is_ca, path_length=None), True))
    extensions.append((x509.SubjectKeyIdentifier.from_public_key(params.public_key), False))
    if issuer is not None:
        extensions.append((_authority_key_identifier(issuer), False))
    access = [
        x509.AccessDescription(AuthorityInformationAccessOID.OCSP, x509.UniformResourceIdentifier(url))
        for url in params.ocsp_servers
    ] + [
        x509.AccessDescription(AuthorityInformationAccessOID.CA_ISSUERS, x509.UniformResourceIdentifier(url))
        for url in params.issuing_certificate_urls
    ]
    if access:
        extensions.append((x509.AuthorityInformationAccess(access), False))
    if params.name_constraints is not None:
        extensions.append((params.name_constraints, params.name_constraints_critical))
    if params.crl_distribution_points:
        points = [
            x509.DistributionPoint([x509.UniformResourceIdentifier(url)], None, None, None)
            for url in params.crl_distribution_points
        ]
        extensions.append((x509.CRLDistributionPoints(points), False))
    if params.subject_alternative_name is not None:
        extensions.append((params.subject_alternative_name, name_is_empty(params.subject)))
    for value, critical in extensions:
        builder = builder.add_extension(value, critical=critical)
    try:
        return builder.sign(signer_key, hash_for(signature_algorithm_for_key(signer_key)))
    except ValueError as exc:
        raise SigningError(f"error creating x509 certificate: {exc}") from exc


def sign_self_signed(params: CertificateParams, private_key: PrivateKey) -> SignedCertificate:
    """Issue ``params`` signed by its own key; the certificate is also the CA (SelfSigned issuer)."""
    certificate = sign_certificate(params, signer_key=private_key)
    pem = encode_pem_certificate(certificate)
    return SignedCertificate(certificate=certificate, certificate_pem=pem, chain_pem=pem, ca_pem=pem)


def sign_with_ca(
    params: CertificateParams, *, ca_certificates: Sequence[x509.Certificate], ca_key: PrivateKey
) -> SignedCertificate:
    """Issue ``params`` from a CA (``SignCSRTemplate``); ``ca_certificates[0]`` is the issuing CA.

    ``chain_pem`` is the leaf and the CA chain (without a self-signed root); ``ca_pem`` is the
    root-most certificate of the issuer's chain.
    """
    if not ca_certificates:
        raise SigningError("no CA certificates given to sign CSR template")
    certificate = sign_certificate(params, signer_key=ca_key, issuer=ca_certificates[0])
    chain = build_certificate_chain([*ca_certificates, certificate])
    return SignedCertificate(
        certificate=certificate,
        certificate_pem=encode_pem_certificate(certificate),
        chain_pem=chain.chain_pem,
        ca_pem=chain.ca_pem,
    )


def _with_subject_serial_number(name: x509.Name) -> x509.Name:
    rdns = [rdn for rdn in name.rdns if all(attribute.oid != NameOID.SERIAL_NUMBER for attribute in rdn)]
    serial = name_attribute(NameOID.SERIAL_NUMBER, TEMPORARY_SUBJECT_SERIAL_NUMBER)
    return x509.Name([*rdns, x509.RelativeDistinguishedName([serial])])


def generate_temporary_certificate(template: CertificateTemplate, private_key: PrivateKey, *, now: datetime) -> bytes:
    """A placeholder certificate for ``private_key`` while the real one is pending (PEM).

    Signed by a throwaway ECDSA P-521 CA named ``cert-manager.local`` whose key is discarded; the
    leaf's subject carries serialNumber ``1234567890`` so it is recognisable as temporary.
    """
    ca_key = generate_ecdsa_private_key(521)
    ca_template = CertificateTemplate(common_name=TEMPORARY_CA_COMMON_NAME, is_ca=True)
    ca_params = certificate_params_from_template(ca_template, ca_key.public_key(), now=now)
    ca_certificate = sign_certificate(ca_params, signer_key=ca_key)
    params = certificate_params_from_template(template, private_key.public_key(), now=now)
    params = dataclasses.replace(params, subject=_with_subject_serial_number(params.subject))
    return encode_pem_certificate(sign_certificate(params, signer_key=ca_key, issuer=ca_certificate))
