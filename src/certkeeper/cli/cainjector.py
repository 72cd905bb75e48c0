"""``certkeeper cainjector``: the CA injector's composition root (cert-manager's ``cmd/cainjector``).

Connects to the API server (``--kubeconfig``, else ``$KUBECONFIG``, else the Pod's service account,
else ``~/.kube/config``, as controller-runtime looks), caches Secrets as metadata only, and runs the
``certkeeper.cainjector`` controllers: on every replica the informers, on the leader (Lease
``cert-manager-cainjector-leader-election``, cert-manager's timings) the controllers. SIGTERM/SIGINT
stop it gracefully: controllers finish the target in hand, then the Lease is released. Losing the
Lease ends the process with status 1, as controller-runtime does, so that a fresh start rejoins.

Flags are cert-manager's cainjector flags (``cmd/cainjector/app/options/options.go``): booleans take
Go's ``--flag=false`` form, durations Go's syntax, lists repeat or comma-separate. Not offered:
``--config`` files, profiling, metrics TLS and logging formats other than text.
``--metrics-listen-address`` (``0`` turns it off) serves ``/metrics`` and ``/livez`` over plain
HTTP, GET only, at most 64 connections, headers within 32 s.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

import click
from prometheus_client import CollectorRegistry

from certkeeper.api import features
from certkeeper.api.field import FieldPath, forbidden
from certkeeper.cainjector import ALL_TARGETS, CAInjector, InjectorOptions
from certkeeper.cainjector.metrics import InjectorCollector
from certkeeper.cli import component
from certkeeper.cli.component import BOOL, MetricsServer, parse_listen_address
from certkeeper.runtime.clock import Clock, SystemClock
from certkeeper.store.kube import (
    ConfigError,
    KubeStore,
    LeaderElectionConfig,
    LeaderElector,
    LeadershipLost,
    MetadataStore,
)
from certkeeper.store.resources import CERTIFICATES, SECRETS

log = logging.getLogger("certkeeper.cainjector")

#: The Lease the cainjector replicas elect a leader on (``LeaderElectionID`` in cmd/cainjector).
LEASE_NAME: Final = "cert-manager-cainjector-leader-election"
#: Labels on the Lease (``LeaderElectionLabels``).
LEASE_LABELS: Final = {"app.kubernetes.io/managed-by": "cert-manager-cainjector"}
#: The feature gates the cainjector knows (``internal/cainjector/feature``); others are refused, as there.
CAINJECTOR_GATES: Final = frozenset({"CAInjectorMerging", "ServerSideApply"})


@dataclass(frozen=True, slots=True, kw_only=True)
class CAInjectorConfig:
    """Everything the flags say, checked."""

    kubeconfig: Path | None = None
    options: InjectorOptions = field(default_factory=InjectorOptions)
    leader_elect: bool = True
    leader_election_namespace: str = "kube-system"
    lease_duration: float = 60.0
    renew_deadline: float = 40.0
    retry_period: float = 15.0
    #: ``(host, port)`` of the metrics server; None: off.
    metrics_address: tuple[str, int] | None = ("0.0.0.0", 9402)  # noqa: S104 - scraped from outside the Pod


def make_config(
    *,
    kubeconfig: Path | None,
    namespace: str,
    ignore_namespaces: Sequence[str],
    leader_elect: bool,
    leader_election_namespace: str,
    leader_election_lease_duration: str,
    leader_election_renew_deadline: str,
    leader_election_retry_period: str,
    enable_certificates_data_source: bool,
    enabled_targets: Sequence[str],
    feature_gates: str,
    metrics_listen_address: str,
) -> CAInjectorConfig:
    """Check the flags together; raises ``click.UsageError``/``BadParameter`` naming the flag at fault."""
    ignored = frozenset(component.split_list(ignore_namespaces))
    if namespace and ignored:
        error = forbidden(FieldPath("ignoreNamespaces"), "should not be used with --namespace.")
        raise click.UsageError(f"error validating flags: {error}")
    gates_given = {item.partition("=")[0].strip() for item in feature_gates.split(",") if item.strip()}
    unknown = sorted(gates_given - CAINJECTOR_GATES)
    if unknown:
        raise click.BadParameter(f"unrecognized feature gate: {unknown[0]}", param_hint="--feature-gates")
    try:
        gates = features.parse(feature_gates)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--feature-gates") from None
    lease = component.duration_seconds(leader_election_lease_duration, "--leader-election-lease-duration")
    renew = component.duration_seconds(leader_election_renew_deadline, "--leader-election-renew-deadline")
    retry = component.duration_seconds(leader_election_retry_period, "--leader-election-retry-period")
    if leader_elect:
        component.check_leader_election(lease_duration=lease, renew_deadline=renew, retry_period=retry)
    return CAInjectorConfig(
        kubeconfig=kubeconfig,
        options=InjectorOptions(
            namespace=namespace,
            ignore_namespaces=ignored,
            enable_certificates_data_source=enable_certificates_data_source,
            targets=frozenset(enabled_targets),
            merge=gates.ca_injector_merging,
        ),
        leader_elect=leader_elect,
        leader_election_namespace=leader_election_namespace,
        lease_duration=lease,
        renew_deadline=renew,
        retry_period=retry,
        metrics_address=parse_listen_address(metrics_listen_address),
    )


def open_store(kubeconfig: Path | None) -> KubeStore:
    """The API connection, looked for as controller-runtime does (raises ConfigError)."""
    # managedFields are never read here: dropping them on arrival halves what the caches hold.
    drop = [target.resource for target in ALL_TARGETS] + [CERTIFICATES, SECRETS]
    return component.open_store(kubeconfig, drop_managed_fields=drop)


async def _lead(injector: CAInjector, elector: LeaderElector, stop: asyncio.Event) -> None:
    """Run the controllers while leading, until ``stop``; they finish their work before the Lease is released."""

    async def start() -> None:
        log.info("leading: starting the controllers")
        injector.start_controllers()

    await component.lead(elector, stop, start=start, finish=injector.stop_controllers)


async def run_cainjector(
    config: CAInjectorConfig,
    stop: asyncio.Event,
    *,
    store: KubeStore | None = None,
    clock: Clock | None = None,
    identity: str | None = None,
) -> None:
    """Run until ``stop`` is set (or leadership is lost: ``LeadershipLost``).

    ``store`` overrides the API connection the flags name (it is not closed here); ``identity`` the
    leader election identity (default: ``<hostname>_<uuid>``, as controller-runtime).
    """
    own_store = store is None
    api = open_store(config.kubeconfig) if store is None else store
    clock = clock or SystemClock()
    try:
        options = config.options
        if options.apiserver_ca is None:
            options = dataclasses.replace(options, apiserver_ca=api.transport.config.ca_data)
        injector = CAInjector(api, clock=clock, options=options, secret_metadata_store=MetadataStore(api))
        metrics: MetricsServer | None = None
        if config.metrics_address is not None:
            registry = CollectorRegistry()
            registry.register(InjectorCollector(lambda: injector.controllers, lambda: injector.reconcilers))
            metrics = MetricsServer(registry, host=config.metrics_address[0], port=config.metrics_address[1])
            await metrics.start()
            log.info("serving metrics on %s:%d", *config.metrics_address)
        try:
            log.info("starting informers for %s", ", ".join(sorted(injector.targets)) or "no targets")
            if not await component.unless_stopped(injector.start_informers(), stop):
                return
            if config.leader_elect:
                elector = LeaderElector(
                    api,
                    LeaderElectionConfig(
                        name=LEASE_NAME,
                        identity=identity or component.default_identity(),
                        namespace=config.leader_election_namespace,
                        lease_duration=config.lease_duration,
                        renew_deadline=config.renew_deadline,
                        retry_period=config.retry_period,
                        labels=LEASE_LABELS,
                    ),
                    clock=clock,
                )
                await _lead(injector, elector, stop)
            else:
                injector.start_controllers()
                await stop.wait()
        finally:
            await injector.stop()
            if metrics is not None:
                await metrics.stop()
    finally:
        if own_store:
            await api.close()


async def _main(config: CAInjectorConfig) -> None:
    stop = asyncio.Event()
    component.stop_on_signals(stop)
    await run_cainjector(config, stop)


@click.command("cainjector")
@click.option(
    "--kubeconfig",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Paths to a kubeconfig. Only required if out-of-cluster.",
)
@click.option("--namespace", default="", help="Read CA sources from this namespace only (default: all).")
@click.option("--ignore-namespaces", multiple=True, help="Namespaces to ignore secrets from (repeat, or comma-list).")
@click.option("--leader-elect", default=True, help="Elect a leader among replicas.", **BOOL)
@click.option("--leader-election-namespace", default="kube-system", show_default=True, help="Namespace of the Lease.")
@click.option("--leader-election-lease-duration", default="60s", show_default=True, help="Lease duration.")
@click.option("--leader-election-renew-deadline", default="40s", show_default=True, help="Renew deadline.")
@click.option("--leader-election-retry-period", default="15s", show_default=True, help="Retry period.")
@click.option(
    "--enable-certificates-data-source",
    default=True,
    help="Certificates as CA sources (cert-manager.io/inject-ca-from).",
    **BOOL,
)
@click.option(
    "--enable-validatingwebhookconfigurations-injectable",
    "validating",
    default=True,
    help="Inject into annotated ValidatingWebhookConfigurations.",
    **BOOL,
)
@click.option(
    "--enable-mutatingwebhookconfigurations-injectable",
    "mutating",
    default=True,
    help="Inject into annotated MutatingWebhookConfigurations.",
    **BOOL,
)
@click.option(
    "--enable-customresourcedefinitions-injectable",
    "crds",
    default=True,
    help="Inject into annotated CustomResourceDefinitions (conversion webhooks).",
    **BOOL,
)
@click.option(
    "--enable-apiservices-injectable", "apiservices", default=True, help="Inject into annotated APIServices.", **BOOL
)
@click.option("--feature-gates", default="", metavar="A=true,B=false", help="CAInjectorMerging, ServerSideApply.")
@click.option("--metrics-listen-address", default="0.0.0.0:9402", show_default=True, help="'0' disables metrics.")
@click.option("-v", "--v", "verbosity", type=int, default=0, help="Log verbosity (4 and above: debug).")
def cainjector(
    kubeconfig: Path | None,
    namespace: str,
    ignore_namespaces: tuple[str, ...],
    leader_elect: bool,
    leader_election_namespace: str,
    leader_election_lease_duration: str,
    leader_election_renew_deadline: str,
    leader_election_retry_period: str,
    enable_certificates_data_source: bool,
    validating: bool,
    mutating: bool,
    crds: bool,
    apiservices: bool,
    feature_gates: str,
    metrics_listen_address: str,
    verbosity: int,
) -> None:
    """Inject CA bundles into webhook configurations, APIServices and CRD conversion webhooks."""
    enabled = {
        "validatingwebhookconfiguration": validating,
        "mutatingwebhookconfiguration": mutating,
        "customresourcedefinition": crds,
        "apiservice": apiservices,
    }
    config = make_config(
        kubeconfig=kubeconfig,
        namespace=namespace,
        ignore_namespaces=ignore_namespaces,
        leader_elect=leader_elect,
        leader_election_namespace=leader_election_namespace,
        leader_election_lease_duration=leader_election_lease_duration,
        leader_election_renew_deadline=leader_election_renew_deadline,
        leader_election_retry_period=leader_election_retry_period,
        enable_certificates_data_source=enable_certificates_data_source,
        enabled_targets=[name for name, on in enabled.items() if on],
        feature_gates=feature_gates,
        metrics_listen_address=metrics_listen_address,
    )
    component.configure_logging(verbosity)
    try:
        asyncio.run(_main(config))
    except LeadershipLost as exc:
        click.echo(f"Error: leader election lost: {exc}", err=True)
        sys.exit(1)
    except (ConfigError, OSError) as exc:
        click.echo(f"Error: {exc}", err=True)
        sys.exit(1)


__all__ = [
    "CAINJECTOR_GATES",
    "LEASE_LABELS",
    "LEASE_NAME",
    "CAInjectorConfig",
    "MetricsServer",
    "cainjector",
    "make_config",
    "open_store",
    "parse_listen_address",
    "run_cainjector",
]
