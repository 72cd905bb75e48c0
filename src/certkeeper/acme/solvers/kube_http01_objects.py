"""The HTTP-01 solver's Pod and Service as cert-manager builds them, plus the labels and owner they share.

Follows ``pkg/issuer/acme/http/pod.go`` and ``service.go``. Every solver object of a Challenge carries
the identity labels::

    acme.cert-manager.io/http-domain:   adler32 of spec.dnsName, in decimal
    acme.cert-manager.io/http-token:    adler32 of spec.token, in decimal
    acme.cert-manager.io/http01-solver: "true"

and a controller ownerReference to the Challenge; the solver finds its objects again by those labels
and keeps only the ones the Challenge controls. Names come from ``generateName: cm-acme-http-solver-``.

The Pod runs the acmesolver (``--listen-port=8089 --domain --token --key``), hardened: no service
account token, no service links, non-root (flag), seccomp RuntimeDefault, read-only root filesystem,
no privilege escalation, every capability dropped, small resource requests and limits (flags). An
issuer's ``podTemplate`` adds labels, annotations, node selector entries, tolerations and image pull
secrets, and replaces affinity, priority class, service account, the pod security context and
resource entries, in the order ``mergePodObjectMetaWithPodTemplate`` applies them. The Service
(NodePort unless the solver says otherwise) selects the Pod by the identity labels on port 8089.

One deliberate difference: extra labels, template labels and HTTPRoute labels never replace the
identity labels (cert-manager protects them from the extra-labels flag only). A replaced identity
label would hide the object from the lookup, so a new one would be created on every sync.

The objects are raw dicts in wire form, ready for a Store. Pure.
"""

from __future__ import annotations

import re
import zlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Final

import msgspec

from certkeeper.acme.solvers.base import SolverConfigError
from certkeeper.api.acme import Challenge
from certkeeper.api.acme_solvers import ACMEChallengeSolverHTTP01IngressPodTemplate
from certkeeper.api.annotations import ACME_HTTP01_SOLVER_LABEL, ACME_HTTP_DOMAIN_LABEL, ACME_HTTP_TOKEN_LABEL

RawObject = dict[str, Any]

#: ``metadata.generateName`` of every solver Pod, Service, Ingress and HTTPRoute.
SOLVER_GENERATE_NAME: Final = "cm-acme-http-solver-"
#: The port the acmesolver listens on in the Pod, and the Service's port (cert-manager ``acmeSolverListenPort``).
SOLVER_PORT: Final = 8089
SOLVER_CONTAINER_NAME: Final = "acmesolver"
#: How the solver Pod starts the acmesolver in certkeeper's image (its entrypoint is ``certkeeper``).
DEFAULT_SOLVER_COMMAND: Final = ("certkeeper", "acmesolver")
#: The identity labels' keys: never overridden by extra or template labels.
IDENTITY_LABEL_KEYS: Final = frozenset({ACME_HTTP_DOMAIN_LABEL, ACME_HTTP_TOKEN_LABEL, ACME_HTTP01_SOLVER_LABEL})

POD_ANNOTATIONS: Final[Mapping[str, str]] = MappingProxyType(
    {"sidecar.istio.io/inject": "false", "cluster-autoscaler.kubernetes.io/safe-to-evict": "true"}
)
SERVICE_ANNOTATIONS: Final[Mapping[str, str]] = MappingProxyType({f"auth.istio.io/{SOLVER_PORT}": "NONE"})
DEFAULT_SERVICE_TYPE: Final = "NodePort"

# resource.Quantity's canonical syntax (the CRD pattern of podTemplate resources).
_QUANTITY = re.compile(
    r"^(\+|-)?(([0-9]+(\.[0-9]*)?)|(\.[0-9]+))(([KMGTPE]i)|[numkMGTPE]|([eE](\+|-)?(([0-9]+(\.[0-9]*)?)|(\.[0-9]+))))?$"
)


