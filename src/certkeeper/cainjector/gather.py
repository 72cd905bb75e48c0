"""Read the CA a target asks for: the reads behind the decisions of ``sources.py``.

Follows the ``ReadCA`` methods of cert-manager's ``pkg/controller/cainjector/sources.go``. Certificates
are read from the informer cache. Secrets are read through a ``SecretLookup``: from the informer cache
when Secrets are cached whole (the plain Store protocol), or with a GET each time when only their
metadata is cached (the Kubernetes backend), as cert-manager's cainjector GETs source Secrets from the
API server because it keeps no Secret data in memory.

A missing Certificate or Secret is a refusal, not an error (its creation triggers the next reconcile);
any other store error propagates so the controller retries with backoff.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol

from certkeeper.cainjector.sources import (
    CAData,
    Refusal,
    Scope,
    SourceKind,
    SourceRef,
    ca_from_api_server,
    ca_from_certificate_secret,
    ca_from_secret,
    certificate_secret_name,
    resolve_reference,
)
from certkeeper.runtime.informer import Indexer
from certkeeper.store.ports import NotFound, RawObject, Store
from certkeeper.store.resources import SECRETS


class SecretLookup(Protocol):
    """Finds a Secret with its data; None when it does not exist."""

    async def get_secret(self, namespace: str, name: str) -> RawObject | None: ...


class CachedSecrets:
    """Secrets from an informer cache that holds them whole."""

    def __init__(self, cache: Indexer) -> None:
        self._cache = cache

    async def get_secret(self, namespace: str, name: str) -> RawObject | None:
        return self._cache.get(f"{namespace}/{name}")


class LiveSecrets:
    """Secrets read from the store on every call (their informer caches metadata only)."""

    def __init__(self, store: Store) -> None:
        self._store = store

    async def get_secret(self, namespace: str, name: str) -> RawObject | None:
        try:
            return await self._store.get(SECRETS, name, namespace=namespace)
        except NotFound:
            return None


class SourceReader:
    """Reads the CA of each kind of source, within the cainjector's namespace scope."""

    def __init__(
        self,
        *,
        scope: Scope,
        secrets: SecretLookup,
        certificates: Indexer | None,
        apiserver_ca: bytes | None,
    ) -> None:
        self.scope = scope
        self._secrets = secrets
        self._certificates = certificates
        self._apiserver_ca = apiserver_ca

    async def read_ca(self, kind: SourceKind, annotations: Mapping[str, str]) -> CAData | Refusal:
        """The CA to inject for the source ``kind`` the annotations name, or why there is none."""
        if kind is SourceKind.API_SERVER:
            return ca_from_api_server(self._apiserver_ca)
        ref = resolve_reference(kind, annotations, self.scope)
        if isinstance(ref, Refusal):
            return ref
        if kind is SourceKind.SECRET:
            return await self._from_secret(ref)
        return await self._from_certificate(ref)

    async def _from_secret(self, ref: SourceRef) -> CAData | Refusal:
        secret = await self._secrets.get_secret(ref.namespace, ref.name)
        if secret is None:
            return Refusal(f'unable to fetch associated secret: secrets "{ref.name}" not found')
        return ca_from_secret(secret)

    async def _from_certificate(self, ref: SourceRef) -> CAData | Refusal:
        certificate = self._certificates.get(str(ref)) if self._certificates is not None else None
        if certificate is None:
            return Refusal(
                f'unable to fetch associated certificate: certificates.cert-manager.io "{ref.name}" not found'
            )
        secret_name = certificate_secret_name(certificate)
        secret = await self._secrets.get_secret(ref.namespace, secret_name) if secret_name else None
        if secret is None:
            return Refusal(f'unable to fetch associated secret: secrets "{secret_name}" not found')
        return ca_from_certificate_secret(ref, secret)


__all__ = ["CachedSecrets", "LiveSecrets", "SecretLookup", "SourceReader"]
