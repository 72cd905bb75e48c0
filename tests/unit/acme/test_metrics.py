"""Request metrics: labels per request, 999 without a response, cert-manager's family names."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest
from prometheus_client import CollectorRegistry, generate_latest

from certkeeper.acme.errors import TransportError
from certkeeper.acme.metrics import AcmeClientMetrics, InstrumentedTransport
from certkeeper.acme.transport import Action, HttpRequest, HttpResponse


@dataclass
class Recorder:
    seen: list[dict[str, object]] = field(default_factory=list)

    def observe(self, *, scheme: str, host: str, action: str, method: str, status: str, seconds: float) -> None:
        self.seen.append({"scheme": scheme, "host": host, "action": action, "method": method, "status": status})
        assert seconds >= 0


class Answering:
    def __init__(self, status: int | None) -> None:
        self.status = status
        self.closed = False

    async def send(self, request: HttpRequest) -> HttpResponse:
        if self.status is None:
            raise TransportError("connection refused")
        return HttpResponse(status=self.status)

    async def aclose(self) -> None:
        self.closed = True


async def test_each_request_is_observed_with_its_labels() -> None:
    recorder = Recorder()
    inner = Answering(201)
    transport = InstrumentedTransport(inner, recorder)
    request = HttpRequest(method="POST", url="https://acme.example:8443/new-order", action=Action.AUTHORIZE_ORDER)
    assert (await transport.send(request)).status == 201
    assert recorder.seen == [
        {"scheme": "https", "host": "acme.example:8443", "action": "authorize_order", "method": "POST", "status": "201"}
    ]
    await transport.aclose()
    assert inner.closed


async def test_a_request_without_response_is_status_999() -> None:
    recorder = Recorder()
    transport = InstrumentedTransport(Answering(None), recorder)
    with pytest.raises(TransportError):
        await transport.send(HttpRequest(method="GET", url="https://acme.example/dir", action=Action.DISCOVER))
    assert recorder.seen[0]["status"] == "999"


async def test_prometheus_families_have_cert_managers_names() -> None:
    registry = CollectorRegistry()
    transport = InstrumentedTransport(Answering(400), AcmeClientMetrics(registry))
    for _ in range(2):
        await transport.send(HttpRequest(method="HEAD", url="https://ca.test/nonce", action=Action.GET_ORDER))
    text = generate_latest(registry).decode()
    labels = 'action="get_order",host="ca.test",method="HEAD",scheme="https",status="400"'
    assert f"certmanager_http_acme_client_request_count_total{{{labels}}} 2.0" in text
    assert f"certmanager_http_acme_client_request_duration_seconds_count{{{labels}}} 2.0" in text


def test_metrics_without_a_registry_register_nowhere() -> None:
    first = AcmeClientMetrics(None)
    second = AcmeClientMetrics(None)  # no duplicate-registration error: nothing was registered
    assert first.request_count is not second.request_count
