"""Prometheus metrics with cert-manager's names and labels, read from the informer caches at scrape time.

Per-object series (certificate ready status and times, issuer ready status) are produced by a custom
collector over the engine's caches rather than by thousands of live gauges, so a scrape costs one
pass over the cache and nothing happens between scrapes. Controller sync counters come from the
controller runner. Names and labels follow cert-manager's ``pkg/metrics`` and ``internal/collectors``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from datetime import datetime
from typing import Any

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

from certkeeper.runtime.controller import Controller

CONDITION_STATUSES = ("True", "False", "Unknown")


def _timestamp(value: object) -> float:
    if not isinstance(value, str) or not value:
        return 0.0
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return 0.0


def _ready_status(obj: Mapping[str, Any]) -> str:
    for condition in obj.get("status", {}).get("conditions") or ():
        if isinstance(condition, dict) and condition.get("type") == "Ready":
            return str(condition.get("status", "Unknown"))
    return "Unknown"


class EngineCollector(Collector):
    """certificate, issuer and clusterissuer series plus controller sync counts, from live caches."""

    def __init__(
        self,
        *,
        certificates: Callable[[], Iterable[Mapping[str, Any]]],
        issuers: Callable[[], Iterable[Mapping[str, Any]]],
        cluster_issuers: Callable[[], Iterable[Mapping[str, Any]]],
        controllers: Callable[[], Iterable[Controller[Any]]],
        now: Callable[[], datetime],
    ) -> None:
        self._certificates = certificates
        self._issuers = issuers
        self._cluster_issuers = cluster_issuers
        self._controllers = controllers
        self._now = now

    def collect(self) -> Iterator[CounterMetricFamily | GaugeMetricFamily]:
        yield from self._certificate_families()
        yield from self._issuer_families()
        calls = CounterMetricFamily(
            "certmanager_controller_sync_call_count", "Number of reconciles per controller.", labels=["controller"]
        )
        errors = CounterMetricFamily(
            "certmanager_controller_sync_error_count",
            "Number of failed reconciles per controller.",
            labels=["controller"],
        )
        for controller in self._controllers():
            calls.add_metric([controller.name], controller.sync_calls)
            errors.add_metric([controller.name], controller.sync_errors)
        yield calls
        yield errors
        clock = GaugeMetricFamily("certmanager_clock_time_seconds_gauge", "The clock time as a Unix epoch.")
        clock.add_metric([], self._now().timestamp())
        yield clock

    def _certificate_families(self) -> Iterator[GaugeMetricFamily]:
        labels = ["name", "namespace", "issuer_name", "issuer_kind", "issuer_group"]
        ready = GaugeMetricFamily(
            "certmanager_certificate_ready_status",
            "Ready condition of the certificate, one series per status.",
            labels=["name", "namespace", "condition", "issuer_name", "issuer_kind", "issuer_group"],
        )
        times = {
            "notAfter": GaugeMetricFamily(
                "certmanager_certificate_not_after_timestamp_seconds", "notAfter of the certificate.", labels=labels
            ),
            "notBefore": GaugeMetricFamily(
                "certmanager_certificate_not_before_timestamp_seconds",
                "notBefore of the certificate.",
                labels=labels,
            ),
            "expiration": GaugeMetricFamily(
                "certmanager_certificate_expiration_timestamp_seconds",
                "When the certificate expires.",
                labels=labels,
            ),
            "renewalTime": GaugeMetricFamily(
                "certmanager_certificate_renewal_timestamp_seconds",
                "When the certificate should be renewed.",
                labels=labels,
            ),
        }
        for cert in self._certificates():
            meta, spec, status = cert.get("metadata", {}), cert.get("spec", {}), cert.get("status", {})
            ref = spec.get("issuerRef") or {}
            issuer = [str(ref.get("name", "")), str(ref.get("kind", "")), str(ref.get("group", ""))]
            name, namespace = str(meta.get("name", "")), str(meta.get("namespace", ""))
            current = _ready_status(cert)
            for condition in CONDITION_STATUSES:
                ready.add_metric([name, namespace, condition, *issuer], 1.0 if condition == current else 0.0)
            times["notAfter"].add_metric([name, namespace, *issuer], _timestamp(status.get("notAfter")))
            times["notBefore"].add_metric([name, namespace, *issuer], _timestamp(status.get("notBefore")))
            times["expiration"].add_metric([name, namespace, *issuer], _timestamp(status.get("notAfter")))
            times["renewalTime"].add_metric([name, namespace, *issuer], _timestamp(status.get("renewalTime")))
        yield ready
        yield from times.values()

    def _issuer_families(self) -> Iterator[GaugeMetricFamily]:
        issuers = GaugeMetricFamily(
            "certmanager_issuer_ready_status",
            "Ready condition of the issuer, one series per status.",
            labels=["name", "namespace", "condition"],
        )
        for issuer in self._issuers():
            meta = issuer.get("metadata", {})
            current = _ready_status(issuer)
            for condition in CONDITION_STATUSES:
                issuers.add_metric(
                    [str(meta.get("name", "")), str(meta.get("namespace", "")), condition],
                    1.0 if condition == current else 0.0,
                )
        yield issuers
        cluster = GaugeMetricFamily(
            "certmanager_clusterissuer_ready_status",
            "Ready condition of the cluster issuer, one series per status.",
            labels=["name", "condition"],
        )
        for issuer in self._cluster_issuers():
            current = _ready_status(issuer)
            for condition in CONDITION_STATUSES:
                cluster.add_metric(
                    [str(issuer.get("metadata", {}).get("name", "")), condition], 1.0 if condition == current else 0.0
                )
        yield cluster
