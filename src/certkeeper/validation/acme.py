"""cert-manager's admission rules for ACME Orders and Challenges: what may not change once set. Pure.

An Order's CSR, its ACME URLs, its issued certificate and its authorizations (their number, and per
authorization and per challenge the fields the ACME server gave) are frozen once they have a
value; a Challenge's whole spec is frozen. Creating either is always allowed.

Follows cert-manager's ``internal/apis/acme/validation/{order,challenge}.go``. One deliberate
difference: when an update changes the number of authorizations (or of challenges in one),
cert-manager reports that and then compares the pairs by index, which can index past the shorter
list (a panic the webhook recovers from, failing the request); here only the pairs both lists
have are compared, next to the same "field is immutable once set" error.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

from msgspec.structs import replace

from certkeeper.api import field as fe
from certkeeper.api.acme import ACMEAuthorization, ACMEChallenge, Challenge, ChallengeSpec, Order, OrderStatus
from certkeeper.api.defaults import default_issuer_ref, default_solver
from certkeeper.api.features import FeatureGates
from certkeeper.api.field import ErrorList, FieldError, FieldPath, ValidationResult
from certkeeper.validation.decoding import undecodable_durations

IMMUTABLE: Final = "field is immutable once set"


def _frozen(path: FieldPath) -> FieldError:
    return fe.forbidden(path, IMMUTABLE)


def _validate_challenges(
    old: Sequence[ACMEChallenge], new: Sequence[ACMEChallenge], path: FieldPath
) -> list[FieldError]:
    errors: list[FieldError] = []
    if len(old) != len(new):
        errors.append(_frozen(path))
    for i, (before, after) in enumerate(zip(old, new, strict=False)):
        item = path.index(i)
        if before.url and before.url != after.url:
            errors.append(_frozen(item.child("url")))
        if before.type and before.type != after.type:
            errors.append(_frozen(item.child("type")))
        if before.token and before.token != after.token:
            errors.append(_frozen(item.child("token")))
    return errors


def _validate_authorizations(
    old: Sequence[ACMEAuthorization], new: Sequence[ACMEAuthorization], path: FieldPath
) -> list[FieldError]:
    errors: list[FieldError] = []
    # Once there is one authorization, none may be added or removed.
    if len(old) != len(new):
        errors.append(_frozen(path))
    for i, (before, after) in enumerate(zip(old, new, strict=False)):
        item = path.index(i)
        if before.url and before.url != after.url:
            errors.append(_frozen(item.child("url")))
        if before.identifier and before.identifier != after.identifier:
            errors.append(_frozen(item.child("identifier")))
        if before.wildcard is not None and before.wildcard != after.wildcard:
            errors.append(_frozen(item.child("wildcard")))
        if before.initial_state and before.initial_state != after.initial_state:
            errors.append(_frozen(item.child("initialState")))
        if before.challenges:
            errors.extend(_validate_challenges(before.challenges, after.challenges or (), item.child("challenges")))
    return errors


def validate_order_status_update(old: OrderStatus | None, new: OrderStatus | None, path: FieldPath) -> list[FieldError]:
    """What the ACME server told us stays as it was told."""
    before, after = old or OrderStatus(), new or OrderStatus()
    errors: list[FieldError] = []
    if before.url and before.url != after.url:
        errors.append(_frozen(path.child("url")))
    if before.finalize_url and before.finalize_url != after.finalize_url:
        errors.append(_frozen(path.child("finalizeURL")))
    if before.certificate and before.certificate != after.certificate:
        errors.append(_frozen(path.child("certificate")))
    if before.authorizations:
        errors.extend(
            _validate_authorizations(before.authorizations, after.authorizations or (), path.child("authorizations"))
        )
    return errors


def validate_order_create(obj: Order, gates: FeatureGates) -> ValidationResult:
    """Creating an Order is always allowed (once it decodes)."""
    del gates
    return ValidationResult(tuple(undecodable_durations(obj)))


def validate_order_update(old: Order, new: Order, gates: FeatureGates) -> ValidationResult:
    """The CSR and the ACME server's answers may not change once set."""
    del gates
    undecodable = undecodable_durations(new)
    if undecodable:
        return ValidationResult(tuple(undecodable))
    collected = ErrorList()
    if old.spec.request and old.spec.request != new.spec.request:
        collected.add(_frozen(FieldPath("spec", "request")))
    collected.extend(validate_order_status_update(old.status, new.status, FieldPath("status")))
    return collected.result()


def validate_challenge_create(obj: Challenge, gates: FeatureGates) -> ValidationResult:
    """Creating a Challenge is always allowed (once it decodes)."""
    del gates
    return ValidationResult(tuple(undecodable_durations(obj)))


def _defaulted(spec: ChallengeSpec) -> ChallengeSpec:
    # Compare as stored: the persisted defaults (issuerRef, the solver's CRD defaults) on both sides.
    return replace(spec, issuer_ref=default_issuer_ref(spec.issuer_ref), solver=default_solver(spec.solver))


def validate_challenge_update(old: Challenge, new: Challenge, gates: FeatureGates) -> ValidationResult:
    """A Challenge's spec never changes."""
    del gates
    undecodable = undecodable_durations(new)
    if undecodable:
        return ValidationResult(tuple(undecodable))
    collected = ErrorList()
    if _defaulted(old.spec) != _defaulted(new.spec):
        collected.add(fe.forbidden(FieldPath("spec"), "challenge spec is immutable after creation"))
    return collected.result()


__all__ = [
    "IMMUTABLE",
    "validate_challenge_create",
    "validate_challenge_update",
    "validate_order_create",
    "validate_order_status_update",
    "validate_order_update",
]