@dataclass(frozen=True, slots=True, kw_only=True)
class SolverPodOptions:
    """The controller flags that shape solver objects (cert-manager's ``ACMEOptions``).

    ``--acme-http01-solver-image``, ``--acme-http01-solver-resource-{request,limits}-{cpu,memory}``,
    ``--acme-http01-solver-run-as-non-root``, ``--acme-http01-solver-extra-labels``,
    ``--acme-http01-solver-runtime-class-name``, and the feature gate ``ACMEHTTP01IngressPathTypeExact``.
    """

    image: str
    #: The container's command; empty keeps the image's entrypoint (cert-manager's acmesolver image).
    command: tuple[str, ...] = DEFAULT_SOLVER_COMMAND
    resource_request_cpu: str = "10m"
    resource_request_memory: str = "64Mi"
    resource_limits_cpu: str = "100m"
    resource_limits_memory: str = "64Mi"
    run_as_non_root: bool = True
    extra_labels: Mapping[str, str] = field(default_factory=dict)
    runtime_class_name: str = ""
    #: Ingress paths use pathType Exact (else ImplementationSpecific).
    path_type_exact: bool = True

    def __post_init__(self) -> None:
        if not self.image:
            raise ValueError("the HTTP-01 solver image must not be empty")
        for flag, value in (
            ("resource-request-cpu", self.resource_request_cpu),
            ("resource-request-memory", self.resource_request_memory),
            ("resource-limits-cpu", self.resource_limits_cpu),
            ("resource-limits-memory", self.resource_limits_memory),
        ):
            if not _QUANTITY.match(value):
                raise ValueError(f"--acme-http01-solver-{flag}: {value!r} is not a resource quantity (e.g. 10m, 64Mi)")
        # Frozen: keep a private copy so a caller's later change to its dict does not leak in.
        object.__setattr__(self, "extra_labels", MappingProxyType(dict(self.extra_labels)))


def adler32_label(value: str) -> str:
    """The decimal adler32 checksum of ``value``'s UTF-8 bytes (Go ``adler32.Checksum``)."""
    return str(zlib.adler32(value.encode()))


def solver_labels(challenge: Challenge) -> dict[str, str]:
    """The identity labels of the Challenge's solver objects (cert-manager ``podLabels``)."""
    return {
        ACME_HTTP_DOMAIN_LABEL: adler32_label(challenge.spec.dns_name),
        ACME_HTTP_TOKEN_LABEL: adler32_label(challenge.spec.token),
        ACME_HTTP01_SOLVER_LABEL: "true",
    }


def with_labels(challenge: Challenge, *extra: Mapping[str, str] | None) -> dict[str, str]:
    """The identity labels plus each of ``extra`` in turn; the identity labels always win."""
    labels = solver_labels(challenge)
    for more in extra:
        labels.update({k: v for k, v in (more or {}).items() if k not in IDENTITY_LABEL_KEYS})
    return labels


def owner_reference(challenge: Challenge) -> RawObject:
    """A controller ownerReference to the Challenge (``metav1.NewControllerRef``)."""
    return {
        "apiVersion": challenge.api_version,
        "kind": "Challenge",
        "name": challenge.name,
        "uid": challenge.metadata.uid or "",
        "controller": True,
        "blockOwnerDeletion": True,
    }


def is_controlled_by(obj: Mapping[str, Any], challenge: Challenge) -> bool:
    """Whether ``obj``'s controller ownerReference names the Challenge's UID (``metav1.IsControlledBy``)."""
    uid = challenge.metadata.uid
    refs = (obj.get("metadata") or {}).get("ownerReferences") or ()
    return bool(uid) and any(ref.get("controller") and ref.get("uid") == uid for ref in refs)


def solver_metadata(challenge: Challenge, labels: Mapping[str, str], annotations: Mapping[str, str]) -> RawObject:
    """``metadata`` of a new solver object: generateName, namespace, labels, annotations, owner."""
    meta: RawObject = {
        "generateName": SOLVER_GENERATE_NAME,
        "namespace": challenge.namespace,
        "labels": dict(labels),
        "ownerReferences": [owner_reference(challenge)],
    }
    if annotations:
        meta["annotations"] = dict(annotations)
    return meta


def _wire(value: object) -> Any:
    """A typed API value in wire form (camelCase keys, unset fields left out)."""
    return msgspec.to_builtins(value)


def pod_templates(challenge: Challenge) -> list[ACMEChallengeSolverHTTP01IngressPodTemplate]:
    """The podTemplates that apply, in cert-manager's order (ingress's, then gatewayHTTPRoute's)."""
    http01 = challenge.spec.solver.http01
    if http01 is None:
        return []
    templates = [
        http01.ingress.pod_template if http01.ingress is not None else None,
        http01.gateway_http_route.pod_template if http01.gateway_http_route is not None else None,
    ]
    return [t for t in templates if t is not None]


def solver_args(challenge: Challenge) -> list[str]:
    """The acmesolver's arguments, exactly cert-manager's."""
    return [
        f"--listen-port={SOLVER_PORT}",
        f"--domain={challenge.spec.dns_name}",
        f"--token={challenge.spec.token}",
        f"--key={challenge.spec.key}",
    ]


