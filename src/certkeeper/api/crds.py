"""The six CustomResourceDefinitions of cert-manager's v1 API, generated from certkeeper's models.

The models (:mod:`certkeeper.api.certmanager`, :mod:`certkeeper.api.acme`) are the one source of
truth for the shape of every kind; :mod:`certkeeper.api.openapi` turns them into structural
schemas. This module adds what a CRD says beyond the shape, each fact as cert-manager's CRDs state
it (``deploy/crds/*.yaml``, generated there by controller-gen from ``pkg/apis/*/v1/types_*.go``):
names, short names, categories, scope, printer columns, selectable fields, the integer formats,
CRD defaults, list types and the Venafi one-of CEL rule that Python types cannot express.

Output is deterministic: keys sorted, no timestamps, no version stamps, so the checked-in
``deploy/crds/`` can be compared byte for byte (``certkeeper crds --output-dir deploy/crds``). Pure.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

import yaml

from certkeeper.api import acme, acme_solvers, certmanager
from certkeeper.api.meta import Resource
from certkeeper.api.openapi import VALIDATIONS, Schema, SchemaOptions, struct_schema
from certkeeper.api.schema_rules import structural_violations

CRD_API_VERSION: Final = "apiextensions.k8s.io/v1"
#: Labels on every CRD, so ``kubectl get crd -l app.kubernetes.io/name=certkeeper`` finds them
#: (cert-manager's Helm chart labels its CRDs the same way, with ``component: crds``).
CRD_LABELS: Final[Mapping[str, str]] = {"app.kubernetes.io/name": "certkeeper", "app.kubernetes.io/component": "crds"}

CATEGORY: Final = "cert-manager"
ACME_CATEGORY: Final = "cert-manager-acme"


@dataclass(frozen=True, slots=True, kw_only=True)
class PrinterColumn:
    """One ``additionalPrinterColumns`` entry (what ``kubectl get`` shows)."""

    name: str
    json_path: str
    type: str = "string"
    #: 0 shows by default; 1 only with ``-o wide``.
    priority: int = 0

    def render(self) -> dict[str, Any]:
        column: dict[str, Any] = {"jsonPath": self.json_path, "name": self.name, "type": self.type}
        if self.priority:
            column["priority"] = self.priority
        return column


@dataclass(frozen=True, slots=True, kw_only=True)
class KindInfo:
    """Everything a CRD says about one kind besides its schema."""

    model: type[Resource]
    short_names: tuple[str, ...] = ()
    categories: tuple[str, ...]
    printer_columns: tuple[PrinterColumn, ...]
    #: JSON paths usable in ``--field-selector``.
    selectable_fields: tuple[str, ...] = ()
    #: cert-manager's Order and Challenge list ``metadata`` as required at the root.
    require_metadata: bool = False

    @property
    def kind(self) -> str:
        return self.model.kind_name()

    @property
    def group(self) -> str:
        return self.model.API_VERSION.rpartition("/")[0]

    @property
    def version(self) -> str:
        return self.model.API_VERSION.rpartition("/")[2]

    @property
    def plural(self) -> str:
        return self.model.PLURAL

    @property
    def crd_name(self) -> str:
        return f"{self.plural}.{self.group}"

    @property
    def file_name(self) -> str:
        """cert-manager's file name for this CRD, e.g. ``cert-manager.io_certificates.yaml``."""
        return f"{self.group}_{self.plural}.yaml"


def _ready(condition: str) -> str:
    return f'.status.conditions[?(@.type == "{condition}")]'


_READY = PrinterColumn(name="Ready", json_path=_ready("Ready") + ".status")
_STATUS = PrinterColumn(name="Status", json_path=_ready("Ready") + ".message", priority=1)
_AGE = PrinterColumn(name="Age", json_path=".metadata.creationTimestamp", type="date")
_ISSUER_REF_FIELDS = (".spec.issuerRef.group", ".spec.issuerRef.kind", ".spec.issuerRef.name")

