"""Which fields of a key, CSR or certificate no longer match what a Certificate asks for. Pure.

Follows cert-manager's ``pkg/util/pki/match.go``: ``PrivateKeyMatchesSpec`` (defaults RSA 2048 and
P-256; "spec.privateKey.algorithm" / "spec.privateKey.size"), ``RequestMatchesSpec`` (SANs and
subject fields compared as unordered lists; a literal subject compared as DER; the request's isCA,
usages and duration; issuerRef is left to the caller, see ``certkeeper.pki.from_spec``) and
``FuzzyX509AltNamesMatchSpec`` (commonName and dnsNames may trade places). Violations are the field
paths cert-manager reports, in its order, including its ``spec.subject.postCodes`` spelling.
"""

from __future__ import annotations

import ipaddress
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import timedelta

from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm

from certkeeper.pki.csr import csr_extensions, csr_public_key, csr_subject
from certkeeper.pki.errors import InvalidCsr, InvalidPem, PkiError
from certkeeper.pki.keys import (
    KeyAlgorithm,
    KeySpec,
    PrivateKey,
    PublicKey,
    describe_key,
    public_keys_equal,
    supported_public_key,
)
from certkeeper.pki.sans import non_utf8_other_names, san_values
from certkeeper.pki.subject import literal_subject_name, subject_fields_of
from certkeeper.pki.template import CertificateTemplate


@dataclass(frozen=True, slots=True, kw_only=True)
class RequestFields:
    """The CertificateRequest spec fields ``RequestMatchesSpec`` compares besides its CSR."""

    is_ca: bool = False
    usages: tuple[str, ...] = ()
    duration: timedelta | None = None


def private_key_mismatches(key: PrivateKey | PublicKey, spec: KeySpec) -> list[str]:
    """Violations of ``spec.privateKey`` by ``key`` (empty when it matches)."""
    try:
        description = describe_key(key)
    except PkiError:
        return ["spec.privateKey.algorithm"]
    if description.algorithm is not spec.algorithm:
        return ["spec.privateKey.algorithm"]
    if spec.algorithm is not KeyAlgorithm.ED25519 and description.size != spec.effective_size:
        return ["spec.privateKey.size"]
    return []


def public_key_matches_certificate(key: PrivateKey | PublicKey, certificate: x509.Certificate) -> bool:
    """True when ``key`` (or its public half) is the certificate's public key."""
    try:
        return public_keys_equal(key, supported_public_key(certificate.public_key()))
    except (ValueError, TypeError, UnsupportedAlgorithm):
        return False


def public_key_matches_csr(key: PrivateKey | PublicKey, csr: x509.CertificateSigningRequest) -> bool:
    """True when ``key`` (or its public half) is the CSR's public key."""
    try:
        return public_keys_equal(key, csr_public_key(csr))
    except (ValueError, TypeError, UnsupportedAlgorithm):
        return False


def _same(a: Iterable[object], b: Iterable[object]) -> bool:
    """Equal as multisets (``util.EqualUnsorted``)."""
    first, second = list(a), list(b)
    if first == second:  # the common case: same items in the same order, no counting needed
        return True
    return len(first) == len(second) and Counter(first) == Counter(second)


def _ip_key(text: str) -> bytes:
    """An address as 16 bytes (IPv4 mapped) so 4- and 16-byte forms compare equal; b"" if invalid."""
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return b""
    if isinstance(address, ipaddress.IPv4Address):
        return ipaddress.IPv6Address(b"\x00" * 10 + b"\xff\xff" + address.packed).packed
    return address.packed


def _san_extension(csr: x509.CertificateSigningRequest) -> x509.SubjectAlternativeName | None:
    try:
        return csr_extensions(csr).get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return None


