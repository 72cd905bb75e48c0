"""Kubernetes' own format checks that cert-manager's rules call: DNS subdomains, labels, annotations.

The messages are apimachinery's (v0.36, the version cert-manager builds with), because they reach
the user verbatim inside cert-manager's field errors: ``IsDNS1123Subdomain``, ``IsLabelKey`` (alias
``IsQualifiedName``), ``IsLabelValue``, ``ValidateLabels`` and ``ValidateAnnotations``. Go iterates
maps in random order; we iterate keys sorted, so the errors of one object always come out the same.
Pure.

Follows ``k8s.io/apimachinery`` ``pkg/api/validate/content/{dns,kube,errors}.go``,
``pkg/apis/meta/v1/validation/validation.go`` and ``pkg/api/validation/objectmeta.go``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Final

from certkeeper.api import field as fe
from certkeeper.api.field import FieldError, FieldPath

DNS1123_LABEL_FMT: Final = "[a-z0-9]([-a-z0-9]*[a-z0-9])?"
DNS1123_LABEL_MAX_LENGTH: Final = 63
_DNS1123_LABEL_MSG: Final = (
    "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', "
    "and must start and end with an alphanumeric character"
)
_DNS1123_LABEL_RE: Final = re.compile(DNS1123_LABEL_FMT)
DNS1123_SUBDOMAIN_FMT: Final = DNS1123_LABEL_FMT + "(\\." + DNS1123_LABEL_FMT + ")*"
DNS1123_SUBDOMAIN_MAX_LENGTH: Final = 253
_DNS1123_SUBDOMAIN_MSG: Final = (
    "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', "
    "and must start and end with an alphanumeric character"
)
_DNS1123_SUBDOMAIN_RE: Final = re.compile(DNS1123_SUBDOMAIN_FMT)

_LABEL_KEY_FMT: Final = "([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]"
_LABEL_KEY_MSG: Final = (
    "must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character"
)
_LABEL_KEY_RE: Final = re.compile(_LABEL_KEY_FMT)
LABEL_KEY_MAX_LENGTH: Final = 63
_LABEL_VALUE_FMT: Final = "(" + _LABEL_KEY_FMT + ")?"
_LABEL_VALUE_MSG: Final = (
    "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', "
    "and must start and end with an alphanumeric character"
)
_LABEL_VALUE_RE: Final = re.compile(_LABEL_VALUE_FMT)
LABEL_VALUE_MAX_LENGTH: Final = 63
#: The most bytes all annotations of one object (keys plus values) may hold.
TOTAL_ANNOTATION_SIZE_LIMIT: Final = 256 * 1024


def regex_error(message: str, fmt: str, *examples: str) -> str:
    """apimachinery's ``RegexError``: the message, examples and the pattern (its odd spacing included)."""
    if not examples:
        return f"{message} (regex used for validation is '{fmt}')"
    listed = " or ".join(f"'{example}', " for example in examples)
    return f"{message} (e.g. {listed}regex used for validation is '{fmt}')"


def _full_match(pattern: re.Pattern[str], value: str) -> bool:
    # Go's ^...$ around an RE2 pattern: $ is the end of text, never before a final newline.
    return pattern.fullmatch(value) is not None


def _utf8_length(value: str) -> int:
    return len(value.encode("utf-8", "surrogatepass"))


def is_dns1123_subdomain(value: str, *, unit: str = "characters") -> list[str]:
    """Problems with ``value`` as an RFC 1123 subdomain (``IsDNS1123Subdomain``); empty when valid.

    apimachinery has two copies of this check that differ only in the length message: the one
    object names and IngressClass names use says "characters", the one inside label keys "bytes".
    """
    errors = []
    if _utf8_length(value) > DNS1123_SUBDOMAIN_MAX_LENGTH:
        errors.append(f"must be no more than {DNS1123_SUBDOMAIN_MAX_LENGTH} {unit}")
    if not _full_match(_DNS1123_SUBDOMAIN_RE, value):
        errors.append(regex_error(_DNS1123_SUBDOMAIN_MSG, DNS1123_SUBDOMAIN_FMT, "example.com"))
    return errors


