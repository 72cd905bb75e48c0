"""Object metadata rules the API server applies to every kind, for the local store.

The API server checks ``metadata`` itself (names, namespaces, labels, annotations, owner references,
finalizers) before any admission webhook sees an object; the embedded store does the same so that a bad
object is refused the same way in both shapes. Messages are those of apimachinery's
``pkg/api/validation/objectmeta.go``, ``pkg/util/validation/validation.go`` and
``pkg/api/validate/content/kube.go`` (the format checks are shared with the admission rules, in
``certkeeper.validation.kube``). Generated names follow ``apiserver/pkg/storage/names``. Pure: the
random source is a parameter.
"""

from __future__ import annotations

import functools
import json
import random
from collections.abc import Mapping
from typing import Any

from certkeeper.api.field import ErrorType, FieldError, FieldPath, forbidden, invalid, required, too_long
from certkeeper.validation.kube import (
    TOTAL_ANNOTATION_SIZE_LIMIT,
    is_dns1123_label,
    is_dns1123_subdomain,
    is_label_key,
    is_label_value,
)

#: The random suffix of a generated name: five characters without vowels, as ``utilrand.String``.
_GENERATED_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"
_MAX_GENERATED_PREFIX = 63 - 5

_ORPHAN_FINALIZER = "orphan"
_FOREGROUND_FINALIZER = "foregroundDeletion"

_METADATA = FieldPath("metadata")
_LABELS = _METADATA.child("labels")
_ANNOTATIONS = _METADATA.child("annotations")
_OWNER_REFERENCES = _METADATA.child("ownerReferences")
_FINALIZERS = _METADATA.child("finalizers")

#: How many distinct strings the format checks below remember (keys, label values and namespaces repeat
#: across objects, so most writes find every answer here).
_CHECK_CACHE_SIZE = 8192


@functools.lru_cache(maxsize=_CHECK_CACHE_SIZE)
def _label_key_problems(key: str) -> tuple[str, ...]:
    return tuple(is_label_key(key))


@functools.lru_cache(maxsize=_CHECK_CACHE_SIZE)
def _label_value_problems(value: str) -> tuple[str, ...]:
    return tuple(is_label_value(value))


@functools.lru_cache(maxsize=_CHECK_CACHE_SIZE)
def _namespace_problems(namespace: str) -> tuple[str, ...]:
    return tuple(is_dns1123_label(namespace))


def _utf8_size(text: str) -> int:
    # isascii() is a flag check: most keys and values need no encoding to be measured.
    return len(text) if text.isascii() else len(text.encode())


def _mask_trailing_dash(name: str) -> str:
    # A generateName prefix may end in '-': the random suffix follows it.
    return name[:-2] + "a" if len(name) > 1 and name.endswith("-") else name


def generate_name(prefix: str, rng: random.Random) -> str:
    """``prefix`` (cut to 58 characters) plus five random characters, as the API server names objects."""
    return prefix[:_MAX_GENERATED_PREFIX] + "".join(rng.choice(_GENERATED_ALPHABET) for _ in range(5))


def _as_map(value: object) -> Mapping[str, Any]:
    return value if isinstance(value, dict) else {}


def _validate_labels(labels: Mapping[str, Any], path: FieldPath) -> list[FieldError]:
    errs = []
    for key, value in labels.items():
        errs += [invalid(path, key, m) for m in _label_key_problems(key)]
        if not isinstance(value, str):
            errs.append(invalid(path, value, "must be a string"))
            continue
        errs += [invalid(path, value, m) for m in _label_value_problems(value)]
    return errs


def _validate_annotations(annotations: Mapping[str, Any], path: FieldPath) -> list[FieldError]:
    errs = []
    size = 0
    for key, value in annotations.items():
        errs += [invalid(path, key, m) for m in _label_key_problems(key.lower())]
        if not isinstance(value, str):
            errs.append(invalid(path.key(key), value, "must be a string"))
            continue
        size += _utf8_size(key) + _utf8_size(value)
    if size > TOTAL_ANNOTATION_SIZE_LIMIT:
        errs.append(too_long(path, "", TOTAL_ANNOTATION_SIZE_LIMIT))
    return errs


def _validate_owner_references(refs: object, path: FieldPath) -> list[FieldError]:
    if refs is None:
        return []
    if not isinstance(refs, list):
        return [invalid(path, refs, "must be a list")]
    errs: list[FieldError] = []
    first_controller = ""
    for i, ref in enumerate(refs):
        at = path.index(i)
        if not isinstance(ref, dict):
            errs.append(invalid(at, ref, "must be an object"))
            continue
        api_version = ref.get("apiVersion") or ""
        if not api_version:
            errs.append(required(at.child("apiVersion"), "must not be empty"))
        elif api_version.count("/") > 1 or not api_version.rpartition("/")[2]:
            errs.append(invalid(at.child("apiVersion"), api_version, "must be <group>/<version> or <version>"))
        for name in ("kind", "name", "uid"):
            if not ref.get(name):
                errs.append(required(at.child(name), "must not be empty"))
        if api_version == "v1" and ref.get("kind") == "Event":
            errs.append(invalid(at, ref, "/v1, Kind=Event is disallowed from being an owner"))
        if ref.get("controller") is True:
            current = f"{ref.get('kind', '')}/{ref.get('name', '')}"
            if first_controller:
                detail = (
                    'Only one reference can have Controller set to true. Found "true" in references for '
                    f"{first_controller} and {current}"
                )
                errs.append(invalid(path, refs, detail))
            else:
                first_controller = current
    return errs


