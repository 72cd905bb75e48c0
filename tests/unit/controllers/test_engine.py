import base64
from typing import Any

from cryptography import x509

from certkeeper.api.certmanager import CertificateRequest
from certkeeper.controllers.engine import Engine
from certkeeper.issuers.base import Failed, GenericIssuer, SignContext, SignResult
from certkeeper.issuers.selfsigned import SelfSignedIssuer
from certkeeper.store.resources import EVENTS
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


def _revision(cert: dict[str, Any]) -> int:
    return int(cert.get("status", {}).get("revision") or 0)


async def _issue_web(h: Harness, **spec: Any) -> dict[str, Any]:
    await make_ca_chain(h)
    await h.apply(
        CERTIFICATES,
        certificate(
            "web",
            "web-tls",
            {"name": "ca"},
            **{"dnsNames": ["web.example.com"], "privateKey": {"algorithm": "ECDSA"}, **spec},
        ),
    )
    await h.settle(lambda: h.ready(NS, "web"))
    return await h.get(CERTIFICATES, "web", NS)


async def _wait_revision(h: Harness, revision: int) -> dict[str, Any]:
    def reached() -> bool:
        raw = h.engine.certificates.cache.get(f"{NS}/web") or {}
        return _revision(raw) == revision and h.ready(NS, "web")

    await h.settle(reached)
    return await h.get(CERTIFICATES, "web", NS)


async def test_reissues_when_secret_deleted() -> None:
    async with running_engine() as h:
        await _issue_web(h)
        await h.store.delete(SECRETS, "web-tls", namespace=NS)
        cert = await _wait_revision(h, 2)
        assert cert["status"]["revision"] == 2
        assert (await h.get(SECRETS, "web-tls", NS))["data"]["tls.crt"]


async def test_reissues_when_key_corrupted_and_when_dns_names_edited() -> None:
    async with running_engine() as h:
        await _issue_web(h)
        secret = await h.get(SECRETS, "web-tls", NS)
        secret["data"]["tls.key"] = base64.b64encode(b"not a key").decode()
        await h.store.update(SECRETS, secret)
        await _wait_revision(h, 2)
        cert = await h.get(CERTIFICATES, "web", NS)
        cert["spec"]["dnsNames"] = ["web.example.com", "www.example.com"]
        await h.store.update(CERTIFICATES, cert)
        await _wait_revision(h, 3)
        secret = await h.get(SECRETS, "web-tls", NS)
        assert secret["metadata"]["annotations"]["cert-manager.io/alt-names"] == "web.example.com,www.example.com"
        # revisionHistoryLimit defaults to 1: only the newest request is kept
        requests = await h.store.list(CERTIFICATE_REQUESTS, namespace=NS)
        assert sorted(r["metadata"]["name"] for r in requests.items) == ["root-ca-1", "web-3"]


async def test_reissues_when_issuer_changes() -> None:
    async with running_engine() as h:
        await _issue_web(h)
        cert = await h.get(CERTIFICATES, "web", NS)
        cert["spec"]["issuerRef"] = {"name": "selfsigned", "kind": "ClusterIssuer"}
        await h.store.update(CERTIFICATES, cert)
        await _wait_revision(h, 2)
        secret = await h.get(SECRETS, "web-tls", NS)
        assert secret["metadata"]["annotations"]["cert-manager.io/issuer-name"] == "selfsigned"
        assert secret["metadata"]["annotations"]["cert-manager.io/issuer-kind"] == "ClusterIssuer"


async def test_renews_when_the_fake_clock_reaches_renewal_time_and_not_before() -> None:
    async with running_engine() as h:
        cert = await _issue_web(h, duration="24h", renewBefore="8h")
        assert cert["status"]["renewalTime"]
        await h.advance(15 * 3600)  # 15h: before the renewal point at 16h
        assert _revision(await h.get(CERTIFICATES, "web", NS)) == 1
        await h.advance(3601)
        cert = await _wait_revision(h, 2)
        issuing_reasons = [e for e in (await h.store.list(EVENTS, namespace=NS)).items if e["reason"] == "Issuing"]
        assert any(e["message"].startswith("Renewing certificate as renewal was scheduled at") for e in issuing_reasons)


async def test_no_reissue_when_the_engine_restarts_on_the_same_store() -> None:
    async with running_engine() as h:
        await _issue_web(h)
        before = await h.get(SECRETS, "web-tls", NS)
        await h.engine.stop()
        restarted = Engine(
            h.store, clock=h.clock, options=h.engine.options, issuer_backends=h.engine.ctx.issuer_backends
        )
        await restarted.start()
        h.engine = restarted
        await h.settle()
        after = await h.get(SECRETS, "web-tls", NS)
        assert after["metadata"]["resourceVersion"] == before["metadata"]["resourceVersion"]
        assert _revision(await h.get(CERTIFICATES, "web", NS)) == 1


