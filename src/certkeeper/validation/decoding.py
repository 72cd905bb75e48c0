"""Durations cert-manager's webhook cannot even decode, checked before any rule. Pure.

cert-manager's API holds durations as ``metav1.Duration``, which Go decodes with
``time.ParseDuration``; a string that is no Go duration makes the webhook fail to decode the object,
so it answers with that one error and runs no rule. Our models keep durations as strings, so the
rules of each kind start here: every duration field of the object is parsed, and the failures are
reported (each against its field, with Go's message) instead of the rules' verdict.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from certkeeper.api.acme import Challenge, Order
from certkeeper.api.acme_solvers import ACMEChallengeSolver
from certkeeper.api.certmanager import Certificate, CertificateRequest, ClusterIssuer, Issuer
from certkeeper.api.field import FieldError, FieldPath
from certkeeper.api.meta import Resource
from certkeeper.validation.common import parse_duration_field

#: A duration field's text (None when unset) and its path.
_Duration = tuple[str | None, FieldPath]


def _solver_durations(solvers: Sequence[ACMEChallengeSolver], path: FieldPath) -> Iterator[_Duration]:
    for i, solver in enumerate(solvers):
        yield solver.wait_instead_of_self_check, path.index(i).child("waitInsteadOfSelfCheck")


def _durations(obj: Resource) -> Iterator[_Duration]:
    spec = FieldPath("spec")
    if isinstance(obj, Certificate):
        yield obj.spec.duration, spec.child("duration")
        yield obj.spec.renew_before, spec.child("renewBefore")
        windows = obj.spec.renewal.windows if obj.spec.renewal is not None else None
        for i, window in enumerate(windows or ()):
            yield window.window_duration, spec.child("renewal", "windows").index(i).child("windowDuration")
    elif isinstance(obj, CertificateRequest | Order):
        yield obj.spec.duration, spec.child("duration")
    elif isinstance(obj, Issuer | ClusterIssuer):
        if obj.spec.acme is not None:
            yield from _solver_durations(obj.spec.acme.solvers or (), spec.child("acme", "solvers"))
    elif isinstance(obj, Challenge):
        yield obj.spec.solver.wait_instead_of_self_check, spec.child("solver", "waitInsteadOfSelfCheck")


def undecodable_durations(obj: Resource) -> list[FieldError]:
    """One error per duration field of ``obj`` that is not a Go duration (empty when all decode)."""
    errors: list[FieldError] = []
    for text, path in _durations(obj):
        if text is not None:
            parse_duration_field(text, path, errors)
    return errors


__all__ = ["undecodable_durations"]
