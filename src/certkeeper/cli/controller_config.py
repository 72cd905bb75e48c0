"""``certkeeper controller``'s flags, checked together into a ``ControllerConfig``.

Names, defaults and checks are cert-manager's (``cmd/controller/app/options/options.go``,
``internal/apis/config/controller/validation``): ``--controllers`` takes cert-manager's controller
names (``*``, ``foo``, ``*,-foo``; an unknown name is refused), ``--kube-api-burst`` must be at least
``--kube-api-qps``, the backoff bounds must be ordered, the PEM limits positive and within the bundle
limit. A failure names the flag's field as cert-manager's ``error validating flags`` does. Differences:
the leader-election namespace defaults to ``certkeeper`` (deploy/), and the controllers certkeeper does
not provide (ingress-shim, gateway-shim, the Vault and Venafi signers, the CertificateSigningRequest
signers) are accepted by name and reported as not provided.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Final

import click

from certkeeper import __version__
from certkeeper.acme.solvers.kube_http01_objects import SolverPodOptions
from certkeeper.api import features
from certkeeper.api.durations import format_duration
from certkeeper.api.features import DEFAULT_GATES, FeatureGates
from certkeeper.api.field import FieldError, FieldPath, aggregate, invalid
from certkeeper.cli import component
from certkeeper.controllers.context import DEFAULT_COPIED_ANNOTATION_PREFIXES
from certkeeper.pki.pem import DEFAULT_PEM_LIMITS, PemLimits
from certkeeper.validation.dns01 import dns01_nameserver_error

#: cert-manager's ``AllControllers``.
KNOWN_CONTROLLERS: Final = (
    "issuers",
    "clusterissuers",
    "certificates-metrics",
    "ingress-shim",
    "gateway-shim",
    "orders",
    "challenges",
    "certificaterequests-issuer-acme",
    "certificaterequests-approver",
    "certificaterequests-issuer-ca",
    "certificaterequests-issuer-selfsigned",
    "certificaterequests-issuer-vault",
    "certificaterequests-issuer-venafi",
    "certificates-trigger",
    "certificates-issuing",
    "certificates-key-manager",
    "certificates-request-manager",
    "certificates-readiness",
    "certificates-revision-manager",
    "certificatesigningrequests-issuer-acme",
    "certificatesigningrequests-issuer-ca",
    "certificatesigningrequests-issuer-selfsigned",
    "certificatesigningrequests-issuer-venafi",
    "certificatesigningrequests-issuer-vault",
)
_CSR_CONTROLLERS: Final = tuple(name for name in KNOWN_CONTROLLERS if name.startswith("certificatesigningrequests-"))
#: cert-manager's ``DefaultEnabledControllers`` (``*``).
DEFAULT_CONTROLLERS: Final = frozenset(KNOWN_CONTROLLERS) - {"gateway-shim", *_CSR_CONTROLLERS}
#: Removed when ``--namespace`` is set (``ClusterScopedControllers``).
CLUSTER_SCOPED_CONTROLLERS: Final = frozenset({"clusterissuers", *_CSR_CONTROLLERS})
#: The certificaterequests-issuer-* controllers and the issuer type each signs for.
SIGNER_CONTROLLERS: Final = {
    "certificaterequests-issuer-acme": "acme",
    "certificaterequests-issuer-ca": "ca",
    "certificaterequests-issuer-selfsigned": "selfsigned",
}
#: Controllers whose engine controller has the same name.
SAME_NAME_CONTROLLERS: Final = frozenset(
    {
        "issuers",
        "clusterissuers",
        "orders",
        "challenges",
        "certificaterequests-approver",
        "certificates-trigger",
        "certificates-issuing",
        "certificates-key-manager",
        "certificates-request-manager",
        "certificates-readiness",
        "certificates-revision-manager",
    }
)
#: Known to cert-manager, not provided by certkeeper.
NOT_PROVIDED: Final = (
    frozenset(KNOWN_CONTROLLERS) - SAME_NAME_CONTROLLERS - set(SIGNER_CONTROLLERS) - {"certificates-metrics"}
)
#: The controller's feature gates (every gate but the cainjector's CAInjectorMerging).
CONTROLLER_GATES: Final = frozenset(features.GATE_NAMES) - {"CAInjectorMerging"}


#: The image of the HTTP-01 solver Pods unless ``--acme-http01-solver-image`` names another (this
#: release's certkeeper image, which runs ``certkeeper acmesolver``).
DEFAULT_SOLVER_IMAGE: Final = f"certkeeper:{__version__}"


@dataclass(frozen=True, slots=True, kw_only=True)
class ControllerConfig:
    """Everything the flags say, checked."""

    kubeconfig: Path | None = None
    master: str = ""
    namespace: str = ""
    cluster_resource_namespace: str = "kube-system"
    leader_elect: bool = True
    leader_election_namespace: str = "certkeeper"
    lease_duration: float = 60.0
    renew_deadline: float = 40.0
    retry_period: float = 15.0
    kube_api_qps: float = 20.0
    kube_api_burst: int = 50
    feature_gates: FeatureGates = DEFAULT_GATES
    #: cert-manager controller names, after ``*``, ``-foo`` and ``--namespace`` were applied.
    controllers: frozenset[str] = DEFAULT_CONTROLLERS
    concurrent_workers: int = 5
    max_concurrent_challenges: int = 60
    metrics_address: tuple[str, int] | None = ("0.0.0.0", 9402)  # noqa: S104 - scraped from outside the Pod
    healthz_address: tuple[str, int] | None = ("0.0.0.0", 9403)  # noqa: S104 - probed by the kubelet
    healthz_leader_election_timeout: float = 20.0
    min_backoff: timedelta = timedelta(hours=1)
    max_backoff: timedelta = timedelta(hours=32)
    enable_certificate_owner_ref: bool = False
    #: The solver Pods' image, resources, labels and runtime class (``--acme-http01-solver-*``).
    http01_solver: SolverPodOptions = field(default_factory=lambda: SolverPodOptions(image=DEFAULT_SOLVER_IMAGE))
    #: ``--acme-http01-solver-nameservers``: where the HTTP-01 self check resolves names.
    http01_solver_nameservers: tuple[str, ...] = ()
    #: ``--enable-gateway-api``: gatewayHTTPRoute solvers create HTTPRoutes.
    enable_gateway_api: bool = False
    dns01_recursive_nameservers: tuple[str, ...] = ()
    dns01_recursive_nameservers_only: bool = False
    #: Seconds the DNS-01 solver waits once the record is visible (the record's TTL, as cert-manager);
    #: no flag: tests and benchmarks shorten it.
    dns01_propagation_wait: float = 60.0
    copied_annotation_prefixes: tuple[str, ...] = DEFAULT_COPIED_ANNOTATION_PREFIXES
    pem_limits: PemLimits = field(default_factory=lambda: DEFAULT_PEM_LIMITS)

    @property
    def engine_controllers(self) -> frozenset[str]:
        """The engine's controller names for the enabled cert-manager controllers."""
        names = set(self.controllers & SAME_NAME_CONTROLLERS)
        if self.controllers & set(SIGNER_CONTROLLERS):
            names.add("certificaterequests-issuer")
        return frozenset(names)

    @property
    def signers(self) -> frozenset[str]:
        """Issuer types whose CertificateRequests are signed."""
        return frozenset(kind for name, kind in SIGNER_CONTROLLERS.items() if name in self.controllers)

    @property
    def not_provided(self) -> frozenset[str]:
        """Enabled controllers certkeeper does not have."""
        return self.controllers & NOT_PROVIDED


