"""The webhook and the cainjector together behind a real kube-apiserver: issue 5's acceptance.

* The cainjector fills ``caBundle`` of deploy/'s webhook configurations (URL client config, no bundle
  given) from the webhook's CA Secret, and the API server then admits valid Certificates, Issuers and
  CertificateRequests and refuses invalid ones with their field errors.
* The CA rotates twice while admission requests keep flowing (the Secret deleted, so the webhook makes a
  new one; then replaced by a CA two thirds through its life, so the webhook rotates it itself): not one
  request fails, during or after. The cainjector merges each new CA into the bundle, keeping the old ones.
* The hardest case: the CA changes while the cainjector is stopped (SIGSTOP), so the API server's bundle
  holds only the old CA while the webhook already serves a leaf of the new one, and a burst of concurrent
  requests makes the API server open new connections. None fails: the webhook serves the new CA
  cross-signed by the old one after its leaf. (Without that, most of the burst failed with ``x509:
  certificate signed by unknown authority``.)
"""

from __future__ import annotations

import asyncio
import base64
import os
import signal
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime

import pytest
from cryptography import x509

from certkeeper.pki.keys import encode_private_key_pkcs8
from certkeeper.webhook.authority import CA_DURATION, generate_ca
from tests.harness.kubeclient import KubeClient
from tests.integration.webhook_cainjector.conftest import (
    ADMISSION,
    CA_SECRET,
    CONFIGURATION_KINDS,
    NAMESPACE,
    Deployment,
    bundles_of,
    ca_in_secret,
    certificates_in,
    eventually,
    issued_by,
    served_leaf,
)
from tests.integration.webhook_cainjector.load import AdmissionLoad, Outcome

pytestmark = [pytest.mark.kube, pytest.mark.slow]


async def _bundles(kube: KubeClient, deployment: Deployment) -> list[list[x509.Certificate]]:
    """The certificates in every webhook's caBundle, both configurations."""
    found = []
    for kind in CONFIGURATION_KINDS:
        stored = await kube.get(ADMISSION, kind, deployment.configuration_name)
        found += [certificates_in(bundle) for bundle in bundles_of(stored)]
    return found


async def test_the_injected_ca_lets_the_api_server_admit_and_refuse(kube: KubeClient, deployment: Deployment) -> None:
    ca_pem = await ca_in_secret(kube)
    ca = x509.load_pem_x509_certificate(ca_pem)
    assert await _bundles(kube, deployment) == [[ca], [ca]]
    assert issued_by(await served_leaf(deployment.port), ca_pem)
    for kind in CONFIGURATION_KINDS:
        stored = await kube.get(ADMISSION, kind, deployment.configuration_name)
        managers = {entry["manager"]: entry for entry in stored["metadata"]["managedFields"]}
        assert managers["cert-manager-cainjector"]["operation"] == "Apply"
        for hook in stored["webhooks"]:
            assert hook["clientConfig"]["url"].startswith(f"https://localhost:{deployment.port}/")

    load = AdmissionLoad(kube, deployment.namespace, deployment.labels)
    outcomes = [await load.once(case) for case in load.cases]
    assert [(o.case, o.ok, o.detail) for o in outcomes] == [(o.case, True, "") for o in outcomes]
    assert {o.case for o in outcomes} == {
        "certificate_valid",
        "certificate_invalid",
        "issuer_valid",
        "issuer_invalid",
        "request_valid",
        "request_invalid",
    }


@dataclass
class Rotation:
    """When each step of one rotation was first seen (monotonic seconds)."""

    started: float
    new_ca: bytes = b""
    secret_changed: float = 0.0
    bundles_merged: float = 0.0
    leaf_switched: float = 0.0
    steps: list[str] = field(default_factory=list)

    def describe(self) -> str:
        def at(moment: float) -> str:
            return f"{moment - self.started:+.2f}s" if moment else "never"

        return (
            f"secret changed {at(self.secret_changed)}, bundles merged {at(self.bundles_merged)}, "
            f"webhook switched {at(self.leaf_switched)}"
        )


async def _follow_rotation(
    kube: KubeClient, deployment: Deployment, rotation: Rotation, *, old: set[bytes], served: set[bytes]
) -> None:
    """Wait until the Secret holds a CA not in ``old``, every bundle holds it beside the CAs the webhook
    ``served`` from before, and the webhook serves a leaf from it."""
    old_cas = [x509.load_pem_x509_certificate(pem) for pem in served]

    async def done() -> bool:
        now = time.monotonic()
        current = await ca_in_secret(kube)
        if not current or current in old:
            return False
        if not rotation.secret_changed:
            rotation.secret_changed, rotation.new_ca = now, current
        new = x509.load_pem_x509_certificate(current)
        if not rotation.bundles_merged:
            bundles = await _bundles(kube, deployment)
            if all(new in bundle and all(ca in bundle for ca in old_cas) for bundle in bundles):
                rotation.bundles_merged = now
        if not rotation.leaf_switched and issued_by(await served_leaf(deployment.port), current):
            rotation.leaf_switched = now
        return bool(rotation.bundles_merged and rotation.leaf_switched)

    await eventually(done, timeout=45, what="the rotation to complete", deployment=deployment)