#: The kinds, in the order ``certkeeper crds`` prints them.
KINDS: Final[tuple[KindInfo, ...]] = (
    KindInfo(
        model=certmanager.Certificate,
        short_names=("cert", "certs"),
        categories=(CATEGORY,),
        printer_columns=(
            _READY,
            PrinterColumn(name="Secret", json_path=".spec.secretName"),
            PrinterColumn(name="Issuer", json_path=".spec.issuerRef.name", priority=1),
            _STATUS,
            PrinterColumn(name="Expiration", json_path=".status.notAfter", priority=1),
            _AGE,
        ),
        selectable_fields=_ISSUER_REF_FIELDS,
    ),
    KindInfo(
        model=certmanager.CertificateRequest,
        short_names=("cr", "crs"),
        categories=(CATEGORY,),
        printer_columns=(
            PrinterColumn(name="Approved", json_path=_ready("Approved") + ".status"),
            PrinterColumn(name="Denied", json_path=_ready("Denied") + ".status"),
            _READY,
            PrinterColumn(name="Issuer", json_path=".spec.issuerRef.name"),
            PrinterColumn(name="Requester", json_path=".spec.username"),
            _STATUS,
            _AGE,
        ),
        selectable_fields=_ISSUER_REF_FIELDS,
    ),
    KindInfo(
        model=certmanager.Issuer,
        short_names=("iss",),
        categories=(CATEGORY,),
        printer_columns=(_READY, _STATUS, _AGE),
    ),
    KindInfo(
        model=certmanager.ClusterIssuer,
        short_names=("ciss",),
        categories=(CATEGORY,),
        printer_columns=(_READY, _STATUS, _AGE),
    ),
    KindInfo(
        model=acme.Order,
        categories=(CATEGORY, ACME_CATEGORY),
        printer_columns=(
            PrinterColumn(name="State", json_path=".status.state"),
            PrinterColumn(name="Issuer", json_path=".spec.issuerRef.name", priority=1),
            PrinterColumn(name="Reason", json_path=".status.reason", priority=1),
            _AGE,
        ),
        selectable_fields=_ISSUER_REF_FIELDS,
        require_metadata=True,
    ),
    KindInfo(
        model=acme.Challenge,
        categories=(CATEGORY, ACME_CATEGORY),
        printer_columns=(
            PrinterColumn(name="State", json_path=".status.state"),
            PrinterColumn(name="Domain", json_path=".spec.dnsName"),
            PrinterColumn(name="Reason", json_path=".status.reason", priority=1),
            _AGE,
        ),
        selectable_fields=_ISSUER_REF_FIELDS,
        require_metadata=True,
    ),
)

KINDS_BY_MODEL: Final[Mapping[type[Resource], KindInfo]] = {info.model: info for info in KINDS}

_INT32: Final = {"format": "int32"}
_INT64: Final = {"format": "int64"}

#: The CEL rule (and message) cert-manager puts on ``spec.venafi``.
VENAFI_ONE_OF_RULE: Final = {
    "message": "exactly one of tpp, cloud, or ngts must be configured",
    "rule": "(has(self.tpp) ? 1 : 0) + (has(self.cloud) ? 1 : 0) + (has(self.ngts) ? 1 : 0) == 1",
}

#: What the models cannot say. Go's int32/int64 have no Python spelling, CRD defaults are not
#: model defaults (certkeeper's models default every optional field to None so manifests
#: round-trip), and the list/map types are Kubernetes merge semantics.
SCHEMA_OPTIONS: Final = SchemaOptions(
    list_map_keys={"conditions": ("type",), "imagePullSecrets": ("name",)},
    patches={
        certmanager.CertificateSpec: {"renewBeforePercentage": _INT32, "revisionHistoryLimit": _INT32},
        certmanager.CertificateCondition: {"observedGeneration": _INT64},
        certmanager.IssuerCondition: {"observedGeneration": _INT64},
        # controller-gen writes no list type for the []string values of map[string][]string.
        certmanager.CertificateRequestSpec: {"extra": {"additionalProperties": {"x-kubernetes-list-type": None}}},
        certmanager.VenafiIssuer: {"": {VALIDATIONS: [VENAFI_ONE_OF_RULE]}},
        acme.ACMEIssuer: {"renewalInformationSource": {"default": "ARI"}},
        acme_solvers.ParentReference: {
            "group": {"default": "gateway.networking.k8s.io"},
            "kind": {"default": "Gateway"},
            "port": _INT32,
        },
        acme_solvers.ImagePullSecret: {"": {"x-kubernetes-map-type": "atomic"}, "name": {"default": ""}},
        acme_solvers.ACMEChallengeSolverHTTP01IngressPodSecurityContext: {
            "fsGroup": _INT64,
            "runAsGroup": _INT64,
            "runAsUser": _INT64,
            "supplementalGroups": {"items": _INT64},
        },
        acme_solvers.Toleration: {"tolerationSeconds": _INT64},
    },
)


