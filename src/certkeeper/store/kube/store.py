"""``KubeStore``: the Store protocol on the Kubernetes API server, over raw JSON.

Objects stay the dicts the server sent (no typed models on the hot path). ``metadata.managedFields``
is kept, because the issuing controller reads its own server-side-apply entries back from Secrets;
kinds that never need it can have it dropped on arrival (``drop_managed_fields``). List items get the
``apiVersion`` and ``kind`` the API server leaves out of lists of built-in kinds, so every object reads
the same whichever verb fetched it.

Verbs map to requests as client-go's typed and dynamic clients make them: LIST pages with ``limit`` and
``continue``; WATCH with bookmarks and a jittered ``timeoutSeconds`` (client-go's reflector waits 5 to 10
minutes) from a resourceVersion, a 410 or an ERROR event with code 410 raising ``Gone``; ``update_status``
through the ``/status`` subresource; patches as merge, JSON or apply patches with a field manager;
delete with ``propagationPolicy: Background`` and an optional uid precondition.

Metadata-only reads (``get_metadata``, ``list_metadata``, ``watch_metadata``; ``MetadataStore``) ask for
``PartialObjectMetadata``: what cert-manager's SecretsFilteredCaching uses to watch every Secret it
does not own without holding their data (see ``metadata.py``).
"""

from __future__ import annotations

import logging
import os
import random
from collections.abc import AsyncIterator, Iterable, Sequence
from typing import Any

from certkeeper.api.field import FieldPath, required
from certkeeper.store.kube.clock import Clock
from certkeeper.store.kube.config import ClusterConfig, load_in_cluster, load_kubeconfig
from certkeeper.store.kube.paths import (
    JSON,
    METADATA_ACCEPT,
    METADATA_LIST_ACCEPT,
    collection_path,
    list_query,
    object_path,
    valid_path_segment,
    watch_query,
    write_query,
)
from certkeeper.store.kube.transport import ClientOptions, KubeTransport, Target
from certkeeper.store.kube.watchstream import MalformedEvent, decode_event
from certkeeper.store.ports import (
    Invalid,
    LabelSelector,
    NotFound,
    ObjectList,
    PatchType,
    RawObject,
    ResourceType,
    WatchEvent,
)

log = logging.getLogger(__name__)

#: client-go's reflector: watches last between this and twice this, so a fleet does not reconnect at once.
DEFAULT_WATCH_TIMEOUT_SECONDS = 300.0
#: How long a watch may stay silent beyond its timeout before the client gives up on the connection.
_WATCH_READ_MARGIN_SECONDS = 30.0
_METADATA_API_VERSION = "meta.k8s.io/v1"
_NO_SUCH_RESOURCE = "the server could not find the requested resource"
_METADATA = FieldPath("metadata")


