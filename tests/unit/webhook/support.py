"""Shared helpers for the webhook tests: objects, reviews, fake API answers, and a server on loopback."""

from __future__ import annotations

import base64
import contextlib
import copy
import ssl
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp

from certkeeper.pki.pem import encode_pem_certificate
from certkeeper.runtime.clock import FakeClock
from certkeeper.validation.identity import UserInfo
from certkeeper.webhook.admission import AdmissionHandlers
from certkeeper.webhook.approval import ApprovalChecker
from certkeeper.webhook.authority import CA, generate_ca, sign_leaf
from certkeeper.webhook.authz import (
    ApiResource,
    AuthorizationUnavailable,
    Decision,
    LookupResult,
    ResourceAttributes,
)
from certkeeper.webhook.review import API_VERSION, KIND
from certkeeper.webhook.server import ServerLimits, WebhookServer
from certkeeper.webhook.tls import ServingTLS, TLSSettings
from tests.unit.validation.test_certificaterequest import DEFAULT_CSR

GROUP = "cert-manager.io"
ACME = "acme.cert-manager.io"
REQUESTER = UserInfo(username="alice", uid="u-1", groups=("team", "system:authenticated"), extra={"scope": ("a",)})
NAMESPACE = "default"

CERTIFICATE: dict[str, Any] = {
    "apiVersion": "cert-manager.io/v1",
    "kind": "Certificate",
    "metadata": {"name": "web", "namespace": NAMESPACE},
    "spec": {"secretName": "web-tls", "dnsNames": ["example.com"], "issuerRef": {"name": "ca"}},
}
ISSUER: dict[str, Any] = {
    "apiVersion": "cert-manager.io/v1",
    "kind": "Issuer",
    "metadata": {"name": "ca", "namespace": NAMESPACE},
    "spec": {"selfSigned": {}},
}
CLUSTER_ISSUER: dict[str, Any] = {
    "apiVersion": "cert-manager.io/v1",
    "kind": "ClusterIssuer",
    "metadata": {"name": "root"},
    "spec": {"selfSigned": {}},
}
ORDER: dict[str, Any] = {
    "apiVersion": "acme.cert-manager.io/v1",
    "kind": "Order",
    "metadata": {"name": "web-1-1", "namespace": NAMESPACE},
    "spec": {
        "request": base64.b64encode(DEFAULT_CSR).decode(),
        "issuerRef": {"name": "le"},
        "dnsNames": ["example.com"],
    },
}
CHALLENGE: dict[str, Any] = {
    "apiVersion": "acme.cert-manager.io/v1",
    "kind": "Challenge",
    "metadata": {"name": "web-1-1-1", "namespace": NAMESPACE},
    "spec": {
        "url": "https://acme.example/chall/1",
        "authorizationURL": "https://acme.example/authz/1",
        "dnsName": "example.com",
        "type": "HTTP-01",
        "token": "tok",
        "key": "tok.thumb",
        "solver": {"http01": {"ingress": {}}},
        "issuerRef": {"name": "le"},
    },
}


def certificate_request(
    *, identity: UserInfo | None = REQUESTER, conditions: Sequence[Mapping[str, str]] = (), **spec: Any
) -> dict[str, Any]:
    """A valid CertificateRequest for issuer ``ca``, carrying ``identity`` (None: no identity fields)."""
    body: dict[str, Any] = {"issuerRef": {"name": "ca"}, "request": base64.b64encode(DEFAULT_CSR).decode()}
    if identity is not None:
        body.update(uid=identity.uid, username=identity.username, groups=list(identity.groups))
        if identity.extra:
            body["extra"] = {key: list(values) for key, values in identity.extra.items()}
    body.update(spec)
    obj: dict[str, Any] = {
        "apiVersion": "cert-manager.io/v1",
        "kind": "CertificateRequest",
        "metadata": {"name": "web-1", "namespace": NAMESPACE},
        "spec": body,
    }
    if conditions:
        obj["status"] = {"conditions": [dict(condition) for condition in conditions]}
    return obj


APPROVED = {"type": "Approved", "status": "True", "reason": "OK", "message": "fine"}
DENIED = {"type": "Denied", "status": "True", "reason": "No", "message": "no"}


def review(
    resource: str,
    obj: Mapping[str, Any] | None,
    *,
    operation: str = "CREATE",
    old: Mapping[str, Any] | None = None,
    group: str = GROUP,
    kind: str | None = None,
    sub_resource: str = "",
    user: UserInfo = REQUESTER,
    uid: str = "req-1",
) -> dict[str, Any]:
    """An AdmissionReview as the API server sends it."""
    source = obj if obj is not None else old or {}
    request: dict[str, Any] = {
        "uid": uid,
        "kind": {"group": group, "version": "v1", "kind": kind or source.get("kind", "")},
        "resource": {"group": group, "version": "v1", "resource": resource},
        "name": (source.get("metadata") or {}).get("name", ""),
        "namespace": (source.get("metadata") or {}).get("namespace", ""),
        "operation": operation,
        "userInfo": {
            "username": user.username,
            "uid": user.uid,
            "groups": list(user.groups),
            "extra": {key: list(values) for key, values in user.extra.items()},
        },
        "object": copy.deepcopy(dict(obj)) if obj is not None else None,
        "oldObject": copy.deepcopy(dict(old)) if old is not None else None,
    }
    if sub_resource:
        request["subResource"] = sub_resource
    return {"apiVersion": API_VERSION, "kind": KIND, "request": request}


