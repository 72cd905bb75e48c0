"""What certkeeper last applied to a Secret: the emulation of server-side-apply managed fields. Pure.

cert-manager writes the Secret with server-side apply under its field manager and later reads the
Secret's ``metadata.managedFields`` to learn which labels, annotations, data keys and owner
references it owns, so that it can drop the ones the spec no longer asks for without touching
anybody else's. certkeeper does not depend on the API server tracking this (the local store has no
managed fields, and the kube store drops them on arrival to save memory), so the writer records what
it applied and hands the record to the post-issuance checks as an :class:`AppliedSecretFields`:

- ``labels`` / ``annotations``: every label and annotation key certkeeper set on its last write,
  whatever its prefix (the checks split cert-manager's own keys from ``secretTemplate`` keys);
- ``data``: every data key it set (``tls.crt``, ``tls.key``, ``ca.crt``, ``key.der``,
  ``tls-combined.pem``, keystores);
- ``owner_reference_uids``: the UIDs of the owner references it set (the Certificate's, when
  ``--enable-certificate-owner-ref`` is on);
- ``parse_error``: set when the record could not be read; the checks then report
  ``ManagedFieldsParseError``, which the caller must not retry.

Where real managed fields are available (a kube Secret read with them),
:func:`applied_fields_from_managed_fields` reads the entries of one field manager in the
``FieldsV1`` format (``{"f:metadata": {"f:labels": {"f:app": {}}}}``), as
``secretLabelsAndAnnotationsManagedFields`` and the ``fieldpath.Set`` lookups of cert-manager's
``internal/controller/certificates/policies/checks.go`` do.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True, kw_only=True)
class AppliedSecretFields:
    """The Secret fields certkeeper owns, from its last write (see the module docstring)."""

    labels: frozenset[str] = frozenset()
    annotations: frozenset[str] = frozenset()
    data: frozenset[str] = frozenset()
    owner_reference_uids: frozenset[str] = frozenset()
    parse_error: str | None = None


class ManagedFieldsError(ValueError):
    """A ``fieldsV1`` document that is not a valid field set."""


_PREFIXES = ("f:", "k:", "v:", "i:")


def _check_set(node: object, path: str) -> dict[str, Any]:
    """Validate one level of a FieldsV1 set: an object whose keys are ``.`` or prefixed path elements."""
    if not isinstance(node, dict):
        raise ManagedFieldsError(f"expected an object at {path or 'the root'}, got {type(node).__name__}")
    for key, child in node.items():
        if key != "." and not key.startswith(_PREFIXES):
            raise ManagedFieldsError(f"unknown path element {key!r} at {path or 'the root'}")
        if key.startswith("k:"):
            try:
                json.loads(key[2:])
            except ValueError as exc:
                raise ManagedFieldsError(f"invalid key {key!r} at {path or 'the root'}: {exc}") from exc
        if key != ".":
            _check_set(child, f"{path}.{key}")
    return node


def _is_member(node: object) -> bool:
    """A path is in the set when its node is a leaf (``{}``) or marks itself with ``"."``."""
    return isinstance(node, dict) and (not node or "." in node)


def _field_members(node: Mapping[str, Any]) -> set[str]:
    """The field names directly under ``node`` (``f:name`` keys) that are members or have members below."""
    return {key[2:] for key in node if key.startswith("f:")}


def _owner_uids(node: Mapping[str, Any]) -> set[str]:
    """UIDs of ``k:{"uid": ...}`` list items that are members (the key must be exactly the uid)."""
    uids: set[str] = set()
    for key, child in node.items():
        if not key.startswith("k:") or not _is_member(child):
            continue
        fields = json.loads(key[2:])
        if isinstance(fields, dict) and set(fields) == {"uid"} and isinstance(fields["uid"], str):
            uids.add(fields["uid"])
    return uids


def _fields_of(entry: Mapping[str, Any]) -> dict[str, Any] | None:
    raw = entry.get("fieldsV1")
    if raw is None:
        return None
    if isinstance(raw, str):
        try:
            raw = json.loads(raw)
        except ValueError as exc:
            raise ManagedFieldsError(f"fieldsV1 is not JSON: {exc}") from exc
    return _check_set(raw, "")


def applied_fields_from_managed_fields(
    entries: Iterable[Mapping[str, Any]] | None, field_manager: str
) -> AppliedSecretFields:
    """The fields ``field_manager`` owns according to a Secret's ``metadata.managedFields``.

    Entries of other managers, and entries without ``fieldsV1``, are ignored. A malformed entry of
    ``field_manager`` yields ``parse_error`` instead of raising.
    """
    labels: set[str] = set()
    annotations: set[str] = set()
    data: set[str] = set()
    owners: set[str] = set()
    try:
        for entry in entries or ():
            if entry.get("manager") != field_manager:
                continue
            fields = _fields_of(entry)
            if fields is None:
                continue
            metadata = fields.get("f:metadata", {})
            labels |= _field_members(metadata.get("f:labels", {}))
            annotations |= _field_members(metadata.get("f:annotations", {}))
            owners |= _owner_uids(metadata.get("f:ownerReferences", {}))
            data_set = fields.get("f:data", {})
            data |= {key for key in _field_members(data_set) if _is_member(data_set["f:" + key])}
    except ManagedFieldsError as exc:
        return AppliedSecretFields(parse_error=str(exc))
    return AppliedSecretFields(
        labels=frozenset(labels),
        annotations=frozenset(annotations),
        data=frozenset(data),
        owner_reference_uids=frozenset(owners),
    )


__all__ = ["AppliedSecretFields", "ManagedFieldsError", "applied_fields_from_managed_fields"]