class KubeStore:
    """The Store on a Kubernetes API server.

    Build it with ``KubeStore.from_kubeconfig(path, context=...)``, ``KubeStore.in_cluster()`` or
    ``KubeStore(KubeTransport(config, options))``; close it with ``await store.close()`` (or ``async with``).

    * ``drop_managed_fields``: kinds whose ``metadata.managedFields`` is removed from every object
      returned (keep Secrets' when the issuing controller reads its apply entries);
    * ``watch_timeout_seconds``: the shortest server-side watch timeout; each watch takes a random one
      between this and twice this.
    """

    def __init__(
        self,
        transport: KubeTransport,
        *,
        drop_managed_fields: Iterable[ResourceType] = (),
        watch_timeout_seconds: float = DEFAULT_WATCH_TIMEOUT_SECONDS,
        rng: random.Random | None = None,
    ) -> None:
        if watch_timeout_seconds < 1:
            raise ValueError("watch_timeout_seconds must be at least 1")
        self.transport = transport
        self._drop_managed_fields = frozenset(str(r) for r in drop_managed_fields)
        self._watch_timeout = watch_timeout_seconds
        self._rng = rng or random.Random()  # noqa: S311 - jitter, not a secret

    @classmethod
    def from_config(
        cls,
        config: ClusterConfig,
        *,
        options: ClientOptions | None = None,
        clock: Clock | None = None,
        drop_managed_fields: Iterable[ResourceType] = (),
        watch_timeout_seconds: float = DEFAULT_WATCH_TIMEOUT_SECONDS,
    ) -> KubeStore:
        """A store on the API server ``config`` describes."""
        return cls(
            KubeTransport(config, options, clock=clock),
            drop_managed_fields=drop_managed_fields,
            watch_timeout_seconds=watch_timeout_seconds,
        )

    @classmethod
    def from_kubeconfig(
        cls,
        path: str | os.PathLike[str] | None = None,
        *,
        context: str | None = None,
        options: ClientOptions | None = None,
        clock: Clock | None = None,
        drop_managed_fields: Iterable[ResourceType] = (),
        watch_timeout_seconds: float = DEFAULT_WATCH_TIMEOUT_SECONDS,
    ) -> KubeStore:
        """A store on the cluster of ``context`` (default: current) in the kubeconfig at ``path``
        (default: ``$KUBECONFIG``, else ``~/.kube/config``)."""
        config = load_kubeconfig(path, context=context, clock=clock)
        return cls.from_config(
            config,
            options=options,
            clock=clock,
            drop_managed_fields=drop_managed_fields,
            watch_timeout_seconds=watch_timeout_seconds,
        )

    @classmethod
    def in_cluster(
        cls,
        *,
        options: ClientOptions | None = None,
        clock: Clock | None = None,
        drop_managed_fields: Iterable[ResourceType] = (),
        watch_timeout_seconds: float = DEFAULT_WATCH_TIMEOUT_SECONDS,
    ) -> KubeStore:
        """A store on the cluster this Pod runs in, as its service account."""
        return cls.from_config(
            load_in_cluster(clock=clock),
            options=options,
            clock=clock,
            drop_managed_fields=drop_managed_fields,
            watch_timeout_seconds=watch_timeout_seconds,
        )

    @property
    def namespace(self) -> str:
        """The namespace of the kubeconfig context or of the Pod."""
        return self.transport.config.namespace

    async def close(self) -> None:
        await self.transport.close()

    async def __aenter__(self) -> KubeStore:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    # -- shaping objects --------------------------------------------------------------------------------

    def _arrive(self, resource: ResourceType, obj: RawObject, *, metadata_only: bool = False) -> RawObject:
        if "kind" not in obj:
            obj["kind"] = "PartialObjectMetadata" if metadata_only else resource.kind
        if "apiVersion" not in obj:
            obj["apiVersion"] = _METADATA_API_VERSION if metadata_only else resource.api_version
        if str(resource) in self._drop_managed_fields:
            meta = obj.get("metadata")
            if isinstance(meta, dict):
                meta.pop("managedFields", None)
        return obj

    @staticmethod
    def _outgoing(resource: ResourceType, obj: RawObject) -> RawObject:
        """The body of a create or update: ``apiVersion`` and ``kind`` filled in when the caller left them out."""
        if "apiVersion" in obj and "kind" in obj:
            return obj
        return {"apiVersion": resource.api_version, "kind": resource.kind, **obj}

    @staticmethod
    def _not_found(resource: ResourceType, name: str) -> NotFound:
        return NotFound(f'{resource} "{name}" not found')

    def _path(self, resource: ResourceType, name: str, namespace: str | None, subresource: str = "") -> str:
        """The object's path; NotFound when no object could have that name or namespace."""
        if not valid_path_segment(name):
            raise self._not_found(resource, name)
        if resource.namespaced and not (namespace and valid_path_segment(namespace)):
            raise self._not_found(resource, name)
        return object_path(resource, name, namespace if resource.namespaced else None, subresource)

    @staticmethod
    def _identity(resource: ResourceType, obj: RawObject, *, need_name: bool) -> tuple[str, str | None]:
        meta = obj.get("metadata")
        meta = meta if isinstance(meta, dict) else {}
        name = meta.get("name")
        name = name if isinstance(name, str) else ""
        namespace = meta.get("namespace")
        namespace = namespace if isinstance(namespace, str) else ""
        if need_name and not name:
            raise Invalid(resource.qualified_kind, "", [required(_METADATA.child("name"), "name is required")])
        if not resource.namespaced:
            return name, None
        if not namespace:
            raise Invalid(resource.qualified_kind, name, [required(_METADATA.child("namespace"), "")])
        if not valid_path_segment(namespace):
            raise NotFound(f'namespaces "{namespace}" not found')
        return name, namespace

    # -- reads ------------------------------------------------------------------------------------------

    async def _get(self, resource: ResourceType, name: str, namespace: str | None, *, metadata_only: bool) -> RawObject:
        obj = await self.transport.request(
            "GET",
            self._path(resource, name, namespace),
            accept=METADATA_ACCEPT if metadata_only else JSON,
            idempotent=True,
            target=Target(resource.qualified_kind, name),
        )
        return self._arrive(resource, obj, metadata_only=metadata_only)

    async def get(self, resource: ResourceType, name: str, *, namespace: str | None = None) -> RawObject:
        return await self._get(resource, name, namespace, metadata_only=False)

    async def get_metadata(self, resource: ResourceType, name: str, *, namespace: str | None = None) -> RawObject:
        """The object as ``PartialObjectMetadata``: apiVersion, kind and metadata only."""
        return await self._get(resource, name, namespace, metadata_only=True)

    async def _list(
        self,
        resource: ResourceType,
        namespace: str | None,
        label_selector: LabelSelector | None,
        limit: int | None,
        continue_token: str,
        *,
        metadata_only: bool,
    ) -> ObjectList:
        if resource.namespaced and namespace and not valid_path_segment(namespace):
            return ObjectList(items=[], resource_version="")
        result = await self.transport.request(
            "GET",
            collection_path(resource, namespace),
            query=list_query(label_selector=label_selector, limit=limit, continue_token=continue_token),
            accept=METADATA_LIST_ACCEPT if metadata_only else JSON,
            idempotent=True,
            target=Target(resource.qualified_kind),
        )
        meta: dict[str, Any] = result.get("metadata") or {}
        items = [
            self._arrive(resource, item, metadata_only=metadata_only)
            for item in result.get("items") or []
            if isinstance(item, dict)
        ]
        return ObjectList(
            items=items,
            resource_version=str(meta.get("resourceVersion") or ""),
            continue_token=str(meta.get("continue") or ""),
        )

    async def list(
        self,
        resource: ResourceType,
        *,
        namespace: str | None = None,
        label_selector: LabelSelector | None = None,
        limit: int | None = None,
        continue_token: str = "",
    ) -> ObjectList:
        return await self._list(resource, namespace, label_selector, limit, continue_token, metadata_only=False)

    async def list_metadata(
        self,
        resource: ResourceType,
        *,
        namespace: str | None = None,
        label_selector: LabelSelector | None = None,
        limit: int | None = None,
        continue_token: str = "",
    ) -> ObjectList:
        """A page of ``PartialObjectMetadata`` (no data, spec or status)."""
        return await self._list(resource, namespace, label_selector, limit, continue_token, metadata_only=True)

    def watch(
        self,
        resource: ResourceType,
        *,
        resource_version: str,
        namespace: str | None = None,
        label_selector: LabelSelector | None = None,
    ) -> AsyncIterator[WatchEvent]:
        """Events after ``resource_version`` ("" or "0": ADDED for every current object first).

        Errors surface on the first iteration; ``Gone`` means relist. The iterator ends when the server
        ends the watch (its timeout) or the connection drops: watch again from the last resourceVersion.
        """
        return self._watch(resource, resource_version, namespace, label_selector, metadata_only=False)

    def watch_metadata(
        self,
        resource: ResourceType,
        *,
        resource_version: str,
        namespace: str | None = None,
        label_selector: LabelSelector | None = None,
    ) -> AsyncIterator[WatchEvent]:
        """``watch`` whose events carry ``PartialObjectMetadata``."""
        return self._watch(resource, resource_version, namespace, label_selector, metadata_only=True)

    async def _watch(
        self,
        resource: ResourceType,
        resource_version: str,
        namespace: str | None,
        label_selector: LabelSelector | None,
        *,
        metadata_only: bool,
    ) -> AsyncIterator[WatchEvent]:
        if resource.namespaced and namespace and not valid_path_segment(namespace):
            return
        timeout = int(self._watch_timeout * (1.0 + self._rng.random()))
        lines = self.transport.stream_lines(
            collection_path(resource, namespace),
            query=watch_query(
                resource_version=resource_version, label_selector=label_selector, timeout_seconds=timeout
            ),
            accept=METADATA_ACCEPT if metadata_only else JSON,
            read_timeout=timeout + _WATCH_READ_MARGIN_SECONDS,
            target=Target(resource.qualified_kind),
        )
        try:
            async for line in lines:
                try:
                    event = decode_event(line)
                except MalformedEvent as exc:
                    # As client-go: an undecodable event ends this watch; the caller watches again.
                    log.warning("watch of %s: %s", resource, exc)
                    return
                if event is None:
                    continue
                yield WatchEvent(event.type, self._arrive(resource, event.object, metadata_only=metadata_only))
        finally:
            await lines.aclose()

    # -- writes -----------------------------------------------------------------------------------------

    async def create(self, resource: ResourceType, obj: RawObject) -> RawObject:
        name, namespace = self._identity(resource, obj, need_name=False)
        result = await self.transport.request(
            "POST",
            collection_path(resource, namespace),
            body=self._outgoing(resource, obj),
            idempotent=False,
            target=Target(resource.qualified_kind, name),
        )
        return self._arrive(resource, result)

    async def _put(self, resource: ResourceType, obj: RawObject, subresource: str) -> RawObject:
        name, namespace = self._identity(resource, obj, need_name=True)
        result = await self.transport.request(
            "PUT",
            self._path(resource, name, namespace, subresource),
            body=self._outgoing(resource, obj),
            idempotent=False,
            target=Target(resource.qualified_kind, name),
        )
        return self._arrive(resource, result)

    async def update(self, resource: ResourceType, obj: RawObject) -> RawObject:
        return await self._put(resource, obj, "")

    async def update_status(self, resource: ResourceType, obj: RawObject) -> RawObject:
        if not resource.status_subresource:
            # As the local store: a kind without the subresource has no status endpoint.
            raise NotFound(_NO_SUCH_RESOURCE)
        return await self._put(resource, obj, "status")

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
        """A merge, JSON or server-side apply patch (``force`` only applies to the last)."""
        apply = patch_type is PatchType.APPLY
        result = await self.transport.request(
            "PATCH",
            self._path(resource, name, namespace, subresource),
            query=write_query(field_manager=field_manager, force=force if apply else None),
            body=patch,
            content_type=patch_type.value,
            idempotent=False,
            target=Target(resource.qualified_kind, name),
        )
        return self._arrive(resource, result)

    async def delete(
        self, resource: ResourceType, name: str, *, namespace: str | None = None, uid: str | None = None
    ) -> None:
        """Delete in the background (dependents are collected later); ``uid`` must match or it is a Conflict."""
        options: RawObject = {"apiVersion": "v1", "kind": "DeleteOptions", "propagationPolicy": "Background"}
        if uid:
            options["preconditions"] = {"uid": uid}
        await self.transport.request(
            "DELETE",
            self._path(resource, name, namespace),
            body=options,
            idempotent=False,
            target=Target(resource.qualified_kind, name),
        )
