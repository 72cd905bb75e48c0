"""cert-manager's admission rules for Certificates: every error with its field path. Pure.

Create and update apply the same rules (a Certificate has no immutable fields). Follows
``ValidateCertificateSpec`` in cert-manager's ``internal/apis/certmanager/validation/certificate.go``,
in its order and with its messages; the optional parts of the spec are in
:mod:`certkeeper.validation.certificate_options`.

Hostile input is bounded before it is parsed: the literal subject goes through pki's bounded RFC 4514
parser, every email through a linear port of Go's ``net/mail``, every IP through a linear parser.
"""

from __future__ import annotations

from typing import Final

from cryptography.x509.oid import NameOID

from certkeeper.api import constants as c
from certkeeper.api import field as fe
from certkeeper.api.certmanager import Certificate, CertificateSpec, X509Subject
from certkeeper.api.features import FeatureGates
from certkeeper.api.field import ErrorList, FieldError, FieldPath, ValidationResult
from certkeeper.pki.errors import InvalidSubject
from certkeeper.pki.subject import parse_literal_subject
from certkeeper.pki.usages import EXT_KEY_USAGES, KEY_USAGES
from certkeeper.validation.certificate_options import (
    validate_additional_output_formats,
    validate_duration,
    validate_keystores,
    validate_name_constraints,
    validate_renewal,
    validate_secret_template,
)
from certkeeper.validation.common import is_go_object_identifier, struct_value, utf8_length, validate_issuer_ref
from certkeeper.validation.decoding import undecodable_durations
from certkeeper.validation.gomail import MailError, parse_address
from certkeeper.validation.gonet import parse_ip
from certkeeper.validation.kube import is_dns1123_subdomain

#: The signature algorithms each key algorithm may be used with, in cert-manager's order.
ALLOWED_SIGNATURE_ALGORITHMS: Final[dict[str, tuple[str, ...]]] = {
    c.RSA: ("SHA256WithRSA", "SHA384WithRSA", "SHA512WithRSA"),
    c.ECDSA: ("ECDSAWithSHA256", "ECDSAWithSHA384", "ECDSAWithSHA512"),
    c.ED25519: ("PureEd25519",),
}
NO_NAMES_MESSAGE: Final = (
    "at least one of commonName (from the commonName field or from a literalSubject), dnsNames, emailSANs, "
    "ipAddresses, otherNames, or uriSANs must be set"
)
_LITERAL_SUBJECT_GATE: Final = (
    "Feature gate LiteralCertificateSubject must be enabled on both webhook and controller to use the alpha "
    "`literalSubject` field"
)
_OTHER_NAMES_GATE: Final = (
    "Feature gate OtherNames must be enabled on both webhook and controller to use the alpha `otherNames` field"
)


def _subject_has_properties(subject: X509Subject | None) -> bool:
    if subject is None:
        return False
    return bool(
        subject.organizations
        or subject.countries
        or subject.organizational_units
        or subject.localities
        or subject.provinces
        or subject.street_addresses
        or subject.postal_codes
        or subject.serial_number
    )


def _validate_literal_subject(
    spec: CertificateSpec, path: FieldPath, gates: FeatureGates, errors: list[FieldError]
) -> str:
    """Check ``literalSubject``; return the common name it carries (the last CN, as upstream reads it)."""
    literal = spec.literal_subject or ""
    common_name = spec.common_name or ""
    literal_path = path.child("literalSubject")
    if not gates.literal_certificate_subject:
        errors.append(fe.forbidden(literal_path, _LITERAL_SUBJECT_GATE))
    if common_name:
        detail = "When providing a `LiteralSubject` no `commonName` may be provided."
        errors.append(fe.invalid(path.child("commonName"), common_name, detail))
    if _subject_has_properties(spec.subject):
        assert spec.subject is not None
        detail = "When providing a `LiteralSubject` no `Subject` properties may be provided."
        errors.append(fe.invalid(path.child("subject"), struct_value(spec.subject), detail))
    try:
        rdns = parse_literal_subject(literal)
    except InvalidSubject as exc:
        errors.append(fe.invalid(literal_path, literal, str(exc)))
        return common_name
    for rdn in rdns:
        for attribute in rdn:
            if attribute.oid == NameOID.COMMON_NAME:
                common_name = attribute.value
    for rdn in rdns:
        for attribute in rdn:
            if attribute.oid is None:
                detail = f"Literal subject contains unrecognized key with value [{attribute.value}]"
                errors.append(fe.invalid(literal_path, literal, detail))
    return common_name


def _validate_email_addresses(emails: list[str], path: FieldPath) -> list[FieldError]:
    errors: list[FieldError] = []
    for i, email in enumerate(emails):
        item = path.child("emailAddresses").index(i)
        try:
            parsed = parse_address(email)
        except MailError as exc:
            errors.append(fe.invalid(item, email, f"invalid email address: {exc}"))
            continue
        if parsed.address != email:
            # Go accepts "Name <a@b>"; only the bare address is meant here.
            detail = "invalid email address: make sure the supplied value only contains the email address itself"
            errors.append(fe.invalid(item, email, detail))
    return errors


def _is_valid_utf8(text: str) -> bool:
    # A decoded JSON/YAML string can still hold lone surrogates, which no UTF-8 encoding has.
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _validate_other_names(spec: CertificateSpec, path: FieldPath, gates: FeatureGates) -> list[FieldError]:
    other_names = spec.other_names or []
    if not other_names:
        return []
    if not gates.other_names:
        # cert-manager names the field with a capital O here.
        return [fe.forbidden(path.child("OtherNames"), _OTHER_NAMES_GATE)]
    errors: list[FieldError] = []
    for i, other in enumerate(other_names):
        item = path.child("otherNames").index(i)
        oid = other.oid or ""
        if not oid:
            errors.append(fe.required(item.child("oid"), "must be specified"))
        if not is_go_object_identifier(oid):
            errors.append(fe.invalid(item.child("oid"), oid, "invalid oid syntax"))
        if not other.utf8_value or not _is_valid_utf8(other.utf8_value):
            errors.append(fe.required(item.child("utf8Value"), "must be set to a valid non-empty UTF8 string"))
    return errors


