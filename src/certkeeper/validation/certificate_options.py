"""Certificate rules for the optional parts of the spec: lifetime, Secret template, name constraints,
output formats, keystores and renewal windows. Pure.

Follows ``ValidateDuration``, ``validateSecretTemplate*``, ``validateNameConstraints``,
``validateAdditionalOutputFormats``, ``validateKeystores`` and ``validateCertificateRenewal*`` of
cert-manager's ``internal/apis/certmanager/validation/certificate.go``, with its messages.
"""

from __future__ import annotations

from typing import Final

from certkeeper.api import annotations as ann
from certkeeper.api import constants as c
from certkeeper.api import field as fe
from certkeeper.api.certmanager import (
    CertificateRenewalWindow,
    CertificateSpec,
    JKSKeystore,
    NameConstraintItem,
    PKCS12Keystore,
)
from certkeeper.api.durations import HOUR, format_duration_ns
from certkeeper.api.features import FeatureGates
from certkeeper.api.field import FieldError, FieldPath
from certkeeper.pki.cron import CronError, load_timezone, parse_cron
from certkeeper.validation.common import parse_duration_field, struct_value
from certkeeper.validation.gonet import is_cidr
from certkeeper.validation.kube import validate_annotations, validate_labels

MIN_DURATION_NS: Final = int(c.MIN_DURATION.total_seconds()) * 1_000_000_000
MIN_RENEW_BEFORE_NS: Final = int(c.MIN_RENEW_BEFORE.total_seconds()) * 1_000_000_000
DEFAULT_DURATION_NS: Final = 2160 * HOUR

_MUTUALLY_EXCLUSIVE: Final = "renewBefore and renewBeforePercentage are mutually exclusive and cannot both be set"
_KEYSTORE_BOTH: Final = (
    "exactly one of passwordSecretRef and password must be provided for {} keystores; cannot set both"
)
# cert-manager's wording, stray "must" included.
_KEYSTORE_NONE: Final = "must set exactly one of passwordSecretRef and password must for {} keystores"
_KEYSTORE_EMPTY: Final = "literal password cannot be empty if set on {} keystores"
_CRON_HINT: Final = "cron needs to follow: cron.Minute | cron.Hour | cron.Dom | cron.Month | cron.Dow"


def validate_duration(spec: CertificateSpec, path: FieldPath) -> list[FieldError]:
    """``ValidateDuration``: lifetime at least 1h, renewBefore (given or from the percentage) in [5m, duration)."""
    errors: list[FieldError] = []
    duration = DEFAULT_DURATION_NS
    if spec.duration is not None:
        parsed = parse_duration_field(spec.duration, path.child("duration"), errors)
        if parsed is None:
            return errors
        duration = parsed
    renew_before: int | None = None
    if spec.renew_before is not None:
        renew_before = parse_duration_field(spec.renew_before, path.child("renewBefore"), errors)
        if renew_before is None:
            return errors
    percentage = spec.renew_before_percentage

    if duration < MIN_DURATION_NS:
        detail = f"certificate duration must be greater than {format_duration_ns(MIN_DURATION_NS)}"
        errors.append(fe.invalid(path.child("duration"), duration, detail))
    if renew_before is not None and percentage is not None:
        errors.append(fe.invalid(path.child("renewBefore"), renew_before, _MUTUALLY_EXCLUSIVE))
        errors.append(fe.invalid(path.child("renewBeforePercentage"), percentage, _MUTUALLY_EXCLUSIVE))
    if renew_before is not None and renew_before < MIN_RENEW_BEFORE_NS:
        detail = f"certificate renewBefore must be greater than {format_duration_ns(MIN_RENEW_BEFORE_NS)}"
        errors.append(fe.invalid(path.child("renewBefore"), renew_before, detail))
    if renew_before is not None and renew_before >= duration:
        detail = (
            f"certificate duration {format_duration_ns(duration)} must be greater than renewBefore "
            f"{format_duration_ns(renew_before)}"
        )
        errors.append(fe.invalid(path.child("renewBefore"), renew_before, detail))
    if percentage is not None:
        # Float arithmetic, truncated, exactly as cert-manager computes it (avoids int64 overflow there).
        derived = int(float(duration) * float(100 - percentage) / 100)
        pct_path = path.child("renewBeforePercentage")
        if derived < MIN_RENEW_BEFORE_NS:
            detail = (
                "certificate renewBeforePercentage must result in a renewBefore greater than "
                f"{format_duration_ns(MIN_RENEW_BEFORE_NS)}"
            )
            errors.append(fe.invalid(pct_path, percentage, detail))
        if derived >= duration:
            detail = "certificate renewBeforePercentage must result in a renewBefore less than duration"
            errors.append(fe.invalid(pct_path, percentage, detail))
    return errors


