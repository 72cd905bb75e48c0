"""The webhook keeps serving the API server while slow clients hold connections and oversized bodies arrive.

Admission requests go through the API server (as in ``load.py``) before and during the abuse; the abuse is
aimed at the webhook's port directly, on loopback: 400 TLS connections sending headers one byte a second
(within the webhook's cap of 1024 connections) and a stream of 8 MiB bodies (over its 7 MiB limit). Every
admission must still succeed, within a bounded latency, and each oversized request is refused promptly.
"""

from __future__ import annotations

import asyncio
import statistics
import time

import pytest

from tests.harness.kubeclient import KubeClient
from tests.integration.webhook_cainjector.abuse import OversizedSender, Slowloris, client_context
from tests.integration.webhook_cainjector.conftest import Deployment, ca_in_secret
from tests.integration.webhook_cainjector.load import AdmissionLoad, Outcome

pytestmark = [pytest.mark.kube, pytest.mark.slow]

SLOW_CLIENTS = 400
#: No admission call through the API server may take longer than this while the webhook is abused (seconds;
#: an unabused call takes tens of milliseconds, and the API server's timeout for the webhook is 30 s).
LATENCY_BOUND = 2.0
TOO_LARGE = b"HTTP/1.1 413 Request Entity Too Large"


def _summary(outcomes: list[Outcome]) -> str:
    latencies = sorted(o.latency for o in outcomes)
    if not latencies:
        return "no requests"
    return (
        f"{len(latencies)} requests, median {statistics.median(latencies) * 1000:.0f} ms, "
        f"max {latencies[-1] * 1000:.0f} ms"
    )


async def test_slow_clients_and_oversized_bodies_do_not_disturb_admission(
    kube: KubeClient, deployment: Deployment
) -> None:
    context = client_context(await ca_in_secret(kube))
    load = AdmissionLoad(kube, deployment.namespace, deployment.labels, workers=2)
    slowloris = Slowloris(deployment.port, context, SLOW_CLIENTS)
    oversized = OversizedSender(deployment.port, context)
    load.start()
    try:
        await asyncio.sleep(3)
        abuse_started = time.monotonic()
        async with asyncio.timeout(30):  # a connection cap below SLOW_CLIENTS would leave handshakes waiting
            await slowloris.start()
        oversized.start()
        await asyncio.sleep(12)
        abuse_ended = time.monotonic()
    finally:
        outcomes = await load.stop()
        refusals = await oversized.stop()
        await slowloris.stop()

    baseline = load.between(0, abuse_started)
    abused = load.between(abuse_started, abuse_ended)
    summary = f"before: {_summary(baseline)}; during: {_summary(abused)}"
    assert not load.failures(outcomes), f"{load.failures(outcomes)[:5]} ({summary})"
    assert len(abused) >= 30, summary
    assert max(o.latency for o in abused) < LATENCY_BOUND, summary + "\n" + deployment.logs()
    # The abuse was real: every slow client was accepted and still held its connection at the end...
    assert (slowloris.opened, slowloris.dropped) == (SLOW_CLIENTS, 0)
    # ...and oversized bodies kept arriving, each refused promptly (a streamed one may be reset mid-write).
    assert len(refusals) >= 20
    for refusal in refusals:
        assert refusal.status == TOO_LARGE if refusal.declared else refusal.status in {TOO_LARGE, b""}, refusal
        assert refusal.seconds < 5, refusal
    assert any(r.status == TOO_LARGE for r in refusals if not r.declared)