@dataclass
class FakeAuthorizer:
    """Allows the signer names listed per user; records every question; can be made unreachable."""

    allow: dict[str, set[str]] = field(default_factory=dict)
    unavailable: str = ""
    calls: list[tuple[str, ResourceAttributes]] = field(default_factory=list)

    async def authorize(self, user: UserInfo, attributes: ResourceAttributes) -> Decision:
        self.calls.append((user.username, attributes))
        if self.unavailable:
            raise AuthorizationUnavailable(self.unavailable)
        return Decision(allowed=attributes.name in self.allow.get(user.username, set()))


@dataclass
class FakeDiscovery:
    """Serves issuers and clusterissuers of cert-manager.io (plus ``extra``); counts lookups."""

    extra: dict[tuple[str, str], ApiResource] = field(default_factory=dict)
    served_groups: set[str] = field(default_factory=lambda: {GROUP})
    unavailable: str = ""
    lookups: list[tuple[str, str]] = field(default_factory=list)

    async def lookup(self, group: str, kind: str) -> ApiResource:
        self.lookups.append((group, kind))
        if self.unavailable:
            raise AuthorizationUnavailable(self.unavailable)
        known = {
            (GROUP, "Issuer"): ApiResource(result=LookupResult.FOUND, resource="issuers", namespaced=True),
            (GROUP, "ClusterIssuer"): ApiResource(result=LookupResult.FOUND, resource="clusterissuers"),
            **self.extra,
        }
        if (group, kind) in known:
            return known[(group, kind)]
        if group in self.served_groups:
            return ApiResource(result=LookupResult.KIND_MISSING)
        return ApiResource(result=LookupResult.GROUP_MISSING)


def checker(
    authorizer: FakeAuthorizer | None = None, discovery: FakeDiscovery | None = None, clock: FakeClock | None = None
) -> ApprovalChecker:
    return ApprovalChecker(discovery or FakeDiscovery(), authorizer or FakeAuthorizer(), clock or FakeClock())


def handlers(
    authorizer: FakeAuthorizer | None = None, discovery: FakeDiscovery | None = None, clock: FakeClock | None = None
) -> AdmissionHandlers:
    return AdmissionHandlers(approval=checker(authorizer, discovery, clock))


@dataclass(frozen=True, slots=True)
class Pki:
    """A CA and a serving leaf for ``localhost``, as PEM."""

    ca: CA
    cert_pem: bytes
    key_pem: bytes

    def client_context(self, *extra_cas: bytes) -> ssl.SSLContext:
        """A client context trusting this CA (and ``extra_cas``)."""
        context = ssl.create_default_context(cadata=self.ca.cert_pem.decode())
        for pem in extra_cas:
            context.load_verify_locations(cadata=pem.decode())
        return context

    def leaf(self, duration: timedelta = timedelta(days=1)) -> tuple[bytes, bytes]:
        """A fresh leaf from the same CA."""
        certificate, key_pem = sign_leaf(self.ca, ["localhost"], datetime.now(UTC), duration)
        return encode_pem_certificate(certificate), key_pem


def make_pki() -> Pki:
    ca = generate_ca(datetime.now(UTC) - timedelta(minutes=1))
    certificate, key_pem = sign_leaf(ca, ["localhost"], datetime.now(UTC) - timedelta(minutes=1), timedelta(days=1))
    return Pki(ca=ca, cert_pem=encode_pem_certificate(certificate), key_pem=key_pem)


@dataclass
class Running:
    """A started server and a client session trusting its CA."""

    server: WebhookServer
    session: aiohttp.ClientSession
    pki: Pki

    @property
    def base(self) -> str:
        return f"https://127.0.0.1:{self.server.port}"

    @property
    def health(self) -> str:
        return f"http://127.0.0.1:{self.server.healthz_port}"

    async def post(self, path: str, body: object, **kwargs: Any) -> tuple[int, dict[str, Any]]:
        async with self.session.post(self.base + path, json=body, server_hostname="localhost", **kwargs) as response:
            return response.status, await response.json()


@contextlib.asynccontextmanager
async def running(
    pki: Pki,
    *,
    admission: AdmissionHandlers | None = None,
    limits: ServerLimits | None = None,
    settings: TLSSettings | None = None,
    client_subjects: Sequence[str] = (),
    install: bool = True,
    client_cert: tuple[str, str] | None = None,
) -> AsyncIterator[Running]:
    """A WebhookServer on loopback ports serving ``pki``'s leaf, and an HTTPS client for it."""
    tls = ServingTLS(settings)
    if install:
        tls.install(pki.cert_pem, pki.key_pem)
    server = WebhookServer(
        admission or handlers(),
        tls,
        host="127.0.0.1",
        port=0,
        healthz_host="127.0.0.1",
        healthz_port=0,
        limits=limits,
        client_subjects=client_subjects,
    )
    await server.start()
    context = pki.client_context()
    if client_cert is not None:
        context.load_cert_chain(*client_cert)
    session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(ssl=context))
    try:
        yield Running(server=server, session=session, pki=pki)
    finally:
        await session.close()
        await server.stop()


__all__ = [
    "ACME",
    "APPROVED",
    "CERTIFICATE",
    "CHALLENGE",
    "CLUSTER_ISSUER",
    "DENIED",
    "GROUP",
    "ISSUER",
    "NAMESPACE",
    "ORDER",
    "REQUESTER",
    "FakeAuthorizer",
    "FakeDiscovery",
    "Pki",
    "Running",
    "certificate_request",
    "checker",
    "handlers",
    "make_pki",
    "review",
    "running",
]
