"""What every controller shares: the store, the clock, the informer caches (with typed views of
their raw objects), the issuer registry, options and feature gates.

Typed views decode a cached raw object into its api model once per resourceVersion, so a reconcile
works on typed objects without each controller paying the decode again.

``secrets`` is a ``SecretCache`` (``secretcache.py``): on the Kubernetes API most Secrets are cached as
metadata only and loaded while a reconcile needs them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import TYPE_CHECKING, Final, TypeVar

import msgspec

from certkeeper.acme.solvers.base import Solver
from certkeeper.api.acme import Challenge, Order
from certkeeper.api.certmanager import Certificate, CertificateRequest, ClusterIssuer, Issuer
from certkeeper.api.cmmeta import IssuerReference
from certkeeper.api.constants import CLUSTER_ISSUER_KIND
from certkeeper.api.core import Secret
from certkeeper.api.defaults import issuer_group, issuer_kind
from certkeeper.api.features import DEFAULT_GATES, FeatureGates
from certkeeper.api.meta import Resource
from certkeeper.issuers.acme import AccountRegistry
from certkeeper.issuers.base import GenericIssuer, IssuerBackend
from certkeeper.pki.pem import DEFAULT_PEM_LIMITS, PemLimits
from certkeeper.runtime.clock import Clock
from certkeeper.runtime.events import EventRecorder
from certkeeper.runtime.informer import Informer, object_key
from certkeeper.store.ports import RawObject, Store

if TYPE_CHECKING:
    from certkeeper.controllers.secretcache import SecretCache

R = TypeVar("R", bound=Resource)

#: Annotations on a Certificate that are not copied to its CertificateRequests (cert-manager's default
#: ``--copied-annotation-prefixes``: everything except these).
DEFAULT_COPIED_ANNOTATION_PREFIXES: Final = ("*", "-kubectl.kubernetes.io/", "-fluxcd.io/", "-argocd.argoproj.io/")

#: Index names on the informer caches.
BY_OWNER: Final = "owner-uid"
BY_SECRET_NAME: Final = "certificate-secret-name"
BY_ISSUER: Final = "issuer-ref"
BY_UID: Final = "uid"


@dataclass(frozen=True, slots=True, kw_only=True)
class EngineOptions:
    #: Where ClusterIssuers read their Secrets (cert-manager's --cluster-resource-namespace).
    cluster_resource_namespace: str = "kube-system"
    feature_gates: FeatureGates = DEFAULT_GATES
    workers: int = 5
    pem_limits: PemLimits = DEFAULT_PEM_LIMITS
    #: cert-manager's --certificate-request-minimum/maximum-backoff-duration.
    min_backoff: timedelta = timedelta(hours=1)
    max_backoff: timedelta = timedelta(hours=32)
    copied_annotation_prefixes: tuple[str, ...] = DEFAULT_COPIED_ANNOTATION_PREFIXES
    #: Put an ownerReference to the Certificate on its Secret (--enable-certificate-owner-ref).
    enable_certificate_owner_ref: bool = False
    #: Controllers to run; None runs every controller (--controllers=*).
    controllers: frozenset[str] | None = None
    #: Issuer types whose CertificateRequests are signed (cert-manager's certificaterequests-issuer-<type>
    #: controllers); None signs for every registered issuer backend.
    signers: frozenset[str] | None = None


class TypedCache:
    """Decodes an informer's raw objects into one model type, caching by resourceVersion."""

    def __init__(self, informer: Informer, model: type[R]) -> None:
        self.informer = informer
        self._model: type[Resource] = model
        self._decoded: dict[str, tuple[str, Resource]] = {}

    def _decode(self, raw: RawObject) -> Resource | None:
        key = object_key(raw)
        rv = str(raw.get("metadata", {}).get("resourceVersion", ""))
        hit = self._decoded.get(key)
        if hit is not None and hit[0] == rv and rv:
            return hit[1]
        try:
            obj = msgspec.convert(raw, self._model)
        except msgspec.ValidationError:
            return None
        self._decoded[key] = (rv, obj)
        if len(self._decoded) > 2 * len(self.informer.cache) + 64:
            live = set(self.informer.cache.keys())
            self._decoded = {k: v for k, v in self._decoded.items() if k in live}
        return obj

    def get_raw(self, key: str) -> RawObject | None:
        return self.informer.cache.get(key)

    def get(self, key: str) -> Resource | None:
        raw = self.informer.cache.get(key)
        return None if raw is None else self._decode(raw)

    def by_index(self, index: str, value: str) -> list[Resource]:
        out = []
        for raw in self.informer.cache.by_index(index, value):
            obj = self._decode(raw)
            if obj is not None:
                out.append(obj)
        return out

    def all(self) -> list[Resource]:
        out = []
        for raw in self.informer.cache.items():
            obj = self._decode(raw)
            if obj is not None:
                out.append(obj)
        return out


