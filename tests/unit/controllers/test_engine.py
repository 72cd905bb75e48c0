import base64
from typing import Any

from cryptography import x509

from tests.unit.controllers.harness import (
    CERTIFICATE_REQUESTS,
    CERTIFICATES,
    CLUSTER_ISSUERS,
    ISSUERS,
    SECRETS,
    Harness,
    running_engine,
)

NS = "default"


def certificate(name: str, secret: str, issuer: dict[str, str], **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "cert-manager.io/v1",
        "kind": "Certificate",
        "metadata": {"name": name, "namespace": NS},
        "spec": {"secretName": secret, "issuerRef": issuer, **spec},
    }


async def make_ca_chain(h: Harness) -> None:
    await h.apply(
        CLUSTER_ISSUERS,
        {
            "apiVersion": "cert-manager.io/v1",
            "kind": "ClusterIssuer",
            "metadata": {"name": "selfsigned"},
            "spec": {"selfSigned": {}},
        },
    )
    await h.apply(
        CERTIFICATES,
        certificate(
            "root-ca",
            "root-ca",
            {"name": "selfsigned", "kind": "ClusterIssuer"},
            isCA=True,
            commonName="certkeeper test CA",
            privateKey={"algorithm": "ECDSA", "size": 256},
        ),
    )
    await h.apply(
        ISSUERS,
        {
            "apiVersion": "cert-manager.io/v1",
            "kind": "Issuer",
            "metadata": {"name": "ca", "namespace": NS},
            "spec": {"ca": {"secretName": "root-ca"}},
        },
    )


async def test_selfsigned_ca_and_leaf_become_ready_with_cert_managers_secret_layout() -> None:
    async with running_engine() as h:
        await make_ca_chain(h)
        await h.apply(
            CERTIFICATES,
            certificate(
                "web",
                "web-tls",
                {"name": "ca"},
                dnsNames=["web.example.com"],
                ipAddresses=["10.0.0.7"],
                privateKey={"algorithm": "ECDSA"},
            ),
        )
        await h.settle(lambda: h.ready(NS, "root-ca") and h.ready(NS, "web"))

        secret = await h.get(SECRETS, "web-tls", NS)
        assert secret["type"] == "kubernetes.io/tls"
        assert set(secret["data"]) == {"tls.crt", "tls.key", "ca.crt"}
        assert secret["metadata"]["labels"] == {"controller.cert-manager.io/fao": "true"}
        annotations = secret["metadata"]["annotations"]
        assert annotations["cert-manager.io/certificate-name"] == "web"
        assert annotations["cert-manager.io/issuer-name"] == "ca"
        assert annotations["cert-manager.io/issuer-kind"] == "Issuer"
        assert annotations["cert-manager.io/issuer-group"] == "cert-manager.io"
        assert annotations["cert-manager.io/alt-names"] == "web.example.com"
        assert annotations["cert-manager.io/ip-sans"] == "10.0.0.7"
        leaf = x509.load_pem_x509_certificate(base64.b64decode(secret["data"]["tls.crt"]))
        ca = x509.load_pem_x509_certificate(base64.b64decode(secret["data"]["ca.crt"]))
        leaf.verify_directly_issued_by(ca)

        cert = await h.get(CERTIFICATES, "web", NS)
        status = cert["status"]
        assert status["revision"] == 1
        assert {c["type"]: c["reason"] for c in status["conditions"]} == {"Ready": "Ready"}
        assert status["notBefore"] == leaf.not_valid_before_utc.strftime("%Y-%m-%dT%H:%M:%SZ")
        assert status["notAfter"] == leaf.not_valid_after_utc.strftime("%Y-%m-%dT%H:%M:%SZ")
        lifetime = leaf.not_valid_after_utc - leaf.not_valid_before_utc
        renewal = leaf.not_valid_after_utc - lifetime / 3
        assert status["renewalTime"] == renewal.strftime("%Y-%m-%dT%H:%M:%SZ")
        assert "nextPrivateKeySecretName" not in status

        request = await h.get(CERTIFICATE_REQUESTS, "web-1", NS)
        assert request["metadata"]["annotations"]["cert-manager.io/certificate-revision"] == "1"
        assert request["metadata"]["ownerReferences"][0]["uid"] == cert["metadata"]["uid"]
        reasons = {c["type"]: c["reason"] for c in request["status"]["conditions"]}
        assert reasons == {"Approved": "cert-manager.io", "Ready": "Issued"}
        # the temporary next-private-key Secret is gone once issuance completed
        secrets = await h.store.list(SECRETS, namespace=NS)
        assert sorted(s["metadata"]["name"] for s in secrets.items) == ["root-ca", "web-tls"]
