"""The frozen snapshot the checks judge, and the pure half of cert-manager's gatherer. Pure.

Follows ``internal/controller/certificates/policies/policies.go`` (``Input``) and ``gatherer.go``
(``DataForCertificate``): the controller reads the Certificate's Secret and lists the
CertificateRequests it owns; :func:`select_revision_requests` then picks the "current" and "next"
requests, and :func:`policy_input` assembles the snapshot.

Why two requests (the three scenarios of ``gatherer.go``, condensed)::

    status.revision  current request (revision N)        next request (revision N+1)
    ---------------  ----------------------------------  -------------------------------------
    None             none: nothing was issued yet         revision 1, being issued or failed
    N                the request that produced tls.crt:   revision N+1, only while re-issuing
                     "RequestChanged" compares the spec   (or failed): the backoff compares the
                     with it, not with the certificate    spec with it, so that a user fixing a
                                                          failing spec does not wait for backoff

A request belongs to a revision when its ``cert-manager.io/certificate-revision`` annotation is that
number written in decimal, and to the Certificate when its controller owner reference carries the
Certificate's UID. Two requests for one revision are an error: the caller gives up this round and
retries, hoping the request manager has removed the duplicate by then.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime

from certkeeper.api.annotations import CERTIFICATE_REQUEST_REVISION_ANNOTATION
from certkeeper.api.certmanager import ACMERenewalWindow, Certificate, CertificateRequest
from certkeeper.api.core import Secret
from certkeeper.api.features import FeatureGates
from certkeeper.api.meta import Resource
from certkeeper.policies.reasons import Violation


class DuplicateRevisionRequestsError(ValueError):
    """More than one owned CertificateRequest carries the same revision; retry later."""

    def __init__(self, which: str, revision: int) -> None:
        super().__init__(
            f"multiple CertificateRequests were found for the '{which}' revision {revision}, "
            "issuance is skipped until there are no more duplicates"
        )
        self.which = which
        self.revision = revision


@dataclass(frozen=True, slots=True, kw_only=True)
class PolicyInput:
    """Everything a check may look at for one Certificate.

    ``secret`` is None when ``spec.secretName`` does not exist. ``current_revision_request`` is the
    request of revision ``status.revision`` (None before the first issuance or once deleted);
    ``next_revision_request`` the one of revision ``status.revision + 1`` (1 when unset).
    ``ari_window`` is the ACME ARI suggested renewal window, set only when the ACMEUseARI gate is on
    and ``status.acme.ari.suggestedWindow`` is known.
    """

    certificate: Certificate
    secret: Secret | None = None
    current_revision_request: CertificateRequest | None = None
    next_revision_request: CertificateRequest | None = None
    ari_window: ACMERenewalWindow | None = None


#: A check: a total pure function of the snapshot and the current time.
Check = Callable[[PolicyInput, datetime], Violation | None]


@dataclass(frozen=True, slots=True, kw_only=True)
class RevisionRequests:
    """The current and next revision requests of a Certificate (either may be missing)."""

    current: CertificateRequest | None = None
    next: CertificateRequest | None = None


def is_controlled_by(obj: Resource, owner: Resource) -> bool:
    """Whether ``obj``'s controller owner reference points at ``owner`` (Kubernetes' IsControlledBy).

    Only the first owner reference with ``controller: true`` counts, and only its UID is compared.
    """
    for ref in obj.metadata.owner_references or ():
        if ref.controller:
            return ref.uid == (owner.metadata.uid or "")
    return False


def request_revision_is(request: CertificateRequest, revision: int) -> bool:
    """Whether the request's revision annotation is exactly ``revision`` in decimal (``"01"`` is not 1)."""
    annotations = request.metadata.annotations or {}
    return annotations.get(CERTIFICATE_REQUEST_REVISION_ANNOTATION) == str(revision)


def next_revision(certificate: Certificate) -> int:
    """The revision the next issuance produces: ``status.revision + 1``, or 1 before the first."""
    revision = certificate.status.revision if certificate.status is not None else None
    return 1 if revision is None else revision + 1


def _single(matches: list[CertificateRequest], which: str, revision: int) -> CertificateRequest | None:
    if len(matches) > 1:
        raise DuplicateRevisionRequestsError(which, revision)
    return matches[0] if matches else None


def select_revision_requests(certificate: Certificate, requests: Iterable[CertificateRequest]) -> RevisionRequests:
    """Pick the current and next revision requests among ``requests`` (any list; unowned ones are ignored).

    Raises :class:`DuplicateRevisionRequestsError` when two owned requests share the current or the
    next revision; the current revision is checked first, as upstream does.
    """
    owned = [request for request in requests if is_controlled_by(request, certificate)]
    revision = certificate.status.revision if certificate.status is not None else None
    current = None
    if revision is not None:
        current = _single([r for r in owned if request_revision_is(r, revision)], "current", revision)
    upcoming = next_revision(certificate)
    following = _single([r for r in owned if request_revision_is(r, upcoming)], "next", upcoming)
    return RevisionRequests(current=current, next=following)


def ari_window_for(certificate: Certificate, gates: FeatureGates) -> ACMERenewalWindow | None:
    """The ARI suggested window from the Certificate's status, when the ACMEUseARI gate is on."""
    if not gates.acme_use_ari or certificate.status is None or certificate.status.acme is None:
        return None
    ari = certificate.status.acme.ari
    return None if ari is None else ari.suggested_window


def policy_input(
    certificate: Certificate,
    secret: Secret | None,
    requests: Iterable[CertificateRequest],
    *,
    gates: FeatureGates,
) -> PolicyInput:
    """Assemble the snapshot from what the controller read (cert-manager's ``DataForCertificate``).

    ``requests`` are the CertificateRequests in the Certificate's namespace (or any superset of its
    own). Raises :class:`DuplicateRevisionRequestsError` as :func:`select_revision_requests`.
    """
    selected = select_revision_requests(certificate, requests)
    return PolicyInput(
        certificate=certificate,
        secret=secret,
        current_revision_request=selected.current,
        next_revision_request=selected.next,
        ari_window=ari_window_for(certificate, gates),
    )


__all__ = [
    "Check",
    "DuplicateRevisionRequestsError",
    "PolicyInput",
    "RevisionRequests",
    "ari_window_for",
    "is_controlled_by",
    "next_revision",
    "policy_input",
    "request_revision_is",
    "select_revision_requests",
]