def validate_secret_template(spec: CertificateSpec, path: FieldPath) -> list[FieldError]:
    """Labels must be labels; annotations must be annotations and not claim ``cert-manager.io/``."""
    template = spec.secret_template
    if template is None:
        return []
    errors: list[FieldError] = []
    if template.labels:
        errors.extend(validate_labels(template.labels, path.child("secretTemplate", "labels")))
    if template.annotations:
        annotations_path = path.child("secretTemplate", "annotations")
        for key in sorted(template.annotations):
            reserved = key.startswith(ann.CERT_MANAGER_ANNOTATION_PREFIX)
            if reserved and key != ann.ALLOWS_INJECTION_FROM_SECRET_ANNOTATION:
                errors.append(fe.invalid(annotations_path, key, "cert-manager.io/* annotations are not allowed"))
        errors.extend(validate_annotations(template.annotations, annotations_path))
    return errors


def _validate_name_constraint_item(item: NameConstraintItem | None, path: FieldPath) -> list[FieldError]:
    if item is None:
        return []
    return [
        fe.invalid(path.child("ipRanges").index(i), cidr, "invalid CIDR address")
        for i, cidr in enumerate(item.ip_ranges or ())
        if not is_cidr(cidr)
    ]


def validate_name_constraints(spec: CertificateSpec, path: FieldPath, gates: FeatureGates) -> list[FieldError]:
    """``nameConstraints``: only with the gate, only on a CA, something constrained, CIDRs that parse."""
    constraints = spec.name_constraints
    if constraints is None:
        return []
    constraints_path = path.child("nameConstraints")
    if not gates.name_constraints:
        # The gate check stands alone: nothing else about the constraints is reported.
        return [fe.forbidden(constraints_path, "feature gate NameConstraints must be enabled")]
    errors: list[FieldError] = []
    if spec.is_ca is not True:
        errors.append(
            fe.invalid(constraints_path, struct_value(constraints), "isCA should be true when nameConstraints is set")
        )
    if constraints.permitted is None and constraints.excluded is None:
        errors.append(
            fe.invalid(constraints_path, struct_value(constraints), "either permitted or excluded must be set")
        )
    errors.extend(_validate_name_constraint_item(constraints.permitted, constraints_path.child("permitted")))
    errors.extend(_validate_name_constraint_item(constraints.excluded, constraints_path.child("excluded")))
    return errors


def validate_additional_output_formats(spec: CertificateSpec, path: FieldPath) -> list[FieldError]:
    """Each output format type at most once (every repeat is reported)."""
    errors: list[FieldError] = []
    seen: set[str] = set()
    for output in spec.additional_output_formats or ():
        if output.type in seen:
            errors.append(fe.duplicate(path.child("additionalOutputFormats").key("type"), output.type))
            continue
        seen.add(output.type)
    return errors


def _validate_keystore(keystore: JKSKeystore | PKCS12Keystore, path: FieldPath, label: str) -> list[FieldError]:
    errors: list[FieldError] = []
    has_ref = keystore.password_secret_ref is not None and bool(keystore.password_secret_ref.name)
    if keystore.password is not None and has_ref:
        errors.append(fe.forbidden(path, _KEYSTORE_BOTH.format(label)))
    if keystore.password is None and not has_ref:
        errors.append(fe.forbidden(path, _KEYSTORE_NONE.format(label)))
    if keystore.password is not None and not keystore.password:
        errors.append(fe.forbidden(path.child("password"), _KEYSTORE_EMPTY.format(label)))
    return errors