def _subject_mismatches(csr: x509.CertificateSigningRequest, template: CertificateTemplate) -> list[str]:
    if template.literal_subject:
        expected = literal_subject_name(template.literal_subject)
        return [] if csr_subject(csr).public_bytes() == expected.public_bytes() else ["spec.literalSubject"]
    common_name, fields = subject_fields_of(csr_subject(csr))
    wanted = template.subject
    checks: Sequence[tuple[str, bool]] = (
        ("spec.commonName", common_name == template.common_name),
        ("spec.subject.serialNumber", fields.serial_number == wanted.serial_number),
        ("spec.subject.organizations", _same(fields.organizations, wanted.organizations)),
        ("spec.subject.countries", _same(fields.countries, wanted.countries)),
        ("spec.subject.localities", _same(fields.localities, wanted.localities)),
        ("spec.subject.organizationalUnits", _same(fields.organizational_units, wanted.organizational_units)),
        ("spec.subject.postCodes", _same(fields.postal_codes, wanted.postal_codes)),
        ("spec.subject.provinces", _same(fields.provinces, wanted.provinces)),
        ("spec.subject.streetAddresses", _same(fields.street_addresses, wanted.street_addresses)),
    )
    return [path for path, ok in checks if not ok]


def request_mismatches(
    csr: x509.CertificateSigningRequest, template: CertificateTemplate, request: RequestFields
) -> list[str]:
    """Fields of ``template`` a CertificateRequest (its CSR and ``request`` fields) does not match.

    Raises :class:`InvalidCsr` where cert-manager returns an error instead of violations (malformed
    extensions, an otherName that is not a UTF8String); callers treat that as "cannot tell".
    """
    san = _san_extension(csr)
    sans = san_values(san) if san is not None else None
    violations: list[str] = []
    if not _same(map(_ip_key, sans.ip_addresses if sans else ()), map(_ip_key, template.ip_addresses)):
        violations.append("spec.ipAddresses")
    if not _same(sans.uris if sans else (), template.uris):
        violations.append("spec.uris")
    if not _same(sans.email_addresses if sans else (), template.email_addresses):
        violations.append("spec.emailAddresses")
    if not _same(sans.dns_names if sans else (), template.dns_names):
        violations.append("spec.dnsNames")
    if template.other_names is not None:
        if san is None:
            violations.append("spec.otherNames")
        else:
            bad = non_utf8_other_names(san)
            if bad:
                raise InvalidCsr(f"otherName is not an utf8 value, got: {', '.join(bad)}")
            found = [(name.oid, name.utf8_value) for name in sans.other_names] if sans else []
            if not _same(found, [(name.oid, name.utf8_value) for name in template.other_names]):
                violations.append("spec.otherNames")
    violations.extend(_subject_mismatches(csr, template))
    if request.is_ca != template.is_ca:
        violations.append("spec.isCA")
    if not _same(request.usages, template.usages):
        violations.append("spec.usages")
    if request.duration is not None and template.duration is not None and request.duration != template.duration:
        violations.append("spec.duration")
    return violations


def _certificate_sans(certificate: x509.Certificate) -> x509.SubjectAlternativeName | None:
    try:
        return certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return None
    except (ValueError, TypeError, x509.DuplicateExtension, x509.UnsupportedGeneralNameType) as exc:
        raise InvalidPem(f"certificate has malformed extensions: {exc}") from exc


def fuzzy_certificate_mismatches(certificate: x509.Certificate, template: CertificateTemplate) -> list[str]:
    """Loose check of an issued certificate's names (``FuzzyX509AltNamesMatchSpec``).

    commonName and dnsNames are compared as one set, since CAs move names between them.
    """
    san = _certificate_sans(certificate)
    sans = san_values(san) if san is not None else None
    try:
        subject = certificate.subject
    except (ValueError, TypeError) as exc:  # TypeError: cryptography on a BitString of the wrong OID
        raise InvalidPem(f"certificate has a malformed subject: {exc}") from exc
    common_name, _ = subject_fields_of(subject)
    dns_names = sans.dns_names if sans else ()
    expected = set(template.dns_names) | ({template.common_name} if template.common_name else set())
    actual = set(dns_names) | ({common_name} if common_name else set())
    violations: list[str] = []
    if actual != expected:
        if (template.common_name and template.common_name not in actual) or (
            common_name and common_name not in expected
        ):
            violations.append("spec.commonName")
        if not set(template.dns_names) <= actual or not set(dns_names) <= expected:
            violations.append("spec.dnsNames")
    if not _same(map(_ip_key, sans.ip_addresses if sans else ()), map(_ip_key, template.ip_addresses)):
        violations.append("spec.ipAddresses")
    if not _same(sans.uris if sans else (), template.uris):
        violations.append("spec.uris")
    if not _same(sans.email_addresses if sans else (), template.email_addresses):
        violations.append("spec.emailAddresses")
    return violations
