"""Where a target's CA comes from, and whether the cainjector may read it: the decisions. Pure.

Follows cert-manager's ``pkg/controller/cainjector/sources.go`` (the three ``caDataSource``\\ s) and
``reconciler.go`` (``caDataSourceFor``, ``splitNamespacedName``, ``owningCertForSecret``). A target names
its source with one of three annotations; the sources are consulted in cert-manager's order and the
first one the annotations configure wins:

=================================================  ==========================================
annotation                                         CA injected
=================================================  ==========================================
``cert-manager.io/inject-ca-from-secret: ns/name``  ``ca.crt`` of that Secret, which must carry
                                                   ``cert-manager.io/allow-direct-injection: "true"``
``cert-manager.io/inject-ca-from: ns/name``         ``ca.crt`` of that Certificate's Secret, which must
                                                   carry ``cert-manager.io/certificate-name: name``
``cert-manager.io/inject-apiserver-ca: "true"``     the CA the cainjector's own kubeconfig trusts
=================================================  ==========================================

A reference without a ``namespace/`` prefix, in an ignored namespace or outside the cainjector's
namespace scope is refused, and so is a Secret that does not allow the injection or holds no
``ca.crt``. A refusal is final for this reconcile: the change that could lift it (the Secret or
Certificate being created or fixed, the target's annotation edited) triggers the next one. Messages
are cert-manager's; a scope refusal reads as its Forbidden error (``certificates.cert-manager.io "x"
is forbidden: ...``, the resource named ``certificates`` even for Secrets, as upstream).
"""

from __future__ import annotations

import base64
import binascii
import enum
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Any, Final

from certkeeper.api.annotations import (
    ALLOWS_INJECTION_FROM_SECRET_ANNOTATION,
    CERTIFICATE_NAME_KEY,
    WANT_INJECT_ANNOTATION,
    WANT_INJECT_API_SERVER_CA_ANNOTATION,
    WANT_INJECT_FROM_SECRET_ANNOTATION,
)
from certkeeper.api.constants import TLS_CA_KEY

#: The GroupResource cert-manager names in its Forbidden errors, for Certificate and Secret sources alike.
_FORBIDDEN_RESOURCE: Final = "certificates.cert-manager.io"


class SourceKind(enum.Enum):
    """The three kinds of CA source, by the annotation that selects them."""

    SECRET = WANT_INJECT_FROM_SECRET_ANNOTATION
    CERTIFICATE = WANT_INJECT_ANNOTATION
    API_SERVER = WANT_INJECT_API_SERVER_CA_ANNOTATION

    @property
    def noun(self) -> str:
        """How messages name the source object (``Certificate``, ``Secret``)."""
        return "Certificate" if self is SourceKind.CERTIFICATE else "Secret"


#: cert-manager's ``sources`` order in ``RegisterAllInjectors``: the first configured source wins.
SOURCE_ORDER: Final = (SourceKind.SECRET, SourceKind.CERTIFICATE, SourceKind.API_SERVER)

#: Annotations that make an object an injectable (``hasInjectableAnnotation``: presence, any value).
INJECTABLE_ANNOTATIONS: Final = frozenset(kind.value for kind in SourceKind)


@dataclass(frozen=True, slots=True, kw_only=True)
class Scope:
    """Which namespaces the cainjector may read sources from (``--namespace``, ``--ignore-namespaces``)."""

    #: Only this namespace ("" for all).
    namespace: str = ""
    ignore_namespaces: frozenset[str] = frozenset()


@dataclass(frozen=True, slots=True)
class SourceRef:
    """A namespaced source object named by an annotation."""

    kind: SourceKind
    namespace: str
    name: str

    def __str__(self) -> str:
        return f"{self.namespace}/{self.name}"


@dataclass(frozen=True, slots=True)
class CAData:
    """The CA certificates (PEM, as found) to inject."""

    data: bytes

    def __repr__(self) -> str:
        return f"CAData(<{len(self.data)} bytes>)"


@dataclass(frozen=True, slots=True)
class Refusal:
    """Why nothing is injected this time; ``forbidden`` marks scope refusals (logged at info upstream)."""

    message: str
    forbidden: bool = False


def annotations_of(obj: Mapping[str, Any]) -> Mapping[str, str]:
    meta = obj.get("metadata")
    annotations = meta.get("annotations") if isinstance(meta, Mapping) else None
    return annotations if isinstance(annotations, Mapping) else {}


def has_injectable_annotation(obj: Mapping[str, Any]) -> bool:
    """Whether ``obj`` asks for injection at all (any of the three annotations is present)."""
    annotations = annotations_of(obj)
    return any(key in annotations for key in INJECTABLE_ANNOTATIONS)


def is_configured(kind: SourceKind, annotations: Mapping[str, str]) -> bool:
    """``caDataSource.Configured``: the reference annotations by presence, the API server one by "true"."""
    if kind is SourceKind.API_SERVER:
        return annotations.get(kind.value) == "true"
    return kind.value in annotations