def _default_pod(challenge: Challenge, options: SolverPodOptions) -> RawObject:
    container: RawObject = {
        "name": SOLVER_CONTAINER_NAME,
        "image": options.image,
        "imagePullPolicy": "IfNotPresent",
        "args": solver_args(challenge),
        "resources": {
            "requests": {"cpu": options.resource_request_cpu, "memory": options.resource_request_memory},
            "limits": {"cpu": options.resource_limits_cpu, "memory": options.resource_limits_memory},
        },
        "ports": [{"name": "http", "containerPort": SOLVER_PORT}],
        "securityContext": {
            "readOnlyRootFilesystem": True,
            "allowPrivilegeEscalation": False,
            "capabilities": {"drop": ["ALL"]},
        },
    }
    if options.command:
        container["command"] = list(options.command)
    spec: RawObject = {
        # The acmesolver never talks to the API server: no token is mounted.
        "automountServiceAccountToken": False,
        "nodeSelector": {"kubernetes.io/os": "linux"},
        "restartPolicy": "OnFailure",
        "enableServiceLinks": False,
        "securityContext": {"runAsNonRoot": options.run_as_non_root, "seccompProfile": {"type": "RuntimeDefault"}},
        "containers": [container],
    }
    if options.runtime_class_name:
        spec["runtimeClassName"] = options.runtime_class_name
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": solver_metadata(challenge, with_labels(challenge, options.extra_labels), POD_ANNOTATIONS),
        "spec": spec,
    }


def _merge_template(
    pod: RawObject, challenge: Challenge, template: ACMEChallengeSolverHTTP01IngressPodTemplate
) -> None:
    meta, spec = pod["metadata"], pod["spec"]
    if template.metadata is not None:
        meta["labels"] = with_labels(challenge, meta["labels"], template.metadata.labels)
        meta["annotations"] = {**meta.get("annotations", {}), **(template.metadata.annotations or {})}
    tspec = template.spec
    if tspec is None:
        return
    spec["nodeSelector"] = {**spec.get("nodeSelector", {}), **(tspec.node_selector or {})}
    if tspec.tolerations:
        spec["tolerations"] = [*spec.get("tolerations", []), *_wire(tspec.tolerations)]
    if tspec.affinity is not None:
        spec["affinity"] = tspec.affinity
    if tspec.priority_class_name:
        spec["priorityClassName"] = tspec.priority_class_name
    if tspec.service_account_name:
        spec["serviceAccountName"] = tspec.service_account_name
    if tspec.image_pull_secrets:
        spec["imagePullSecrets"] = [*spec.get("imagePullSecrets", []), *_wire(tspec.image_pull_secrets)]
    if tspec.security_context is not None:
        # Replaced as a whole: cert-manager copies the template's fields into an empty context.
        spec["securityContext"] = _wire(tspec.security_context)
    if tspec.resources is not None:
        resources = spec["containers"][0]["resources"]
        for kind, values in (("requests", tspec.resources.requests), ("limits", tspec.resources.limits)):
            if values is not None:
                resources[kind] = {**resources.get(kind, {}), **values}


def build_pod(challenge: Challenge, options: SolverPodOptions) -> RawObject:
    """The solver Pod for ``challenge`` (cert-manager ``buildPod``), not yet created."""
    pod = _default_pod(challenge, options)
    for template in pod_templates(challenge):
        _merge_template(pod, challenge, template)
    return pod


def service_type(challenge: Challenge) -> str:
    """The Service type the solver asks for ("" for the default), or SolverConfigError without one."""
    http01 = challenge.spec.solver.http01
    if http01 is not None and http01.ingress is not None:
        return http01.ingress.service_type or ""
    if http01 is not None and http01.gateway_http_route is not None:
        return http01.gateway_http_route.service_type or ""
    raise SolverConfigError("neither HTTP01 Ingress nor Gateway solvers were found")


def build_service(challenge: Challenge, options: SolverPodOptions) -> RawObject:
    """The solver Service (cert-manager ``buildService``): selects the Pod by its identity labels only."""
    kind = service_type(challenge) or DEFAULT_SERVICE_TYPE
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": solver_metadata(challenge, with_labels(challenge, options.extra_labels), SERVICE_ANNOTATIONS),
        "spec": {
            "type": kind,
            "ports": [{"name": "http", "port": SOLVER_PORT, "targetPort": SOLVER_PORT}],
            "selector": solver_labels(challenge),
        },
    }


__all__ = [
    "DEFAULT_SERVICE_TYPE",
    "DEFAULT_SOLVER_COMMAND",
    "IDENTITY_LABEL_KEYS",
    "POD_ANNOTATIONS",
    "SERVICE_ANNOTATIONS",
    "SOLVER_CONTAINER_NAME",
    "SOLVER_GENERATE_NAME",
    "SOLVER_PORT",
    "RawObject",
    "SolverPodOptions",
    "adler32_label",
    "build_pod",
    "build_service",
    "is_controlled_by",
    "owner_reference",
    "pod_templates",
    "service_type",
    "solver_args",
    "solver_labels",
    "solver_metadata",
    "with_labels",
]
