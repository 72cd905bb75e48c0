"""Checks and value renderings shared by the rules of several kinds. Pure.

``validate_issuer_ref`` follows ``validateIssuerRef`` in cert-manager's
``internal/apis/certmanager/validation/certificate.go`` (used by Certificate and CertificateRequest);
``validate_secret_key_selector`` follows ``ValidateSecretKeySelector`` in ``issuer.go``.

Bad values are printed as apimachinery v0.36 prints them (``field.Error.ErrorBody``): strings
quoted, numbers and booleans bare, anything else as JSON. A Go ``time.Duration`` is an int64 of
nanoseconds, so a bad duration prints as a number (``Invalid value: 1800000000000``), which
callers pass nanoseconds; structs print as their JSON (:func:`struct_value`).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from typing import Final

import msgspec

from certkeeper.api import constants as c
from certkeeper.api import field as fe
from certkeeper.api.cmmeta import IssuerReference, SecretKeySelector
from certkeeper.api.durations import DurationError, parse_duration_ns
from certkeeper.api.field import FieldError, FieldPath
from certkeeper.api.meta import Model

_GO_INT: Final = re.compile(r"[+-]?[0-9]+")
_INT64_MAX: Final = (1 << 63) - 1


def struct_value(model: Model) -> object:
    """A struct as a field error prints it: its JSON (camelCase, unset fields omitted)."""
    return msgspec.to_builtins(model)


def parse_duration_field(text: str, path: FieldPath, errors: list[FieldError]) -> int | None:
    """Nanoseconds of a Go duration field, or None after recording why it does not parse.

    cert-manager's webhook fails to decode such an object at all (``time: invalid duration``); we
    report the same message against the field, next to every other error.
    """
    try:
        return parse_duration_ns(text)
    except DurationError as exc:
        errors.append(fe.invalid(path, text, str(exc)))
        return None


def is_go_object_identifier(text: str) -> bool:
    """cert-manager's ``ParseObjectIdentifier``: non-empty, dot-separated ``strconv.Atoi`` numbers.

    As in Go, signs are accepted and a single arc is enough; whether DER can encode the OID is
    checked only when a CSR is built.
    """
    if not text:
        return False
    for part in text.split("."):
        if _GO_INT.fullmatch(part) is None or len(part) > 20:
            return False
        if abs(int(part)) > _INT64_MAX + (1 if part.startswith("-") else 0):
            return False
    return True


def validate_issuer_ref(ref: IssuerReference, path: FieldPath) -> list[FieldError]:
    """``spec.issuerRef``: a name, and for cert-manager's own group a kind it serves."""
    errors: list[FieldError] = []
    ref_path = path.child("issuerRef")
    if not ref.name:
        errors.append(fe.required(ref_path.child("name"), "must be specified"))
    group = ref.group or ""
    kind = ref.kind or ""
    # Other groups belong to external issuers, whose kinds cannot be known here.
    if group in ("", c.GROUP) and kind not in ("", c.ISSUER_KIND, c.CLUSTER_ISSUER_KIND):
        kind_path = ref_path.child("kind")
        message = "must be one of Issuer or ClusterIssuer"
        if not group:
            # An external issuer's kind with the group forgotten is a common slip; cert-manager hints
            # at it (naming the path as it does, kind.group included).
            message += f" (did you forget to set {kind_path.child('group')}?)"
        errors.append(fe.invalid(kind_path, kind, message))
    return errors


def validate_secret_key_selector(selector: SecretKeySelector, path: FieldPath) -> list[FieldError]:
    """A Secret reference whose name and key must both be given."""
    errors: list[FieldError] = []
    if not selector.name:
        errors.append(fe.required(path.child("name"), "secret name is required"))
    if not selector.key:
        errors.append(fe.required(path.child("key"), "secret key is required"))
    return errors


def utf8_length(text: str) -> int:
    """Length in bytes, as Go's ``len`` of a string counts."""
    return len(text.encode("utf-8", "surrogatepass"))


def dedupe(errors: Iterable[FieldError]) -> tuple[FieldError, ...]:
    """Errors with repeated messages dropped, keeping the first (``ErrorList.ToAggregate``)."""
    seen: set[str] = set()
    unique: list[FieldError] = []
    for error in errors:
        text = str(error)
        if text not in seen:
            seen.add(text)
            unique.append(error)
    return tuple(unique)


def equal_unsorted(a: Sequence[str] | None, b: Sequence[str] | None) -> bool:
    """cert-manager's ``EqualUnsorted``: same strings with the same multiplicity, any order."""
    return sorted(a or ()) == sorted(b or ())


__all__ = [
    "dedupe",
    "equal_unsorted",
    "is_go_object_identifier",
    "parse_duration_field",
    "struct_value",
    "utf8_length",
    "validate_issuer_ref",
    "validate_secret_key_selector",
]
