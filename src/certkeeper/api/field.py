"""Field paths and field errors, shaped like Kubernetes' ``field.Path`` and ``field.ErrorList``.

Validation returns every error it finds, each naming the path of the offending field
(``spec.dnsNames[2]``), so that a user sees all their mistakes at once, formatted exactly as the
API server (and so ``kubectl apply``) prints them. Pure.
"""

from __future__ import annotations

import enum
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Final


class FieldPath:
    """An immutable path to a field: ``FieldPath("spec").child("dnsNames").index(2)``."""

    __slots__ = ("_parts",)

    def __init__(self, *names: str) -> None:
        self._parts: tuple[str, ...] = ()
        for name in names:
            self._parts = self._child_parts(name)

    def _child_parts(self, name: str) -> tuple[str, ...]:
        return (*self._parts, name if not self._parts else f".{name}")

    def child(self, *names: str) -> FieldPath:
        path = self._copy()
        for name in names:
            path._parts = path._child_parts(name)
        return path

    def index(self, i: int) -> FieldPath:
        path = self._copy()
        path._parts = (*self._parts, f"[{i}]")
        return path

    def key(self, k: str) -> FieldPath:
        path = self._copy()
        path._parts = (*self._parts, f"[{k}]")
        return path

    def _copy(self) -> FieldPath:
        path = FieldPath()
        path._parts = self._parts
        return path

    def __str__(self) -> str:
        return "".join(self._parts)

    def __repr__(self) -> str:
        return f"FieldPath({str(self)!r})"

    def __eq__(self, other: object) -> bool:
        if isinstance(other, FieldPath):
            return self._parts == other._parts
        return NotImplemented

    def __hash__(self) -> int:
        return hash(self._parts)


class ErrorType(enum.Enum):
    """The kinds of field error; values are the words the API server prints."""

    NOT_FOUND = "Not found"
    REQUIRED = "Required value"
    DUPLICATE = "Duplicate value"
    INVALID = "Invalid value"
    NOT_SUPPORTED = "Unsupported value"
    FORBIDDEN = "Forbidden"
    TOO_LONG = "Too long"
    TOO_MANY = "Too many"
    INTERNAL = "Internal error"


class _Omit:
    def __repr__(self) -> str:
        return "OMIT"


#: Marks a field error that carries no bad value (printed without one).
OMIT: Final = _Omit()

_TYPES_WITHOUT_VALUE = {ErrorType.REQUIRED, ErrorType.FORBIDDEN, ErrorType.TOO_LONG, ErrorType.INTERNAL}


def _format_value(value: object) -> str:
    """Print a bad value the way Go's %v / %q / %#v would for the types we produce."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if value is None:
        return "null"
    return json.dumps(value, ensure_ascii=False, default=str, sort_keys=True, separators=(",", ":"))


@dataclass(frozen=True, slots=True)
class FieldError:
    """One problem with one field."""

    type: ErrorType
    field: str
    bad_value: object = OMIT
    detail: str = ""

    def body(self) -> str:
        if self.type in _TYPES_WITHOUT_VALUE or self.bad_value is OMIT:
            text = self.type.value
        else:
            text = f"{self.type.value}: {_format_value(self.bad_value)}"
        if self.detail:
            text += f": {self.detail}"
        return text

    def __str__(self) -> str:
        return f"{self.field}: {self.body()}" if self.field else self.body()


def required(path: FieldPath, detail: str = "") -> FieldError:
    return FieldError(ErrorType.REQUIRED, str(path), OMIT, detail)


def invalid(path: FieldPath, value: object, detail: str) -> FieldError:
    return FieldError(ErrorType.INVALID, str(path), value, detail)


def forbidden(path: FieldPath, detail: str) -> FieldError:
    return FieldError(ErrorType.FORBIDDEN, str(path), OMIT, detail)


def duplicate(path: FieldPath, value: object) -> FieldError:
    return FieldError(ErrorType.DUPLICATE, str(path), value, "")


def not_supported(path: FieldPath, value: object, supported: Iterable[str]) -> FieldError:
    quoted = ", ".join(json.dumps(s) for s in supported)
    detail = f"supported values: {quoted}" if quoted else ""
    return FieldError(ErrorType.NOT_SUPPORTED, str(path), value, detail)


def too_long(path: FieldPath, value: object, max_length: int) -> FieldError:
    return FieldError(ErrorType.TOO_LONG, str(path), value, f"may not be more than {max_length} bytes")


def too_many(path: FieldPath, actual: int, max_items: int) -> FieldError:
    return FieldError(ErrorType.TOO_MANY, str(path), actual, f"must have at most {max_items} items")


def type_invalid(path: FieldPath, value: object, detail: str) -> FieldError:
    return FieldError(ErrorType.INVALID, str(path), value, detail)


def internal(path: FieldPath, detail: str) -> FieldError:
    return FieldError(ErrorType.INTERNAL, str(path), OMIT, detail)


def aggregate(errors: Sequence[FieldError]) -> str:
    """Join errors as apimachinery's aggregate does: one bare, several in brackets."""
    if len(errors) == 1:
        return str(errors[0])
    return "[" + ", ".join(str(e) for e in errors) + "]"


@dataclass(frozen=True, slots=True)
class ValidationResult:
    """Every field error and every warning of one validation."""

    errors: tuple[FieldError, ...] = ()
    warnings: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        return not self.errors

    def invalid_message(self, qualified_kind: str, name: str) -> str:
        """The API server's Invalid status message, e.g. ``Certificate.cert-manager.io "x" is invalid: ...``."""
        return f"{qualified_kind} {json.dumps(name)} is invalid: {aggregate(self.errors)}"

    def __add__(self, other: ValidationResult) -> ValidationResult:
        return ValidationResult(self.errors + other.errors, self.warnings + other.warnings)


@dataclass(slots=True)
class ErrorList:
    """A mutable collector used while validating; frozen into a ValidationResult at the end."""

    errors: list[FieldError] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def add(self, *errors: FieldError) -> None:
        self.errors.extend(errors)

    def extend(self, errors: Iterable[FieldError]) -> None:
        self.errors.extend(errors)

    def warn(self, message: str) -> None:
        self.warnings.append(message)

    def result(self) -> ValidationResult:
        return ValidationResult(tuple(self.errors), tuple(self.warnings))