def enabled_controllers(names: tuple[str, ...], *, namespace: str) -> frozenset[str]:
    """cert-manager's ``EnabledControllers``: ``*`` adds the defaults, ``-foo`` removes foo at the end."""
    enabled: set[str] = set()
    disabled: set[str] = set()
    for name in names:
        if name == "*":
            enabled |= DEFAULT_CONTROLLERS
        elif name.startswith("-"):
            disabled.add(name[1:])
        else:
            enabled.add(name)
    if disabled and not enabled:
        enabled |= DEFAULT_CONTROLLERS  # only removals: "*" is implied
    if namespace:
        enabled -= CLUSTER_SCOPED_CONTROLLERS
    return frozenset(enabled - disabled)


def _labels(values: tuple[str, ...]) -> dict[str, str]:
    """pflag's StringToString: ``a=b,c=d`` (the flag may also repeat)."""
    labels: dict[str, str] = {}
    for item in component.split_list(values):
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise click.BadParameter(
                f"{item!r} must be formatted as key=value", param_hint="--acme-http01-solver-extra-labels"
            )
        labels[key.strip()] = value.strip()
    return labels


def _gates(value: str) -> FeatureGates:
    given = {item.partition("=")[0].strip() for item in value.split(",") if item.strip()}
    unknown = sorted(given - CONTROLLER_GATES)
    if unknown:
        raise click.BadParameter(f"unrecognized feature gate: {unknown[0]}", param_hint="--feature-gates")
    try:
        return features.parse(value)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--feature-gates") from None


