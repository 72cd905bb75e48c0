"""Per-kind behaviour of the API server that the local store reproduces.

Two families matter to certkeeper:

* custom resources (every group that is not a Kubernetes group, e.g. ``cert-manager.io``): the
  apiextensions strategy (``apiextensions-apiserver/pkg/registry/customresource/strategy.go``) sets
  ``metadata.generation`` to 1 on create and bumps it on any change outside ``metadata``, drops ``status``
  on create and keeps it on update when the kind has a status subresource, and refuses an update without
  ``metadata.resourceVersion`` (``AllowUnconditionalUpdate`` is false);
* built-in kinds (core ``v1`` and ``*.k8s.io`` groups: Secret, Event, Lease ...): no generation is kept,
  and an update without a resourceVersion overwrites unconditionally.

Secrets additionally follow ``pkg/registry/core/secret`` and ``ValidateSecret``/``ValidateSecretUpdate``:
``stringData`` is folded into ``data`` and never stored, ``type`` defaults to ``Opaque`` and is immutable,
``data`` keys are config keys, values are base64 and the whole is at most 1 MiB, ``kubernetes.io/tls``
needs ``tls.crt`` and ``tls.key``, and ``immutable: true`` freezes ``data``. Error messages never carry
Secret data. Pure.
"""

from __future__ import annotations

import base64
import binascii
import functools
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from certkeeper.api.field import ErrorType, FieldError, FieldPath, forbidden, invalid, required, too_long
from certkeeper.store.ports import RawObject, ResourceType
from certkeeper.validation.kube import regex_error

_K8S_GROUPS = frozenset({"", "apps", "batch", "policy", "autoscaling"})

#: The largest Secret ``data`` (decoded bytes) the API server accepts.
MAX_SECRET_SIZE = 1024 * 1024

_CONFIG_KEY_FMT = "[-._a-zA-Z0-9]+"
# fullmatch: Go's "^...$" is the whole string, where Python's "$" also matches before a final "\n".
_CONFIG_KEY_RE = re.compile(_CONFIG_KEY_FMT)
_CONFIG_KEY_MSG = "a valid config key must consist of alphanumeric characters, '-', '_' or '.'"
_IMMUTABLE_SET = "field is immutable when `immutable` is set"


@dataclass(frozen=True, slots=True, kw_only=True)
class KindPolicy:
    """How the API server treats one resource type."""

    #: ``metadata.generation`` starts at 1 and counts changes outside ``metadata`` (custom resources).
    tracks_generation: bool
    #: An update without ``metadata.resourceVersion`` overwrites the stored object (built-in kinds).
    allow_unconditional_update: bool
    #: Secret rules apply (core ``v1`` ``secrets``).
    secret: bool = False


def is_kubernetes_group(group: str) -> bool:
    """Whether ``group`` is served by the API server itself rather than by a CRD."""
    return group in _K8S_GROUPS or group.endswith(".k8s.io")


@functools.lru_cache(maxsize=256)
def policy_for(resource: ResourceType) -> KindPolicy:
    """The behaviour of ``resource``: built-in when its group is a Kubernetes group, CRD-like otherwise."""
    builtin = is_kubernetes_group(resource.group)
    return KindPolicy(
        tracks_generation=not builtin,
        allow_unconditional_update=builtin,
        secret=resource.group == "" and resource.plural == "secrets",
    )


def is_config_key(key: str) -> list[str]:
    """Problems with ``key`` as a Secret/ConfigMap data key (``IsConfigMapKey``); empty when valid."""
    errs = []
    if len(key) > 253:
        errs.append("must be no more than 253 characters")
    if not _CONFIG_KEY_RE.fullmatch(key):
        errs.append(regex_error(_CONFIG_KEY_MSG, _CONFIG_KEY_FMT, "key.name", "KEY_NAME", "key-name"))
    if key == ".":
        errs.append("must not be '.'")
    elif key == "..":
        errs.append("must not be '..'")
    elif key.startswith(".."):
        errs.append("must not start with '..'")
    return errs


def prepare_secret(obj: RawObject) -> None:
    """Fold ``stringData`` into ``data`` and default ``type``, in place, as the API server stores a Secret."""
    string_data = obj.pop("stringData", None)
    if isinstance(string_data, dict) and string_data:
        data = obj.get("data")
        if not isinstance(data, dict):
            data = obj["data"] = {}
        for key, value in string_data.items():
            if isinstance(value, str):
                data[key] = base64.b64encode(value.encode()).decode()
    if not obj.get("type"):
        obj["type"] = "Opaque"


def _decoded_size(value: str) -> int | None:
    try:
        return len(base64.b64decode(value, validate=True))
    except (binascii.Error, ValueError):
        return None


def validate_secret(obj: Mapping[str, Any]) -> list[FieldError]:
    """``ValidateSecret``: data keys, base64 values, total size and the keys a ``kubernetes.io/tls`` needs."""
    errs: list[FieldError] = []
    data_path = FieldPath("data")
    data = obj.get("data")
    if data is None:
        data = {}
    if not isinstance(data, dict):
        return [FieldError(ErrorType.INVALID, "data", detail="must be an object")]
    total = 0
    for key, value in data.items():
        errs += [invalid(data_path.key(key), key, m) for m in is_config_key(key)]
        size = _decoded_size(value) if isinstance(value, str) else None
        if size is None:
            # Never echo the value: it may be key material.
            errs.append(FieldError(ErrorType.INVALID, str(data_path.key(key)), detail="must be base64-encoded bytes"))
            continue
        total += size
    if total > MAX_SECRET_SIZE:
        errs.append(too_long(data_path, "", MAX_SECRET_SIZE))
    if obj.get("type") == "kubernetes.io/tls":
        errs += [required(data_path.key(k), "") for k in ("tls.crt", "tls.key") if k not in data]
    return errs


def validate_secret_update(new: Mapping[str, Any], old: Mapping[str, Any]) -> list[FieldError]:
    """``ValidateSecretUpdate``: ``type`` never changes and an immutable Secret keeps its data."""
    errs: list[FieldError] = []
    if new.get("type") != old.get("type"):
        errs.append(invalid(FieldPath("type"), new.get("type"), "field is immutable"))
    if old.get("immutable") is True:
        if new.get("immutable") is not True:
            errs.append(forbidden(FieldPath("immutable"), _IMMUTABLE_SET))
        if (new.get("data") or {}) != (old.get("data") or {}):
            errs.append(forbidden(FieldPath("data"), _IMMUTABLE_SET))
    return errs
