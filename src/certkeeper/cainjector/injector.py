"""The cainjector: informers for the targets and their sources, one controller per target kind.

Follows cert-manager's ``pkg/controller/cainjector/setup.go`` (``RegisterAllInjectors``) and
``indexers.go``. Event wiring (what a change requeues)::

    target (enabled kinds)  -> itself, when it carries one of the three injection annotations
    Secret                  -> targets whose inject-ca-from-secret names it, and, with the Certificate
                               source enabled, targets whose inject-ca-from names the Certificate in its
                               cert-manager.io/certificate-name annotation (before and after an update)
    Certificate             -> targets whose inject-ca-from names it

Targets are indexed by the two reference annotations (``namespace/name`` as written; values without a
namespace are not indexed), so a source change finds its targets without a scan.

Secrets: given a ``secret_metadata_store`` (the Kubernetes backend's ``MetadataStore``), the Secret
informer caches metadata only (annotations kept, for the mapping above) and a reconcile GETs the source
Secret, as cert-manager's cainjector does; on a plain Store the informer caches Secrets whole and
reconciles read the cache. Certificates are cached whole; CRDs without their schemas.

With ``namespace`` set, Secrets and Certificates are watched in that namespace only (targets are
cluster-scoped); ignored namespaces are filtered when mapping events and refused when reconciling.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Final

from certkeeper.cainjector.gather import CachedSecrets, LiveSecrets, SecretLookup, SourceReader
from certkeeper.cainjector.reconciler import FIELD_MANAGER, TargetReconciler
from certkeeper.cainjector.sources import (
    Scope,
    SourceKind,
    has_injectable_annotation,
    indexed_reference,
    owning_certificate,
)
from certkeeper.cainjector.targets import ALL_TARGETS, TARGETS_BY_NAME, InjectTarget
from certkeeper.runtime.clock import Clock
from certkeeper.runtime.controller import Controller
from certkeeper.runtime.informer import Handler, Informer, object_key, strip_noise
from certkeeper.store.ports import RawObject, Store
from certkeeper.store.resources import CERTIFICATES, SECRETS

log = logging.getLogger(__name__)

#: Index of targets by their ``inject-ca-from`` value (cert-manager's ``injectFromPath``).
BY_INJECT_CA_FROM: Final = ".metadata.annotations.inject-ca-from"
#: Index of targets by their ``inject-ca-from-secret`` value (``injectFromSecretPath``).
BY_INJECT_CA_FROM_SECRET: Final = ".metadata.annotations.inject-ca-from-secret"

#: Every target kind's name, as ``--enable-<name>s-injectable`` flags and ``InjectorOptions.targets`` use.
TARGET_NAMES: Final = frozenset(TARGETS_BY_NAME)


@dataclass(frozen=True, slots=True, kw_only=True)
class InjectorOptions:
    """What the cainjector injects, from where, and how (cert-manager's cainjector flags)."""

    #: Read sources from this namespace only ("" for all): ``--namespace``.
    namespace: str = ""
    #: Never read sources from these namespaces: ``--ignore-namespaces``.
    ignore_namespaces: frozenset[str] = frozenset()
    #: Certificates as sources (``inject-ca-from``): ``--enable-certificates-data-source``.
    enable_certificates_data_source: bool = True
    #: Target kinds to inject into, by name: ``--enable-<kind>s-injectable``.
    targets: frozenset[str] = TARGET_NAMES
    #: Merge new CAs into existing bundles (the CAInjectorMerging gate) rather than replace them.
    merge: bool = True
    #: The API server's CA (from the cainjector's kubeconfig) for ``inject-apiserver-ca``; None: none known.
    apiserver_ca: bytes | None = field(default=None, repr=False)
    field_manager: str = FIELD_MANAGER
    #: Workers per target kind (controller-runtime's default MaxConcurrentReconciles is 1).
    workers: int = 1

    def __post_init__(self) -> None:
        unknown = self.targets - TARGET_NAMES
        if unknown:
            raise ValueError(f"unknown injectable kinds: {', '.join(sorted(unknown))}")
        if self.workers < 1:
            raise ValueError("workers must be at least 1")

    @property
    def sources(self) -> frozenset[SourceKind]:
        """The enabled source kinds (the Certificate source can be turned off)."""
        kinds = {SourceKind.SECRET, SourceKind.API_SERVER}
        if self.enable_certificates_data_source:
            kinds.add(SourceKind.CERTIFICATE)
        return frozenset(kinds)


def _keep_annotations_only(obj: RawObject) -> RawObject:
    """A metadata-only Secret as cached: labels and managedFields dropped, annotations kept for mapping."""
    meta = obj.get("metadata")
    if isinstance(meta, dict):
        meta.pop("labels", None)
    return strip_noise(obj)


def _compose(
    first: Callable[[RawObject], RawObject], second: Callable[[RawObject], RawObject]
) -> Callable[[RawObject], RawObject]:
    return lambda obj: second(first(obj))


class CAInjector:
    """Informers, indexes and one controller per enabled target kind, over one Store.

    ``start()`` runs everything (tests, single replica); with leader election, ``start_informers()``
    on every replica and ``start_controllers()`` on the leader. ``stop()`` shuts down gracefully.
    """

    def __init__(
        self,
        store: Store,
        *,
        clock: Clock,
        options: InjectorOptions | None = None,
        secret_metadata_store: Store | None = None,
    ) -> None:
        self.options = options or InjectorOptions()
        self.store = store
        self.clock = clock
        opts = self.options
        namespace = opts.namespace or None
        self.scope = Scope(namespace=opts.namespace, ignore_namespaces=opts.ignore_namespaces)
        if secret_metadata_store is not None:
            self.secrets = Informer(
                secret_metadata_store, SECRETS, clock=clock, namespace=namespace, transform=_keep_annotations_only
            )
            lookup: SecretLookup = LiveSecrets(store)
        else:
            # The plain Store protocol offers no metadata-only reads: Secrets are cached whole.
            self.secrets = Informer(store, SECRETS, clock=clock, namespace=namespace)
            lookup = CachedSecrets(self.secrets.cache)
        self.certificates = (
            Informer(store, CERTIFICATES, clock=clock, namespace=namespace)
            if opts.enable_certificates_data_source
            else None
        )
        self.reader = SourceReader(
            scope=self.scope,
            secrets=lookup,
            certificates=self.certificates.cache if self.certificates is not None else None,
            apiserver_ca=opts.apiserver_ca,
        )
        self.targets: dict[str, Informer] = {}
        self.reconcilers: dict[str, TargetReconciler] = {}
        self.controllers: dict[str, Controller[str]] = {}
        for target in ALL_TARGETS:
            if target.name in opts.targets:
                self._add_target(target)
            else:
                log.info("not registering a reconciler for injectable kind %s as it is disabled", target.name)
        self._wire_sources()
        self._informer_tasks: list[asyncio.Task[None]] = []
        self._controller_tasks: list[asyncio.Task[None]] = []

    # -- construction -----------------------------------------------------------------------------

    def _add_target(self, target: InjectTarget) -> None:
        informer = Informer(
            self.store,
            target.resource,
            clock=self.clock,
            indexers={
                BY_INJECT_CA_FROM: lambda obj: indexed_reference(obj, SourceKind.CERTIFICATE),
                BY_INJECT_CA_FROM_SECRET: lambda obj: indexed_reference(obj, SourceKind.SECRET),
            },
            transform=_compose(strip_noise, target.transform),
        )
        reconciler = TargetReconciler(
            target,
            cache=informer.cache,
            reader=self.reader,
            sources=self.options.sources,
            store=self.store,
            clock=self.clock,
            merge=self.options.merge,
            field_manager=self.options.field_manager,
        )
        controller: Controller[str] = Controller(
            target.name, reconciler, clock=self.clock, workers=self.options.workers, base_delay=0.005, max_delay=1000.0
        )

        def on_target(obj: RawObject) -> None:
            # Only objects that ask for injection (cert-manager's predicates on create and update).
            if has_injectable_annotation(obj):
                controller.queue.add(object_key(obj))

        informer.add_handler(Handler(on_add=on_target, on_update=lambda _, new: on_target(new)))
        self.targets[target.name] = informer
        self.reconcilers[target.name] = reconciler
        self.controllers[target.name] = controller

    def _enqueue_referrers(self, index: str, reference: str) -> None:
        for name, informer in self.targets.items():
            for obj in informer.cache.by_index(index, reference):
                self.controllers[name].queue.add(object_key(obj))

    def _wire_sources(self) -> None:
        certificates_enabled = self.certificates is not None

        def on_secret(obj: RawObject) -> None:
            self._enqueue_referrers(BY_INJECT_CA_FROM_SECRET, object_key(obj))
            if not certificates_enabled:
                return
            if obj.get("metadata", {}).get("namespace") in self.scope.ignore_namespaces:
                return
            owner = owning_certificate(obj)
            if owner is not None:
                self._enqueue_referrers(BY_INJECT_CA_FROM, owner)

        def on_secret_update(old: RawObject, new: RawObject) -> None:
            # As controller-runtime's map-func handler: both versions are mapped, so a target that the
            # old certificate-name annotation led to is reconciled too.
            if owning_certificate(old) != owning_certificate(new):
                on_secret(old)
            on_secret(new)

        self.secrets.add_handler(Handler(on_add=on_secret, on_update=on_secret_update, on_delete=on_secret))
        if self.certificates is not None:

            def on_certificate(obj: RawObject) -> None:
                self._enqueue_referrers(BY_INJECT_CA_FROM, object_key(obj))

            self.certificates.add_handler(
                Handler(on_add=on_certificate, on_update=lambda _, new: on_certificate(new), on_delete=on_certificate)
            )

    # -- lifecycle ---------------------------------------------------------------------------------

    @property
    def informers(self) -> list[Informer]:
        sources = [self.secrets] + ([self.certificates] if self.certificates is not None else [])
        return [*self.targets.values(), *sources]

    async def start_informers(self) -> None:
        """Start every informer and wait until each has listed once."""
        loop = asyncio.get_running_loop()
        for informer in self.informers:
            task = loop.create_task(informer.run(), name=f"cainjector-informer-{informer.resource}")
            self._informer_tasks.append(task)
        await asyncio.gather(*(informer.synced.wait() for informer in self.informers))

    def start_controllers(self) -> None:
        """Start the controllers (on the leader); targets already cached are queued by their handlers."""
        loop = asyncio.get_running_loop()
        for controller in self.controllers.values():
            task = loop.create_task(controller.run(), name=f"cainjector-controller-{controller.name}")
            self._controller_tasks.append(task)

    async def start(self) -> None:
        """Informers, then controllers."""
        await self.start_informers()
        self.start_controllers()

    async def stop_controllers(self) -> None:
        """Let every controller finish the key in hand, then stop it."""
        await asyncio.gather(*(controller.stop() for controller in self.controllers.values()))
        await _cancel(self._controller_tasks)

    async def stop(self) -> None:
        """Graceful shutdown: controllers finish the key in hand, then informers are cancelled."""
        await self.stop_controllers()
        await _cancel(self._informer_tasks)

    @property
    def controllers_running(self) -> bool:
        """Whether the controllers have been started and not stopped."""
        return any(not task.done() for task in self._controller_tasks)

    def idle(self) -> bool:
        """No controller has work queued or in hand (delayed requeues do not count)."""
        return all(len(c.queue) == 0 and c.busy == 0 for c in self.controllers.values())


async def _cancel(tasks: list[asyncio.Task[None]]) -> None:
    for task in tasks:
        task.cancel()
    for task in tasks:
        with contextlib.suppress(asyncio.CancelledError):
            await task
    tasks.clear()


__all__ = [
    "BY_INJECT_CA_FROM",
    "BY_INJECT_CA_FROM_SECRET",
    "TARGET_NAMES",
    "CAInjector",
    "InjectorOptions",
]