def _aged_ca_secret_data(now: datetime) -> dict[str, str]:
    """A valid CA two thirds through its life: the webhook must replace it."""
    ca = generate_ca(now - CA_DURATION * 0.7)
    cert = base64.b64encode(ca.cert_pem).decode()
    key = base64.b64encode(encode_private_key_pkcs8(ca.key)).decode()
    return {"ca.crt": cert, "tls.crt": cert, "tls.key": key}


def _report(outcomes: list[Outcome], origin: float) -> str:
    return "\n".join(f"{o.started - origin:+8.2f}s {o.case}: {o.detail}" for o in outcomes[:20])


async def test_ca_rotation_under_load_fails_no_admission(kube: KubeClient, deployment: Deployment) -> None:
    first = await ca_in_secret(kube)
    load = AdmissionLoad(kube, deployment.namespace, deployment.labels, workers=3)
    origin = time.monotonic()
    load.start()
    try:
        await asyncio.sleep(2)
        # 1. The Secret disappears: on its next read (every 10 s) the webhook makes a new CA and serves from it.
        deleted = Rotation(started=time.monotonic())
        await kube.delete("v1", "Secret", CA_SECRET, namespace=NAMESPACE)
        await _follow_rotation(kube, deployment, deleted, old={first}, served={first})
        deleted_done = time.monotonic()
        await asyncio.sleep(2)
        # 2. The Secret holds a CA near the end of its life: the webhook rotates it itself (an update).
        aged = Rotation(started=time.monotonic())
        secret = await kube.get("v1", "Secret", CA_SECRET, namespace=NAMESPACE)
        secret["data"] = _aged_ca_secret_data(datetime.now(UTC))
        await kube.request("PUT", f"/api/v1/namespaces/{NAMESPACE}/secrets/{CA_SECRET}", body=secret)
        aged_pem = base64.b64decode(secret["data"]["ca.crt"])
        # The aged CA may or may not reach the bundles (the webhook may replace it before the cainjector reads it).
        served = {first, deleted.new_ca}
        await _follow_rotation(kube, deployment, aged, old=served | {aged_pem}, served=served)
        aged_done = time.monotonic()
        await asyncio.sleep(3)
    finally:
        outcomes = await load.stop()
    end = time.monotonic()

    failures = load.failures(outcomes)
    timeline = f"rotation 1: {deleted.describe()}; rotation 2: {aged.describe()}"
    assert not failures, f"{len(failures)} of {len(outcomes)} admissions failed ({timeline}):\n" + _report(
        failures, origin
    )
    # The assertion above means something only if requests kept flowing through each phase.
    phases = {
        "before": load.between(origin, deleted.started),
        "rotation 1": load.between(deleted.started, deleted_done),
        "rotation 2": load.between(aged.started, aged_done),
        "after": load.between(aged_done, end),
    }
    counts = {name: len(phase) for name, phase in phases.items()}
    assert all(count >= 6 for count in counts.values()), counts
    assert {o.case for o in phases["rotation 1"]} == {case.__name__ for case in load.cases}
    # Merged, not replaced: every CA the webhook served from is still trusted (none has expired).
    cas = {x509.load_pem_x509_certificate(pem) for pem in (first, deleted.new_ca, aged.new_ca)}
    assert len(cas) == 3
    for bundle in await _bundles(kube, deployment):
        assert cas <= set(bundle)
    assert issued_by(await served_leaf(deployment.port), aged.new_ca)


async def test_a_ca_change_the_cainjector_has_not_injected_yet_fails_no_admission(
    kube: KubeClient, deployment: Deployment
) -> None:
    first = await ca_in_secret(kube)
    load = AdmissionLoad(kube, deployment.namespace, deployment.labels, workers=2)
    load.start()
    assert deployment.cainjector.popen is not None
    cainjector = deployment.cainjector.popen.pid
    os.kill(cainjector, signal.SIGSTOP)
    try:
        await asyncio.sleep(1)
        await kube.delete("v1", "Secret", CA_SECRET, namespace=NAMESPACE)

        async def switched() -> bool:
            current = await ca_in_secret(kube)
            return bool(current) and current != first and issued_by(await served_leaf(deployment.port), current)

        await eventually(switched, timeout=30, what="the webhook to serve from a new CA", deployment=deployment)
        # Only the old CA is trusted by the API server, and 20 requests at once need new connections.
        assert all(bundle == [x509.load_pem_x509_certificate(first)] for bundle in await _bundles(kube, deployment))
        burst = AdmissionLoad(kube, deployment.namespace, deployment.labels)
        cases = [burst.certificate_valid, burst.certificate_invalid, burst.request_valid, burst.issuer_invalid] * 5
        outcomes = await asyncio.gather(*(burst.once(case) for case in cases))
        await asyncio.sleep(1)
    finally:
        os.kill(cainjector, signal.SIGCONT)
    second = await ca_in_secret(kube)

    async def merged() -> bool:
        cas = {x509.load_pem_x509_certificate(pem) for pem in (first, second)}
        return all(cas <= set(bundle) for bundle in await _bundles(kube, deployment))

    await eventually(merged, timeout=30, what="the resumed cainjector to merge the new CA", deployment=deployment)
    await asyncio.sleep(1)
    steady = await load.stop()
    failures = load.failures(outcomes) + load.failures(steady)
    assert not failures, _report(failures, failures[0].started)
    assert len(outcomes) == 20
