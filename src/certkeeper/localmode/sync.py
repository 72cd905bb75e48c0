"""Reconcile a directory of manifests into the store, as ``kubectl apply`` of the whole directory would.

Each document names one object (apiVersion, kind, metadata.name, metadata.namespace defaulting to
``default`` for namespaced kinds). Objects that appear are created; edited ones have their spec (for
Secrets: type and data), labels and annotations replaced, keeping status; objects whose document
disappeared are deleted — but only objects this sync created from a file (recorded in the state
directory), never anything the engine made. Every problem is kept per file and document: a file that
no longer parses keeps its previous objects untouched, an invalid object leaves the stored one as it
was, and everything else goes on.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from certkeeper.store.ports import (
    AlreadyExists,
    Conflict,
    Invalid,
    NotFound,
    RawObject,
    ResourceType,
    Store,
    StoreError,
)
from certkeeper.store.resources import BY_API_VERSION_KIND, CHALLENGES, EVENTS, ORDERS

#: Kinds a manifest directory may hold (Orders, Challenges and Events are the engine's to make).
MANIFEST_KINDS = {key: rt for key, rt in BY_API_VERSION_KIND.items() if rt not in (ORDERS, CHALLENGES, EVENTS)}

DEFAULT_NAMESPACE = "default"


@dataclass(frozen=True, slots=True)
class ParsedDocument:
    """One YAML document of a file: its raw object, or why it could not be read."""

    index: int
    #: The decoded document (any YAML value; only mappings are objects), or None when unreadable.
    raw: object | None
    error: str | None = None


#: Parses a file's bytes into documents; raises ValueError when the file as a whole is unreadable.
Parser = Callable[[bytes], Sequence[ParsedDocument]]


@dataclass(frozen=True, slots=True)
class ManifestError:
    path: str
    document: int | None
    message: str
    #: ``kind/namespace/name`` when the error concerns a known object.
    object_key: str | None = None

    def __str__(self) -> str:
        where = self.path if self.document is None else f"{self.path} (document {self.document + 1})"
        return f"{where}: {self.message}"


@dataclass(slots=True)
class SyncResult:
    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)
    errors: list[ManifestError] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class _Desired:
    resource: ResourceType
    raw: RawObject
    path: str
    document: int

    @property
    def key(self) -> str:
        meta = self.raw["metadata"]
        return f"{self.resource.kind}/{meta.get('namespace', '')}/{meta['name']}"


def _identify(raw: object, path: str, index: int) -> tuple[_Desired | None, ManifestError | None]:
    def error(message: str) -> tuple[None, ManifestError]:
        return None, ManifestError(path, index, message)

    if not isinstance(raw, dict):
        return error("a manifest must be a mapping with apiVersion, kind and metadata")
    api_version, kind = raw.get("apiVersion"), raw.get("kind")
    if not isinstance(api_version, str) or not api_version:
        return error("apiVersion: Required value")
    if not isinstance(kind, str) or not kind:
        return error("kind: Required value")
    resource = MANIFEST_KINDS.get((api_version, kind))
    if resource is None:
        return error(f'no matches for kind "{kind}" in version "{api_version}"')
    meta = raw.get("metadata")
    if not isinstance(meta, dict) or not isinstance(meta.get("name"), str) or not meta.get("name"):
        return error("metadata.name: Required value")
    obj = json.loads(json.dumps(raw))  # a private, JSON-clean copy
    obj.pop("status", None)
    if resource.namespaced:
        obj["metadata"].setdefault("namespace", DEFAULT_NAMESPACE)
    else:
        obj["metadata"].pop("namespace", None)
    return _Desired(resource, obj, path, index), None


def _content(raw: Mapping[str, Any]) -> dict[str, Any]:
    """The parts of an object a manifest owns."""
    meta = raw.get("metadata", {})
    owned = {k: v for k, v in raw.items() if k not in ("apiVersion", "kind", "metadata", "status")}
    return {"labels": meta.get("labels") or {}, "annotations": meta.get("annotations") or {}, **owned}


def _merged(existing: RawObject, desired: RawObject) -> RawObject:
    out = {k: v for k, v in existing.items() if k in ("apiVersion", "kind", "metadata", "status")}
    meta = dict(existing["metadata"])
    for key in ("labels", "annotations"):
        if desired["metadata"].get(key):
            meta[key] = desired["metadata"][key]
        else:
            meta.pop(key, None)
    out["metadata"] = meta
    out.update({k: v for k, v in desired.items() if k not in ("apiVersion", "kind", "metadata", "status")})
    return out


def _fingerprint(raw: RawObject) -> str:
    """What a document asked for, as last applied; the store holds it defaulted, so compare this instead
    (the role of kubectl's last-applied-configuration)."""
    return hashlib.sha256(json.dumps(_content(raw), sort_keys=True).encode()).hexdigest()


class ManifestSync:
    """Applies a directory to a store; remembers what it created in ``index_path`` (JSON)."""

    def __init__(self, root: Path, store: Store, *, parse: Parser, index_path: Path) -> None:
        self.root = root
        self._store = store
        self._parse = parse
        self._index_path = index_path
        self._parsed: dict[Path, tuple[tuple[int, int, int], list[ParsedDocument] | str]] = {}
        #: object key -> (source file, fingerprint of what was last applied from it)
        self._managed: dict[str, tuple[str, str]] = self._load_index()
        self.errors: list[ManifestError] = []

    def _load_index(self) -> dict[str, tuple[str, str]]:
        try:
            data = json.loads(self._index_path.read_text())
        except (FileNotFoundError, ValueError):
            return {}
        if not isinstance(data, dict):
            return {}
        return {str(k): (str(v[0]), str(v[1])) for k, v in data.items() if isinstance(v, list) and len(v) == 2}

    def _save_index(self) -> None:
        tmp = self._index_path.with_name(self._index_path.name + ".tmp")
        self._index_path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        with open(tmp, "w") as handle:
            json.dump(self._managed, handle, sort_keys=True)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, self._index_path)

    def _documents(self, path: Path) -> list[ParsedDocument] | str:
        try:
            st = path.stat()
            signature = (st.st_size, st.st_mtime_ns, st.st_ino)
            cached = self._parsed.get(path)
            if cached is not None and cached[0] == signature:
                return cached[1]
            try:
                result: list[ParsedDocument] | str = list(self._parse(path.read_bytes()))
            except ValueError as exc:
                result = str(exc)
        except OSError as exc:
            return f"cannot read file: {exc.strerror}"
        self._parsed[path] = (signature, result)
        return result

    def _relative(self, path: Path) -> str:
        try:
            return str(path.relative_to(self.root))
        except ValueError:
            return str(path)

    async def sync(self, files: Sequence[Path]) -> SyncResult:
        result = SyncResult()
        desired: dict[str, _Desired] = {}
        unreadable: set[str] = set()
        for path in sorted(files):
            rel = self._relative(path)
            documents = self._documents(path)
            if isinstance(documents, str):
                result.errors.append(ManifestError(rel, None, documents))
                unreadable.add(rel)
                continue
            for document in documents:
                if document.raw is None:
                    result.errors.append(ManifestError(rel, document.index, document.error or "unreadable document"))
                    continue
                item, error = _identify(document.raw, rel, document.index)
                if error is not None:
                    result.errors.append(error)
                    continue
                assert item is not None
                if item.key in desired:
                    first = desired[item.key]
                    message = f"{item.key} is already defined in {first.path} (document {first.document + 1})"
                    result.errors.append(ManifestError(rel, document.index, message, item.key))
                    continue
                desired[item.key] = item
        for item in desired.values():
            await self._apply(item, result)
        for key, (source, _) in sorted(self._managed.items()):
            if key in desired or source in unreadable:
                continue
            await self._delete(key, result)
        self._save_index()
        self.errors = result.errors
        return result

    async def _apply(self, item: _Desired, result: SyncResult) -> None:
        for _ in range(5):  # a Conflict means someone wrote in between: read again and retry
            try:
                await self._apply_once(item, result)
                return
            except (AlreadyExists, Conflict):
                continue
            except Invalid as exc:
                detail = "; ".join(str(e) for e in exc.errors) or str(exc)
                message = f"{item.key} is invalid: {detail}"
                result.errors.append(ManifestError(item.path, item.document, message, item.key))
                return
            except StoreError as exc:
                result.errors.append(ManifestError(item.path, item.document, f"{item.key}: {exc}", item.key))
                return
        message = f"{item.key} kept changing while being applied; it will be applied on the next sync"
        result.errors.append(ManifestError(item.path, item.document, message, item.key))

    async def _apply_once(self, item: _Desired, result: SyncResult) -> None:
        meta = item.raw["metadata"]
        namespace = meta.get("namespace")
        try:
            existing = await self._store.get(item.resource, meta["name"], namespace=namespace)
        except NotFound:
            await self._store.create(item.resource, item.raw)
            self._managed[item.key] = (item.path, _fingerprint(item.raw))
            result.created.append(item.key)
            return
        fingerprint = _fingerprint(item.raw)
        previous = self._managed.get(item.key)
        if previous is not None and previous[1] == fingerprint:
            self._managed[item.key] = (item.path, fingerprint)
            return
        await self._store.update(item.resource, _merged(existing, item.raw))
        self._managed[item.key] = (item.path, fingerprint)
        result.updated.append(item.key)

    async def _delete(self, key: str, result: SyncResult) -> None:
        kind, namespace, name = key.split("/", 2)
        resource = next((rt for rt in MANIFEST_KINDS.values() if rt.kind == kind), None)
        if resource is not None:
            try:
                await self._store.delete(resource, name, namespace=namespace or None)
            except NotFound:
                pass
            except StoreError as exc:
                result.errors.append(ManifestError(self._managed[key][0], None, f"cannot delete {key}: {exc}", key))
                return
        del self._managed[key]
        result.deleted.append(key)