def configured_source(annotations: Mapping[str, str], enabled: Collection[SourceKind]) -> SourceKind | None:
    """The first enabled source (in :data:`SOURCE_ORDER`) the annotations configure, or None."""
    for kind in SOURCE_ORDER:
        if kind in enabled and is_configured(kind, annotations):
            return kind
    return None


def split_namespaced_name(value: str) -> tuple[str, str]:
    """``(namespace, name)`` of ``namespace/name``, split at the first ``/``; no ``/`` gives ``("", value)``."""
    namespace, sep, name = value.partition("/")
    return (namespace, name) if sep else ("", value)


def indexed_reference(obj: Mapping[str, Any], kind: SourceKind) -> list[str]:
    """The index value of ``obj``'s reference of ``kind`` (``injectableCAFrom[Secret]Indexer``): the
    annotation as written when it has a namespace, else nothing."""
    value = annotations_of(obj).get(kind.value)
    if not value or not split_namespaced_name(value)[0]:
        return []
    return [value]


def _forbidden(kind: SourceKind, name: str, reason: str) -> Refusal:
    return Refusal(f'{_FORBIDDEN_RESOURCE} "{name}" is forbidden: {reason}', forbidden=True)


def resolve_reference(kind: SourceKind, annotations: Mapping[str, str], scope: Scope) -> SourceRef | Refusal:
    """The Secret or Certificate the annotation of ``kind`` names, if the cainjector may read it."""
    namespace, name = split_namespaced_name(annotations.get(kind.value, ""))
    if not namespace:
        if kind is SourceKind.CERTIFICATE:
            return Refusal("invalid certificate name: needs a namespace/ prefix")
        return Refusal("invalid secret source: missing namespace/ prefix")
    if namespace in scope.ignore_namespaces:
        reason = f"cannot read CA data from {kind.noun} in namespace {namespace}, namespace is ignored"
        return _forbidden(kind, name, reason)
    if scope.namespace and namespace != scope.namespace:
        reason = (
            f"cannot read CA data from {kind.noun} in namespace {namespace}, "
            f"cainjector is scoped to namespace {scope.namespace}"
        )
        return _forbidden(kind, name, reason)
    return SourceRef(kind, namespace, name)


def certificate_secret_name(certificate: Mapping[str, Any]) -> str:
    """``spec.secretName`` of a Certificate ("" when missing)."""
    spec = certificate.get("spec")
    name = spec.get("secretName") if isinstance(spec, Mapping) else None
    return name if isinstance(name, str) else ""


def owning_certificate(secret: Mapping[str, Any]) -> str | None:
    """``namespace/name`` of the Certificate a Secret says it belongs to (its certificate-name annotation)."""
    name = annotations_of(secret).get(CERTIFICATE_NAME_KEY)
    if name is None:
        return None
    namespace = secret.get("metadata", {}).get("namespace") or ""
    return f"{namespace}/{name}"


def _ca_crt(secret: Mapping[str, Any]) -> bytes | None:
    data = secret.get("data")
    value = data.get(TLS_CA_KEY) if isinstance(data, Mapping) else None
    if not isinstance(value, str):
        return None
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        return None


def ca_from_certificate_secret(ref: SourceRef, secret: Mapping[str, Any]) -> CAData | Refusal:
    """``ca.crt`` of the Secret of Certificate ``ref``, if the Secret was written for that Certificate."""
    owner = owning_certificate(secret)
    if owner != str(ref):
        return Refusal(
            "refusing to target secret: cert-manager.io/certificate-name annotation does not match "
            f"(annotationValue={owner or '<nil>'}, expected={ref})"
        )
    ca = _ca_crt(secret)
    return Refusal("certificate has no CA data") if ca is None else CAData(ca)


def ca_from_secret(secret: Mapping[str, Any]) -> CAData | Refusal:
    """``ca.crt`` of a Secret named by ``inject-ca-from-secret``, if the Secret allows direct injection."""
    if annotations_of(secret).get(ALLOWS_INJECTION_FROM_SECRET_ANNOTATION) != "true":
        return Refusal("Secret resource does not allow direct injection - refusing to inject CA")
    ca = _ca_crt(secret)
    return Refusal("secret contains no CA data") if ca is None else CAData(ca)


def ca_from_api_server(bundle: bytes | None) -> CAData | Refusal:
    """The kubeconfig's CA, when there is one (a config trusting the system store has none to inject)."""
    if not bundle:
        return Refusal("could not find any ca data in data source for target")
    return CAData(bundle)


__all__ = [
    "INJECTABLE_ANNOTATIONS",
    "SOURCE_ORDER",
    "CAData",
    "Refusal",
    "Scope",
    "SourceKind",
    "SourceRef",
    "annotations_of",
    "ca_from_api_server",
    "ca_from_certificate_secret",
    "ca_from_secret",
    "certificate_secret_name",
    "configured_source",
    "has_injectable_annotation",
    "indexed_reference",
    "is_configured",
    "owning_certificate",
    "resolve_reference",
    "split_namespaced_name",
]