def _typed(cache: TypedCache | SecretCache | None, model: type[R], obj: Resource | None) -> R | None:
    return obj if isinstance(obj, model) else None


@dataclass(kw_only=True)
class Context:
    store: Store
    clock: Clock
    options: EngineOptions
    recorder: EventRecorder
    certificates: TypedCache
    requests: TypedCache
    secrets: SecretCache
    issuers: TypedCache
    cluster_issuers: TypedCache | None
    issuer_backends: dict[str, IssuerBackend] = field(default_factory=dict)
    orders: TypedCache | None = None
    challenges: TypedCache | None = None
    #: ACME clients by issuer (filled by the ACME issuer's set-up), when the ACME issuer runs.
    acme_accounts: AccountRegistry | None = None
    #: Challenge solvers by Challenge type ("HTTP-01", "DNS-01").
    solvers: dict[str, Solver] = field(default_factory=dict)
    #: Runs CPU-heavy work (key generation) off the event loop; asyncio.to_thread by default.
    run_blocking: Callable[..., object] | None = None

    # -- typed lookups --------------------------------------------------------------------------

    def certificate(self, key: str) -> Certificate | None:
        return _typed(self.certificates, Certificate, self.certificates.get(key))

    def request(self, key: str) -> CertificateRequest | None:
        return _typed(self.requests, CertificateRequest, self.requests.get(key))

    def order(self, key: str) -> Order | None:
        return _typed(self.orders, Order, self.orders.get(key)) if self.orders is not None else None

    def challenge(self, key: str) -> Challenge | None:
        return _typed(self.challenges, Challenge, self.challenges.get(key)) if self.challenges is not None else None

    def challenges_owned_by(self, owner_uid: str) -> list[Challenge]:
        if self.challenges is None:
            return []
        return [c for c in self.challenges.by_index(BY_OWNER, owner_uid) if isinstance(c, Challenge)]

    def secret(self, namespace: str, name: str) -> Secret | None:
        return _typed(self.secrets, Secret, self.secrets.get(f"{namespace}/{name}"))

    def get_secret(self, namespace: str, name: str) -> Secret | None:
        """The issuers' SecretReader."""
        return self.secret(namespace, name)

    def requests_owned_by(self, owner_uid: str) -> list[CertificateRequest]:
        return [r for r in self.requests.by_index(BY_OWNER, owner_uid) if isinstance(r, CertificateRequest)]

    def secrets_owned_by(self, owner_uid: str) -> list[Secret]:
        return [s for s in self.secrets.by_index(BY_OWNER, owner_uid) if isinstance(s, Secret)]

    def certificates_for_secret(self, namespace: str, secret_name: str) -> list[Certificate]:
        found = self.certificates.by_index(BY_SECRET_NAME, f"{namespace}/{secret_name}")
        return [c for c in found if isinstance(c, Certificate)]

    def issuer_for(self, ref: IssuerReference, namespace: str) -> GenericIssuer | None:
        """The Issuer or ClusterIssuer a reference names (None if absent or of another API group)."""
        if issuer_kind(ref) == CLUSTER_ISSUER_KIND:
            if self.cluster_issuers is None:
                return None
            return _typed(self.cluster_issuers, ClusterIssuer, self.cluster_issuers.get(ref.name))
        return _typed(self.issuers, Issuer, self.issuers.get(f"{namespace}/{ref.name}"))

    def resource_namespace(self, issuer: GenericIssuer) -> str:
        """Where an issuer's Secrets live (cert-manager's IssuerOptions.ResourceNamespace)."""
        if isinstance(issuer, ClusterIssuer):
            return self.options.cluster_resource_namespace
        return issuer.namespace


def is_in_tree_group(ref: IssuerReference) -> bool:
    """Requests for issuers of other API groups belong to external issuers and are left alone."""
    return issuer_group(ref) == "cert-manager.io"
