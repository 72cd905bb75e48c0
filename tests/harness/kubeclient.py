"""A small async Kubernetes REST client for test setup: kubectl-style apply, namespaces, CRD readiness.

Test support, not the product's client: it lets a test or benchmark prepare the cluster (as ``admin``)
and probe permissions (as any minted identity) with raw HTTP, independent of the kube store backend
under test. Objects are plain dicts, as decoded from JSON or YAML.

    async with KubeClient(cp.admin) as kube:
        await kube.apply_manifests(REPO_ROOT / "deploy" / "crds")     # server-side apply, waits Established
        ns = await kube.create_namespace("renewal")
        await kube.create({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x"}}, namespace=ns)
        assert await kube.status_of("GET", f"/api/v1/namespaces/{ns}/secrets") == 200
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import json
import re
import secrets
import time
from collections.abc import Coroutine, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any, TypeVar

import aiohttp
import yaml

from tests.harness.kube import REPO_ROOT, Identity

#: A Kubernetes object as decoded JSON.
RawObject = dict[str, Any]

CRD_API_VERSION = "apiextensions.k8s.io/v1"
#: The CRDs ``certkeeper crds --output-dir deploy/crds`` generated.
CRD_DIR = REPO_ROOT / "deploy" / "crds"
DEFAULT_FIELD_MANAGER = "certkeeper-harness"

T = TypeVar("T")


class ApiError(Exception):
    """The API server answered with an error status; ``body`` is its Status object when it sent one."""

    def __init__(self, method: str, path: str, status: int, body: object) -> None:
        self.method = method
        self.path = path
        self.status = status
        self.body = body
        self.reason = str(body.get("reason", "")) if isinstance(body, dict) else ""
        message = str(body.get("message", "")) if isinstance(body, dict) else str(body)[:500]
        self.message = message
        super().__init__(f"{method} {path}: {status} {self.reason}: {message}")


@dataclass(frozen=True, slots=True, kw_only=True)
class ResourceInfo:
    """Where a kind lives in the REST API, from discovery."""

    api_version: str
    kind: str
    plural: str
    namespaced: bool

    def path(self, *, namespace: str | None = None, name: str | None = None) -> str:
        """The collection path, or the object path when ``name`` is given."""
        base = "/api/v1" if self.api_version == "v1" else f"/apis/{self.api_version}"
        if self.namespaced:
            if namespace is None:
                raise ValueError(f"{self.kind} is namespaced: a namespace is needed")
            base += f"/namespaces/{namespace}"
        base += f"/{self.plural}"
        return base if name is None else f"{base}/{name}"


def load_manifests(*paths: Path) -> list[RawObject]:
    """Every object in the YAML files given, directories expanded to their sorted ``*.yaml``/``*.yml``.

    Empty documents are skipped and ``kind: List`` documents flattened, as kubectl does.
    """
    files: list[Path] = []
    for path in paths:
        if path.is_dir():
            files.extend(sorted(p for p in path.iterdir() if p.suffix in (".yaml", ".yml")))
        else:
            files.append(path)
    objects: list[RawObject] = []
    for file in files:
        for document in yaml.safe_load_all(file.read_text()):
            if document is None:
                continue
            if not isinstance(document, dict):
                raise ValueError(f"{file}: a document is not a mapping")
            if document.get("kind") == "List":
                objects.extend(document.get("items") or [])
            else:
                objects.append(document)
    return objects


_WARNING = re.compile(r'^\d{3} \S+ "((?:[^"\\]|\\.)*)"')


def _warning_text(header: str) -> str:
    """The text of an RFC 7234 ``Warning: 299 - "text"`` header, unescaped; the header itself if malformed."""
    match = _WARNING.match(header)
    return re.sub(r"\\(.)", r"\1", match.group(1)) if match else header


def _apply_order(obj: Mapping[str, Any]) -> int:
    # Namespaces before what lives in them; CRDs before their objects (the caller waits in between).
    kind = obj.get("kind")
    return 0 if kind == "Namespace" else 1 if kind == "CustomResourceDefinition" else 2


class KubeClient:
    """Raw HTTP to the test API server as one ``Identity``. Use as ``async with``, or call ``close()``."""

    def __init__(self, identity: Identity, *, timeout: float = 30.0) -> None:
        self.identity = identity
        self._session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(ssl=identity.ssl_context()),
            timeout=aiohttp.ClientTimeout(total=timeout),
        )
        self._discovery: dict[str, dict[str, ResourceInfo]] = {}
        #: Every ``Warning`` header the server sent (deprecations, unknown or duplicate fields), in order.
        self.warnings: list[str] = []

    async def close(self) -> None:
        """Close the HTTP session."""
        await self._session.close()

    async def __aenter__(self) -> KubeClient:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()

    # -- raw requests ------------------------------------------------------------------------------

    async def _send(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, str] | None,
        body: object,
        content_type: str,
    ) -> tuple[int, object]:
        data = None if body is None else json.dumps(body).encode()
        headers = {"Accept": "application/json"}
        if data is not None:
            headers["Content-Type"] = content_type
        async with self._session.request(
            method, self.identity.server + path, params=params, data=data, headers=headers
        ) as response:
            self.warnings.extend(_warning_text(w) for w in response.headers.getall("Warning", []))
            text = await response.text()
            try:
                decoded: object = json.loads(text) if text else None
            except ValueError:
                decoded = text
            return response.status, decoded

    async def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, str] | None = None,
        body: object = None,
        content_type: str = "application/json",
    ) -> Any:
        """Send a request; return the decoded JSON (or text) body, or raise ``ApiError`` for status >= 400."""
        status, decoded = await self._send(method, path, params=params, body=body, content_type=content_type)
        if status >= 400:
            raise ApiError(method, path, status, decoded)
        return decoded

    async def status_of(self, method: str, path: str, *, body: object = None) -> int:
        """Only the HTTP status of a request: for permission checks (200 vs 403)."""
        status, _ = await self._send(method, path, params=None, body=body, content_type="application/json")
        return status

    async def wait_for_status(self, method: str, path: str, expected: int, *, timeout: float = 10.0) -> None:
        """Repeat a request until it answers ``expected``: RBAC changes reach the authorizer's cache late."""
        deadline = time.monotonic() + timeout
        while (status := await self.status_of(method, path)) != expected:
            if time.monotonic() > deadline:
                raise TimeoutError(f"{method} {path} still answers {status}, not {expected}, after {timeout:.0f}s")
            await asyncio.sleep(0.05)

    # -- discovery ---------------------------------------------------------------------------------

    async def resource(self, api_version: str, kind: str, *, wait: float = 10.0) -> ResourceInfo:
        """Look ``kind`` up in discovery, re-reading for up to ``wait`` seconds (a new CRD appears late)."""
        deadline = time.monotonic() + wait
        while True:
            found = self._discovery.get(api_version, {}).get(kind)
            if found is not None:
                return found
            await self._discover(api_version)
            found = self._discovery.get(api_version, {}).get(kind)
            if found is not None:
                return found
            if time.monotonic() > deadline:
                raise LookupError(f"the API server serves no kind {kind} in {api_version}")
            await asyncio.sleep(0.2)

    async def _discover(self, api_version: str) -> None:
        path = "/api/v1" if api_version == "v1" else f"/apis/{api_version}"
        status, body = await self._send("GET", path, params=None, body=None, content_type="application/json")
        if status == 404 or not isinstance(body, dict):
            return
        if status >= 400:
            raise ApiError("GET", path, status, body)
        kinds: dict[str, ResourceInfo] = {}
        for entry in body.get("resources", []):
            if "/" in entry["name"]:  # a subresource such as certificates/status
                continue
            kinds[entry["kind"]] = ResourceInfo(
                api_version=api_version, kind=entry["kind"], plural=entry["name"], namespaced=entry["namespaced"]
            )
        self._discovery[api_version] = kinds

    async def path_of(self, obj: Mapping[str, Any], *, namespace: str | None = None, named: bool = True) -> str:
        """The REST path of ``obj`` (its own namespace first, else ``namespace``)."""
        info = await self.resource(obj["apiVersion"], obj["kind"])
        metadata = obj.get("metadata") or {}
        ns = (metadata.get("namespace") or namespace) if info.namespaced else None
        return info.path(namespace=ns, name=metadata["name"] if named else None)

    # -- objects -----------------------------------------------------------------------------------

    async def apply(
        self,
        objects: Iterable[Mapping[str, Any]],
        *,
        namespace: str | None = None,
        field_manager: str = DEFAULT_FIELD_MANAGER,
        force: bool = True,
    ) -> list[RawObject]:
        """Server-side apply each object, in kubectl's order: Namespaces, CRDs (waited for), the rest.

        ``namespace`` fills in namespaced objects that name none. Returns the objects as stored.
        """
        ordered = sorted(objects, key=_apply_order)
        crds = [o["metadata"]["name"] for o in ordered if o.get("kind") == "CustomResourceDefinition"]
        applied: list[RawObject] = []
        waited = not crds
        for obj in ordered:
            if not waited and _apply_order(obj) == 2:
                await self.wait_established(crds)
                waited = True
            path = await self.path_of(obj, namespace=namespace)
            params = {"fieldManager": field_manager, "force": "true" if force else "false"}
            body = dict(obj)
            if namespace is not None and "/namespaces/" in path and not (obj.get("metadata") or {}).get("namespace"):
                body["metadata"] = {**obj["metadata"], "namespace": namespace}
            applied.append(
                await self.request("PATCH", path, params=params, body=body, content_type="application/apply-patch+yaml")
            )
        if not waited:
            await self.wait_established(crds)
        return applied

    async def apply_manifests(self, *paths: Path, namespace: str | None = None) -> list[RawObject]:
        """``apply(load_manifests(*paths))``: files, or directories of ``*.yaml``."""
        return await self.apply(load_manifests(*paths), namespace=namespace)

    async def create(self, obj: Mapping[str, Any], *, namespace: str | None = None) -> RawObject:
        """POST ``obj`` (``namespace`` fills in a namespaced object that names none); return it as stored."""
        path = await self.path_of(obj, namespace=namespace, named=False)
        body = dict(obj)
        if "/namespaces/" in path:
            body["metadata"] = {**obj["metadata"], "namespace": path.split("/namespaces/")[1].split("/")[0]}
        created: RawObject = await self.request("POST", path, body=body)
        return created

    async def get(self, api_version: str, kind: str, name: str, *, namespace: str | None = None) -> RawObject:
        """GET one object."""
        info = await self.resource(api_version, kind)
        found: RawObject = await self.request("GET", info.path(namespace=namespace, name=name))
        return found

    async def delete(self, api_version: str, kind: str, name: str, *, namespace: str | None = None) -> None:
        """DELETE one object (no waiting: without a controller manager nothing cascades)."""
        info = await self.resource(api_version, kind)
        await self.request("DELETE", info.path(namespace=namespace, name=name))

    async def create_namespace(self, prefix: str = "test", *, labels: Mapping[str, str] | None = None) -> str:
        """Create a namespace with a fresh random name starting with ``prefix``; return the name."""
        stem = re.sub(r"[^a-z0-9-]+", "-", prefix.lower()).strip("-")[:50] or "test"
        name = f"{stem}-{secrets.token_hex(4)}"
        metadata: dict[str, Any] = {"name": name}
        if labels:
            metadata["labels"] = dict(labels)
        await self.request(
            "POST", "/api/v1/namespaces", body={"apiVersion": "v1", "kind": "Namespace", "metadata": metadata}
        )
        return name

    async def wait_established(self, names: Iterable[str], *, timeout: float = 60.0) -> None:
        """Wait until every named CRD has condition Established=True (and NamesAccepted did not fail)."""
        deadline = time.monotonic() + timeout
        pending = list(names)
        while pending:
            name = pending[0]
            crd = await self.request("GET", f"/apis/{CRD_API_VERSION}/customresourcedefinitions/{name}")
            conditions = {c["type"]: c for c in (crd.get("status") or {}).get("conditions") or []}
            accepted = conditions.get("NamesAccepted")
            if accepted is not None and accepted.get("status") == "False":
                raise ApiError("GET", name, 409, {"reason": accepted.get("reason"), "message": accepted.get("message")})
            if conditions.get("Established", {}).get("status") == "True":
                pending.pop(0)
                continue
            if time.monotonic() > deadline:
                raise TimeoutError(f"CRD {name} not Established after {timeout:.0f}s: {list(conditions.values())}")
            await asyncio.sleep(0.1)


async def install_crds(identity: Identity, directory: Path = CRD_DIR) -> list[str]:
    """Server-side apply every CRD in ``directory`` and wait until all are Established; return their names."""
    async with KubeClient(identity) as kube:
        applied = await kube.apply_manifests(directory)
    return [obj["metadata"]["name"] for obj in applied if obj.get("kind") == "CustomResourceDefinition"]


def run_blocking(coroutine: Coroutine[Any, Any, T]) -> T:
    """Run ``coroutine`` to completion on a fresh event loop in a worker thread; return its result.

    For synchronous code such as session-scoped fixtures, where no loop runs or one must not be reused.
    """
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, coroutine).result()


__all__ = [
    "CRD_DIR",
    "ApiError",
    "KubeClient",
    "RawObject",
    "ResourceInfo",
    "install_crds",
    "load_manifests",
    "run_blocking",
]
