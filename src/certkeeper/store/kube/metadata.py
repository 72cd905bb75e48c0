"""Metadata-only caching of Secrets, as cert-manager's SecretsFilteredCaching does it.

cert-manager caches in full only the Secrets labelled ``controller.cert-manager.io/fao: "true"`` (the
ones it writes) and every other Secret as ``PartialObjectMetadata`` with labels, annotations and
managedFields removed (``internal/informers/core_filteredsecrets.go``, ``transformers.go``): enough to
know a Secret exists and to GET it when a reconcile needs its data, at a fraction of the memory. Two
informers then cover all Secrets, split by the label:

    full = Informer(store, SECRETS, label_selector=OWNED_SECRETS, ...)
    rest = Informer(MetadataStore(store), SECRETS, label_selector=OTHER_SECRETS,
                    transform=strip_partial_metadata, ...)

A Secret that gains the label leaves the metadata informer (DELETED) and enters the full one (ADDED).
``MetadataStore`` is the Store protocol with metadata-only reads, so the ordinary informer runs on it.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from typing import Final

from certkeeper.api.annotations import PART_OF_CERT_MANAGER_CONTROLLER_LABEL
from certkeeper.store.kube.store import KubeStore
from certkeeper.store.ports import LabelSelector, ObjectList, PatchType, RawObject, ResourceType, WatchEvent

#: The Secrets certkeeper writes: cached whole.
OWNED_SECRETS: Final = LabelSelector(match_labels={PART_OF_CERT_MANAGER_CONTROLLER_LABEL: "true"})
#: Every other Secret: cached as metadata only.
OTHER_SECRETS: Final = LabelSelector(not_exists=frozenset({PART_OF_CERT_MANAGER_CONTROLLER_LABEL}))


def strip_partial_metadata(obj: RawObject) -> RawObject:
    """Drop labels, annotations and managedFields from a cached PartialObjectMetadata (in place)."""
    meta = obj.get("metadata")
    if isinstance(meta, dict):
        for key in ("labels", "annotations", "managedFields"):
            meta.pop(key, None)
    return obj


class MetadataStore:
    """A ``KubeStore`` whose reads return ``PartialObjectMetadata``; writes go to the full store unchanged."""

    def __init__(self, store: KubeStore) -> None:
        self.store = store

    async def get(self, resource: ResourceType, name: str, *, namespace: str | None = None) -> RawObject:
        return await self.store.get_metadata(resource, name, namespace=namespace)

    async def list(
        self,
        resource: ResourceType,
        *,
        namespace: str | None = None,
        label_selector: LabelSelector | None = None,
        limit: int | None = None,
        continue_token: str = "",
    ) -> ObjectList:
        return await self.store.list_metadata(
            resource, namespace=namespace, label_selector=label_selector, limit=limit, continue_token=continue_token
        )

    def watch(
        self,
        resource: ResourceType,
        *,
        resource_version: str,
        namespace: str | None = None,
        label_selector: LabelSelector | None = None,
    ) -> AsyncIterator[WatchEvent]:
        return self.store.watch_metadata(
            resource, resource_version=resource_version, namespace=namespace, label_selector=label_selector
        )

    async def create(self, resource: ResourceType, obj: RawObject) -> RawObject:
        return await self.store.create(resource, obj)

    async def update(self, resource: ResourceType, obj: RawObject) -> RawObject:
        return await self.store.update(resource, obj)

    async def update_status(self, resource: ResourceType, obj: RawObject) -> RawObject:
        return await self.store.update_status(resource, obj)

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
    ) -> RawObject:
        return await self.store.patch(
            resource,
            name,
            patch,
            namespace=namespace,
            patch_type=patch_type,
            field_manager=field_manager,
            force=force,
            subresource=subresource,
        )

    async def delete(
        self, resource: ResourceType, name: str, *, namespace: str | None = None, uid: str | None = None
    ) -> None:
        await self.store.delete(resource, name, namespace=namespace, uid=uid)
