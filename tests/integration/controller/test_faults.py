"""``certkeeper controller`` through faults of the API server: a restart in the middle of issuance, watches
whose resourceVersion expired (410, relist), and writes that lose a race (409, retried). No Secret is lost,
and nothing is issued twice."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import logging
import urllib.request
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from cryptography import x509

from tests.harness.kube import ControlPlane, Identity
from tests.harness.kubeclient import ApiError, KubeClient
from tests.integration.controller.conftest import Running, config_for, eventually
from tests.integration.controller.objects import (
    CM,
    ca_chain,
    certificate,
    condition,
    is_ready,
    issued,
    leaf_of,
    ready,
    revision,
)
from tests.integration.controller.proxy import TcpProxy

pytestmark = pytest.mark.kube

Start = Callable[..., Awaitable[Running]]
CA_REF = {"name": "ca", "kind": "Issuer"}
LEAVES = [f"leaf-{i}" for i in range(6)]


async def _chain(admin: KubeClient, ns: str, start: Start, identity: Identity, **flags: str) -> None:
    # cert-manager's lease timings: a leader rides out an API server restart of a few seconds (with the
    # tests' short ones it would step down, as it should, and exit).
    lease = {
        "leader_election_lease_duration": "60s",
        "leader_election_renew_deadline": "40s",
        "leader_election_retry_period": "15s",
    }
    await start(config_for(identity, **lease, **flags))
    await ca_chain(admin, ns, cluster_issuer="selfsigned")
    await eventually(lambda: ready(admin, "Issuer", "ca", ns), what="the CA Issuer to be Ready")


def _etcd(plane: ControlPlane, path: str, body: dict[str, object]) -> dict[str, Any]:
    """One call to etcd's JSON gateway (``/v3/...``) on the harness's loopback etcd."""
    request = urllib.request.Request(  # noqa: S310 - loopback etcd of the harness
        f"{plane.etcd_url}{path}", data=json.dumps(body).encode(), method="POST"
    )
    with urllib.request.urlopen(request, timeout=10) as answer:  # noqa: S310
        found: dict[str, Any] = json.loads(answer.read())
        return found


def _expire_every_resource_version(plane: ControlPlane) -> None:
    """Write a key outside the API's prefix, then compact etcd up to it: every resourceVersion the controller
    holds is compacted away, and a watch from one is answered 410 Gone (the plane runs without a watch cache)."""
    key = base64.b64encode(b"/certkeeper-test/bump").decode()
    # Two writes: a watch from the newest resourceVersion R starts at R + 1, the first of them, which a
    # compaction at the second removes.
    for value in (b"1", b"2"):
        put = _etcd(plane, "/v3/kv/put", {"key": key, "value": base64.b64encode(value).decode()})
    _etcd(plane, "/v3/kv/compaction", {"revision": put["header"]["revision"], "physical": True})


async def _all_ready(admin: KubeClient, ns: str, names: list[str]) -> bool:
    """Every Certificate Ready, issued (revision 1) and no longer Issuing: the issuing and readiness
    controllers write status separately, so Ready alone can come a moment before the revision."""
    for name in names:
        cert = await admin.get(CM, "Certificate", name, namespace=ns)
        issuing = condition(cert, "Issuing")
        if not is_ready(cert) or cert["status"].get("revision") != 1 or issuing is not None:
            return False
    return True


def _relisted(caplog: pytest.LogCaptureFixture) -> set[str]:
    return {
        r.getMessage().split(":")[0]
        for r in caplog.records
        if r.name == "certkeeper.runtime.informer" and "resourceVersion expired, relisting" in r.getMessage()
    }


async def test_apiserver_restarted_mid_issuance(
    admin: KubeClient,
    ns: str,
    plane: ControlPlane,
    controller_identity: Identity,
    start_controller: Start,
    caplog: pytest.LogCaptureFixture,
) -> None:
    await _chain(admin, ns, start_controller, controller_identity)
    for name in LEAVES:
        await admin.create(certificate(name, ns, CA_REF, dnsNames=[f"{name}.example.test"]))
    await asyncio.sleep(0.3)  # issuance under way
    await plane.astop_apiserver()
    await asyncio.sleep(1.0)  # the controller meets connection refused for a while
    await plane.astart_apiserver()
    await eventually(lambda: _all_ready(admin, ns, LEAVES), timeout=90, what="every leaf Ready after the restart")
    for name in LEAVES:
        secret = await admin.get("v1", "Secret", f"{name}-tls", namespace=ns)
        names = leaf_of(secret).extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        assert names.get_values_for_type(x509.DNSName) == [f"{name}.example.test"]
        cert = await admin.get(CM, "Certificate", name, namespace=ns)
        assert cert["status"].get("revision") == 1, cert["status"]  # issued once, not again after the restart
    refused = [r for r in caplog.records if "Unavailable: cannot connect to the API server" in r.getMessage()]
    assert refused, "the restart went unnoticed: the test did not interrupt issuance"


async def test_expired_watches_relist_and_keep_following_changes(
    admin: KubeClient,
    ns: str,
    plane: ControlPlane,
    controller_identity: Identity,
    start_controller: Start,
    caplog: pytest.LogCaptureFixture,
) -> None:
    async with TcpProxy(plane.port) as proxy:
        await _chain(admin, ns, start_controller, controller_identity, master=proxy.url)
        await admin.create(certificate("web", ns, CA_REF, dnsNames=["web.example.test"]))
        await eventually(lambda: issued(admin, "web", ns), what="web issued")
        before = _relisted(caplog)
        # Every watch ends (as at its timeout) and is re-opened from its last resourceVersion, which etcd
        # compacts away before the re-opened watches reach the API server.
        proxy.hold()
        proxy.drop()
        await asyncio.sleep(1.0)
        _expire_every_resource_version(plane)
        proxy.release()
        watched = {
            "certificates.cert-manager.io",
            "certificaterequests.cert-manager.io",
            "issuers.cert-manager.io",
            "secrets",
        }

        async def relisted() -> bool:
            return watched <= _relisted(caplog) - before

        await eventually(relisted, timeout=60, what="410 Gone and a relist of every informer")
        # After the relist the watches follow changes again: a deleted Secret is issued anew.
        await admin.delete("v1", "Secret", "web-tls", namespace=ns)

        async def reissued() -> bool:
            return await revision(admin, "web", ns) == 2 and await ready(admin, "Certificate", "web", ns)

        await eventually(reissued, timeout=60, what="web re-issued after its Secret was deleted")
        assert (await admin.get("v1", "Secret", "web-tls", namespace=ns))["data"]["tls.crt"]


async def _keep_labelling(admin: KubeClient, ns: str, names: list[str], stop: asyncio.Event) -> int:
    """Write each Certificate's metadata over and over (20 rounds a second); return how many writes landed."""
    landed = 0
    while not stop.is_set():
        for name in names:
            path = f"/apis/{CM}/namespaces/{ns}/certificates/{name}"
            with contextlib.suppress(ApiError):  # a conflict with the controller: write again
                obj = await admin.get(CM, "Certificate", name, namespace=ns)
                labels = obj["metadata"].setdefault("labels", {})
                labels["writes"] = str(int(labels.get("writes", "0")) + 1)
                await admin.request("PUT", path, body=obj)
                landed += 1
        await asyncio.sleep(0.05)
    return landed


