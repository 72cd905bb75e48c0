"""Prometheus metrics of the cainjector, read from its controllers at scrape time.

cert-manager's cainjector exposes controller-runtime's default metrics and nothing of its own; these
are the ones that say whether it is working, with controller-runtime's names and labels (one
controller per target kind, named as cert-manager names them):

* ``controller_runtime_reconcile_total{controller, result}``: reconciles, ``result`` ``success`` or
  ``error`` (a Conflict, retried because someone wrote first, is not an error);
* ``controller_runtime_active_workers{controller}``: reconciles in progress;
* ``workqueue_depth{name}``: keys waiting in each controller's queue;
* ``certkeeper_cainjector_ca_bundle_applies_total{controller}``: server-side applies written.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector

from certkeeper.cainjector.reconciler import TargetReconciler
from certkeeper.runtime.controller import Controller


class InjectorCollector(Collector):
    """Collects from live controllers and reconcilers (name -> object, as ``CAInjector`` holds them)."""

    def __init__(
        self,
        controllers: Callable[[], Mapping[str, Controller[str]]],
        reconcilers: Callable[[], Mapping[str, TargetReconciler]],
    ) -> None:
        self._controllers = controllers
        self._reconcilers = reconcilers

    def collect(self) -> Iterator[Metric]:
        controllers = self._controllers()
        total = CounterMetricFamily(
            "controller_runtime_reconcile_total",
            "Total number of reconciliations per controller",
            labels=["controller", "result"],
        )
        active = GaugeMetricFamily(
            "controller_runtime_active_workers",
            "Number of currently used workers per controller",
            labels=["controller"],
        )
        depth = GaugeMetricFamily("workqueue_depth", "Current depth of workqueue", labels=["name"])
        for name, controller in sorted(controllers.items()):
            errors = controller.sync_errors
            total.add_metric([name, "success"], max(controller.sync_calls - errors, 0))
            total.add_metric([name, "error"], errors)
            active.add_metric([name], controller.busy)
            depth.add_metric([name], len(controller.queue))
        applies = CounterMetricFamily(
            "certkeeper_cainjector_ca_bundle_applies",
            "Server-side applies of CA bundles written, per target kind",
            labels=["controller"],
        )
        for name, reconciler in sorted(self._reconcilers().items()):
            applies.add_metric([name], reconciler.writes)
        yield from (total, active, depth, applies)


__all__ = ["InjectorCollector"]
