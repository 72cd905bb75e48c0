"""``certkeeper webhook``: the admission webhook's composition root (cert-manager's ``cmd/webhook``).

Serves ``/validate`` and ``/mutate`` over HTTPS on ``--secure-port`` and ``/healthz``/``/livez`` over
HTTP on ``--healthz-port``. The serving certificate comes from ``--tls-cert-file`` and
``--tls-private-key-file`` (re-read when they change), or is made here from a CA kept in the Secret
``--dynamic-serving-ca-secret-namespace``/``--dynamic-serving-ca-secret-name`` for the
``--dynamic-serving-dns-names``. The API server is reached with ``--kubeconfig``, else with the Pod's
service account; it is needed for dynamic serving and for approval checks (SubjectAccessReviews).
With certificate files and no API access, validation and mutation still work and approvals are
refused with that reason.
"""

from __future__ import annotations

import asyncio
import logging
import os
import ssl
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Final

import click

from certkeeper.api import features
from certkeeper.api.durations import DurationError, parse_duration
from certkeeper.cli import component
from certkeeper.runtime.clock import SystemClock
from certkeeper.store.kube import ConfigError, KubeStore
from certkeeper.webhook.admission import AdmissionHandlers
from certkeeper.webhook.approval import ApprovalChecker
from certkeeper.webhook.authority import LEAF_DURATION, DynamicAuthority, DynamicCertificateSource
from certkeeper.webhook.authz import (
    ApiDiscovery,
    Authorizer,
    CachingAuthorizer,
    Discovery,
    NoApiServer,
    SubjectAccessReviewAuthorizer,
)
from certkeeper.webhook.server import WebhookServer
from certkeeper.webhook.service import Job, JobEnded, serve
from certkeeper.webhook.tls import FileCertificateSource, ServingTLS, TLSError, TLSSettings

log = logging.getLogger("certkeeper.webhook")

TLS_VERSIONS: Final = {"VersionTLS12": ssl.TLSVersion.TLSv1_2, "VersionTLS13": ssl.TLSVersion.TLSv1_3}
NO_API_REASON: Final = "the webhook has no access to the API server (no --kubeconfig, and not running in a cluster)"
_MAX_CLIENT_CA_BYTES: Final = 1024 * 1024
DEFAULT_TLS: Final = TLSSettings()


@dataclass(frozen=True, slots=True, kw_only=True)
class WebhookConfig:
    """Everything the flags say, checked."""

    bind_address: str = "0.0.0.0"  # noqa: S104 - the API server calls in from outside the Pod
    secure_port: int = 6443
    healthz_port: int = 6080
    tls_cert_file: Path | None = None
    tls_key_file: Path | None = None
    ca_secret_name: str = ""
    ca_secret_namespace: str = ""
    dns_names: tuple[str, ...] = ()
    leaf_duration: timedelta = LEAF_DURATION
    kubeconfig: Path | None = None
    gates: features.FeatureGates = features.DEFAULT_GATES
    tls: TLSSettings = DEFAULT_TLS
    client_subjects: tuple[str, ...] = ()

    @property
    def dynamic(self) -> bool:
        return self.tls_cert_file is None


def _split(values: Sequence[str]) -> tuple[str, ...]:
    """pflag's string slices: the flag may repeat, and each value may hold a comma-separated list."""
    return tuple(item.strip() for value in values for item in value.split(",") if item.strip())


def _client_ca(path: Path) -> bytes:
    try:
        with path.open("rb") as handle:
            data = handle.read(_MAX_CLIENT_CA_BYTES + 1)
    except OSError as exc:
        detail = f"failed to read client CA cert: {exc.strerror}"
        raise click.BadParameter(detail, param_hint="--client-ca-path") from None
    if len(data) > _MAX_CLIENT_CA_BYTES:
        raise click.BadParameter("the client CA file is larger than 1 MiB", param_hint="--client-ca-path")
    return data


