"""cert-manager's admission rules for CertificateRequests: every error with its field path. Pure.

On create: the issuer reference, a CSR that parses, verifies and agrees with ``isCA`` and
``usages`` (when it encodes BasicConstraints / KeyUsage / ExtendedKeyUsage), and the approval
conditions. On update: the spec and every ``cert-manager.io`` / ``acme.cert-manager.io`` annotation
are frozen, and ``Approved`` / ``Denied`` are written once, never both, and only as ``True``.
When the requester is known (``user``), the identity rules of
:mod:`certkeeper.validation.identity` apply as well, as cert-manager's identity plugin runs
before its resource validation.

Follows cert-manager's ``internal/apis/certmanager/validation/certificaterequest.go``. The CSR is
read with pki's size-limited decoder (36,500 bytes, cert-manager's limit), so a huge request costs
one length check.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Final

from msgspec.structs import replace

from certkeeper.api import annotations as ann
from certkeeper.api import field as fe
from certkeeper.api.certmanager import CertificateRequest, CertificateRequestCondition, CertificateRequestSpec
from certkeeper.api.constants import CONDITION_TRUE, CertificateRequestConditionType
from certkeeper.api.defaults import default_issuer_ref
from certkeeper.api.features import FeatureGates
from certkeeper.api.field import ErrorList, FieldError, FieldPath, ValidationResult
from certkeeper.pki.errors import PkiError
from certkeeper.pki.pem import load_pem_certificate_request
from certkeeper.pki.sign import certificate_params_from_csr
from certkeeper.pki.usages import key_usages_for
from certkeeper.validation.common import validate_issuer_ref
from certkeeper.validation.decoding import undecodable_durations
from certkeeper.validation.identity import UserInfo, validate_identity_create, validate_identity_update

_APPROVED: Final = CertificateRequestConditionType.APPROVED.value
_DENIED: Final = CertificateRequestConditionType.DENIED.value
_CONDITIONS_PATH: Final = FieldPath("status", "conditions")
#: How much of a CSR an error message quotes.
MAX_QUOTED_REQUEST: Final = 100
#: Any instant will do: the certificate the CSR describes is checked, never issued, so its validity is unused.
_UNUSED_NOW: Final = datetime(2000, 1, 1, tzinfo=UTC)
#: Annotation prefixes (API group names, no slash, exactly as cert-manager matches them) frozen after create.
FROZEN_ANNOTATION_PREFIXES: Final = (
    ann.CERT_MANAGER_ANNOTATION_PREFIX.rstrip("/"),
    ann.ACME_ANNOTATION_PREFIX.rstrip("/"),
)


def truncate_request(request: bytes) -> str:
    """The CSR as an error message quotes it: at most 100 bytes, the last three ``...``."""
    if len(request) > MAX_QUOTED_REQUEST:
        request = request[: MAX_QUOTED_REQUEST - 3] + b"..."
    return request.decode("utf-8", "replace")


def _validate_request(spec: CertificateRequestSpec, path: FieldPath) -> list[FieldError]:
    if not spec.request:
        return [fe.required(path.child("request"), "must be specified")]
    usages = list(spec.usages or ())
    try:
        key_usages_for(usages, is_ca=spec.is_ca is True)
    except PkiError as exc:
        return [fe.invalid(path.child("usages"), usages, str(exc))]
    try:
        csr = load_pem_certificate_request(spec.request)
        certificate_params_from_csr(csr, now=_UNUSED_NOW, is_ca=spec.is_ca is True, usages=usages)
    except PkiError as exc:
        return [fe.invalid(path.child("request"), truncate_request(spec.request), str(exc))]
    return []


def validate_certificate_request_spec(spec: CertificateRequestSpec, path: FieldPath) -> list[FieldError]:
    """The issuer reference and the CSR (cert-manager's ``ValidateCertificateRequestSpec``)."""
    return [*validate_issuer_ref(spec.issuer_ref, path), *_validate_request(spec, path)]


def _conditions(request: CertificateRequest) -> Sequence[CertificateRequestCondition]:
    return request.status.conditions or () if request.status is not None else ()


def _first(conditions: Sequence[CertificateRequestCondition], kind: str) -> CertificateRequestCondition | None:
    return next((condition for condition in conditions if condition.type == kind), None)


def validate_approval_conditions(
    conditions: Sequence[CertificateRequestCondition], path: FieldPath = _CONDITIONS_PATH
) -> list[FieldError]:
    """At most one ``Approved`` and one ``Denied`` condition, each ``True``, and not both."""
    errors: list[FieldError] = []
    approved = [condition for condition in conditions if condition.type == _APPROVED]
    denied = [condition for condition in conditions if condition.type == _DENIED]
    for kind, found in ((_APPROVED, approved), (_DENIED, denied)):
        if len(found) > 1:
            errors.append(fe.forbidden(path, f'multiple "{kind}" conditions present'))
        elif found and found[0].status != CONDITION_TRUE:
            detail = f'"{kind}" condition may only be set to True'
            errors.append(fe.invalid(path.child(kind), found[0].status, detail))
    if approved and denied:
        errors.append(fe.forbidden(path, "both 'Denied' and 'Approved' conditions cannot coexist"))
    return errors


def validate_approval_conditions_update(
    old: Sequence[CertificateRequestCondition],
    new: Sequence[CertificateRequestCondition],
    path: FieldPath = _CONDITIONS_PATH,
) -> list[FieldError]:
    """Once set, ``Approved`` and ``Denied`` never change (or go); then the create rules on ``new``."""
    errors: list[FieldError] = []
    for kind in (_APPROVED, _DENIED):
        before = _first(old, kind)
        if before is not None and before != _first(new, kind):
            errors.append(fe.forbidden(path, f"'{kind}' condition may not be modified once set"))
    return errors + validate_approval_conditions(new, path)


def _annotation_changes(a: CertificateRequest, b: CertificateRequest, path: FieldPath) -> list[FieldError]:
    """Frozen annotations of ``a`` that ``b`` lacks or holds with another value."""
    ours = a.metadata.annotations or {}
    theirs = b.metadata.annotations or {}
    return [
        fe.forbidden(path.child(key), "cannot change cert-manager annotation after creation")
        for key in sorted(ours)
        if key.startswith(FROZEN_ANNOTATION_PREFIXES) and theirs.get(key) != ours[key]
    ]


def _defaulted(spec: CertificateRequestSpec) -> CertificateRequestSpec:
    return replace(spec, issuer_ref=default_issuer_ref(spec.issuer_ref))


def validate_certificate_request_create(
    obj: CertificateRequest, gates: FeatureGates, *, user: UserInfo | None = None
) -> ValidationResult:
    """The webhook's answer to creating ``obj``; ``user`` is the requester, when known."""
    del gates  # no CertificateRequest rule depends on a feature gate
    undecodable = undecodable_durations(obj)
    if undecodable:
        return ValidationResult(tuple(undecodable))
    collected = ErrorList()
    if user is not None:
        collected.extend(validate_identity_create(obj, user))
    collected.extend(validate_certificate_request_spec(obj.spec, FieldPath("spec")))
    collected.extend(validate_approval_conditions(_conditions(obj)))
    return collected.result()


def validate_certificate_request_update(
    old: CertificateRequest, new: CertificateRequest, gates: FeatureGates, *, check_identity: bool = True
) -> ValidationResult:
    """The webhook's answer to replacing ``old`` with ``new`` (spec, status or metadata).

    ``check_identity`` runs the identity plugin's update rule (the requester fields never change),
    which cert-manager applies to every update whoever makes it.
    """
    del gates
    undecodable = undecodable_durations(new)
    if undecodable:
        return ValidationResult(tuple(undecodable))
    collected = ErrorList()
    if check_identity:
        collected.extend(validate_identity_update(old, new))
    annotations_path = FieldPath("metadata", "annotations")
    collected.extend(_annotation_changes(old, new, annotations_path))
    collected.extend(_annotation_changes(new, old, annotations_path))
    collected.extend(validate_approval_conditions_update(_conditions(old), _conditions(new)))
    # Compare with issuerRef defaults applied on both sides: a stored object carries them, a
    # re-applied manifest may not, and "" and the default name the same issuer.
    if _defaulted(old.spec) != _defaulted(new.spec):
        collected.add(fe.forbidden(FieldPath("spec"), "cannot change spec after creation"))
    return collected.result()


__all__ = [
    "FROZEN_ANNOTATION_PREFIXES",
    "MAX_QUOTED_REQUEST",
    "truncate_request",
    "validate_approval_conditions",
    "validate_approval_conditions_update",
    "validate_certificate_request_create",
    "validate_certificate_request_spec",
    "validate_certificate_request_update",
]
