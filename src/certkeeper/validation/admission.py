"""The one admission entry point: schema, decode, defaults and cert-manager's rules for one write. Pure.

On Kubernetes a create or update of a cert-manager object passes the API server's structural
schema check (unknown fields pruned with a warning, CRD defaults applied, types/enums/patterns
checked) and then cert-manager's validating webhook. :func:`admit` runs the same steps in the same
order for the local store's admission hook, the webhook and ``certkeeper validate``:

1. ``schema``: :mod:`certkeeper.api.structural` with the kind's CRD schema, every error; the
   request's ``kind``/``apiVersion`` must be the kind's.
2. ``decode``: the pruned object into the typed model.
3. cert-manager's persisted defaults (:func:`certkeeper.api.defaults.apply_defaults`), for the
   object handed back.
4. ``webhook``: the rules of the kind (create, or update against the old object), every error and
   warning. The rules see the object as cert-manager's webhook decodes it: with the CRD defaults of
   step 1 but without the issuerRef defaults of step 3, since its decoder does not default; update
   rules compare both sides with defaults applied, so a stored (defaulted) object and a re-applied
   manifest without them do not differ.

A step that finds errors ends the run, as the API server does not call the webhook for an object
its schema refused. For a CertificateRequest create with a known requester (``user``), the identity
fields are first set to the requester's, as cert-manager's mutating webhook does.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import cache
from typing import Any, Final, Generic, TypeVar

import msgspec

from certkeeper.api import crds
from certkeeper.api.acme import Challenge, Order
from certkeeper.api.certmanager import Certificate, CertificateRequest, ClusterIssuer, Issuer
from certkeeper.api.defaults import apply_defaults
from certkeeper.api.features import DEFAULT_GATES, FeatureGates
from certkeeper.api.field import OMIT, ErrorType, FieldError, ValidationResult
from certkeeper.api.manifests import ManifestError, decode_object
from certkeeper.api.meta import Resource
from certkeeper.api.structural import DEFAULT_LIMITS, Limits, SchemaValidator
from certkeeper.validation import acme, certificate, certificaterequest, issuer
from certkeeper.validation.identity import UserInfo, mutate_identity

_R = TypeVar("_R", bound=Resource)


class Operation(enum.StrEnum):
    """The admission operations that carry an object to check."""

    CREATE = "CREATE"
    UPDATE = "UPDATE"


class Stage(enum.StrEnum):
    """The step that refused an object."""

    #: The API server's structural schema (``The Certificate "x" is invalid: ...``).
    SCHEMA = "schema"
    #: The pruned object does not fit the typed model (or a stored old object does not).
    DECODE = "decode"
    #: cert-manager's validating webhook (``admission webhook ... denied the request: ...``).
    WEBHOOK = "webhook"


@dataclass(frozen=True, slots=True, kw_only=True)
class AdmissionResult:
    """What admission made of one write."""

    #: The typed object with cert-manager's defaults applied; None when it did not decode.
    object: Resource | None
    #: The same as a raw (wire) object: what a store keeps. None when it did not decode.
    raw: dict[str, Any] | None
    errors: tuple[FieldError, ...] = ()
    #: The API server's warnings (pruned fields) followed by the webhook's.
    warnings: tuple[str, ...] = ()
    #: Which step refused the object; None when it was admitted.
    stage: Stage | None = None

    @property
    def allowed(self) -> bool:
        return not self.errors


@dataclass(frozen=True, slots=True)
class _KindRules(Generic[_R]):
    model: type[_R]
    create: Callable[[_R, FeatureGates], ValidationResult]
    update: Callable[[_R, _R, FeatureGates], ValidationResult]


_RULES: Final[Mapping[str, _KindRules[Any]]] = {
    "Certificate": _KindRules(
        Certificate, certificate.validate_certificate_create, certificate.validate_certificate_update
    ),
    "CertificateRequest": _KindRules(
        CertificateRequest,
        certificaterequest.validate_certificate_request_create,
        certificaterequest.validate_certificate_request_update,
    ),
    "Issuer": _KindRules(Issuer, issuer.validate_issuer_create, issuer.validate_issuer_update),
    "ClusterIssuer": _KindRules(
        ClusterIssuer, issuer.validate_cluster_issuer_create, issuer.validate_cluster_issuer_update
    ),
    "Order": _KindRules(Order, acme.validate_order_create, acme.validate_order_update),
    "Challenge": _KindRules(Challenge, acme.validate_challenge_create, acme.validate_challenge_update),
}
#: The kinds :func:`admit` knows; others are not cert-manager's to check.
ADMITTED_KINDS: Final = frozenset(_RULES)


class UnknownKind(ValueError):
    """:func:`admit` was asked about a kind cert-manager does not validate."""


@cache
def _schema_validator(kind: str, limits: Limits) -> SchemaValidator:
    info = crds.KINDS_BY_MODEL[_RULES[kind].model]
    return SchemaValidator(crds.openapi_schema(info), limits=limits)


def _type_errors(kind: str, model: type[Resource], raw: Mapping[str, Any]) -> list[FieldError]:
    """The request's kind and apiVersion must name the kind being admitted."""
    errors: list[FieldError] = []
    given_kind = raw.get("kind", kind)
    if given_kind != kind:
        errors.append(FieldError(ErrorType.INVALID, "kind", given_kind, f"must be {kind}"))
    given_version = raw.get("apiVersion", model.API_VERSION)
    if given_version != model.API_VERSION:
        errors.append(FieldError(ErrorType.INVALID, "apiVersion", given_version, f"must be {model.API_VERSION}"))
    return errors