def is_dns1123_label(value: str) -> list[str]:
    """Problems with ``value`` as an RFC 1123 label (namespace names, ``IsDNS1123Label``); empty when valid."""
    errors = []
    if _utf8_length(value) > DNS1123_LABEL_MAX_LENGTH:
        errors.append(f"must be no more than {DNS1123_LABEL_MAX_LENGTH} characters")
    if not _full_match(_DNS1123_LABEL_RE, value):
        if _full_match(_DNS1123_SUBDOMAIN_RE, value):
            errors.append("must not contain dots")
        else:
            errors.append(regex_error(_DNS1123_LABEL_MSG, DNS1123_LABEL_FMT, "my-name", "123-abc"))
    return errors


def is_label_key(value: str) -> list[str]:
    """Problems with ``value`` as a label key / qualified name (``IsLabelKey``); empty when valid."""
    errors: list[str] = []
    parts = value.split("/")
    if len(parts) == 1:
        name = parts[0]
    elif len(parts) == 2:
        prefix, name = parts
        if not prefix:
            errors.append("prefix part must be non-empty")
        else:
            errors.extend("prefix part " + message for message in is_dns1123_subdomain(prefix, unit="bytes"))
    else:
        return [
            "a valid label key "
            + regex_error(_LABEL_KEY_MSG, _LABEL_KEY_FMT, "MyName", "my.name", "123-abc")
            + " with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')"
        ]
    if not name:
        errors.append("name part must be non-empty")
    elif _utf8_length(name) > LABEL_KEY_MAX_LENGTH:
        errors.append(f"name part must be no more than {LABEL_KEY_MAX_LENGTH} bytes")
    if not _full_match(_LABEL_KEY_RE, name):
        errors.append("name part " + regex_error(_LABEL_KEY_MSG, _LABEL_KEY_FMT, "MyName", "my.name", "123-abc"))
    return errors


def is_label_value(value: str) -> list[str]:
    """Problems with ``value`` as a label value (``IsLabelValue``); empty when valid."""
    errors = []
    if _utf8_length(value) > LABEL_VALUE_MAX_LENGTH:
        errors.append(f"must be no more than {LABEL_VALUE_MAX_LENGTH} bytes")
    if not _full_match(_LABEL_VALUE_RE, value):
        errors.append(regex_error(_LABEL_VALUE_MSG, _LABEL_VALUE_FMT, "MyValue", "my_value", "12345"))
    return errors


def validate_labels(labels: Mapping[str, str], path: FieldPath) -> list[FieldError]:
    """``ValidateLabels``: every key a qualified name, every value a label value; all errors at ``path``."""
    errors: list[FieldError] = []
    for key in sorted(labels):
        errors.extend(fe.invalid(path, key, message) for message in is_label_key(key))
        value = labels[key]
        errors.extend(fe.invalid(path, value, message) for message in is_label_value(value))
    return errors


def validate_annotations(annotations: Mapping[str, str], path: FieldPath) -> list[FieldError]:
    """``ValidateAnnotations``: keys are qualified names (any case), and all of them fit in 256 KiB."""
    errors: list[FieldError] = []
    for key in sorted(annotations):
        errors.extend(fe.invalid(path, key, message) for message in is_label_key(key.lower()))
    total = sum(_utf8_length(key) + _utf8_length(value) for key, value in annotations.items())
    if total > TOTAL_ANNOTATION_SIZE_LIMIT:
        errors.append(fe.too_long(path, "", TOTAL_ANNOTATION_SIZE_LIMIT))
    return errors


__all__ = [
    "DNS1123_SUBDOMAIN_FMT",
    "DNS1123_SUBDOMAIN_MAX_LENGTH",
    "TOTAL_ANNOTATION_SIZE_LIMIT",
    "is_dns1123_label",
    "is_dns1123_subdomain",
    "is_label_key",
    "is_label_value",
    "regex_error",
    "validate_annotations",
    "validate_labels",
]