def make_config(
    *,
    bind_address: str,
    secure_port: int,
    healthz_port: int,
    tls_cert_file: Path | None,
    tls_private_key_file: Path | None,
    dynamic_serving_ca_secret_name: str,
    dynamic_serving_ca_secret_namespace: str,
    dynamic_serving_dns_names: Sequence[str],
    dynamic_serving_leaf_duration: str,
    kubeconfig: Path | None,
    feature_gates: str,
    tls_min_version: str,
    enable_client_verification: bool,
    client_ca_path: Path | None,
    client_subject_names: Sequence[str],
) -> WebhookConfig:
    """Check the flags together; raises ``click.UsageError``/``BadParameter`` naming the flag at fault."""
    if (tls_cert_file is None) != (tls_private_key_file is None):
        raise click.UsageError("--tls-cert-file and --tls-private-key-file must be given together")
    dns_names = _split(dynamic_serving_dns_names)
    dynamic = bool(dynamic_serving_ca_secret_name or dynamic_serving_ca_secret_namespace or dns_names)
    if tls_cert_file is not None and dynamic:
        raise click.UsageError("give either --tls-cert-file/--tls-private-key-file or the --dynamic-serving-* flags")
    if tls_cert_file is None and not (dynamic_serving_ca_secret_name and dynamic_serving_ca_secret_namespace):
        raise click.UsageError(
            "a serving certificate is needed: --tls-cert-file and --tls-private-key-file, or "
            "--dynamic-serving-ca-secret-name, --dynamic-serving-ca-secret-namespace and --dynamic-serving-dns-names"
        )
    if tls_cert_file is None and not dns_names:
        raise click.UsageError("--dynamic-serving-dns-names is required with dynamic serving")
    try:
        leaf_duration = parse_duration(dynamic_serving_leaf_duration)
    except DurationError as exc:
        raise click.BadParameter(str(exc), param_hint="--dynamic-serving-leaf-duration") from None
    if leaf_duration <= timedelta(0):
        raise click.BadParameter("must be positive", param_hint="--dynamic-serving-leaf-duration")
    try:
        gates = features.parse(feature_gates)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--feature-gates") from None
    if tls_min_version and tls_min_version not in TLS_VERSIONS:
        choices = ", ".join(TLS_VERSIONS)
        raise click.BadParameter(f"{tls_min_version!r} is not one of {choices}", param_hint="--tls-min-version")
    client_ca: bytes | None = None
    if enable_client_verification:
        if client_ca_path is None:
            raise click.UsageError("when --enable-client-verification is true, you must also provide --client-ca-path")
        client_ca = _client_ca(client_ca_path)
    for name, port in (("--secure-port", secure_port), ("--healthz-port", healthz_port)):
        if not 0 <= port <= 65535:
            raise click.BadParameter("must be a port number (0-65535)", param_hint=name)
    return WebhookConfig(
        bind_address=bind_address,
        secure_port=secure_port,
        healthz_port=healthz_port,
        tls_cert_file=tls_cert_file,
        tls_key_file=tls_private_key_file,
        ca_secret_name=dynamic_serving_ca_secret_name,
        ca_secret_namespace=dynamic_serving_ca_secret_namespace,
        dns_names=dns_names,
        leaf_duration=leaf_duration,
        kubeconfig=kubeconfig,
        gates=gates,
        tls=TLSSettings(min_version=TLS_VERSIONS.get(tls_min_version, ssl.TLSVersion.TLSv1_2), client_ca_pem=client_ca),
        client_subjects=_split(client_subject_names) if enable_client_verification else (),
    )


def _open_store(config: WebhookConfig) -> KubeStore | None:
    """The API server connection: --kubeconfig, else in-cluster, else None (raises ConfigError)."""
    if config.kubeconfig is not None:
        return KubeStore.from_kubeconfig(config.kubeconfig)
    if os.environ.get("KUBERNETES_SERVICE_HOST"):
        return KubeStore.in_cluster()
    return None


async def run_webhook(config: WebhookConfig, stop: asyncio.Event, *, store: KubeStore | None = None) -> None:
    """Serve the webhook until ``stop`` is set. ``store`` overrides the API connection the flags name."""
    own_store = store is None
    api = _open_store(config) if store is None else store
    try:
        if config.dynamic and api is None:
            raise ConfigError("dynamic serving certificates need the API server: give --kubeconfig or run in a cluster")
        clock = SystemClock()
        tls = ServingTLS(config.tls)
        jobs: list[tuple[str, Job]] = []
        if config.tls_cert_file is not None and config.tls_key_file is not None:
            files = FileCertificateSource(tls, config.tls_cert_file, config.tls_key_file, clock=clock)
            jobs.append(("serving-certificate-files", files.run))
        else:
            assert api is not None
            authority = DynamicAuthority(
                api, namespace=config.ca_secret_namespace, name=config.ca_secret_name, clock=clock
            )
            leaves = DynamicCertificateSource(
                tls, authority, dns_names=config.dns_names, leaf_duration=config.leaf_duration, clock=clock
            )
            jobs += [("serving-ca", authority.run), ("serving-certificate", leaves.run)]
        authorizer: Authorizer
        discovery: Discovery
        if api is None:
            authorizer = discovery = NoApiServer(NO_API_REASON)
        else:
            authorizer = CachingAuthorizer(SubjectAccessReviewAuthorizer(api.transport), clock)
            discovery = ApiDiscovery(api.transport)
        handlers = AdmissionHandlers(approval=ApprovalChecker(discovery, authorizer, clock), gates=config.gates)
        server = WebhookServer(
            handlers,
            tls,
            host=config.bind_address,
            port=config.secure_port,
            healthz_host=config.bind_address,
            healthz_port=config.healthz_port,
            client_subjects=config.client_subjects,
        )
        log.info(
            "serving admission on %s:%d (HTTPS), health on %s:%d",
            config.bind_address,
            config.secure_port,
            config.bind_address,
            config.healthz_port,
        )
        await serve(server, jobs, stop)
    finally:
        if own_store and api is not None:
            await api.close()