def _decode_error(exc: ManifestError) -> FieldError:
    """A decoding failure as a field error (``spec.x: Required value``, ``spec.y: Invalid value: ...``)."""
    if exc.detail == "Required value":
        return FieldError(ErrorType.REQUIRED, exc.field or "", OMIT, "")
    return FieldError(ErrorType.INVALID, exc.field or "", OMIT, exc.detail)


def _prepare(
    kind: str, raw: Mapping[str, Any], limits: Limits
) -> tuple[Resource | None, tuple[str, ...], tuple[FieldError, ...], Stage | None]:
    """Steps 1 and 2 for one raw object: (model, warnings, errors, refusing stage)."""
    rules = _RULES[kind]
    type_errors = _type_errors(kind, rules.model, raw)
    if type_errors:
        return None, (), tuple(type_errors), Stage.SCHEMA
    # The API server takes kind and apiVersion from the request path; a manifest may omit neither
    # for kubectl, but a store or test may hand in an object without them.
    complete = {"apiVersion": rules.model.API_VERSION, "kind": kind, **raw}
    structural = _schema_validator(kind, limits).validate(complete)
    if structural.errors or structural.object is None:
        return None, structural.warnings, structural.errors, Stage.SCHEMA
    try:
        model = decode_object(structural.object)
    except ManifestError as exc:
        return None, structural.warnings, (_decode_error(exc),), Stage.DECODE
    assert isinstance(model, rules.model)
    return model, structural.warnings, (), None


def _stored(kind: str, raw: Mapping[str, Any], limits: Limits) -> tuple[Resource | None, tuple[FieldError, ...]]:
    """The stored object of an UPDATE as a model.

    It passed the schema when it was written, so it is decoded directly; only one that does not
    decode (written under other rules) goes through the whole of steps 1 and 2 for the errors.
    """
    model_type = _RULES[kind].model
    try:
        model = decode_object({"apiVersion": model_type.API_VERSION, "kind": kind, **raw})
    except ManifestError:
        model = None
    if isinstance(model, model_type):
        return model, ()
    prepared, _, errors, _ = _prepare(kind, raw, limits)
    return prepared, errors


def admit(
    kind: str,
    operation: Operation | str,
    new_raw: Mapping[str, Any],
    old_raw: Mapping[str, Any] | None = None,
    gates: FeatureGates = DEFAULT_GATES,
    *,
    user: UserInfo | None = None,
    limits: Limits = DEFAULT_LIMITS,
) -> AdmissionResult:
    """Check one create or update of a cert-manager object, as the API server and webhook would.

    ``new_raw`` is the object to write, ``old_raw`` the stored one (UPDATE only); neither is
    modified. ``user`` is the requester, when known (the webhook's admission request); without it
    the CertificateRequest identity rules that need it are skipped. Raises :class:`UnknownKind` for
    a kind outside :data:`ADMITTED_KINDS` and ``ValueError`` for an UPDATE without ``old_raw``.
    """
    if kind not in _RULES:
        raise UnknownKind(f"no admission rules for kind {kind!r}")
    op = Operation(operation)
    if op is Operation.UPDATE and old_raw is None:
        raise ValueError("an UPDATE needs the stored object (old_raw)")
    rules = _RULES[kind]

    new, warnings, errors, stage = _prepare(kind, new_raw, limits)
    if new is None:
        return AdmissionResult(object=None, raw=None, errors=errors, warnings=warnings, stage=stage)
    if user is not None and op is Operation.CREATE and isinstance(new, CertificateRequest):
        new = mutate_identity(new, user)

    defaulted = apply_defaults(new)
    raw = msgspec.to_builtins(defaulted)
    assert isinstance(raw, dict)

    if op is Operation.CREATE:
        if isinstance(new, CertificateRequest):
            verdict = certificaterequest.validate_certificate_request_create(new, gates, user=user)
        else:
            verdict = rules.create(new, gates)
    else:
        assert old_raw is not None
        old, old_errors = _stored(kind, old_raw, limits)
        if old is None:
            detail = "the stored object does not decode: " + "; ".join(str(error) for error in old_errors)
            problem = FieldError(ErrorType.INTERNAL, "", OMIT, detail)
            return AdmissionResult(object=defaulted, raw=raw, errors=(problem,), warnings=warnings, stage=Stage.DECODE)
        verdict = rules.update(old, new, gates)

    return AdmissionResult(
        object=defaulted,
        raw=raw,
        errors=verdict.errors,
        warnings=(*warnings, *verdict.warnings),
        stage=Stage.WEBHOOK if verdict.errors else None,
    )


__all__ = ["ADMITTED_KINDS", "AdmissionResult", "Operation", "Stage", "UnknownKind", "admit"]
