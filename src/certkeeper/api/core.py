"""The few core/v1 kinds certkeeper reads and writes: Secret and Event. Pure."""

from __future__ import annotations

from datetime import datetime
from typing import ClassVar

from certkeeper.api.meta import Model, Resource

SECRET_TYPE_TLS = "kubernetes.io/tls"
SECRET_TYPE_OPAQUE = "Opaque"


class Secret(Resource, tag="Secret", kw_only=True, frozen=True):
    API_VERSION: ClassVar[str] = "v1"
    PLURAL: ClassVar[str] = "secrets"

    type: str | None = None
    data: dict[str, bytes] | None = None
    string_data: dict[str, str] | None = None
    immutable: bool | None = None


class ObjectReference(Model, kw_only=True, frozen=True):
    api_version: str | None = None
    kind: str | None = None
    name: str | None = None
    namespace: str | None = None
    uid: str | None = None
    resource_version: str | None = None
    field_path: str | None = None


class EventSource(Model, kw_only=True, frozen=True):
    component: str | None = None
    host: str | None = None


class Event(Resource, tag="Event", kw_only=True, frozen=True):
    API_VERSION: ClassVar[str] = "v1"
    PLURAL: ClassVar[str] = "events"

    involved_object: ObjectReference
    reason: str | None = None
    message: str | None = None
    source: EventSource | None = None
    first_timestamp: datetime | None = None
    last_timestamp: datetime | None = None
    count: int | None = None
    type: str | None = None
    reporting_component: str | None = None
    reporting_instance: str | None = None


__all__ = ["SECRET_TYPE_OPAQUE", "SECRET_TYPE_TLS", "Event", "EventSource", "ObjectReference", "Secret"]