def _validate_finalizers(finalizers: list[Any], path: FieldPath) -> list[FieldError]:
    errs = []
    for finalizer in finalizers:
        if not isinstance(finalizer, str):
            errs.append(invalid(path, finalizer, "must be a string"))
            continue
        errs += [invalid(path, finalizer, m) for m in _label_key_problems(finalizer)]
    if _ORPHAN_FINALIZER in finalizers and _FOREGROUND_FINALIZER in finalizers:
        detail = f"finalizer {_ORPHAN_FINALIZER} and {_FOREGROUND_FINALIZER} cannot be both set"
        errs.append(invalid(path, finalizers, detail))
    return errs


def _validate_common(meta: Mapping[str, Any]) -> list[FieldError]:
    errs = []
    generation = meta.get("generation")
    if isinstance(generation, int) and generation < 0:
        errs.append(invalid(_METADATA.child("generation"), generation, "must be greater than or equal to 0"))
    errs += _validate_labels(_as_map(meta.get("labels")), _LABELS)
    errs += _validate_annotations(_as_map(meta.get("annotations")), _ANNOTATIONS)
    errs += _validate_owner_references(meta.get("ownerReferences"), _OWNER_REFERENCES)
    errs += _validate_finalizers(finalizers_of(meta), _FINALIZERS)
    return errs


def finalizers_of(meta: Mapping[str, Any]) -> list[Any]:
    """``metadata.finalizers`` as a list (absent or malformed counts as none)."""
    value = meta.get("finalizers")
    return value if isinstance(value, list) else []


def validate_create(meta: Mapping[str, Any], *, namespaced: bool) -> list[FieldError]:
    """What the API server checks in ``metadata`` on create (after a generated name was chosen)."""
    errs: list[FieldError] = []
    generate = meta.get("generateName") or ""
    if generate:
        errs += [invalid(_METADATA.child("generateName"), generate, m) for m in _name_errors(generate, prefix=True)]
    name = meta.get("name") or ""
    if not name:
        errs.append(required(_METADATA.child("name"), "name or generateName is required"))
    else:
        errs += [invalid(_METADATA.child("name"), name, m) for m in _name_errors(name, prefix=False)]
    if namespaced:
        namespace = meta.get("namespace") or ""
        if not namespace:
            errs.append(required(_METADATA.child("namespace"), ""))
        else:
            problems = _namespace_problems(namespace) if isinstance(namespace, str) else is_dns1123_label(namespace)
            errs += [invalid(_METADATA.child("namespace"), namespace, m) for m in problems]
    return errs + _validate_common(meta)


def _name_errors(name: object, *, prefix: bool) -> list[str]:
    if not isinstance(name, str):
        return ["must be a string"]
    return is_dns1123_subdomain(_mask_trailing_dash(name) if prefix else name)


def validate_update(new: Mapping[str, Any], old: Mapping[str, Any]) -> list[FieldError]:
    """What the API server checks in ``metadata`` on update (system fields are already carried over)."""
    errs: list[FieldError] = []
    if old.get("deletionTimestamp"):
        added = sorted(set(map(str, finalizers_of(new))) - set(map(str, finalizers_of(old))))
        if added:
            # Go prints the added set with %#v: []string{"a", "b"}.
            shown = "[]string{" + ", ".join(json.dumps(f) for f in added) + "}"
            detail = f"no new finalizers can be added if the object is being deleted, found new finalizers {shown}"
            errs.append(forbidden(_METADATA.child("finalizers"), detail))
    new_generation, old_generation = new.get("generation") or 0, old.get("generation") or 0
    if isinstance(new_generation, int) and isinstance(old_generation, int) and new_generation < old_generation:
        errs.append(invalid(_METADATA.child("generation"), new_generation, "must not be decremented"))
    for name in ("name", "namespace"):
        if (new.get(name) or "") != (old.get(name) or ""):
            errs.append(invalid(_METADATA.child(name), new.get(name) or "", "field is immutable"))
    return errs + _validate_common(new)


def unprocessable(path: FieldPath, detail: str) -> FieldError:
    """A field error for a request that cannot be applied (a failed patch), printed without a value."""
    return FieldError(ErrorType.INVALID, str(path), detail=detail)
