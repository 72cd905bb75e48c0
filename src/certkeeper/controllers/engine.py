"""The engine: informers, typed caches and every controller, wired together over one Store.

The same engine runs on the embedded local store (``certkeeper local``) and on the Kubernetes API
(``certkeeper controller``); the composition root in ``cli`` picks the store, the clock and the issuer
backends. Event wiring (what a change requeues)::

    Certificate            -> every certificates-* controller, for that Certificate
    CertificateRequest     -> its owning Certificate (the certificates-* controllers but the key
                              manager), and itself (approver, signer)
    Secret                 -> Certificates whose spec.secretName it is (trigger, key manager, issuing,
                              readiness), its owning Certificate (next private keys: key manager,
                              request manager, issuing), Issuers/ClusterIssuers that read it
    Issuer / ClusterIssuer -> itself (setup) and every CertificateRequest naming it (signer)

Which certificates-* controller hears which source is what each of cert-manager's controllers
registers for (its ``Register`` functions); a controller not told of a change it does not read saves
a reconcile (about 10 of the ~60 per issued certificate).

Given ``secret_metadata_store`` (the kube backend's ``MetadataStore``), Secrets are watched by two
informers, as cert-manager's SecretsFilteredCaching does: those labelled ``controller.cert-manager.io/fao``
whole, every other one as metadata only; a reconcile that reads one of the latter gets it by a GET
(``SecretNotCached`` -> load -> run again), so memory does not grow with the cluster's unrelated Secrets.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Iterable
from typing import Final

from certkeeper.acme.solvers.base import Solver
from certkeeper.api.acme import Challenge, Order
from certkeeper.api.certmanager import Certificate, CertificateRequest, ClusterIssuer, Issuer
from certkeeper.api.core import Secret
from certkeeper.controllers.acmechallenges import MAX_CONCURRENT, ChallengeController, ChallengeScheduler
from certkeeper.controllers.acmeorders import OrderController
from certkeeper.controllers.certificaterequests import RequestControllers
from certkeeper.controllers.certificates import issuing, keymanager, readiness, requestmanager, revisionmanager, trigger
from certkeeper.controllers.context import (
    BY_ISSUER,
    BY_OWNER,
    BY_SECRET_NAME,
    BY_UID,
    Context,
    EngineOptions,
    TypedCache,
)
from certkeeper.controllers.issuers import IssuerControllers
from certkeeper.controllers.metrics import EngineCollector
from certkeeper.controllers.secretcache import SecretCache, compact_secret_metadata, loading_secrets_of
from certkeeper.issuers.acme import AccountRegistry
from certkeeper.issuers.base import IssuerBackend
from certkeeper.runtime.clock import Clock
from certkeeper.runtime.controller import Controller, Result
from certkeeper.runtime.events import EventRecorder
from certkeeper.runtime.informer import Handler, Informer, index_by_owner_uid, object_key, strip_noise
from certkeeper.runtime.outcome import Outcome, apply_outcome
from certkeeper.store.kube.metadata import OTHER_SECRETS, OWNED_SECRETS
from certkeeper.store.ports import LabelSelector, RawObject, ResourceType, Store, StoreError
from certkeeper.store.resources import (
    CERTIFICATE_REQUESTS,
    CERTIFICATES,
    CHALLENGES,
    CLUSTER_ISSUERS,
    ISSUERS,
    ORDERS,
    SECRETS,
)

log = logging.getLogger(__name__)


CERTIFICATE_CONTROLLERS: Final = (
    "certificates-trigger",
    "certificates-key-manager",
    "certificates-request-manager",
    "certificates-issuing",
    "certificates-readiness",
    "certificates-revision-manager",
)
#: The certificates-* controllers told of a change to a CertificateRequest their Certificate owns.
ON_OWNED_REQUEST: Final = (
    "certificates-trigger",
    "certificates-request-manager",
    "certificates-issuing",
    "certificates-readiness",
    "certificates-revision-manager",
)
#: ... of a change to the Secret named by their Certificate's ``spec.secretName``.
ON_SECRET_NAMED: Final = (
    "certificates-trigger",
    "certificates-key-manager",
    "certificates-issuing",
    "certificates-readiness",
)
#: ... of a change to a Secret their Certificate owns (the next private key's).
ON_OWNED_SECRET: Final = (
    "certificates-key-manager",
    "certificates-request-manager",
    "certificates-issuing",
)
ALL_CONTROLLERS: Final = frozenset(
    {
        *CERTIFICATE_CONTROLLERS,
        "certificaterequests-approver",
        "certificaterequests-issuer",
        "issuers",
        "clusterissuers",
        "orders",
        "challenges",
    }
)


def _certificate_secret_index(obj: RawObject) -> Iterable[str]:
    ns = obj.get("metadata", {}).get("namespace")
    name = obj.get("spec", {}).get("secretName")
    return [f"{ns}/{name}"] if ns and name else []


def _issuer_ref_index(obj: RawObject) -> Iterable[str]:
    ref = obj.get("spec", {}).get("issuerRef") or {}
    kind = ref.get("kind") or "Issuer"
    ns = obj.get("metadata", {}).get("namespace") or ""
    name = ref.get("name")
    if not name:
        return []
    return [f"ClusterIssuer//{name}"] if kind == "ClusterIssuer" else [f"Issuer/{ns}/{name}"]


def _issuer_secret_index(obj: RawObject) -> Iterable[str]:
    """Secrets an issuer reads (the CA issuer's secretName; ACME/Vault refs arrive with those issuers)."""
    spec = obj.get("spec", {})
    names = []
    ca = spec.get("ca")
    if isinstance(ca, dict) and ca.get("secretName"):
        names.append(ca["secretName"])
    return names


def _uid_index(obj: RawObject) -> Iterable[str]:
    uid = obj.get("metadata", {}).get("uid")
    return [str(uid)] if uid else []


def _controller_owner_uid(obj: RawObject) -> str | None:
    for ref in obj.get("metadata", {}).get("ownerReferences") or ():
        if ref.get("controller"):
            return str(ref.get("uid"))
    return None


class Engine:
    def __init__(
        self,
        store: Store,
        *,
        clock: Clock,
        options: EngineOptions | None = None,
        issuer_backends: dict[str, IssuerBackend] | None = None,
        namespace: str | None = None,
        component: str = "certkeeper",
        acme_accounts: AccountRegistry | None = None,
        solvers: dict[str, Solver] | None = None,
        max_concurrent_challenges: int = MAX_CONCURRENT,
        max_challenges_per_issuer: int | None = None,
        secret_metadata_store: Store | None = None,
    ) -> None:
        self.options = options or EngineOptions()
        self.clock = clock
        self.store = store
        self._namespace = namespace
        informer = self._informer
        self.certificates = informer(CERTIFICATES, {BY_SECRET_NAME: _certificate_secret_index, BY_UID: _uid_index})
        self.requests = informer(
            CERTIFICATE_REQUESTS, {BY_OWNER: index_by_owner_uid, BY_ISSUER: _issuer_ref_index, BY_UID: _uid_index}
        )
        filtered = secret_metadata_store is not None
        self.secrets = informer(
            SECRETS,
            {BY_OWNER: index_by_owner_uid},
            keep_managed_fields=True,
            label_selector=OWNED_SECRETS if filtered else None,
        )
        self.secret_metadata = (
            Informer(
                secret_metadata_store,
                SECRETS,
                clock=clock,
                namespace=namespace,
                label_selector=OTHER_SECRETS,
                indexers={BY_OWNER: index_by_owner_uid},
                transform=compact_secret_metadata,
            )
            if secret_metadata_store is not None
            else None
        )
        self.secret_cache = SecretCache(TypedCache(self.secrets, Secret), self.secret_metadata)
        self.issuers = informer(ISSUERS, {"secret": _issuer_secret_index})
        self.cluster_issuers = (
            Informer(store, CLUSTER_ISSUERS, clock=clock, indexers={"secret": _issuer_secret_index})
            if namespace is None
            else None
        )
        self.orders = informer(ORDERS, {BY_OWNER: index_by_owner_uid, BY_UID: _uid_index})
        self.challenges = informer(CHALLENGES, {BY_OWNER: index_by_owner_uid})
        self.ctx = Context(
            store=store,
            clock=clock,
            options=self.options,
            recorder=EventRecorder(store, clock=clock, component=component),
            certificates=TypedCache(self.certificates, Certificate),
            requests=TypedCache(self.requests, CertificateRequest),
            secrets=self.secret_cache,
            issuers=TypedCache(self.issuers, Issuer),
            cluster_issuers=TypedCache(self.cluster_issuers, ClusterIssuer) if self.cluster_issuers else None,
            issuer_backends=dict(issuer_backends or {}),
            orders=TypedCache(self.orders, Order),
            challenges=TypedCache(self.challenges, Challenge),
            acme_accounts=acme_accounts,
            solvers=dict(solvers or {}),
        )
        enabled = self.options.controllers if self.options.controllers is not None else ALL_CONTROLLERS
        self.controllers: dict[str, Controller[str]] = {}
        certificate_steps: dict[str, Callable[[Certificate], Awaitable[Outcome]]] = {
            "certificates-trigger": self._sync(trigger.decide),
            "certificates-key-manager": lambda cert: keymanager.decide(cert, self.ctx),
            "certificates-request-manager": lambda cert: requestmanager.decide(cert, self.ctx),
            "certificates-issuing": self._sync(issuing.decide),
            "certificates-readiness": lambda cert: readiness.decide(cert, self.ctx),
            "certificates-revision-manager": self._sync(revisionmanager.decide),
        }
        for name, step in certificate_steps.items():
            if name in enabled:
                self._add(name, self._certificate_reconciler(step), base_delay=1.0, max_delay=30.0)
        requests = RequestControllers(self.ctx)
        if "certificaterequests-approver" in enabled:
            self._add("certificaterequests-approver", requests.approve, base_delay=5.0, max_delay=300.0)
        if "certificaterequests-issuer" in enabled:
            self._add("certificaterequests-issuer", requests.sign, base_delay=5.0, max_delay=300.0)
        issuers = IssuerControllers(self.ctx)
        if "issuers" in enabled:
            self._add("issuers", issuers.issuer, base_delay=5.0, max_delay=300.0)
        if "clusterissuers" in enabled and self.cluster_issuers is not None:
            self._add("clusterissuers", issuers.cluster_issuer, base_delay=5.0, max_delay=300.0)
        if "orders" in enabled:
            self._add("orders", OrderController(self.ctx).reconcile, base_delay=5.0, max_delay=1800.0)
        self.scheduler: ChallengeScheduler | None = None
        if "challenges" in enabled:
            self._add("challenges", ChallengeController(self.ctx).reconcile, base_delay=5.0, max_delay=1800.0)
            self.scheduler = ChallengeScheduler(
                self.ctx, max_concurrent=max_concurrent_challenges, max_per_issuer=max_challenges_per_issuer
            )
        self._wire()
        self._tasks: list[asyncio.Task[None]] = []

    # -- construction -----------------------------------------------------------------------------

    def _informer(
        self,
        resource: ResourceType,
        indexers: dict[str, Callable[[RawObject], Iterable[str]]],
        *,
        keep_managed_fields: bool = False,
        label_selector: LabelSelector | None = None,
    ) -> Informer:
        # Secrets keep managedFields: the post-issuance checks read what the issuing controller applied.
        transform = (lambda obj: obj) if keep_managed_fields else strip_noise
        return Informer(
            self.store,
            resource,
            clock=self.clock,
            namespace=self._namespace,
            label_selector=label_selector,
            indexers=indexers,
            transform=transform,
        )

    def _add(
        self, name: str, reconcile: Callable[[str], Awaitable[Result | None]], *, base_delay: float, max_delay: float
    ) -> None:
        self.controllers[name] = Controller(
            name,
            loading_secrets_of(reconcile, self.store) if self.secret_metadata is not None else reconcile,
            clock=self.clock,
            workers=self.options.workers,
            base_delay=base_delay,
            max_delay=max_delay,
        )

    def _sync(self, decide: Callable[[Certificate, Context], Outcome]) -> Callable[[Certificate], Awaitable[Outcome]]:
        async def step(cert: Certificate) -> Outcome:
            return decide(cert, self.ctx)

        return step

    def _certificate_reconciler(
        self, step: Callable[[Certificate], Awaitable[Outcome]]
    ) -> Callable[[str], Awaitable[Result | None]]:
        async def reconcile(key: str) -> Result | None:
            cert = self.ctx.certificate(key)
            if cert is None or cert.metadata.deletion_timestamp is not None:
                return None
            outcome = await step(cert)
            if not outcome.is_noop:
                raw = self.certificates.cache.get(key)
                assert raw is not None
                await apply_outcome(self.store, CERTIFICATES, raw, outcome, self.ctx.recorder)
            return Result(requeue_after=outcome.requeue_after)

        return reconcile

    # -- event wiring ------------------------------------------------------------------------------

    def _enqueue(self, names: Iterable[str], key: str) -> None:
        for name in names:
            controller = self.controllers.get(name)
            if controller is not None:
                controller.queue.add(key)

    def _enqueue_certificate(self, key: str) -> None:
        self._enqueue(CERTIFICATE_CONTROLLERS, key)

    def _wire(self) -> None:
        def on_certificate(obj: RawObject) -> None:
            self._enqueue_certificate(object_key(obj))

        self.certificates.add_handler(
            Handler(on_add=on_certificate, on_update=lambda _, new: on_certificate(new), on_delete=on_certificate)
        )

        def on_request(obj: RawObject) -> None:
            key = object_key(obj)
            self._enqueue(("certificaterequests-approver", "certificaterequests-issuer"), key)
            self._enqueue_owner_certificate(obj, ON_OWNED_REQUEST)

        def on_request_gone(obj: RawObject) -> None:
            self._enqueue_owner_certificate(obj, ON_OWNED_REQUEST)

        self.requests.add_handler(
            Handler(on_add=on_request, on_update=lambda _, new: on_request(new), on_delete=on_request_gone)
        )

        def on_secret(obj: RawObject) -> None:
            meta = obj.get("metadata", {})
            ns, name = meta.get("namespace", ""), meta.get("name", "")
            for raw in self.certificates.cache.by_index(BY_SECRET_NAME, f"{ns}/{name}"):
                self._enqueue(ON_SECRET_NAMED, object_key(raw))
            self._enqueue_owner_certificate(obj, ON_OWNED_SECRET)
            for raw in self.issuers.cache.by_index("secret", name):
                if raw.get("metadata", {}).get("namespace") == ns:
                    self._enqueue(("issuers",), object_key(raw))
            if self.cluster_issuers is not None and ns == self.options.cluster_resource_namespace:
                for raw in self.cluster_issuers.cache.by_index("secret", name):
                    self._enqueue(("clusterissuers",), object_key(raw))

        def present(obj: RawObject) -> None:
            self.secret_cache.note_present(object_key(obj))
            on_secret(obj)

        def gone(obj: RawObject) -> None:
            self.secret_cache.note_gone(object_key(obj))
            on_secret(obj)

        for secrets in (self.secrets, self.secret_metadata):
            if secrets is not None:
                secrets.add_handler(Handler(on_add=present, on_update=lambda _, new: present(new), on_delete=gone))

        def on_issuer(kind: str) -> Callable[[RawObject], None]:
            def handle(obj: RawObject) -> None:
                key = object_key(obj)
                self._enqueue(("issuers" if kind == "Issuer" else "clusterissuers",), key)
                meta = obj.get("metadata", {})
                name = meta.get("name")
                index = f"Issuer/{meta.get('namespace')}/{name}" if kind == "Issuer" else f"ClusterIssuer//{name}"
                for raw in self.requests.cache.by_index(BY_ISSUER, index):
                    self._enqueue(("certificaterequests-issuer",), object_key(raw))

            return handle

        self._wire_acme()
        issuer_handler = on_issuer("Issuer")
        self.issuers.add_handler(Handler(on_add=issuer_handler, on_update=lambda _, new: issuer_handler(new)))
        if self.cluster_issuers is not None:
            cluster_handler = on_issuer("ClusterIssuer")
            self.cluster_issuers.add_handler(
                Handler(on_add=cluster_handler, on_update=lambda _, new: cluster_handler(new))
            )

    def _wire_acme(self) -> None:
        def on_order(obj: RawObject) -> None:
            self._enqueue(("orders",), object_key(obj))
            for raw in self._owners(self.requests, obj):
                self._enqueue(("certificaterequests-issuer",), object_key(raw))

        def on_challenge(obj: RawObject) -> None:
            self._enqueue(("challenges",), object_key(obj))
            for raw in self._owners(self.orders, obj):
                self._enqueue(("orders",), object_key(raw))

        self.orders.add_handler(Handler(on_add=on_order, on_update=lambda _, new: on_order(new), on_delete=on_order))
        self.challenges.add_handler(
            Handler(on_add=on_challenge, on_update=lambda _, new: on_challenge(new), on_delete=on_challenge)
        )

    @staticmethod
    def _owners(informer: Informer, obj: RawObject) -> list[RawObject]:
        """The cached controller owner of ``obj`` in ``informer`` (by uid, same namespace), if any."""
        uid = _controller_owner_uid(obj)
        if uid is None:
            return []
        ns = obj.get("metadata", {}).get("namespace")
        return [raw for raw in informer.cache.by_index(BY_UID, uid) if raw.get("metadata", {}).get("namespace") == ns]

    def _enqueue_owner_certificate(self, obj: RawObject, controllers: Iterable[str]) -> None:
        for raw in self._owners(self.certificates, obj):
            self._enqueue(controllers, object_key(raw))

    # -- lifecycle ---------------------------------------------------------------------------------

    @property
    def informers(self) -> list[Informer]:
        found = [self.certificates, self.requests, self.secrets, self.issuers, self.orders, self.challenges]
        if self.secret_metadata is not None:
            found.append(self.secret_metadata)
        return found + ([self.cluster_issuers] if self.cluster_issuers is not None else [])

    async def start(self) -> None:
        """Start informers, wait until they have listed, then start the controllers."""
        loop = asyncio.get_running_loop()
        for informer in self.informers:
            self._tasks.append(loop.create_task(informer.run(), name=f"informer-{informer.resource}"))
        await asyncio.gather(*(informer.synced.wait() for informer in self.informers))
        for controller in self.controllers.values():
            self._tasks.append(loop.create_task(controller.run(), name=f"controller-{controller.name}"))
        if self.scheduler is not None:
            self._tasks.append(loop.create_task(self._run_scheduler(), name="challenge-scheduler"))

    async def _run_scheduler(self) -> None:
        """cert-manager's challenge scheduler: one pass every second."""
        assert self.scheduler is not None
        while True:
            try:
                await self.scheduler.run_once()
            except StoreError as exc:
                # The API server's message names what was refused (RBAC); it carries no key material.
                log.warning("challenge scheduler: %s: %s", type(exc).__name__, exc)
            await self.clock.sleep(1.0)

    async def stop(self, *, drain: bool = False) -> None:
        """Graceful shutdown: controllers finish the item in hand (``drain``: everything queued), then informers
        are cancelled. Queued work is not lost: a new start lists every object and reconciles it again."""
        await asyncio.gather(*(controller.stop(drain=drain) for controller in self.controllers.values()))
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks.clear()

    def collector(self) -> EngineCollector:
        """Prometheus collector over this engine's caches and controllers (register it on a registry)."""
        return EngineCollector(
            certificates=self.certificates.cache.items,
            issuers=self.issuers.cache.items,
            cluster_issuers=self.cluster_issuers.cache.items if self.cluster_issuers is not None else list,
            controllers=self.controllers.values,
            now=self.clock.now,
        )

    def idle(self) -> bool:
        """No controller has work queued or in hand right now (delayed requeues do not count)."""
        return all(len(c.queue) == 0 and c.busy == 0 for c in self.controllers.values())


__all__ = [
    "ALL_CONTROLLERS",
    "CERTIFICATE_CONTROLLERS",
    "ON_OWNED_REQUEST",
    "ON_OWNED_SECRET",
    "ON_SECRET_NAMED",
    "Engine",
    "EngineOptions",
]
