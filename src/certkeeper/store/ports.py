"""The Store protocol every backend implements, its typed errors, and the shapes it trades in.

Objects travel as raw JSON-like dicts (``RawObject``): controllers decode a typed view only when they
need one, which keeps informer caches cheap. The protocol mirrors the Kubernetes API's verbs and
semantics so the same controllers run against the real API server and the embedded local store:

* every object has ``metadata.resourceVersion``; an ``update`` carrying a stale one is a ``Conflict``;
* ``update`` never changes ``status`` and ``update_status`` never changes anything else (status
  subresource); ``metadata.generation`` increases on every change outside metadata and status;
* ``watch`` starts after a resourceVersion and yields ADDED / MODIFIED / DELETED / BOOKMARK events; a
  resourceVersion the backend no longer remembers raises ``Gone`` (410), after which callers relist;
* a delete of an object with finalizers only sets ``metadata.deletionTimestamp``; removing the last
  finalizer completes it; owner references cascade.

Error tree::

    StoreError
     +-- NotFound          (404)
     +-- AlreadyExists     (409, create of an existing name)
     +-- Conflict          (409, stale resourceVersion)
     +-- Gone              (410, watch/list from a compacted resourceVersion)
     +-- Forbidden         (403)
     +-- Invalid           (422, carries every field error)
     +-- TooManyRequests   (429, carries the retry delay)
     +-- Unavailable       (5xx / connection lost: retryable)
"""

from __future__ import annotations

import enum
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from certkeeper.api.field import FieldError, aggregate

#: A Kubernetes object as decoded JSON.
RawObject = dict[str, Any]


@dataclass(frozen=True, slots=True, kw_only=True)
class ResourceType:
    """What a REST path needs to name a kind: ``/apis/<group>/<version>/[namespaces/<ns>/]<plural>``."""

    group: str
    version: str
    kind: str
    plural: str
    namespaced: bool = True
    #: Whether writes to ``status`` go through the ``/status`` subresource.
    status_subresource: bool = False

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def qualified_kind(self) -> str:
        """``Certificate.cert-manager.io`` (core kinds: ``Secret``), as the API server names them."""
        return f"{self.kind}.{self.group}" if self.group else self.kind

    def __str__(self) -> str:
        return f"{self.plural}.{self.group}" if self.group else self.plural


class StoreError(Exception):
    """Base of every error a Store raises."""


class NotFound(StoreError):
    pass


class AlreadyExists(StoreError):
    pass


class Conflict(StoreError):
    pass


class Gone(StoreError):
    pass


class Forbidden(StoreError):
    pass


class TooManyRequests(StoreError):
    def __init__(self, message: str, retry_after_seconds: float = 1.0) -> None:
        super().__init__(message)
        self.retry_after_seconds = retry_after_seconds


class Unavailable(StoreError):
    pass


class Invalid(StoreError):
    """The object broke schema or admission rules; ``errors`` holds every field error."""

    def __init__(self, qualified_kind: str, name: str, errors: Sequence[FieldError]) -> None:
        super().__init__(f'{qualified_kind} "{name}" is invalid: {aggregate(errors)}')
        self.errors = tuple(errors)


class EventType(enum.StrEnum):
    ADDED = "ADDED"
    MODIFIED = "MODIFIED"
    DELETED = "DELETED"
    BOOKMARK = "BOOKMARK"


@dataclass(frozen=True, slots=True)
class WatchEvent:
    type: EventType
    object: RawObject


@dataclass(frozen=True, slots=True)
class ObjectList:
    items: list[RawObject]
    resource_version: str
    #: Opaque token for the next page; empty when this was the last one.
    continue_token: str = ""


class PatchType(enum.StrEnum):
    MERGE = "application/merge-patch+json"
    JSON = "application/json-patch+json"
    APPLY = "application/apply-patch+yaml"


@dataclass(frozen=True, slots=True, kw_only=True)
class LabelSelector:
    """Equality and set-based requirements, as ``metav1.LabelSelector`` (matchLabels + matchExpressions).

    ``exists``/``not_exists`` hold keys; ``in_``/``not_in`` map a key to its allowed/forbidden values.
    """

    match_labels: Mapping[str, str] = field(default_factory=dict)
    exists: frozenset[str] = frozenset()
    not_exists: frozenset[str] = frozenset()
    in_: Mapping[str, frozenset[str]] = field(default_factory=dict)
    not_in: Mapping[str, frozenset[str]] = field(default_factory=dict)

    def matches(self, labels: Mapping[str, str] | None) -> bool:
        labels = labels or {}
        if any(labels.get(k) != v for k, v in self.match_labels.items()):
            return False
        if any(k not in labels for k in self.exists) or any(k in labels for k in self.not_exists):
            return False
        if any(labels.get(k) not in values for k, values in self.in_.items()):
            return False
        return not any(k in labels and labels[k] in values for k, values in self.not_in.items())

    def to_query(self) -> str:
        """The ``labelSelector`` query parameter of the Kubernetes API."""
        parts = [f"{k}={v}" for k, v in sorted(self.match_labels.items())]
        parts += sorted(self.exists)
        parts += [f"!{k}" for k in sorted(self.not_exists)]
        parts += [f"{k} in ({','.join(sorted(v))})" for k, v in sorted(self.in_.items())]
        parts += [f"{k} notin ({','.join(sorted(v))})" for k, v in sorted(self.not_in.items())]
        return ",".join(parts)


class Store(Protocol):
    """The verbs controllers use. Every method may raise the StoreError subclasses above."""

    async def get(self, resource: ResourceType, name: str, *, namespace: str | None = None) -> RawObject: ...

    async def list(
        self,
        resource: ResourceType,
        *,
        namespace: str | None = None,
        label_selector: LabelSelector | None = None,
        limit: int | None = None,
        continue_token: str = "",
    ) -> ObjectList: ...

    def watch(
        self,
        resource: ResourceType,
        *,
        resource_version: str,
        namespace: str | None = None,
        label_selector: LabelSelector | None = None,
    ) -> AsyncIterator[WatchEvent]: ...

    async def create(self, resource: ResourceType, obj: RawObject) -> RawObject: ...

    async def update(self, resource: ResourceType, obj: RawObject) -> RawObject: ...

    async def update_status(self, resource: ResourceType, obj: RawObject) -> RawObject: ...

    async def patch(
        self,
        resource: ResourceType,
        name: str,
        patch: RawObject | Sequence[RawObject],
        *,
        namespace: str | None = None,
        patch_type: PatchType = PatchType.MERGE,
        field_manager: str = "certkeeper",
        force: bool = False,
        subresource: str = "",
    ) -> RawObject: ...

    async def delete(
        self, resource: ResourceType, name: str, *, namespace: str | None = None, uid: str | None = None
    ) -> None: ...
