"""The user-facing roles of deploy/manifests/user-roles.yaml, as a namespace user holds them through Kubernetes'
``view`` and ``edit`` roles: edit manages Certificates, CertificateRequests and Issuers but may not create
Orders or Challenges (cert-manager advisory GHSA-8rvj-mm4h-c258: a user-made Challenge or Order would make
the controller solve with an issuer's credentials); view only reads.

There is no kube-controller-manager, so nothing aggregates ClusterRoles: each test builds the role the
aggregation controller would (every shipped ClusterRole labelled ``aggregate-to-<role>``, rules merged) and
binds it with a RoleBinding in the user's namespace.
"""

from __future__ import annotations

import base64
import secrets
from typing import Any, Final

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from tests.harness.kube import ControlPlane
from tests.harness.kubeclient import ApiError, KubeClient
from tests.integration.controller.conftest import rbac_objects
from tests.integration.controller.objects import ACME, CM, certificate

pytestmark = pytest.mark.kube

RBAC: Final = "rbac.authorization.k8s.io/v1"


def aggregated(role: str) -> list[dict[str, Any]]:
    """The rules the shipped ClusterRoles contribute to Kubernetes' ``role`` (view, edit, admin)."""
    label = f"rbac.authorization.k8s.io/aggregate-to-{role}"
    return [
        rule
        for obj in rbac_objects()
        if obj["kind"] == "ClusterRole" and (obj["metadata"].get("labels") or {}).get(label) == "true"
        for rule in obj["rules"]
    ]


def _csr() -> str:
    key = ec.generate_private_key(ec.SECP256R1())
    request = (
        x509.CertificateSigningRequestBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "user.example.test")]))
        .sign(key, hashes.SHA256())
    )
    return base64.b64encode(request.public_bytes(serialization.Encoding.PEM)).decode()


def _objects(ns: str) -> dict[str, tuple[str, dict[str, Any]]]:
    """What a user might create, by name: (collection path, body)."""
    issuer_ref = {"name": "ca", "kind": "Issuer"}
    order = {
        "apiVersion": ACME,
        "kind": "Order",
        "metadata": {"name": "mine", "namespace": ns},
        "spec": {"request": _csr(), "issuerRef": issuer_ref, "dnsNames": ["user.example.test"]},
    }
    challenge = {
        "apiVersion": ACME,
        "kind": "Challenge",
        "metadata": {"name": "mine", "namespace": ns},
        "spec": {
            "url": "https://acme.example/chall/1",
            "authorizationURL": "https://acme.example/authz/1",
            "dnsName": "user.example.test",
            "type": "HTTP-01",
            "token": "token",
            "key": "token.thumbprint",
            "solver": {"http01": {"ingress": {}}},
            "issuerRef": issuer_ref,
        },
    }
    request = {
        "apiVersion": CM,
        "kind": "CertificateRequest",
        "metadata": {"name": "mine", "namespace": ns},
        "spec": {"request": _csr(), "issuerRef": issuer_ref},
    }
    issuer = {
        "apiVersion": CM,
        "kind": "Issuer",
        "metadata": {"name": "mine", "namespace": ns},
        "spec": {"selfSigned": {}},
    }
    return {
        "certificates": (
            f"/apis/{CM}/namespaces/{ns}/certificates",
            certificate("mine", ns, issuer_ref, dnsNames=["a.test"]),
        ),
        "certificaterequests": (f"/apis/{CM}/namespaces/{ns}/certificaterequests", request),
        "issuers": (f"/apis/{CM}/namespaces/{ns}/issuers", issuer),
        "orders": (f"/apis/{ACME}/namespaces/{ns}/orders", order),
        "challenges": (f"/apis/{ACME}/namespaces/{ns}/challenges", challenge),
    }


