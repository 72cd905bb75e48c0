"""REST paths and query strings of the Kubernetes API, built from a ``ResourceType``. Pure.

Follows client-go's ``rest.Request.URL`` (``/api/v1`` for the core group, ``/apis/<group>/<version>``
otherwise; ``namespaces/<ns>`` before the plural for namespaced kinds; then name and subresource) and
``metav1.ListOptions``' query parameters. Every segment is percent-encoded, and a name that cannot be a
path segment (``apimachinery/pkg/api/validation/path.IsValidPathSegmentName``: ``.``, ``..``, or one
containing ``/`` or ``%``) is refused before any URL is built, so no name can walk the path.
"""

from __future__ import annotations

from collections.abc import Iterable
from urllib.parse import quote

from certkeeper.store.ports import LabelSelector, ResourceType

#: Plain JSON, for every request and response body.
JSON = "application/json"
#: What a metadata-only LIST asks for (falls back to a full list on servers that cannot convert).
METADATA_LIST_ACCEPT = "application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1,application/json"
#: What a metadata-only GET or WATCH asks for (watch events then carry PartialObjectMetadata objects).
METADATA_ACCEPT = "application/json;as=PartialObjectMetadata;g=meta.k8s.io;v=v1,application/json"

Query = list[tuple[str, str]]


def valid_path_segment(name: str) -> bool:
    """Whether ``name`` can name an object in a URL path (non-empty, not ``.``/``..``, no ``/`` or ``%``)."""
    return bool(name) and name not in (".", "..") and "/" not in name and "%" not in name


def _segment(value: str) -> str:
    if not valid_path_segment(value):
        raise ValueError(f"{value!r} is not a valid path segment")
    return quote(value, safe="")


def group_version_path(resource: ResourceType) -> str:
    """``/api/v1`` for the core group, ``/apis/<group>/<version>`` otherwise."""
    if resource.group:
        return f"/apis/{_segment(resource.group)}/{_segment(resource.version)}"
    return f"/api/{_segment(resource.version)}"


def collection_path(resource: ResourceType, namespace: str | None) -> str:
    """The collection URL path; a namespaced kind without a namespace means every namespace."""
    path = group_version_path(resource)
    if resource.namespaced and namespace:
        path += f"/namespaces/{_segment(namespace)}"
    return f"{path}/{_segment(resource.plural)}"


def object_path(resource: ResourceType, name: str, namespace: str | None, subresource: str = "") -> str:
    """One object's URL path (plus ``/<subresource>``). Raises ValueError for an unusable name or namespace."""
    if resource.namespaced and not namespace:
        raise ValueError(f"{resource} is namespaced: a namespace is required")
    path = f"{collection_path(resource, namespace)}/{_segment(name)}"
    if subresource:
        path += f"/{_segment(subresource)}"
    return path


def list_query(
    *, label_selector: LabelSelector | None = None, limit: int | None = None, continue_token: str = ""
) -> Query:
    """LIST parameters. Without a continue token the list is served from the watch cache when possible."""
    query: Query = []
    if label_selector is not None:
        selector = label_selector.to_query()
        if selector:
            query.append(("labelSelector", selector))
    if limit is not None and limit > 0:
        query.append(("limit", str(limit)))
    if continue_token:
        query.append(("continue", continue_token))
    return query


def watch_query(
    *, resource_version: str, label_selector: LabelSelector | None = None, timeout_seconds: int | None = None
) -> Query:
    """WATCH parameters, always with bookmarks (so a quiet watch still advances its resourceVersion)."""
    query: Query = [("watch", "true"), ("allowWatchBookmarks", "true")]
    if resource_version:
        query.append(("resourceVersion", resource_version))
    query += list_query(label_selector=label_selector)
    if timeout_seconds is not None and timeout_seconds > 0:
        query.append(("timeoutSeconds", str(timeout_seconds)))
    return query


def write_query(*, field_manager: str = "", force: bool | None = None) -> Query:
    """Parameters of a write: ``fieldManager`` and, for server-side apply, ``force``."""
    query: Query = []
    if field_manager:
        query.append(("fieldManager", field_manager))
    if force is not None:
        query.append(("force", "true" if force else "false"))
    return query


def encode_query(query: Iterable[tuple[str, str]]) -> str:
    """``k=v&...`` with every reserved character percent-encoded (selectors hold ``!``, ``(``, ``,`` and ``=``)."""
    return "&".join(f"{quote(k, safe='')}={quote(v, safe='')}" for k, v in query)
