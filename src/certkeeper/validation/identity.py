"""Who asked: the requester identity a CertificateRequest carries, set and checked at admission. Pure.

A CertificateRequest's ``spec.username``, ``uid``, ``groups`` and ``extra`` record who created it,
so that approvers and issuers can trust them. cert-manager's identity plugin overwrites them on
create with the requester's user info (mutating webhook), refuses a create whose values are not the
requester's, and refuses any update that changes them. The webhook passes the user info of the
admission request in; callers without one (the CLI, local mode) skip these rules.

Follows cert-manager's ``internal/webhook/admission/certificaterequest/identity/`` (messages and
comparisons: groups and each ``extra`` value compare as unordered lists on create; on update
``extra`` must be deep-equal, order included).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Final

from msgspec.structs import replace

from certkeeper.api import field as fe
from certkeeper.api.certmanager import CertificateRequest
from certkeeper.api.field import FieldError, FieldPath
from certkeeper.validation.common import equal_unsorted

_SPEC: Final = FieldPath("spec")


@dataclass(frozen=True, slots=True, kw_only=True)
class UserInfo:
    """The authenticated requester of an admission request (Kubernetes ``authentication/v1`` UserInfo)."""

    username: str = ""
    uid: str = ""
    groups: tuple[str, ...] = ()
    extra: Mapping[str, tuple[str, ...]] = field(default_factory=dict)


def mutate_identity(request: CertificateRequest, user: UserInfo) -> CertificateRequest:
    """``request`` with its identity fields set to ``user`` (the mutating webhook on create).

    ``extra`` is removed when the requester has none, as cert-manager does.
    """
    extra = {key: list(values) for key, values in user.extra.items()} or None
    spec = replace(request.spec, uid=user.uid, username=user.username, groups=list(user.groups), extra=extra)
    return replace(request, spec=spec)


def _extras_match(ours: Mapping[str, list[str]] | None, theirs: Mapping[str, tuple[str, ...]]) -> bool:
    ours = ours or {}
    if len(ours) != len(theirs):
        return False
    return all(key in theirs and equal_unsorted(values, theirs[key]) for key, values in ours.items())


def validate_identity_create(request: CertificateRequest, user: UserInfo) -> list[FieldError]:
    """Each identity field must be the requester's."""
    spec = request.spec
    errors: list[FieldError] = []
    if (spec.uid or "") != user.uid:
        errors.append(fe.forbidden(_SPEC.child("uid"), "uid identity must be that of the requester"))
    if (spec.username or "") != user.username:
        errors.append(fe.forbidden(_SPEC.child("username"), "username identity must be that of the requester"))
    if not equal_unsorted(spec.groups, user.groups):
        errors.append(fe.forbidden(_SPEC.child("groups"), "groups identity must be that of the requester"))
    if not _extras_match(spec.extra, user.extra):
        errors.append(fe.forbidden(_SPEC.child("extra"), "extra identity must be that of the requester"))
    return errors


def validate_identity_update(old: CertificateRequest, new: CertificateRequest) -> list[FieldError]:
    """No identity field may change after creation."""
    before, after = old.spec, new.spec
    errors: list[FieldError] = []
    if (before.uid or "") != (after.uid or ""):
        errors.append(fe.forbidden(_SPEC.child("uid"), "uid identity cannot be changed once set"))
    if (before.username or "") != (after.username or ""):
        errors.append(fe.forbidden(_SPEC.child("username"), "username identity cannot be changed once set"))
    if not equal_unsorted(before.groups, after.groups):
        errors.append(fe.forbidden(_SPEC.child("groups"), "groups identity cannot be changed once set"))
    if before.extra != after.extra:
        errors.append(fe.forbidden(_SPEC.child("extra"), "extra identity cannot be changed once set"))
    return errors


__all__ = ["UserInfo", "mutate_identity", "validate_identity_create", "validate_identity_update"]