async def _user_with(admin: KubeClient, plane: ControlPlane, ns: str, role: str) -> KubeClient:
    """A fresh user holding, in ``ns`` only, what ``role`` aggregates from the shipped ClusterRoles."""
    name = f"aggregated-{role}-{secrets.token_hex(4)}"
    user = f"user-{secrets.token_hex(4)}"
    await admin.apply(
        [
            {"apiVersion": RBAC, "kind": "ClusterRole", "metadata": {"name": name}, "rules": aggregated(role)},
            {
                "apiVersion": RBAC,
                "kind": "RoleBinding",
                "metadata": {"name": name, "namespace": ns},
                "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": name},
                "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": user}],
            },
        ]
    )
    client = KubeClient(plane.client_for(user))
    await client.wait_for_status("GET", f"/apis/{CM}/namespaces/{ns}/certificates", 200)
    return client


async def test_edit_manages_certificates_and_issuers_but_creates_no_orders_or_challenges(
    admin: KubeClient, plane: ControlPlane, ns: str
) -> None:
    objects = _objects(ns)
    async with await _user_with(admin, plane, ns, "edit") as user:
        for plural in ("certificates", "certificaterequests", "issuers"):
            path, body = objects[plural]
            assert await user.status_of("POST", path, body=body) == 201, plural
            assert await user.status_of("GET", f"{path}/mine") == 200
            assert await user.status_of("DELETE", f"{path}/mine") == 200
        for plural in ("orders", "challenges"):
            path, body = objects[plural]
            assert await user.status_of("POST", path, body=body) == 403, plural
        # What the controller made, a user may delete (it starts over) but never rewrite an Order.
        for plural in ("orders", "challenges"):
            path, body = objects[plural]
            await admin.create(body)
            if plural == "orders":
                assert (
                    await user.status_of("PUT", f"{path}/mine", body=await admin.request("GET", f"{path}/mine")) == 403
                )
            assert await user.status_of("DELETE", f"{path}/mine") == 200
        assert await user.status_of("GET", f"/api/v1/namespaces/{ns}/secrets") == 403
        assert await user.status_of("GET", f"/apis/{CM}/clusterissuers") == 403
        elsewhere = await admin.create_namespace("elsewhere")
        assert await user.status_of("GET", f"/apis/{CM}/namespaces/{elsewhere}/certificates") == 403


async def test_view_only_reads(admin: KubeClient, plane: ControlPlane, ns: str) -> None:
    objects = _objects(ns)
    async with await _user_with(admin, plane, ns, "view") as user:
        for plural, (path, body) in objects.items():
            assert await user.status_of("GET", path) == 200, plural
            assert await user.status_of("POST", path, body=body) == 403, plural
        path, body = objects["certificates"]
        await admin.create(body)
        assert await user.status_of("GET", f"{path}/mine") == 200
        assert await user.status_of("DELETE", f"{path}/mine") == 403
        assert await user.status_of("GET", f"/api/v1/namespaces/{ns}/secrets") == 403


def test_what_each_role_aggregates() -> None:
    def grants(role: str) -> set[tuple[str, str]]:
        return {(r, v) for rule in aggregated(role) for r in rule["resources"] for v in rule["verbs"]}

    edit, view = grants("edit"), grants("view")
    assert view <= edit
    assert ("orders", "create") not in edit
    assert ("challenges", "create") not in edit
    assert ("orders", "update") not in edit
    assert {v for r, v in view} == {"get", "list", "watch"}
    assert grants("cluster-reader") == view | {
        ("clusterissuers", "get"),
        ("clusterissuers", "list"),
        ("clusterissuers", "watch"),
    }


async def test_roles_are_not_granted_cluster_wide_by_a_role_binding(
    admin: KubeClient, plane: ControlPlane, ns: str
) -> None:
    async with await _user_with(admin, plane, ns, "edit") as user:
        with pytest.raises(ApiError) as refused:
            await user.request(
                "POST",
                f"/apis/{CM}/clusterissuers",
                body={
                    "apiVersion": CM,
                    "kind": "ClusterIssuer",
                    "metadata": {"name": "mine"},
                    "spec": {"selfSigned": {}},
                },
            )
        assert refused.value.status == 403
