"""The base of every API struct, and Kubernetes' ObjectMeta / OwnerReference.

Structs are ``msgspec.Struct``s: typed, frozen, keyword-only, camelCase on the wire, and omitting
unset (``None``) fields, so that loading a manifest and dumping it again gives the same object.
Irregular wire names (``isCA``, ``keyID``) are set per field with ``msgspec.field(name=...)``.
Kinds carry ``kind`` as the msgspec tag, so a union of kinds decodes by its ``kind``. Pure.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, ClassVar

import msgspec


class Model(msgspec.Struct, kw_only=True, omit_defaults=True, rename="camel", frozen=True):
    """Base of every API struct.

    Every subclass is declared ``kw_only=True, frozen=True``: msgspec does not inherit ``kw_only``
    (required fields may then follow optional ones), and mypy's dataclass_transform needs ``frozen``
    restated on each subclass.
    """


class OwnerReference(Model, kw_only=True, frozen=True):
    api_version: str
    kind: str
    name: str
    uid: str
    controller: bool | None = None
    block_owner_deletion: bool | None = None


class ObjectMeta(Model, kw_only=True, frozen=True):
    name: str | None = None
    generate_name: str | None = None
    namespace: str | None = None
    self_link: str | None = None
    uid: str | None = None
    resource_version: str | None = None
    generation: int | None = None
    creation_timestamp: datetime | None = None
    deletion_timestamp: datetime | None = None
    deletion_grace_period_seconds: int | None = None
    labels: dict[str, str] | None = None
    annotations: dict[str, str] | None = None
    owner_references: list[OwnerReference] | None = None
    finalizers: list[str] | None = None
    managed_fields: list[dict[str, Any]] | None = None


class Resource(Model, tag_field="kind", kw_only=True, frozen=True):
    """A top-level kind. Subclasses set ``tag="<Kind>"`` and the class constants below."""

    API_VERSION: ClassVar[str] = ""
    #: Lower-case plural, as in REST paths and RBAC rules.
    PLURAL: ClassVar[str] = ""
    NAMESPACED: ClassVar[bool] = True

    api_version: str
    metadata: ObjectMeta = msgspec.field(default_factory=ObjectMeta)

    @property
    def name(self) -> str:
        return self.metadata.name or ""

    @property
    def namespace(self) -> str:
        return self.metadata.namespace or ""

    @property
    def group(self) -> str:
        return self.api_version.rpartition("/")[0]

    @classmethod
    def kind_name(cls) -> str:
        tag = cls.__struct_config__.tag
        assert isinstance(tag, str)
        return tag
