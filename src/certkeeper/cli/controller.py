"""``certkeeper controller``: the engine on the Kubernetes API (cert-manager's ``cmd/controller``).

Composition root of the controller component: the kube store (``--kubeconfig``, else ``$KUBECONFIG``,
else the Pod's service account, else ``~/.kube/config``; ``--master`` overrides the server; client-side
rate limit ``--kube-api-qps``/``--kube-api-burst``), the engine with Secrets cached as
cert-manager's SecretsFilteredCaching does (gate ``SecretsFilteredCaching``, on by default), the
SelfSigned, CA and ACME issuer backends, the DNS-01 solver with the RFC 2136 provider, and the
HTTP-01 solver that creates cert-manager's solver Pod, Service and Ingress (or HTTPRoute with
``--enable-gateway-api``) per Challenge, shaped by the ``--acme-http01-solver-*`` flags. The Pods run
``certkeeper acmesolver`` in ``--acme-http01-solver-image`` (default: this release's certkeeper image).

Only the leader of the Lease ``cert-manager-controller`` (in ``--leader-election-namespace``) runs the
engine, informers included, as cert-manager does; losing the Lease stops it and ends the process with
status 1, so that a fresh start rejoins as a candidate. SIGTERM/SIGINT stop it gracefully: controllers
finish the key in hand, then the Lease is released. ``--metrics-listen-address`` serves ``/metrics``
(cert-manager's certificate, issuer and controller series, and the ACME client's request metrics);
``--internal-healthz-listen-address`` serves ``/livez`` and ``/healthz``, which fail when this process
leads but has not renewed the Lease for longer than its duration plus
``--internal-healthz-leader-election-timeout``. Logs go to stderr, as text or (``--logging-format=json``)
one JSON object per line, and never carry key material.
"""

from __future__ import annotations

import asyncio
import logging
import sys
from pathlib import Path
from typing import Any, Final

import click
from prometheus_client import CollectorRegistry

from certkeeper.acme.metrics import AcmeClientMetrics, InstrumentedTransport
from certkeeper.acme.solvers.base import Solver
from certkeeper.acme.solvers.dns01 import DNS01Solver
from certkeeper.acme.solvers.kube_http01 import kube_http01_solver
from certkeeper.acme.solvers.rfc2136 import rfc2136_provider
from certkeeper.acme.transport import AiohttpTransport, TlsOptions
from certkeeper.cli import component
from certkeeper.cli.component import BOOL, HttpEndpoints, MetricsServer
from certkeeper.cli.controller_config import KNOWN_CONTROLLERS, ControllerConfig, make_config
from certkeeper.controllers.context import DEFAULT_COPIED_ANNOTATION_PREFIXES, EngineOptions
from certkeeper.controllers.engine import Engine
from certkeeper.issuers.acme import AccountRegistry, AcmeIssuerBackend
from certkeeper.issuers.base import IssuerBackend
from certkeeper.issuers.ca import CAIssuer
from certkeeper.issuers.selfsigned import SelfSignedIssuer
from certkeeper.runtime.clock import Clock, SystemClock
from certkeeper.store.kube import (
    ClientOptions,
    ConfigError,
    KubeStore,
    LeaderElectionConfig,
    LeaderElector,
    LeadershipLost,
    MetadataStore,
)
from certkeeper.store.resources import CERTIFICATE_REQUESTS, CERTIFICATES, CHALLENGES, CLUSTER_ISSUERS, ISSUERS, ORDERS

log = logging.getLogger("certkeeper.controller")

#: The Lease the controller replicas elect a leader on (cert-manager's ``cert-manager-controller``).
LEASE_NAME: Final = "cert-manager-controller"
#: The source component of the Events the controller records.
EVENT_COMPONENT: Final = "certkeeper-controller"


def client_options(config: ControllerConfig) -> ClientOptions:
    """The rate limit as client-go reads the flags: a negative QPS turns it off, zero means the defaults."""
    qps = None if config.kube_api_qps < 0 else (config.kube_api_qps or 5.0)
    return ClientOptions(qps=qps, burst=config.kube_api_burst if config.kube_api_burst > 0 else 10)


def open_store(config: ControllerConfig) -> KubeStore:
    """The API connection the flags name (raises ConfigError)."""
    # Only Secrets keep managedFields: the issuing controller reads its own apply entries back.
    drop = [CERTIFICATES, CERTIFICATE_REQUESTS, ISSUERS, CLUSTER_ISSUERS, ORDERS, CHALLENGES]
    return component.open_store(
        config.kubeconfig, master=config.master, options=client_options(config), drop_managed_fields=drop
    )