class _GoDuration(float):
    """A bad duration value, printed as Go prints a ``time.Duration`` in a field error (``0s``, unquoted)."""

    def __str__(self) -> str:
        return format_duration(timedelta(seconds=self))

    __repr__ = __str__


def _check(
    *,
    controllers: tuple[str, ...],
    qps: float,
    burst: int,
    min_backoff: float,
    max_backoff: float,
    nameservers: tuple[str, ...],
    solver_nameservers: tuple[str, ...] = (),
    pem: dict[str, int],
    healthz_timeout: float,
    leader_elect: bool,
) -> list[FieldError]:
    """cert-manager's ``ValidateControllerConfiguration`` for the settings certkeeper has."""
    errors: list[FieldError] = []
    root = FieldPath()
    if leader_elect and healthz_timeout <= 0:
        timeout = _GoDuration(healthz_timeout)
        errors.append(invalid(root.child("leaderElectionConfig", "healthzTimeout"), timeout, "must be greater than 0"))
    if burst < -1:
        errors.append(invalid(root.child("kubernetesAPIBurst"), burst, "must be greater than or equal to -1"))
    if qps < -1:
        # A float32 in Go, printed without a fraction when it has none.
        shown = int(qps) if qps.is_integer() else qps
        errors.append(invalid(root.child("kubernetesAPIQPS"), shown, "must be greater than or equal to -1"))
    if burst < qps:
        errors.append(invalid(root.child("kubernetesAPIBurst"), burst, "must be higher or equal to kubernetesAPIQPS"))
    for i, server in enumerate(nameservers):
        problem = dns01_nameserver_error(server)
        if problem is not None:
            errors.append(invalid(root.child("acmeDNS01Config", "recursiveNameservers").index(i), server, problem))
    for i, server in enumerate(solver_nameservers):
        problem = dns01_nameserver_error(server)
        if problem is not None:
            errors.append(invalid(root.child("acmeHTTP01Config", "solverNameservers").index(i), server, problem))
    known = set(KNOWN_CONTROLLERS)
    for i, name in enumerate(controllers):
        if name != "*" and name.removeprefix("-") not in known:
            path = root.child("controllers").index(i)
            errors.append(invalid(path, name.removeprefix("-"), "is not in the list of known controllers"))
    limits = root.child("pemSizeLimitsConfig")
    for key, value in pem.items():
        if value <= 0:
            errors.append(invalid(limits.child(key), value, "must be greater than 0"))
    if pem["maxCertificateSize"] > pem["maxBundleSize"]:
        errors.append(
            invalid(
                limits.child("maxCertificateSize"), pem["maxCertificateSize"], "must not be larger than maxBundleSize"
            )
        )
    if pem["maxChainLength"] > pem["maxBundleSize"]:
        errors.append(invalid(limits.child("maxChainLength"), pem["maxChainLength"], "must not exceed maxBundleSize"))
    if 0 < max_backoff < min_backoff:
        path = root.child("certificateRequestMaximumBackoffDuration")
        detail = "must be greater than or equal to certificateRequestMinimumBackoffDuration"
        errors.append(invalid(path, format_duration(timedelta(seconds=max_backoff)), detail))
    return errors


