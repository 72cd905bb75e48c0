"""``certkeeper controller`` on a real kube-apiserver, as its own ServiceAccount with exactly deploy/'s RBAC:
a CA chain issued (SelfSigned ClusterIssuer -> CA Certificate -> CA Issuer -> leaves) into Secrets laid out
as cert-manager lays them out, and re-issued when the Secret is deleted, the spec edited, or renewal is due."""

from __future__ import annotations

import base64
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import msgspec
import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec

from certkeeper.api.certmanager import Certificate
from certkeeper.api.defaults import apply_defaults
from certkeeper.api.features import DEFAULT_GATES
from certkeeper.validation.certificate import validate_certificate_create
from tests.harness.kube import Identity
from tests.harness.kubeclient import ApiError, KubeClient
from tests.integration.controller.conftest import Running, config_for, eventually
from tests.integration.controller.objects import CM, ca_chain, certificate, leaf_of, ready, revision

pytestmark = pytest.mark.kube

Start = Callable[..., Awaitable[Running]]
CA_REF = {"name": "ca", "kind": "Issuer", "group": "cert-manager.io"}


def _time(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def _ready_certificate(admin: KubeClient, name: str, ns: str) -> Callable[[], Awaitable[bool]]:
    """Ready and its issuance recorded: the readiness controller may mark the Certificate Ready from
    the new Secret before the issuing controller's status write (revision) lands, as in cert-manager."""

    async def check() -> bool:
        return await ready(admin, "Certificate", name, ns) and await revision(admin, name, ns) >= 1

    return check


async def _issued_chain(admin: KubeClient, ns: str, start: Start, identity: Identity) -> None:
    await start(config_for(identity))
    await ca_chain(admin, ns, cluster_issuer="selfsigned")
    await eventually(lambda: ready(admin, "Issuer", "ca", ns), what="the CA Issuer to be Ready")


async def test_ca_chain_and_secret_layout(
    admin: KubeClient, ns: str, controller_identity: Identity, start_controller: Start
) -> None:
    await _issued_chain(admin, ns, start_controller, controller_identity)
    leaves: dict[str, dict[str, Any]] = {
        "leaf": {
            "commonName": "leaf.example.test",
            "dnsNames": ["leaf.example.test", "www.example.test"],
            "ipAddresses": ["10.0.0.7"],
            "uris": ["spiffe://example.test/leaf"],
        },
        "second": {"dnsNames": ["second.example.test"]},
    }
    for name, spec in leaves.items():
        await admin.create(certificate(name, ns, CA_REF, **spec))
    for name in leaves:
        await eventually(_ready_certificate(admin, name, ns), what=f"Certificate {name} Ready")

    ca_secret = await admin.get("v1", "Secret", "root-ca", namespace=ns)
    ca_cert = leaf_of(ca_secret)
    assert ca_cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    assert await ready(admin, "ClusterIssuer", "selfsigned")

    cert = await admin.get(CM, "Certificate", "leaf", namespace=ns)
    secret = await admin.get("v1", "Secret", "leaf-tls", namespace=ns)
    assert secret["type"] == "kubernetes.io/tls"
    assert set(secret["data"]) == {"tls.crt", "tls.key", "ca.crt"}
    assert secret["data"]["ca.crt"] == ca_secret["data"]["tls.crt"]
    assert secret["metadata"]["labels"] == {"controller.cert-manager.io/fao": "true"}
    annotations = secret["metadata"]["annotations"]
    assert {
        key: annotations.get(key)
        for key in (
            "cert-manager.io/certificate-name",
            "cert-manager.io/issuer-name",
            "cert-manager.io/issuer-kind",
            "cert-manager.io/issuer-group",
            "cert-manager.io/common-name",
            "cert-manager.io/alt-names",
            "cert-manager.io/ip-sans",
            "cert-manager.io/uri-sans",
        )
    } == {
        "cert-manager.io/certificate-name": "leaf",
        "cert-manager.io/issuer-name": "ca",
        "cert-manager.io/issuer-kind": "Issuer",
        "cert-manager.io/issuer-group": "cert-manager.io",
        "cert-manager.io/common-name": "leaf.example.test",
        "cert-manager.io/alt-names": "leaf.example.test,www.example.test",
        "cert-manager.io/ip-sans": "10.0.0.7",
        "cert-manager.io/uri-sans": "spiffe://example.test/leaf",
    }
    # Without --enable-certificate-owner-ref the Secret outlives its Certificate.
    assert "ownerReferences" not in secret["metadata"]
    issued = leaf_of(secret)
    issued.verify_directly_issued_by(ca_cert)
    assert isinstance(issued.public_key(), ec.EllipticCurvePublicKey)
    sans = issued.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert sans.get_values_for_type(x509.DNSName) == ["leaf.example.test", "www.example.test"]
    assert sans.get_values_for_type(x509.UniformResourceIdentifier) == ["spiffe://example.test/leaf"]

    status = cert["status"]
    assert status["revision"] == 1
    assert _time(status["notBefore"]) == issued.not_valid_before_utc
    assert _time(status["notAfter"]) == issued.not_valid_after_utc
    # The default 90 days, renewed at 2/3 of the lifetime.
    lifetime = issued.not_valid_after_utc - issued.not_valid_before_utc
    assert _time(status["renewalTime"]) == issued.not_valid_before_utc + lifetime * 2 / 3

    request = await admin.get(CM, "CertificateRequest", "leaf-1", namespace=ns)
    (owner,) = request["metadata"]["ownerReferences"]
    assert owner == {
        "apiVersion": CM,
        "kind": "Certificate",
        "name": "leaf",
        "uid": cert["metadata"]["uid"],
        "controller": True,
        "blockOwnerDeletion": True,
    }
    assert request["metadata"]["annotations"]["cert-manager.io/certificate-revision"] == "1"
    approved = {c["type"]: c["status"] for c in request["status"]["conditions"]}
    assert approved == {"Approved": "True", "Ready": "True"}
    assert base64.b64decode(request["status"]["certificate"]) == base64.b64decode(secret["data"]["tls.crt"])

    events = await admin.request("GET", f"/api/v1/namespaces/{ns}/events")
    reasons = {e["reason"] for e in events["items"] if e["involvedObject"]["name"] == "leaf"}
    assert {"Issuing", "Generated", "Requested"} <= reasons


async def _wait_revision(admin: KubeClient, name: str, ns: str, above: int, timeout: float = 60.0) -> None:
    async def moved() -> bool:
        return await revision(admin, name, ns) > above and await ready(admin, "Certificate", name, ns)

    await eventually(moved, timeout=timeout, what=f"Certificate {name} re-issued past revision {above}")


async def test_reissued_when_the_secret_is_deleted_or_the_spec_edited(
    admin: KubeClient, ns: str, controller_identity: Identity, start_controller: Start
) -> None:
    await _issued_chain(admin, ns, start_controller, controller_identity)
    await admin.create(certificate("web", ns, CA_REF, dnsNames=["web.example.test"]))
    await eventually(_ready_certificate(admin, "web", ns), what="web Ready")
    first = leaf_of(await admin.get("v1", "Secret", "web-tls", namespace=ns))

    await admin.delete("v1", "Secret", "web-tls", namespace=ns)
    await _wait_revision(admin, "web", ns, 1)
    second = leaf_of(await admin.get("v1", "Secret", "web-tls", namespace=ns))
    assert second.serial_number != first.serial_number

    # A merge patch, as `kubectl patch` sends: the controller may still be writing this Certificate's
    # status after the re-issue (the key manager clears nextPrivateKeySecretName once Issuing is gone),
    # and a GET-then-PUT of the whole object can lose that race with a 409.
    await admin.request(
        "PATCH",
        f"/apis/{CM}/namespaces/{ns}/certificates/web",
        body={"spec": {"dnsNames": ["web.example.test", "api.example.test"]}},
        content_type="application/merge-patch+json",
    )
    await _wait_revision(admin, "web", ns, 2)
    third = leaf_of(await admin.get("v1", "Secret", "web-tls", namespace=ns))
    names = third.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert names.get_values_for_type(x509.DNSName) == ["web.example.test", "api.example.test"]
    requests = await admin.request("GET", f"/apis/{CM}/namespaces/{ns}/certificaterequests")
    names_of_requests = {r["metadata"]["name"] for r in requests["items"]} - {"root-ca-1"}
    assert "web-3" in names_of_requests
    assert names_of_requests <= {"web-1", "web-2", "web-3"}


def test_short_lived_certificate_is_what_validation_accepts_at_the_least() -> None:
    """The renewal test's spec: cert-manager's minimum duration (1h) and the longest renewBefore below it."""

    def spec(duration: str, renew_before: str) -> Certificate:
        raw: dict[str, Any] = certificate(
            "short", "ns", CA_REF, dnsNames=["short.example.test"], duration=duration, renewBefore=renew_before
        )
        return apply_defaults(msgspec.convert(raw, Certificate))

    assert validate_certificate_create(spec("1h", "59m50s"), DEFAULT_GATES).ok
    refused = validate_certificate_create(spec("59m59s", "5m"), DEFAULT_GATES)
    assert [str(e.field) for e in refused.errors] == ["spec.duration"]
    refused = validate_certificate_create(spec("1h", "1h"), DEFAULT_GATES)
    assert [str(e.field) for e in refused.errors] == ["spec.renewBefore"]


async def test_renewed_when_renewal_time_is_reached(
    admin: KubeClient, ns: str, controller_identity: Identity, start_controller: Start
) -> None:
    await _issued_chain(admin, ns, start_controller, controller_identity)
    short = certificate("short", ns, CA_REF, dnsNames=["short.example.test"], duration="1h", renewBefore="59m50s")
    await admin.create(short)
    await eventually(_ready_certificate(admin, "short", ns), what="short Ready")
    cert = await admin.get(CM, "Certificate", "short", namespace=ns)
    renewal = _time(cert["status"]["renewalTime"])
    assert renewal - _time(cert["status"]["notBefore"]) == timedelta(seconds=10)
    first = leaf_of(await admin.get("v1", "Secret", "short-tls", namespace=ns))
    await _wait_revision(admin, "short", ns, 1, timeout=60)
    assert datetime.now(UTC) >= renewal
    renewed = leaf_of(await admin.get("v1", "Secret", "short-tls", namespace=ns))
    assert renewed.not_valid_before_utc >= first.not_valid_before_utc
    assert renewed.serial_number != first.serial_number
    with pytest.raises(ApiError) as gone:
        await admin.get(CM, "CertificateRequest", "short-0", namespace=ns)
    assert gone.value.status == 404
