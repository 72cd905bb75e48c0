"""Manifests and reads shared by the controller's integration tests (plain dicts, as a user writes them)."""

from __future__ import annotations

import base64
from typing import Any, Final

from cryptography import x509

from tests.harness.kubeclient import ApiError, KubeClient

CM: Final = "cert-manager.io/v1"
ACME: Final = "acme.cert-manager.io/v1"


def selfsigned_cluster_issuer(name: str) -> dict[str, Any]:
    return {"apiVersion": CM, "kind": "ClusterIssuer", "metadata": {"name": name}, "spec": {"selfSigned": {}}}


def ca_issuer(name: str, namespace: str, secret_name: str) -> dict[str, Any]:
    return {
        "apiVersion": CM,
        "kind": "Issuer",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {"ca": {"secretName": secret_name}},
    }


def certificate(name: str, namespace: str, issuer: dict[str, str], **spec: Any) -> dict[str, Any]:
    """An ECDSA P-256 Certificate whose Secret is ``<name>-tls`` unless ``secretName`` is given."""
    body: dict[str, Any] = {
        "secretName": f"{name}-tls",
        "issuerRef": issuer,
        "privateKey": {"algorithm": "ECDSA", "size": 256},
    }
    body.update(spec)
    return {"apiVersion": CM, "kind": "Certificate", "metadata": {"name": name, "namespace": namespace}, "spec": body}


async def ca_chain(kube: KubeClient, namespace: str, *, cluster_issuer: str) -> None:
    """SelfSigned ClusterIssuer -> CA Certificate ``root-ca`` -> CA Issuer ``ca`` (in ``namespace``)."""
    try:
        await kube.create(selfsigned_cluster_issuer(cluster_issuer))
    except ApiError as error:
        if error.status != 409:
            raise
    await kube.create(
        certificate(
            "root-ca",
            namespace,
            {"name": cluster_issuer, "kind": "ClusterIssuer"},
            secretName="root-ca",
            isCA=True,
            commonName="certkeeper integration CA",
        )
    )
    await kube.create(ca_issuer("ca", namespace, "root-ca"))


def condition(obj: dict[str, Any], kind: str) -> dict[str, Any] | None:
    for found in (obj.get("status") or {}).get("conditions") or ():
        if found.get("type") == kind:
            return dict(found)
    return None


def is_ready(obj: dict[str, Any]) -> bool:
    found = condition(obj, "Ready")
    return found is not None and found.get("status") == "True"


async def ready(kube: KubeClient, kind: str, name: str, namespace: str | None = None) -> bool:
    try:
        obj = await kube.get(CM, kind, name, namespace=namespace)
    except ApiError as error:
        if error.status == 404:
            return False
        raise
    generation = obj["metadata"].get("generation")
    found = condition(obj, "Ready")
    return (
        found is not None
        and found.get("status") == "True"
        and found.get("observedGeneration", generation) == generation
    )


async def revision(kube: KubeClient, name: str, namespace: str) -> int:
    obj = await kube.get(CM, "Certificate", name, namespace=namespace)
    value: int = (obj.get("status") or {}).get("revision") or 0
    return value


def leaf_of(secret: dict[str, Any]) -> x509.Certificate:
    """The first certificate of a Secret's tls.crt."""
    return x509.load_pem_x509_certificates(base64.b64decode(secret["data"]["tls.crt"]))[0]


def tsig_secret(namespace: str, secret: str) -> dict[str, Any]:
    """The TSIG key's secret as a user stores it (no certkeeper label: cached as metadata, read on demand)."""
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "tsig", "namespace": namespace},
        "data": {"secret": base64.b64encode(secret.encode()).decode()},
    }


def acme_issuer(
    name: str, namespace: str, *, server: str, ca_bundle: bytes, nameserver: str, key_name: str, algorithm: str
) -> dict[str, Any]:
    """An ACME Issuer solving DNS-01 with RFC 2136 (the Secret ``tsig`` holds the TSIG key)."""
    return {
        "apiVersion": CM,
        "kind": "Issuer",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {
            "acme": {
                "server": server,
                "email": "admin@example.test",
                "caBundle": base64.b64encode(ca_bundle).decode(),
                "privateKeySecretRef": {"name": f"{name}-account"},
                "solvers": [
                    {
                        "dns01": {
                            "rfc2136": {
                                "nameserver": nameserver,
                                "tsigKeyName": key_name,
                                "tsigAlgorithm": algorithm,
                                "tsigSecretSecretRef": {"name": "tsig", "key": "secret"},
                            }
                        }
                    }
                ],
            }
        },
    }


async def issued(kube: KubeClient, name: str, namespace: str, at_revision: int = 1) -> bool:
    """Ready, issuance recorded at ``at_revision`` or later, and no longer Issuing. The readiness and issuing
    controllers write status separately, so Ready alone can come a moment before the revision."""
    try:
        cert = await kube.get(CM, "Certificate", name, namespace=namespace)
    except ApiError as error:
        if error.status == 404:
            return False
        raise
    return (
        await ready(kube, "Certificate", name, namespace)
        and ((cert.get("status") or {}).get("revision") or 0) >= at_revision
        and condition(cert, "Issuing") is None
    )