class FailingSigner(SelfSignedIssuer):
    """A SelfSigned issuer whose signing always fails, to drive the failure backoff."""

    calls = 0

    async def sign(self, request: CertificateRequest, issuer: GenericIssuer, ctx: SignContext) -> SignResult:
        FailingSigner.calls += 1
        return Failed("ErrorSigning", "Error signing certificate: the HSM is on fire")


async def test_failed_issuance_backs_off_on_cert_managers_schedule() -> None:
    FailingSigner.calls = 0
    async with running_engine() as h:
        h.engine.ctx.issuer_backends["selfsigned"] = FailingSigner()
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
                "web",
                "web-tls",
                {"name": "selfsigned", "kind": "ClusterIssuer"},
                commonName="web",
                privateKey={"algorithm": "ECDSA"},
            ),
        )

        def attempts() -> int:
            raw = h.engine.certificates.cache.get(f"{NS}/web") or {}
            return int(raw.get("status", {}).get("failedIssuanceAttempts") or 0)

        await h.settle(lambda: attempts() == 1)
        cert = await h.get(CERTIFICATES, "web", NS)
        issuing = next(c for c in cert["status"]["conditions"] if c["type"] == "Issuing")
        assert issuing["status"] == "False"
        assert issuing["reason"] == "Failed"
        assert issuing["message"] == (
            "The certificate request has failed to complete and will be retried: "
            "Error signing certificate: the HSM is on fire"
        )
        # 1h, then 2h, then 4h between attempts (1h * 2^(n-1)); nothing happens in between
        for attempt, delay_hours in ((1, 1), (2, 2), (3, 4)):
            await h.advance(delay_hours * 3600 - 60)
            assert attempts() == attempt
            await h.advance(61)
            await h.settle(lambda: attempts() == attempt + 1)  # noqa: B023 - awaited within this iteration
        assert FailingSigner.calls == 4


async def test_secret_template_output_formats_and_keystores_are_written() -> None:
    async with running_engine() as h:
        await h.apply(
            SECRETS,
            {
                "apiVersion": "v1",
                "kind": "Secret",
                "metadata": {"name": "jks-password", "namespace": NS},
                "data": {"password": base64.b64encode(b"changeit").decode()},
            },
        )
        await _issue_web(
            h,
            secretTemplate={"labels": {"app": "web"}, "annotations": {"team": "platform"}},
            additionalOutputFormats=[{"type": "DER"}, {"type": "CombinedPEM"}],
            keystores={
                "jks": {"create": True, "passwordSecretRef": {"name": "jks-password", "key": "password"}},
                "pkcs12": {"create": True, "password": "p12-secret", "profile": "Modern2023"},
            },
        )
        secret = await h.get(SECRETS, "web-tls", NS)
        assert secret["metadata"]["labels"] == {"app": "web", "controller.cert-manager.io/fao": "true"}
        assert secret["metadata"]["annotations"]["team"] == "platform"
        assert set(secret["data"]) == {
            "tls.crt",
            "tls.key",
            "ca.crt",
            "key.der",
            "tls-combined.pem",
            "keystore.jks",
            "truststore.jks",
            "keystore.p12",
            "truststore.p12",
        }
        data = {k: base64.b64decode(v) for k, v in secret["data"].items()}
        assert data["tls-combined.pem"] == data["tls.key"] + b"\n" + data["tls.crt"]
        assert data["keystore.jks"][:4] == b"\xfe\xed\xfe\xed"  # the JKS magic

        # removing the keystores from the spec removes their data (post-issuance, no re-issuance)
        cert = await h.get(CERTIFICATES, "web", NS)
        del cert["spec"]["keystores"]
        del cert["spec"]["additionalOutputFormats"]
        await h.store.update(CERTIFICATES, cert)

        def keystores_gone() -> bool:
            return "keystore.jks" not in (h.engine.secrets.cache.get(f"{NS}/web-tls") or {}).get("data", {})

        await h.settle(keystores_gone)
        secret = await h.get(SECRETS, "web-tls", NS)
        assert set(secret["data"]) == {"tls.crt", "tls.key", "ca.crt"}
        assert _revision(await h.get(CERTIFICATES, "web", NS)) == 1


