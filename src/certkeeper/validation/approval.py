"""The pure half of cert-manager's approval plugin: when approving needs RBAC, and what to ask for.

Adding an ``Approved`` or ``Denied`` condition to a CertificateRequest (an update of its ``status``
subresource) is allowed only to users who may ``approve`` the ``signers`` resource of group
``cert-manager.io`` named after the issuer: ``<resource>.<group>/*`` or, for the one issuer,
``<resource>.<group>/<namespace>.<name>`` (namespaced kinds) / ``<resource>.<group>/<name>``
(cluster-scoped). Discovery (kind to resource) and the SubjectAccessReview are I/O and stay with the
webhook; this module decides whether they are needed, names the signers, and words the refusals.

Follows cert-manager's ``internal/webhook/admission/certificaterequest/approval/``.
"""

from __future__ import annotations

from typing import Final

from certkeeper.api import constants as c
from certkeeper.api import field as fe
from certkeeper.api.certmanager import CertificateRequest
from certkeeper.api.cmmeta import IssuerReference
from certkeeper.api.field import FieldError, FieldPath
from certkeeper.api.gojson import go_quote

#: The RBAC verb, resource and group an approver needs on the signer names.
APPROVE_VERB: Final = "approve"
SIGNERS_RESOURCE: Final = "signers"
SIGNERS_GROUP: Final = c.GROUP
_APPROVAL_TYPES: Final = (c.CertificateRequestConditionType.APPROVED, c.CertificateRequestConditionType.DENIED)


def _has(request: CertificateRequest, kind: str) -> bool:
    conditions = request.status.conditions if request.status is not None else None
    return any(condition.type == kind for condition in conditions or ())


def approval_conditions_added(old: CertificateRequest, new: CertificateRequest) -> bool:
    """Whether ``new`` adds an ``Approved`` or ``Denied`` condition that ``old`` lacked."""
    return any(not _has(old, kind) and _has(new, kind) for kind in _APPROVAL_TYPES)


def needs_approval_check(old: CertificateRequest, new: CertificateRequest, *, subresource: str) -> bool:
    """Whether this update must be authorised against the signer (a ``status`` write adding a decision)."""
    return subresource == "status" and approval_conditions_added(old, new)


def signer_group_kind(ref: IssuerReference) -> tuple[str, str]:
    """(group, kind) of the referenced issuer, with cert-manager's defaults for empty values."""
    return ref.group or c.DEFAULT_ISSUER_GROUP, ref.kind or c.DEFAULT_ISSUER_KIND


def signer_names(*, issuer_name: str, namespace: str, resource: str, group: str, namespaced: bool) -> tuple[str, str]:
    """The two signer names an approver may hold: the wildcard one and the one for this issuer."""
    wildcard = f"{resource}.{group}/*"
    specific = f"{resource}.{group}/{namespace}.{issuer_name}" if namespaced else f"{resource}.{group}/{issuer_name}"
    return wildcard, specific


def _go_struct(ref: IssuerReference) -> str:
    # Go prints the reference with %v: {name kind group}, empty fields left empty.
    return f"{{{ref.name} {ref.kind or ''} {ref.group or ''}}}"


def signer_not_found(ref: IssuerReference) -> FieldError:
    """The refusal when the referenced issuer kind is not served by the API server."""
    return fe.forbidden(FieldPath("spec.issuerRef"), f"referenced signer resource does not exist: {_go_struct(ref)}")


def approval_forbidden(username: str, ref: IssuerReference) -> FieldError:
    """The refusal when the user may not approve for the referenced issuer."""
    detail = (
        f"user {go_quote(username)} does not have permissions to set approved/denied conditions for issuer "
        f"{_go_struct(ref)}"
    )
    return fe.forbidden(FieldPath("status.conditions"), detail)


__all__ = [
    "APPROVE_VERB",
    "SIGNERS_GROUP",
    "SIGNERS_RESOURCE",
    "approval_conditions_added",
    "approval_forbidden",
    "needs_approval_check",
    "signer_group_kind",
    "signer_names",
    "signer_not_found",
]
