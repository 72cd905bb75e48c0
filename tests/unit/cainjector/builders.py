"""Builders for cainjector tests: CA certificates with chosen validity, source Secrets and Certificates,
and the four target kinds as raw objects (shared by the unit and integration tests)."""

from __future__ import annotations

import base64
import functools
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import NameOID

from certkeeper.api.annotations import (
    ALLOWS_INJECTION_FROM_SECRET_ANNOTATION,
    CERTIFICATE_NAME_KEY,
    WANT_INJECT_ANNOTATION,
    WANT_INJECT_API_SERVER_CA_ANNOTATION,
    WANT_INJECT_FROM_SECRET_ANNOTATION,
)
from certkeeper.store.ports import RawObject

#: The fake clock's start (runtime.clock.FakeClock) and a time well inside every "valid" certificate.
EPOCH = datetime(2025, 1, 1, tzinfo=UTC)


@functools.cache
def _key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


@functools.cache
def ca_pem(common_name: str, *, not_before: datetime = EPOCH - timedelta(days=365), days: float = 3650) -> bytes:
    """A self-signed CA certificate (PEM); one key is shared, the name and validity make it unique."""
    key = _key()
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_before + timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    return certificate.public_bytes(Encoding.PEM)


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def unb64(value: str | None) -> bytes:
    return base64.b64decode(value) if value else b""


def secret(
    namespace: str,
    name: str,
    *,
    ca: bytes | None = None,
    annotations: Mapping[str, str] | None = None,
    allow_injection: bool = False,
    certificate: str | None = None,
) -> RawObject:
    """A Secret; ``allow_injection`` adds allow-direct-injection, ``certificate`` the certificate-name."""
    notes = dict(annotations or {})
    if allow_injection:
        notes[ALLOWS_INJECTION_FROM_SECRET_ANNOTATION] = "true"
    if certificate is not None:
        notes[CERTIFICATE_NAME_KEY] = certificate
    obj: RawObject = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": name, "namespace": namespace},
        "type": "Opaque",
        "data": {"other": b64(b"x")},
    }
    if notes:
        obj["metadata"]["annotations"] = notes
    if ca is not None:
        obj["data"]["ca.crt"] = b64(ca)
    return obj


def certificate(namespace: str, name: str, secret_name: str) -> RawObject:
    return {
        "apiVersion": "cert-manager.io/v1",
        "kind": "Certificate",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {"secretName": secret_name, "commonName": "example", "issuerRef": {"name": "ca"}},
    }


def from_secret(ref: str) -> dict[str, str]:
    return {WANT_INJECT_FROM_SECRET_ANNOTATION: ref}


def from_certificate(ref: str) -> dict[str, str]:
    return {WANT_INJECT_ANNOTATION: ref}


def from_apiserver(value: str = "true") -> dict[str, str]:
    return {WANT_INJECT_API_SERVER_CA_ANNOTATION: value}


def _webhook(name: str, bundle: bytes | None) -> dict[str, Any]:
    client_config: dict[str, Any] = {"service": {"namespace": "default", "name": "webhook", "path": "/validate"}}
    if bundle is not None:
        client_config["caBundle"] = b64(bundle)
    return {
        "name": name,
        "clientConfig": client_config,
        "rules": [
            {
                "apiGroups": ["example.com"],
                "apiVersions": ["v1"],
                "operations": ["CREATE"],
                "resources": ["widgets"],
                "scope": "*",
            }
        ],
        "sideEffects": "None",
        "admissionReviewVersions": ["v1"],
        "failurePolicy": "Fail",
    }


def webhook_configuration(
    kind: str,
    name: str,
    annotations: Mapping[str, str],
    *,
    webhooks: Mapping[str, bytes | None] | None = None,
) -> RawObject:
    """A Validating/MutatingWebhookConfiguration with the named webhooks (each with an optional bundle)."""
    hooks = webhooks if webhooks is not None else {"a.example.com": None, "b.example.com": None}
    return {
        "apiVersion": "admissionregistration.k8s.io/v1",
        "kind": kind,
        "metadata": {"name": name, "annotations": dict(annotations)},
        "webhooks": [_webhook(hook, bundle) for hook, bundle in hooks.items()],
    }


def api_service(name: str, annotations: Mapping[str, str], *, bundle: bytes | None = None) -> RawObject:
    group = name.split(".", 1)[1]
    spec: dict[str, Any] = {
        "group": group,
        "version": "v1",
        "service": {"namespace": "default", "name": "api", "port": 443},
        "groupPriorityMinimum": 1000,
        "versionPriority": 15,
    }
    if bundle is not None:
        spec["caBundle"] = b64(bundle)
    return {
        "apiVersion": "apiregistration.k8s.io/v1",
        "kind": "APIService",
        "metadata": {"name": name, "annotations": dict(annotations)},
        "spec": spec,
    }


def crd(
    plural: str,
    group: str,
    annotations: Mapping[str, str],
    *,
    strategy: str = "Webhook",
    bundle: bytes | None = None,
) -> RawObject:
    """A CustomResourceDefinition with two served versions and the given conversion strategy."""
    schema = {"openAPIV3Schema": {"type": "object", "x-kubernetes-preserve-unknown-fields": True}}
    conversion: dict[str, Any] = {"strategy": strategy}
    if strategy == "Webhook":
        client_config: dict[str, Any] = {"service": {"namespace": "default", "name": "convert", "path": "/convert"}}
        if bundle is not None:
            client_config["caBundle"] = b64(bundle)
        conversion["webhook"] = {"clientConfig": client_config, "conversionReviewVersions": ["v1"]}
    kind = plural[:-1].capitalize()
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": f"{plural}.{group}", "annotations": dict(annotations)},
        "spec": {
            "group": group,
            "names": {"plural": plural, "singular": plural[:-1], "kind": kind, "listKind": f"{kind}List"},
            "scope": "Namespaced",
            "versions": [
                {"name": "v1", "served": True, "storage": True, "schema": schema},
                {"name": "v2", "served": True, "storage": False, "schema": schema},
            ],
            "conversion": conversion,
        },
    }


def webhook_bundles(obj: Mapping[str, Any]) -> dict[str, bytes]:
    """Each webhook's caBundle (decoded), by webhook name."""
    return {hook["name"]: unb64(hook.get("clientConfig", {}).get("caBundle")) for hook in obj.get("webhooks") or ()}


def pem_blocks(bundle: bytes) -> list[bytes]:
    """The PEM certificates of a bundle, each as its own bytes (to compare membership and order)."""
    marker = b"-----END CERTIFICATE-----\n"
    return [part + marker for part in bundle.split(marker) if part.strip()]