async def test_requests_for_external_issuers_are_left_alone() -> None:
    async with running_engine() as h:
        await h.apply(
            CERTIFICATES,
            certificate(
                "ext",
                "ext-tls",
                {"name": "vault", "kind": "VaultIssuer", "group": "example.com"},
                commonName="ext",
                privateKey={"algorithm": "ECDSA"},
            ),
        )
        await h.settle(lambda: h.engine.requests.cache.get(f"{NS}/ext-1") is not None)
        request = await h.get(CERTIFICATE_REQUESTS, "ext-1", NS)
        reasons = {c["type"]: c.get("reason") for c in request.get("status", {}).get("conditions", [])}
        assert reasons == {"Approved": "cert-manager.io"}  # approved by the built-in approver, never signed
        assert "certificate" not in request.get("status", {})


async def test_rotation_policy_never_reuses_the_key_and_always_rotates_it() -> None:
    async with running_engine() as h:
        await _issue_web(h, privateKey={"algorithm": "ECDSA", "rotationPolicy": "Never"})
        key_before = (await h.get(SECRETS, "web-tls", NS))["data"]["tls.key"]
        await h.store.delete(CERTIFICATE_REQUESTS, "web-1", namespace=NS)
        cert = await h.get(CERTIFICATES, "web", NS)
        cert["spec"]["dnsNames"] = ["web.example.com", "other.example.com"]
        await h.store.update(CERTIFICATES, cert)
        await _wait_revision(h, 2)
        assert (await h.get(SECRETS, "web-tls", NS))["data"]["tls.key"] == key_before
        events = [e for e in (await h.store.list(EVENTS, namespace=NS)).items if e["reason"] == "Reused"]
        assert events
        cert = await h.get(CERTIFICATES, "web", NS)
        cert["spec"]["privateKey"]["rotationPolicy"] = "Always"
        cert["spec"]["dnsNames"] = ["web.example.com"]
        await h.store.update(CERTIFICATES, cert)
        await _wait_revision(h, 3)
        assert (await h.get(SECRETS, "web-tls", NS))["data"]["tls.key"] != key_before


async def test_temporary_certificate_while_the_issuer_is_not_ready() -> None:
    async with running_engine() as h:
        await h.apply(
            ISSUERS,
            {
                "apiVersion": "cert-manager.io/v1",
                "kind": "Issuer",
                "metadata": {"name": "ca", "namespace": NS},
                "spec": {"ca": {"secretName": "missing-ca"}},
            },
        )
        cert = certificate(
            "web", "web-tls", {"name": "ca"}, dnsNames=["web.example.com"], privateKey={"algorithm": "ECDSA"}
        )
        cert["metadata"]["annotations"] = {"cert-manager.io/issue-temporary-certificate": "true"}
        await h.apply(CERTIFICATES, cert)
        await h.settle(lambda: h.engine.secrets.cache.get(f"{NS}/web-tls") is not None)
        secret = await h.get(SECRETS, "web-tls", NS)
        temporary = x509.load_pem_x509_certificate(base64.b64decode(secret["data"]["tls.crt"]))
        assert temporary.issuer.rfc4514_string() == "CN=cert-manager.local"
        assert "cert-manager.io/issuer-name" not in secret["metadata"]["annotations"]
        # issuance goes on: the real certificate replaces the temporary one once the CA exists
        cert = await h.get(CERTIFICATES, "web", NS)
        assert any(c["type"] == "Issuing" and c["status"] == "True" for c in cert["status"]["conditions"])


async def test_prometheus_metrics_have_cert_managers_names_and_labels() -> None:
    from prometheus_client import CollectorRegistry, generate_latest

    async with running_engine() as h:
        await _issue_web(h)
        registry = CollectorRegistry()
        registry.register(h.engine.collector())
        text = generate_latest(registry).decode()
    assert (
        'certmanager_certificate_ready_status{condition="True",issuer_group="cert-manager.io",'
        'issuer_kind="Issuer",issuer_name="ca",name="web",namespace="default"} 1.0'
    ) in text
    assert (
        'certmanager_certificate_ready_status{condition="False",issuer_group="cert-manager.io",'
        'issuer_kind="Issuer",issuer_name="ca",name="web",namespace="default"} 0.0'
    ) in text
    for family in ("not_after", "not_before", "expiration", "renewal"):
        prefix = f"certmanager_certificate_{family}_timestamp_seconds{{"
        line = next(x for x in text.splitlines() if x.startswith(prefix) and 'name="web"' in x)
        assert float(line.rsplit(" ", 1)[1]) > 1.7e9
    assert 'certmanager_issuer_ready_status{condition="True",name="ca",namespace="default"} 1.0' in text
    assert 'certmanager_clusterissuer_ready_status{condition="True",name="selfsigned"} 1.0' in text
    assert 'certmanager_controller_sync_call_count_total{controller="certificates-issuing"}' in text