def build_engine(config: ControllerConfig, store: KubeStore, clock: Clock, accounts: AccountRegistry) -> Engine:
    """The engine with every issuer backend and solver certkeeper has on Kubernetes."""
    backends: dict[str, IssuerBackend] = {
        "selfsigned": SelfSignedIssuer(),
        "ca": CAIssuer(),
        "acme": AcmeIssuerBackend(accounts),
    }
    solvers: dict[str, Solver] = {
        "DNS-01": DNS01Solver(
            providers={"rfc2136": rfc2136_provider},
            nameservers=list(config.dns01_recursive_nameservers) or None,
            check_authoritative=not config.dns01_recursive_nameservers_only,
            propagation_wait=config.dns01_propagation_wait,
        ),
        "HTTP-01": kube_http01_solver(
            store,
            image=config.http01_solver.image,
            resource_request_cpu=config.http01_solver.resource_request_cpu,
            resource_request_memory=config.http01_solver.resource_request_memory,
            resource_limits_cpu=config.http01_solver.resource_limits_cpu,
            resource_limits_memory=config.http01_solver.resource_limits_memory,
            run_as_non_root=config.http01_solver.run_as_non_root,
            extra_labels=config.http01_solver.extra_labels,
            runtime_class_name=config.http01_solver.runtime_class_name,
            nameservers=config.http01_solver_nameservers,
            gateway_api_enabled=config.enable_gateway_api,
            feature_gates=config.feature_gates,
        ),
    }
    options = EngineOptions(
        cluster_resource_namespace=config.cluster_resource_namespace,
        feature_gates=config.feature_gates,
        workers=config.concurrent_workers,
        pem_limits=config.pem_limits,
        min_backoff=config.min_backoff,
        max_backoff=config.max_backoff,
        copied_annotation_prefixes=config.copied_annotation_prefixes,
        enable_certificate_owner_ref=config.enable_certificate_owner_ref,
        controllers=config.engine_controllers,
        signers=config.signers,
    )
    filtered = config.feature_gates.secrets_filtered_caching
    return Engine(
        store,
        clock=clock,
        options=options,
        issuer_backends=backends,
        namespace=config.namespace or None,
        component=EVENT_COMPONENT,
        acme_accounts=accounts,
        solvers=solvers,
        max_concurrent_challenges=config.max_concurrent_challenges,
        secret_metadata_store=MetadataStore(store) if filtered else None,
    )


def _log_start(config: ControllerConfig) -> None:
    log.info(
        "starting: namespace %s, cluster resource namespace %s, controllers %s",
        config.namespace or "(all)",
        config.cluster_resource_namespace,
        ", ".join(sorted(config.controllers)),
    )
    if config.not_provided:
        log.info("not provided by certkeeper, left out: %s", ", ".join(sorted(config.not_provided)))


async def run_controller(
    config: ControllerConfig,
    stop: asyncio.Event,
    *,
    store: KubeStore | None = None,
    clock: Clock | None = None,
    identity: str | None = None,
) -> None:
    """Run until ``stop`` is set (or leadership is lost: ``LeadershipLost``).

    ``store`` overrides the API connection the flags name (it is not closed here); ``identity`` the
    leader election identity (default: ``<hostname>_<uuid>``).
    """
    _log_start(config)
    api = open_store(config) if store is None else store
    clock = clock or SystemClock()
    registry = CollectorRegistry()
    acme_metrics = AcmeClientMetrics(registry)

    def acme_transport(tls: TlsOptions) -> InstrumentedTransport:
        return InstrumentedTransport(AiohttpTransport(tls=tls), acme_metrics)

    accounts = AccountRegistry(transport_factory=acme_transport)
    engine = build_engine(config, api, clock, accounts)
    if "certificates-metrics" in config.controllers:
        registry.register(engine.collector())
    elector = (
        LeaderElector(
            api,
            LeaderElectionConfig(
                name=LEASE_NAME,
                identity=identity or component.default_identity(),
                namespace=config.leader_election_namespace,
                lease_duration=config.lease_duration,
                renew_deadline=config.renew_deadline,
                retry_period=config.retry_period,
            ),
            clock=clock,
        )
        if config.leader_elect
        else None
    )
    servers: list[HttpEndpoints] = []
    if config.metrics_address is not None:
        host, port = config.metrics_address
        servers.append(MetricsServer(registry, host=host, port=port, livez=False))
    if config.healthz_address is not None:
        timeout = config.healthz_leader_election_timeout
        health = component.health_answer(
            {"leaderElection": (lambda: elector.healthy(timeout)) if elector is not None else (lambda: True)}
        )
        host, port = config.healthz_address
        servers.append(HttpEndpoints({"/livez": health, "/healthz": health}, host=host, port=port))
    try:
        for server in servers:
            await server.start()
        if elector is not None:

            async def start() -> None:
                log.info("leading: starting the informers and controllers")
                await engine.start()

            await component.lead(elector, stop, start=start, finish=engine.stop)
        else:
            try:
                if await component.unless_stopped(engine.start(), stop):
                    await stop.wait()
            finally:
                await engine.stop()
    finally:
        for server in servers:
            await server.stop()
        await accounts.aclose()
        if store is None:
            await api.close()
    log.info("stopped")


async def _main(config: ControllerConfig) -> None:
    stop = asyncio.Event()
    component.stop_on_signals(stop)
    await run_controller(config, stop)


