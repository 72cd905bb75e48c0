"""``certkeeper webhook`` behind a real kube-apiserver: what ``kubectl apply`` sees.

The webhook runs as its ServiceAccount with deploy/'s RBAC and a dynamic serving certificate; the API
server calls it through registered webhook configurations. Invalid objects are refused with the
field errors in the API server's message, valid ones are stored, CertificateRequests get their
creator's identity, and only a user who may ``approve`` the issuer's signer can approve.
"""

from __future__ import annotations

import asyncio
import base64
import copy
from typing import Any

import pytest

from tests.harness.kube import ControlPlane
from tests.harness.kubeclient import ApiError, KubeClient
from tests.integration.webhook.conftest import CA_SECRET, NAMESPACE, WEBHOOK_NAME, RunningWebhook
from tests.unit.validation.test_certificaterequest import DEFAULT_CSR

pytestmark = pytest.mark.kube

DENIED = f'admission webhook "{WEBHOOK_NAME}" denied the request: '
GROUP_PATH = "/apis/cert-manager.io/v1"


def _object(webhook: RunningWebhook, kind: str, name: str, spec: dict[str, Any]) -> dict[str, Any]:
    metadata: dict[str, Any] = {"name": name, "labels": dict(webhook.labels)}
    if kind != "ClusterIssuer":
        metadata["namespace"] = webhook.namespace
    return {"apiVersion": "cert-manager.io/v1", "kind": kind, "metadata": metadata, "spec": spec}


def _request_spec(**extra: Any) -> dict[str, Any]:
    return {"issuerRef": {"name": "ca"}, "request": base64.b64encode(DEFAULT_CSR).decode(), **extra}


async def _refusal(kube: KubeClient, obj: dict[str, Any]) -> ApiError:
    with pytest.raises(ApiError) as raised:
        await kube.create(obj)
    return raised.value


async def test_invalid_objects_are_refused_with_their_field_errors(webhook: RunningWebhook, kube: KubeClient) -> None:
    no_names = _object(webhook, "Certificate", "no-names", {"secretName": "s", "issuerRef": {"name": "ca"}})
    refused = await _refusal(kube, no_names)
    assert (refused.status, refused.reason) == (403, "Forbidden")
    assert refused.message == (
        DENIED + 'spec: Invalid value: "": at least one of commonName (from the commonName field or from a '
        "literalSubject), dnsNames, emailSANs, ipAddresses, otherNames, or uriSANs must be set"
    )

    two_problems = _object(
        webhook,
        "Certificate",
        "two-problems",
        {"secretName": "s", "issuerRef": {"name": ""}, "dnsNames": ["a.example"], "duration": "1m"},
    )
    refused = await _refusal(kube, two_problems)
    assert refused.message.startswith(DENIED + "[")
    assert "spec.issuerRef.name: Required value: must be specified" in refused.message
    assert "spec.duration: Invalid value: " in refused.message

    refused = await _refusal(kube, _object(webhook, "Issuer", "nothing", {}))
    assert refused.message == DENIED + "spec: Required value: at least one issuer must be configured"

    refused = await _refusal(kube, _object(webhook, "ClusterIssuer", f"nothing-{webhook.namespace}", {}))
    assert refused.message == DENIED + "spec: Required value: at least one issuer must be configured"

    garbage = base64.b64encode(b"-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n-----END CERTIFICATE REQUEST-----\n")
    refused = await _refusal(
        kube, _object(webhook, "CertificateRequest", "garbage", _request_spec(request=garbage.decode()))
    )
    assert refused.message.startswith(DENIED + "spec.request: Invalid value: ")


async def test_valid_objects_are_stored(webhook: RunningWebhook, kube: KubeClient) -> None:
    issuer = await kube.create(_object(webhook, "Issuer", "ca", {"selfSigned": {}}))
    certificate = await kube.create(
        _object(
            webhook,
            "Certificate",
            "web",
            {"secretName": "web-tls", "dnsNames": ["a.example"], "issuerRef": {"name": "ca"}},
        )
    )
    assert issuer["metadata"]["uid"]
    assert certificate["spec"]["dnsNames"] == ["a.example"]
    # An update goes through the webhook too: the CertificateRequest's spec is frozen.
    request = await kube.create(_object(webhook, "CertificateRequest", "web-1", _request_spec()))
    changed = copy.deepcopy(request)
    changed["spec"]["isCA"] = True
    path = f"{GROUP_PATH}/namespaces/{webhook.namespace}/certificaterequests/web-1"
    with pytest.raises(ApiError) as raised:
        await kube.request("PUT", path, body=changed)
    assert raised.value.message == DENIED + "spec: Forbidden: cannot change spec after creation"


