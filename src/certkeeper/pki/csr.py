"""Certificate signing requests: built from a :class:`CertificateTemplate`, and read back. Pure.

Follows cert-manager's ``GenerateCSR`` and ``EncodeCSR`` in ``pkg/util/pki/csr.go``: subject from
``literalSubject`` (when enabled) or from ``subject`` + ``commonName``; SANs critical exactly when the
subject is empty; KeyUsage (critical) and ExtendedKeyUsage unless ``encodeUsagesInRequest`` is false;
BasicConstraints (critical) only with the UseCertificateRequestBasicConstraints gate; NameConstraints
with their ``critical`` flag. Extensions appear in that order, as upstream writes them. The CSR is
signed with ``spec.signatureAlgorithm`` or the algorithm the key spec implies, which must suit the key.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Final

from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm

from certkeeper.pki.errors import InvalidCsr, InvalidTemplate, UnsupportedKey
from certkeeper.pki.keys import (
    KeySpec,
    PrivateKey,
    PublicKey,
    SignatureAlgorithm,
    check_signature_algorithm,
    describe_key,
    hash_for,
    signature_algorithm_for_spec,
    supported_public_key,
)
from certkeeper.pki.sans import SanValues, general_names, name_constraints_extension, name_constraints_spec, san_values
from certkeeper.pki.subject import (
    first_common_name,
    literal_subject_name,
    name_is_empty,
    subject_fields_of,
    subject_name,
)
from certkeeper.pki.template import CertificateTemplate, CsrOptions
from certkeeper.pki.usages import (
    ext_key_usage_strings,
    key_usage_bits,
    key_usage_extension,
    key_usage_strings,
    key_usages_for,
    split_ext_key_usages,
)

#: What cryptography raises for extensions it cannot parse (TypeError: a directoryName with a bad BitString).
_EXTENSION_ERRORS: Final = (ValueError, TypeError, x509.DuplicateExtension, x509.UnsupportedGeneralNameType)
_NO_NAMES: Final = (
    "at least one of commonName (from the commonName field or from a literalSubject), dnsNames, emailSANs, "
    "ipAddresses, otherNames, or uriSANs must be set"
)


@dataclass(frozen=True, slots=True, kw_only=True)
class CsrContent:
    """What a CSR for a template holds before it is signed: subject, extensions, signature algorithm."""

    subject: x509.Name
    common_name: str
    extensions: tuple[tuple[x509.ExtensionType, bool], ...]
    signature_algorithm: SignatureAlgorithm


def csr_content(template: CertificateTemplate, options: CsrOptions | None = None) -> CsrContent:
    """Subject and extensions of the CSR for ``template`` (cert-manager's ``GenerateCSR``)."""
    options = options or CsrOptions()
    if options.use_literal_subject and template.literal_subject:
        subject = literal_subject_name(template.literal_subject)
        common_name = first_common_name(subject)
    else:
        common_name = template.common_name
        subject = subject_name(template.subject, common_name)
    names = general_names(
        dns_names=template.dns_names,
        email_addresses=template.email_addresses,
        ip_addresses=template.ip_addresses,
        uris=template.uris,
        other_names=(template.other_names or ()) if options.encode_other_names else (),
    )
    if not common_name and not names:
        raise InvalidTemplate(_NO_NAMES)
    signature_algorithm = signature_algorithm_for_spec(template.key, template.signature_algorithm)
    extensions: list[tuple[x509.ExtensionType, bool]] = []
    if names:
        extensions.append((x509.SubjectAlternativeName(names), name_is_empty(subject)))
    if template.encode_usages_in_request:
        try:
            bits, ext_usages = key_usages_for(template.usages, is_ca=template.is_ca)
        except InvalidTemplate as exc:
            raise InvalidTemplate(f"failed to build key usages: {exc}") from exc
        if bits:
            extensions.append((key_usage_extension(bits), True))
        if ext_usages:
            extensions.append((x509.ExtendedKeyUsage(list(ext_usages)), False))
    if options.encode_basic_constraints:
        extensions.append((x509.BasicConstraints(ca=template.is_ca, path_length=None), True))
    if options.encode_name_constraints and template.name_constraints is not None:
        constraints = name_constraints_extension(template.name_constraints)
        if constraints is not None:
            extensions.append((constraints, template.name_constraints.critical))
    return CsrContent(
        subject=subject,
        common_name=common_name,
        extensions=tuple(extensions),
        signature_algorithm=signature_algorithm,
    )


def build_csr(
    template: CertificateTemplate, private_key: PrivateKey, *, options: CsrOptions | None = None
) -> x509.CertificateSigningRequest:
    """A CSR for ``template``, signed with ``private_key``."""
    content = csr_content(template, options)
    check_signature_algorithm(describe_key(private_key).algorithm, content.signature_algorithm)
    builder = x509.CertificateSigningRequestBuilder().subject_name(content.subject)
    for value, critical in content.extensions:
        builder = builder.add_extension(value, critical=critical)
    return builder.sign(private_key, hash_for(content.signature_algorithm))


#: CSRs whose signature or public key is remembered: every request the workers have in flight.
_CSR_MEMO_SIZE: Final = 512


@functools.lru_cache(maxsize=_CSR_MEMO_SIZE)
def _signature_valid(csr: x509.CertificateSigningRequest) -> bool:
    # Memoised on the CSR (cryptography hashes and compares it by its DER): admission and the signer
    # both check the same request, and a P-256 check costs ~100 us. Errors are raised anew each time.
    try:
        return csr.is_signature_valid
    except (UnsupportedAlgorithm, ValueError) as exc:
        raise InvalidCsr(f"certificate request signature cannot be checked: {exc}") from exc


def clear_csr_memos() -> None:
    """Forget every remembered CSR signature check and public key (a benchmark's fresh request)."""
    _signature_valid.cache_clear()
    csr_public_key.cache_clear()


def verify_csr_signature(csr: x509.CertificateSigningRequest) -> None:
    """Raise :class:`InvalidCsr` unless the CSR is signed by the key it carries."""
    if not _signature_valid(csr):
        raise InvalidCsr("certificate request signature is invalid")


def csr_extensions(csr: x509.CertificateSigningRequest) -> x509.Extensions:
    """The CSR's requested extensions; malformed or duplicated ones raise :class:`InvalidCsr`."""
    try:
        return csr.extensions
    except _EXTENSION_ERRORS as exc:
        raise InvalidCsr(f"certificate request has malformed extensions: {exc}") from exc


def csr_subject(csr: x509.CertificateSigningRequest) -> x509.Name:
    """The CSR's subject; a malformed one raises :class:`InvalidCsr` (cryptography parses it lazily)."""
    try:
        return csr.subject
    except (ValueError, TypeError) as exc:  # TypeError: cryptography on a BitString of the wrong OID
        raise InvalidCsr(f"certificate request has a malformed subject: {exc}") from exc


@functools.lru_cache(maxsize=_CSR_MEMO_SIZE)
def csr_public_key(csr: x509.CertificateSigningRequest) -> PublicKey:
    """The CSR's public key; only RSA, ECDSA (P-256/384/521) and Ed25519 are supported.

    Memoised on the CSR (the readiness and request checks ask for it on every reconcile); public
    keys are immutable, and errors are raised anew each time.
    """
    try:
        key = csr.public_key()
    except (UnsupportedAlgorithm, ValueError) as exc:
        raise UnsupportedKey(f"certificate request has an unsupported public key: {exc}") from exc
    return supported_public_key(key)


def csr_sans(csr: x509.CertificateSigningRequest) -> SanValues:
    """The CSR's SANs as strings (empty when it has no SAN extension)."""
    try:
        san = csr_extensions(csr).get_extension_for_class(x509.SubjectAlternativeName)
    except x509.ExtensionNotFound:
        return SanValues()
    return san_values(san.value)


def csr_template(csr: x509.CertificateSigningRequest) -> CertificateTemplate:
    """What a CSR asks for, as a template (for issuers that read CN, SANs, usages from the CSR).

    The subject is read as structured fields (``literal_subject`` stays empty; ``csr.subject`` has
    the exact name). Usages are the KeyUsage and known ExtendedKeyUsage strings, if present.
    """
    extensions = csr_extensions(csr)
    common_name, fields = subject_fields_of(csr_subject(csr))
    sans = csr_sans(csr)
    is_ca = False
    usages: list[str] = []
    name_constraints = None
    for extension in extensions:
        value = extension.value
        if isinstance(value, x509.BasicConstraints):
            is_ca = value.ca
        elif isinstance(value, x509.KeyUsage):
            usages[:0] = key_usage_strings(key_usage_bits(value))
        elif isinstance(value, x509.ExtendedKeyUsage):
            known, _ = split_ext_key_usages(value)
            usages.extend(name for name in ext_key_usage_strings(known) if name != "unknown")
        elif isinstance(value, x509.NameConstraints):
            name_constraints = name_constraints_spec(value, critical=extension.critical)
    description = describe_key(csr_public_key(csr))
    return CertificateTemplate(
        common_name=common_name,
        subject=fields,
        dns_names=sans.dns_names,
        ip_addresses=sans.ip_addresses,
        uris=sans.uris,
        email_addresses=sans.email_addresses,
        other_names=sans.other_names or None,
        is_ca=is_ca,
        usages=tuple(usages),
        key=KeySpec(algorithm=description.algorithm, size=description.size),
        name_constraints=name_constraints,
    )