def _validate_private_key(spec: CertificateSpec, path: FieldPath) -> list[FieldError]:
    key = spec.private_key
    if key is None:
        return []
    size = key.size or 0
    algorithm = key.algorithm or ""
    if algorithm in ("", c.RSA):
        if size > 0 and not c.MIN_RSA_KEY_SIZE <= size <= c.MAX_RSA_KEY_SIZE:
            detail = f"must be between {c.MIN_RSA_KEY_SIZE} and {c.MAX_RSA_KEY_SIZE} for rsa keyAlgorithm"
            return [fe.invalid(path.child("privateKey", "size"), size, detail)]
    elif algorithm == c.ECDSA:
        if size > 0 and size not in c.ECDSA_KEY_SIZES:
            supported = [str(bits) for bits in c.ECDSA_KEY_SIZES]
            return [fe.not_supported(path.child("privateKey", "size"), size, supported)]
    elif algorithm != c.ED25519:
        detail = "must be either empty or one of rsa, ecdsa or ed25519"
        return [fe.invalid(path.child("privateKey", "algorithm"), algorithm, detail)]
    return []


def _validate_signature_algorithm(spec: CertificateSpec, path: FieldPath) -> list[FieldError]:
    requested = spec.signature_algorithm
    if not requested:
        return []
    key_algorithm = spec.private_key.algorithm if spec.private_key and spec.private_key.algorithm else c.RSA
    allowed = ALLOWED_SIGNATURE_ALGORITHMS.get(key_algorithm)
    if allowed is None or requested in allowed:
        return []
    detail = f"for key algorithm {key_algorithm} the allowed signature algorithms are [{' '.join(allowed)}]"
    return [fe.invalid(path.child("signatureAlgorithm"), requested, detail)]


def validate_certificate_spec(spec: CertificateSpec, path: FieldPath, gates: FeatureGates) -> list[FieldError]:
    """Every error in a CertificateSpec (cert-manager's ``ValidateCertificateSpec``)."""
    errors: list[FieldError] = []
    if not spec.secret_name:
        errors.append(fe.required(path.child("secretName"), "must be specified"))
    else:
        errors.extend(
            fe.invalid(path.child("secretName"), spec.secret_name, message)
            for message in is_dns1123_subdomain(spec.secret_name)
        )
    errors.extend(validate_issuer_ref(spec.issuer_ref, path))

    common_name = spec.common_name or ""
    if spec.literal_subject:
        common_name = _validate_literal_subject(spec, path, gates, errors)
    names = (common_name, spec.dns_names, spec.uris, spec.email_addresses, spec.ip_addresses, spec.other_names)
    if not any(names):
        errors.append(fe.invalid(path, "", NO_NAMES_MESSAGE))
    if utf8_length(common_name) > c.MAX_COMMON_NAME_LENGTH:
        errors.append(fe.too_long(path.child("commonName"), common_name, c.MAX_COMMON_NAME_LENGTH))

    for i, address in enumerate(spec.ip_addresses or ()):
        if parse_ip(address) is None:
            errors.append(fe.invalid(path.child("ipAddresses").index(i), address, "invalid IP address"))
    errors.extend(_validate_email_addresses(spec.email_addresses or [], path))
    errors.extend(_validate_other_names(spec, path, gates))
    errors.extend(_validate_private_key(spec, path))
    errors.extend(_validate_signature_algorithm(spec, path))

    if spec.duration is not None or spec.renew_before is not None:
        # Like cert-manager, renewBeforePercentage alone (with the default duration) is not checked.
        errors.extend(validate_duration(spec, path))
    for i, usage in enumerate(spec.usages or ()):
        if usage not in KEY_USAGES and usage not in EXT_KEY_USAGES:
            errors.append(fe.invalid(path.child("usages").index(i), usage, "unknown keyusage"))
    limit = spec.revision_history_limit
    if limit is not None and limit < 1:
        errors.append(fe.invalid(path.child("revisionHistoryLimit"), limit, "must not be less than 1"))
    errors.extend(validate_secret_template(spec, path))
    errors.extend(validate_name_constraints(spec, path, gates))
    errors.extend(validate_additional_output_formats(spec, path))
    errors.extend(validate_keystores(spec, path))
    errors.extend(validate_renewal(spec, path))
    return errors


def validate_certificate_create(obj: Certificate, gates: FeatureGates) -> ValidationResult:
    """The webhook's answer to creating ``obj``."""
    undecodable = undecodable_durations(obj)
    if undecodable:
        return ValidationResult(tuple(undecodable))
    collected = ErrorList()
    collected.extend(validate_certificate_spec(obj.spec, FieldPath("spec"), gates))
    return collected.result()


def validate_certificate_update(old: Certificate, new: Certificate, gates: FeatureGates) -> ValidationResult:
    """The webhook's answer to replacing ``old`` with ``new``: the create rules on ``new``."""
    del old  # nothing about a Certificate is immutable
    return validate_certificate_create(new, gates)


__all__ = [
    "ALLOWED_SIGNATURE_ALGORITHMS",
    "NO_NAMES_MESSAGE",
    "validate_certificate_create",
    "validate_certificate_spec",
    "validate_certificate_update",
]