async def test_conflicting_writes_are_retried_and_lose_nothing(
    admin: KubeClient,
    ns: str,
    controller_identity: Identity,
    start_controller: Start,
    caplog: pytest.LogCaptureFixture,
) -> None:
    await _chain(admin, ns, start_controller, controller_identity)
    names = LEAVES[:4]
    for name in names:
        await admin.create(certificate(name, ns, CA_REF, dnsNames=[f"{name}.example.test"]))
    stop = asyncio.Event()
    writer = asyncio.create_task(_keep_labelling(admin, ns, names, stop))
    try:
        # Issuance runs into a stream of someone else's writes to the same objects for a while ...
        await asyncio.sleep(6.0)
    finally:
        stop.set()
        landed = await writer
    assert landed > 0
    # ... and completes once they let up: every lost race was retried.
    await eventually(lambda: _all_ready(admin, ns, names), timeout=90, what="every Certificate Ready")
    conflicts = [
        r
        for r in caplog.records
        if r.name == "certkeeper.runtime.controller"
        and r.levelno == logging.DEBUG
        and "changed while reconciling" in r.getMessage()
        and any(f"/{name} " in r.getMessage() for name in names)
    ]
    assert conflicts, "no write of the controller lost a race: the test did not provoke a 409"
    for name in names:
        cert = await admin.get(CM, "Certificate", name, namespace=ns)
        assert int(cert["metadata"]["labels"]["writes"]) >= 1  # the user's writes survived the controller's
        assert cert["status"]["revision"] == 1
        secret = await admin.get("v1", "Secret", f"{name}-tls", namespace=ns)
        assert set(secret["data"]) == {"tls.crt", "tls.key", "ca.crt"}