def openapi_schema(info: KindInfo) -> Schema:
    """The ``openAPIV3Schema`` of one kind (also what :mod:`certkeeper.api.structural` validates with)."""
    schema = struct_schema(info.model, SCHEMA_OPTIONS)
    # The API server sets apiVersion and kind from the request path before validating; cert-manager
    # does not list them as required, and neither do we.
    required = [name for name in schema.get("required", []) if name != "apiVersion"]
    if info.require_metadata:
        required.append("metadata")
    if required:
        schema["required"] = sorted(required)
    else:
        schema.pop("required", None)
    return schema


def crd(info: KindInfo) -> dict[str, Any]:
    """The CustomResourceDefinition of one kind, as a JSON-compatible dict."""
    schema = openapi_schema(info)
    problems = structural_violations(schema)
    if problems:
        # A generator bug, never user input: fail loudly rather than emit a CRD the API server refuses.
        raise ValueError(f"{info.crd_name}: schema is not structural: " + "; ".join(map(str, problems)))
    version: dict[str, Any] = {
        "additionalPrinterColumns": [column.render() for column in info.printer_columns],
        "name": info.version,
        "schema": {"openAPIV3Schema": schema},
        "served": True,
        "storage": True,
        "subresources": {"status": {}},
    }
    if info.selectable_fields:
        version["selectableFields"] = [{"jsonPath": path} for path in info.selectable_fields]
    names: dict[str, Any] = {
        "categories": list(info.categories),
        "kind": info.kind,
        "listKind": f"{info.kind}List",
        "plural": info.plural,
        "singular": info.kind.lower(),
    }
    if info.short_names:
        names["shortNames"] = list(info.short_names)
    return {
        "apiVersion": CRD_API_VERSION,
        "kind": "CustomResourceDefinition",
        "metadata": {"name": info.crd_name, "labels": dict(CRD_LABELS)},
        "spec": {
            "group": info.group,
            "names": names,
            "scope": "Namespaced" if info.model.NAMESPACED else "Cluster",
            "versions": [version],
        },
    }


def to_yaml(document: Mapping[str, Any]) -> str:
    """One YAML document, keys sorted, long strings never folded, starting with ``---``."""
    return yaml.safe_dump(
        dict(document), explicit_start=True, sort_keys=True, default_flow_style=False, width=1 << 16, allow_unicode=True
    )


def crd_files() -> dict[str, str]:
    """``{file name: YAML}`` for every kind, named as cert-manager names its CRD files."""
    return {info.file_name: to_yaml(crd(info)) for info in KINDS}


def render_all() -> str:
    """Every CRD as one multi-document YAML stream, in :data:`KINDS` order."""
    return "".join(to_yaml(crd(info)) for info in KINDS)


__all__ = [
    "ACME_CATEGORY",
    "CATEGORY",
    "CRD_API_VERSION",
    "CRD_LABELS",
    "KINDS",
    "KINDS_BY_MODEL",
    "SCHEMA_OPTIONS",
    "VENAFI_ONE_OF_RULE",
    "KindInfo",
    "PrinterColumn",
    "crd",
    "crd_files",
    "openapi_schema",
    "render_all",
    "to_yaml",
]