async def test_a_certificate_request_records_who_created_it(
    webhook: RunningWebhook, kube: KubeClient, control_plane: ControlPlane
) -> None:
    spoofed = _object(webhook, "CertificateRequest", "mine", _request_spec(username="root", groups=["system:masters"]))
    stored = await kube.create(spoofed)
    assert stored["spec"]["username"] == "admin"
    assert sorted(stored["spec"]["groups"]) == ["system:authenticated", "system:masters"]
    assert stored["spec"]["uid"] == ""
    # kube-apiserver (1.32+) names the client certificate that authenticated the request in extra.
    assert list(stored["spec"]["extra"]) == ["authentication.kubernetes.io/credential-id"]
    assert stored["spec"]["extra"]["authentication.kubernetes.io/credential-id"][0].startswith("X509SHA256=")


async def _grant(kube: KubeClient, namespace: str, user: str, *, signer: str | None) -> None:
    """Let ``user`` read and update CertificateRequest status in ``namespace``, and approve ``signer`` if given."""
    name = f"webhook-test-{namespace}-{user}"
    status_rule = {
        "apiGroups": ["cert-manager.io"],
        "resources": ["certificaterequests", "certificaterequests/status"],
        "verbs": ["get", "update"],
    }
    subject = {"kind": "User", "name": user, "apiGroup": "rbac.authorization.k8s.io"}
    await kube.create(
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "Role",
            "metadata": {"name": name, "namespace": namespace},
            "rules": [status_rule],
        }
    )
    await kube.create(
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "RoleBinding",
            "metadata": {"name": name, "namespace": namespace},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": name},
            "subjects": [subject],
        }
    )
    if signer is None:
        return
    await kube.create(
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "ClusterRole",
            "metadata": {"name": name},
            "rules": [
                {
                    "apiGroups": ["cert-manager.io"],
                    "resources": ["signers"],
                    "verbs": ["approve"],
                    "resourceNames": [signer],
                }
            ],
        }
    )
    await kube.create(
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "ClusterRoleBinding",
            "metadata": {"name": name},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": name},
            "subjects": [subject],
        }
    )


async def _approve(client: KubeClient, webhook: RunningWebhook, name: str) -> dict[str, Any]:
    path = f"{GROUP_PATH}/namespaces/{webhook.namespace}/certificaterequests/{name}"
    current = await client.request("GET", path)
    condition = {"type": "Approved", "status": "True", "reason": "ByTest", "message": "approved in a test"}
    current.setdefault("status", {})["conditions"] = [condition]
    answer: dict[str, Any] = await client.request("PUT", path + "/status", body=current)
    return answer


async def test_only_an_approver_of_the_signer_may_approve(
    webhook: RunningWebhook, kube: KubeClient, control_plane: ControlPlane
) -> None:
    await kube.create(_object(webhook, "CertificateRequest", "to-approve", _request_spec()))
    await _grant(kube, webhook.namespace, "bystander", signer=None)
    await _grant(kube, webhook.namespace, "approver", signer=f"issuers.cert-manager.io/{webhook.namespace}.ca")
    path = f"{GROUP_PATH}/namespaces/{webhook.namespace}/certificaterequests/to-approve"

    async with KubeClient(control_plane.client_for("bystander", ["testers"])) as bystander:
        await bystander.wait_for_status("GET", path, 200)
        with pytest.raises(ApiError) as raised:
            await _approve(bystander, webhook, "to-approve")
        assert raised.value.status == 403
        assert raised.value.message == (
            DENIED + 'status.conditions: Forbidden: user "bystander" does not have permissions to set '
            "approved/denied conditions for issuer {ca  }"
        )

    async with KubeClient(control_plane.client_for("approver", ["testers"])) as approver:
        await approver.wait_for_status("GET", path, 200)
        # The signer ClusterRoleBinding reaches the authorizer's cache a little later than the Role.
        async with asyncio.timeout(15):
            while True:
                try:
                    approved = await _approve(approver, webhook, "to-approve")
                    break
                except ApiError as error:
                    if "does not have permissions" not in error.message:
                        raise
                    await asyncio.sleep(0.2)
    assert [c["type"] for c in approved["status"]["conditions"]] == ["Approved"]


async def test_the_serving_ca_secret_is_cert_managers(webhook: RunningWebhook, kube: KubeClient) -> None:
    secret = await kube.get("v1", "Secret", CA_SECRET, namespace=NAMESPACE)
    assert secret["metadata"]["labels"] == {"app.kubernetes.io/managed-by": "cert-manager-webhook"}
    assert secret["metadata"]["annotations"]["cert-manager.io/allow-direct-injection"] == "true"
    assert set(secret["data"]) == {"ca.crt", "tls.crt", "tls.key"}
    assert base64.b64decode(secret["data"]["ca.crt"]) == webhook.ca_pem