@click.command("controller")
@click.option("--kubeconfig", type=click.Path(dir_okay=False, path_type=Path), help="Only required if out-of-cluster.")
@click.option("--master", default="", help="The API server's address, overriding the kubeconfig's.")
@click.option("--namespace", default="", help="Only this namespace (ClusterIssuers are then disabled); default all.")
@click.option(
    "--cluster-resource-namespace", default="kube-system", show_default=True, help="Where ClusterIssuers' Secrets are."
)
@click.option("--leader-elect", default=True, help="Elect a leader among replicas.", **BOOL)
@click.option("--leader-election-namespace", default="certkeeper", show_default=True, help="Namespace of the Lease.")
@click.option("--leader-election-lease-duration", default="60s", show_default=True, help="Lease duration.")
@click.option("--leader-election-renew-deadline", default="40s", show_default=True, help="Renew deadline.")
@click.option("--leader-election-retry-period", default="15s", show_default=True, help="Retry period.")
@click.option("--kube-api-qps", type=float, default=20.0, show_default=True, help="Requests per second to the API.")
@click.option("--kube-api-burst", type=int, default=50, show_default=True, help="Request burst (>= qps).")
@click.option("--feature-gates", default="", metavar="A=true,B=false", help="cert-manager's controller gates.")
@click.option(
    "--controllers",
    multiple=True,
    default=("*",),
    help=f"'*', 'foo', '*,-foo'. All: {', '.join(KNOWN_CONTROLLERS)}.",
)
@click.option("--concurrent-workers", type=int, default=5, show_default=True, help="Workers per controller.")
@click.option("--max-concurrent-challenges", type=int, default=60, show_default=True, help="Challenges at once.")
@click.option("--metrics-listen-address", default="0.0.0.0:9402", show_default=True, help="'0' disables metrics.")
@click.option("--internal-healthz-listen-address", default="0.0.0.0:9403", show_default=True, hidden=True)
@click.option("--internal-healthz-leader-election-timeout", default="20s", show_default=True, hidden=True)
@click.option("--certificate-request-minimum-backoff-duration", default="1h", show_default=True)
@click.option("--certificate-request-maximum-backoff-duration", default="32h", show_default=True)
@click.option("--enable-certificate-owner-ref", default=False, help="Certificates own their Secrets.", **BOOL)
@click.option("--acme-http01-solver-image", default="", help="Image of the HTTP-01 solver pods [certkeeper:<version>].")
@click.option("--acme-http01-solver-resource-request-cpu", default="10m", show_default=True)
@click.option("--acme-http01-solver-resource-request-memory", default="64Mi", show_default=True)
@click.option("--acme-http01-solver-resource-limits-cpu", default="100m", show_default=True)
@click.option("--acme-http01-solver-resource-limits-memory", default="64Mi", show_default=True)
@click.option("--acme-http01-solver-run-as-non-root", default=True, help="Solver pods run as non-root.", **BOOL)
@click.option(
    "--acme-http01-solver-nameservers", multiple=True, help="host:port or DoH URLs for the HTTP-01 self check."
)
@click.option("--acme-http01-solver-extra-labels", multiple=True, metavar="K=V,...", help="Extra solver pod labels.")
@click.option("--acme-http01-solver-runtime-class-name", default="", help="runtimeClassName of the solver pods.")
@click.option("--enable-gateway-api", default=False, help="gatewayHTTPRoute solvers create HTTPRoutes.", **BOOL)
@click.option("--dns01-recursive-nameservers", multiple=True, help="host:port or https:// DoH URLs for DNS-01 checks.")
@click.option("--dns01-recursive-nameservers-only", default=False, help="Check only there.", **BOOL)
@click.option(
    "--copied-annotation-prefixes",
    multiple=True,
    default=DEFAULT_COPIED_ANNOTATION_PREFIXES,
    help="Annotations copied from Certificates to CertificateRequests ('-' excludes).",
)
@click.option("--max-certificate-size", type=int, default=36500, show_default=True)
@click.option("--max-private-key-size", type=int, default=13000, show_default=True)
@click.option("--max-certificate-chain-length", type=int, default=95000, show_default=True)
@click.option("--max-certificate-bundle-size", type=int, default=330000, show_default=True)
@click.option("-v", "--v", "verbosity", type=int, default=0, help="Log verbosity (4 and above: debug).")
@click.option("--logging-format", type=click.Choice(component.LOGGING_FORMATS), default="text", show_default=True)
def controller(verbosity: int, logging_format: str, **flags: Any) -> None:
    """Issue and renew certificates for cert-manager's API objects on Kubernetes."""
    config = make_config(**flags)
    component.configure_logging(verbosity, logging_format)
    try:
        asyncio.run(_main(config))
    except LeadershipLost as exc:
        click.echo(f"Error: leader election lost: {exc}", err=True)
        sys.exit(1)
    except (ConfigError, OSError) as exc:
        click.echo(f"Error: {exc}", err=True)
        sys.exit(1)


__all__ = ["EVENT_COMPONENT", "LEASE_NAME", "build_engine", "controller", "run_controller"]