def validate_keystores(spec: CertificateSpec, path: FieldPath) -> list[FieldError]:
    """Each keystore takes its password from exactly one of ``password`` and ``passwordSecretRef``."""
    keystores = spec.keystores
    if keystores is None:
        return []
    errors: list[FieldError] = []
    if keystores.jks is not None:
        errors.extend(_validate_keystore(keystores.jks, path.child("keystores", "jks"), "JKS"))
    if keystores.pkcs12 is not None:
        errors.extend(_validate_keystore(keystores.pkcs12, path.child("keystores", "pkcs12"), "PKCS#12"))
    return errors


def _cron_error(cron: str, timezone: str) -> str | None:
    """Why cert-manager's ``CronParse`` refuses ``cron`` in ``timezone`` (Go's wording), or None.

    robfig/cron, which cert-manager uses, also reads a ``TZ=``/``CRON_TZ=`` prefix in the expression
    itself (the ``timezone`` field becomes such a prefix); the zone and the remaining spec are then
    checked by :func:`certkeeper.pki.cron.parse_cron`.
    """
    spec = f"CRON_TZ={timezone} {cron}" if timezone else cron
    prefix = f"failed to parse cron spec '{cron}': "
    if not spec:
        return prefix + "empty spec string"
    zone = ""
    if spec.startswith(("TZ=", "CRON_TZ=")):
        space = spec.find(" ")
        if space < 0:
            return prefix + f"expected timezone prefix to be followed by a cron spec: {spec}"
        zone = spec[spec.find("=") + 1 : space]
        try:
            load_timezone(zone)
        except CronError:
            return prefix + f"provided bad location {zone}: unknown time zone {zone}"
        spec = spec[space:].strip()
    try:
        parse_cron(spec, zone)
    except CronError as exc:
        # pki words its errors as cert-manager does, quoting the spec it was given.
        return str(exc).replace(f"failed to parse cron spec '{spec}': ", prefix, 1)
    return None


def _validate_window(window: CertificateRenewalWindow, path: FieldPath) -> list[FieldError]:
    errors: list[FieldError] = []
    if not window.window_duration:
        errors.append(
            fe.required(path.child("windowDuration"), "windowDuration must be specified and should be greater than 0")
        )
    else:
        parse_duration_field(window.window_duration, path.child("windowDuration"), errors)
    timezone = window.timezone or ""
    if timezone:
        try:
            load_timezone(timezone)
        except CronError:
            detail = "invalid value for timezone. timezone must be IANA compliant"
            errors.append(fe.invalid(path.child("timezone"), timezone, detail))
    reason = _cron_error(window.cron, timezone)
    if reason is not None:
        errors.append(fe.invalid(path.child("cron"), window.cron, f"invalid cron syntax: {reason}. {_CRON_HINT}"))
    return errors


def validate_renewal(spec: CertificateSpec, path: FieldPath) -> list[FieldError]:
    """``renewal``: a known policy; windows only with RenewBefore, each with a duration and a valid cron."""
    renewal = spec.renewal
    if renewal is None:
        return []
    errors: list[FieldError] = []
    policy = renewal.policy or ""
    if policy == c.RENEWAL_POLICY_DISABLED:
        if renewal.windows:
            detail = "windows cannot be set when `renewal.policy` is set to Disabled"
            errors.append(fe.forbidden(path.child("renewal", "windows"), detail))
        return errors
    if policy != c.RENEWAL_POLICY_RENEW_BEFORE:
        supported = (c.RENEWAL_POLICY_DISABLED, c.RENEWAL_POLICY_RENEW_BEFORE)
        errors.append(fe.not_supported(path.child("renewal", "policy"), policy, supported))
    for i, window in enumerate(renewal.windows or ()):
        errors.extend(_validate_window(window, path.child("renewal", "windows").index(i)))
    return errors


__all__ = [
    "DEFAULT_DURATION_NS",
    "MIN_DURATION_NS",
    "MIN_RENEW_BEFORE_NS",
    "validate_additional_output_formats",
    "validate_duration",
    "validate_keystores",
    "validate_name_constraints",
    "validate_renewal",
    "validate_secret_template",
]
