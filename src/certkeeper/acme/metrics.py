"""cert-manager's ACME client request metrics, recorded by a transport wrapper.

Every HTTP request the client sends, retries and nonce fetches included, goes through
:class:`InstrumentedTransport`, which reports (scheme, host, action, method, status, seconds) to a
:class:`RequestObserver`. :class:`AcmeClientMetrics` is the Prometheus observer with cert-manager's
families (``pkg/metrics/metrics.go``, ``pkg/acme/client/http.go``):

* ``certmanager_http_acme_client_request_count`` (counter)
* ``certmanager_http_acme_client_request_duration_seconds`` (summary)

both labelled ``scheme, host, action, method, status``; a request that got no response is counted
with status ``999``, as upstream. prometheus-client exposes the counter with the ``_total`` suffix
the Python client always adds, and its summaries carry no quantiles (``_count`` and ``_sum`` only).
Nothing registers itself: the composition root passes the registry it serves.
"""

from __future__ import annotations

import time
from typing import Final, Protocol
from urllib.parse import urlsplit

from prometheus_client import CollectorRegistry, Counter, Summary

from certkeeper.acme.transport import HttpRequest, HttpResponse, Transport

LABELS: Final = ("scheme", "host", "action", "method", "status")
#: The status label of a request that got no response (cert-manager's placeholder).
NO_RESPONSE_STATUS: Final = "999"


class RequestObserver(Protocol):
    """Receives one observation per HTTP request the ACME client sent."""

    def observe(self, *, scheme: str, host: str, action: str, method: str, status: str, seconds: float) -> None:
        """Record one request."""
        ...


class AcmeClientMetrics:
    """The Prometheus families, registered in ``registry`` (or in none, when it is None)."""

    def __init__(self, registry: CollectorRegistry | None) -> None:
        self.request_count = Counter(
            "certmanager_http_acme_client_request_count",
            "Total number of outbound ACME HTTP requests. Labels: scheme (http/https), host (ACME host), "
            "action (logical ACME operation), method (HTTP verb), status (HTTP status code).",
            LABELS,
            registry=registry,
        )
        self.request_duration = Summary(
            "certmanager_http_acme_client_request_duration_seconds",
            "Latency of outbound ACME HTTP requests in seconds. Labels: scheme (http/https), host (ACME host), "
            "action (logical ACME operation), method (HTTP verb), status (HTTP status code).",
            LABELS,
            registry=registry,
        )

    def observe(self, *, scheme: str, host: str, action: str, method: str, status: str, seconds: float) -> None:
        labels = (scheme, host, action, method, status)
        self.request_count.labels(*labels).inc()
        self.request_duration.labels(*labels).observe(seconds)


class InstrumentedTransport:
    """A :class:`Transport` that reports every request it passes on to ``observer``."""

    def __init__(self, inner: Transport, observer: RequestObserver) -> None:
        self._inner = inner
        self._observer = observer

    async def send(self, request: HttpRequest) -> HttpResponse:
        status = NO_RESPONSE_STATUS
        start = time.perf_counter()
        try:
            response = await self._inner.send(request)
            status = str(response.status)
            return response
        finally:
            url = urlsplit(request.url)
            self._observer.observe(
                scheme=url.scheme,
                host=url.netloc,
                action=str(request.action),
                method=request.method,
                status=status,
                seconds=time.perf_counter() - start,
            )

    async def aclose(self) -> None:
        await self._inner.aclose()