async def _main(config: WebhookConfig) -> None:
    stop = asyncio.Event()
    component.stop_on_signals(stop)
    await run_webhook(config, stop)


@click.command("webhook")
@click.option("--secure-port", type=int, default=6443, show_default=True, help="Port for HTTPS admission requests.")
@click.option("--healthz-port", type=int, default=6080, show_default=True, help="Port for plain-HTTP /healthz, /livez.")
@click.option("--bind-address", default="0.0.0.0", show_default=True, help="Address both ports listen on.")  # noqa: S104
@click.option("--tls-cert-file", type=click.Path(dir_okay=False, path_type=Path), help="Serving certificate (PEM).")
@click.option("--tls-private-key-file", type=click.Path(dir_okay=False, path_type=Path), help="Its private key.")
@click.option("--dynamic-serving-ca-secret-name", default="", help="Secret holding the self-signed serving CA.")
@click.option("--dynamic-serving-ca-secret-namespace", default="", help="Namespace of that Secret.")
@click.option(
    "--dynamic-serving-dns-names", multiple=True, help="DNS names of the serving certificate (repeat, or comma-list)."
)
@click.option("--dynamic-serving-leaf-duration", default="168h", show_default=True, help="Serving certificate life.")
@click.option("--kubeconfig", type=click.Path(dir_okay=False, path_type=Path), help="Else the Pod's service account.")
@click.option("--feature-gates", default="", metavar="A=true,B=false", help="cert-manager feature gates.")
@click.option("--tls-min-version", default="", help="VersionTLS12 (default) or VersionTLS13.")
@click.option("--enable-client-verification", is_flag=True, help="Require a client certificate from the caller.")
@click.option("--client-ca-path", type=click.Path(dir_okay=False, path_type=Path), help="CA for client certificates.")
@click.option("--client-subject-names", multiple=True, help="Accepted client CN or DNS names (repeat, or comma-list).")
@click.option("-v", "--v", "verbosity", type=int, default=0, help="Log verbosity (4 and above: debug).")
def webhook(
    secure_port: int,
    healthz_port: int,
    bind_address: str,
    tls_cert_file: Path | None,
    tls_private_key_file: Path | None,
    dynamic_serving_ca_secret_name: str,
    dynamic_serving_ca_secret_namespace: str,
    dynamic_serving_dns_names: tuple[str, ...],
    dynamic_serving_leaf_duration: str,
    kubeconfig: Path | None,
    feature_gates: str,
    tls_min_version: str,
    enable_client_verification: bool,
    client_ca_path: Path | None,
    client_subject_names: tuple[str, ...],
    verbosity: int,
) -> None:
    """Serve cert-manager's admission webhook (validation, CertificateRequest identity and approval)."""
    config = make_config(
        bind_address=bind_address,
        secure_port=secure_port,
        healthz_port=healthz_port,
        tls_cert_file=tls_cert_file,
        tls_private_key_file=tls_private_key_file,
        dynamic_serving_ca_secret_name=dynamic_serving_ca_secret_name,
        dynamic_serving_ca_secret_namespace=dynamic_serving_ca_secret_namespace,
        dynamic_serving_dns_names=dynamic_serving_dns_names,
        dynamic_serving_leaf_duration=dynamic_serving_leaf_duration,
        kubeconfig=kubeconfig,
        feature_gates=feature_gates,
        tls_min_version=tls_min_version,
        enable_client_verification=enable_client_verification,
        client_ca_path=client_ca_path,
        client_subject_names=client_subject_names,
    )
    logging.basicConfig(
        level=logging.DEBUG if verbosity >= 4 else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    try:
        asyncio.run(_main(config))
    except (ConfigError, TLSError, JobEnded, OSError) as exc:
        click.echo(f"Error: {exc}", err=True)
        sys.exit(1)


__all__ = ["NO_API_REASON", "WebhookConfig", "make_config", "run_webhook", "webhook"]