def make_config(
    *,
    kubeconfig: Path | None = None,
    master: str = "",
    namespace: str = "",
    cluster_resource_namespace: str = "kube-system",
    leader_elect: bool = True,
    leader_election_namespace: str = "certkeeper",
    leader_election_lease_duration: str = "60s",
    leader_election_renew_deadline: str = "40s",
    leader_election_retry_period: str = "15s",
    kube_api_qps: float = 20.0,
    kube_api_burst: int = 50,
    feature_gates: str = "",
    controllers: tuple[str, ...] = ("*",),
    concurrent_workers: int = 5,
    max_concurrent_challenges: int = 60,
    metrics_listen_address: str = "0.0.0.0:9402",
    internal_healthz_listen_address: str = "0.0.0.0:9403",
    internal_healthz_leader_election_timeout: str = "20s",
    certificate_request_minimum_backoff_duration: str = "1h",
    certificate_request_maximum_backoff_duration: str = "32h",
    enable_certificate_owner_ref: bool = False,
    acme_http01_solver_image: str = "",
    acme_http01_solver_resource_request_cpu: str = "10m",
    acme_http01_solver_resource_request_memory: str = "64Mi",
    acme_http01_solver_resource_limits_cpu: str = "100m",
    acme_http01_solver_resource_limits_memory: str = "64Mi",
    acme_http01_solver_run_as_non_root: bool = True,
    acme_http01_solver_nameservers: tuple[str, ...] = (),
    acme_http01_solver_extra_labels: tuple[str, ...] = (),
    acme_http01_solver_runtime_class_name: str = "",
    enable_gateway_api: bool = False,
    dns01_recursive_nameservers: tuple[str, ...] = (),
    dns01_recursive_nameservers_only: bool = False,
    copied_annotation_prefixes: tuple[str, ...] = DEFAULT_COPIED_ANNOTATION_PREFIXES,
    max_certificate_size: int = DEFAULT_PEM_LIMITS.max_certificate_size,
    max_private_key_size: int = DEFAULT_PEM_LIMITS.max_private_key_size,
    max_certificate_chain_length: int = DEFAULT_PEM_LIMITS.max_chain_size,
    max_certificate_bundle_size: int = DEFAULT_PEM_LIMITS.max_bundle_size,
) -> ControllerConfig:
    """Check the flags together; raises ``click.UsageError``/``BadParameter`` naming what is wrong."""
    names = component.split_list(controllers) or ("*",)
    nameservers = component.split_list(dns01_recursive_nameservers)
    solver_nameservers = component.split_list(acme_http01_solver_nameservers)
    lease = component.duration_seconds(leader_election_lease_duration, "--leader-election-lease-duration")
    renew = component.duration_seconds(leader_election_renew_deadline, "--leader-election-renew-deadline")
    retry = component.duration_seconds(leader_election_retry_period, "--leader-election-retry-period")
    healthz_timeout = component.duration_seconds(
        internal_healthz_leader_election_timeout, "--internal-healthz-leader-election-timeout", allow_zero=True
    )
    min_backoff = component.duration_seconds(
        certificate_request_minimum_backoff_duration, "--certificate-request-minimum-backoff-duration", allow_zero=True
    )
    max_backoff = component.duration_seconds(
        certificate_request_maximum_backoff_duration, "--certificate-request-maximum-backoff-duration", allow_zero=True
    )
    pem = {
        "maxCertificateSize": max_certificate_size,
        "maxPrivateKeySize": max_private_key_size,
        "maxChainLength": max_certificate_chain_length,
        "maxBundleSize": max_certificate_bundle_size,
    }
    errors = _check(
        controllers=names,
        qps=kube_api_qps,
        burst=kube_api_burst,
        min_backoff=min_backoff,
        max_backoff=max_backoff,
        nameservers=nameservers,
        solver_nameservers=solver_nameservers,
        pem=pem,
        healthz_timeout=healthz_timeout,
        leader_elect=leader_elect,
    )
    if errors:
        raise click.UsageError(f"error validating flags: {aggregate(errors)}")
    gates = _gates(feature_gates)
    if leader_elect:
        component.check_leader_election(lease_duration=lease, renew_deadline=renew, retry_period=retry)
    for flag, value in (
        ("--concurrent-workers", concurrent_workers),
        ("--max-concurrent-challenges", max_concurrent_challenges),
    ):
        if value < 1:
            raise click.BadParameter("must be at least 1", param_hint=flag)
    try:
        solver_pods = SolverPodOptions(
            image=acme_http01_solver_image or DEFAULT_SOLVER_IMAGE,
            resource_request_cpu=acme_http01_solver_resource_request_cpu,
            resource_request_memory=acme_http01_solver_resource_request_memory,
            resource_limits_cpu=acme_http01_solver_resource_limits_cpu,
            resource_limits_memory=acme_http01_solver_resource_limits_memory,
            run_as_non_root=acme_http01_solver_run_as_non_root,
            extra_labels=_labels(acme_http01_solver_extra_labels),
            runtime_class_name=acme_http01_solver_runtime_class_name,
            path_type_exact=gates.acme_http01_ingress_path_type_exact,
        )
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None
    return ControllerConfig(
        kubeconfig=kubeconfig,
        master=master,
        namespace=namespace,
        cluster_resource_namespace=cluster_resource_namespace,
        leader_elect=leader_elect,
        leader_election_namespace=leader_election_namespace,
        lease_duration=lease,
        renew_deadline=renew,
        retry_period=retry,
        kube_api_qps=kube_api_qps,
        kube_api_burst=kube_api_burst,
        feature_gates=gates,
        controllers=enabled_controllers(names, namespace=namespace),
        concurrent_workers=concurrent_workers,
        max_concurrent_challenges=max_concurrent_challenges,
        metrics_address=component.parse_listen_address(metrics_listen_address),
        healthz_address=component.parse_listen_address(
            internal_healthz_listen_address, "--internal-healthz-listen-address"
        ),
        healthz_leader_election_timeout=healthz_timeout,
        # cert-manager: zero means the default.
        min_backoff=timedelta(seconds=min_backoff) if min_backoff else timedelta(hours=1),
        max_backoff=timedelta(seconds=max_backoff) if max_backoff else timedelta(hours=32),
        enable_certificate_owner_ref=enable_certificate_owner_ref,
        http01_solver=solver_pods,
        http01_solver_nameservers=solver_nameservers,
        enable_gateway_api=enable_gateway_api,
        dns01_recursive_nameservers=nameservers,
        dns01_recursive_nameservers_only=dns01_recursive_nameservers_only,
        copied_annotation_prefixes=component.split_list(copied_annotation_prefixes),
        pem_limits=PemLimits(
            max_certificate_size=max_certificate_size,
            max_private_key_size=max_private_key_size,
            max_chain_size=max_certificate_chain_length,
            max_bundle_size=max_certificate_bundle_size,
        ),
    )


__all__ = [
    "CLUSTER_SCOPED_CONTROLLERS",
    "CONTROLLER_GATES",
    "DEFAULT_CONTROLLERS",
    "KNOWN_CONTROLLERS",
    "NOT_PROVIDED",
    "ControllerConfig",
    "enabled_controllers",
    "make_config",
]
