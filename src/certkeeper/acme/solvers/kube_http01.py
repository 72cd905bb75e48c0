"""The HTTP-01 solver on Kubernetes: a solver Pod, its Service, and an Ingress or HTTPRoute per Challenge.

Follows ``pkg/issuer/acme/http/http.go`` (Present/Check/CleanUp) with ``pod.go``, ``service.go``,
``ingress.go`` and ``httproute.go``; the objects themselves are built by the pure modules
``kube_http01_objects`` and ``kube_http01_routes``::

    present   Pod      exactly one owned by the Challenge, else create (several: delete all, retry)
              Service  the same, and its name is the route's backend
              Ingress  http01.ingress.name set: add the challenge path to that Ingress (update)
                       else exactly one owned Ingress pointing at the Service, else create
                       (several, or one pointing at another Service: delete them, retry)
      or      HTTPRoute (gateway API enabled) one owned route, re-created when its spec or labels drifted
    check     present again (pods get evicted, nodes drained), then the HTTP-01 self check
    cleanup   delete the owned Pods, Services, Ingresses and HTTPRoutes (or take the path out of the
              named Ingress)

Objects are found by the identity labels and kept only when the Challenge is their controller owner.
Lookups go straight to the Store (a label-selected list per call; solver objects are few and short
lived), so the solver needs no informers of its own.

Differences from cert-manager, each because certkeeper has no garbage collector to lean on or
because it avoids leaving debris:

* cleanup deletes the solver's HTTPRoutes too (cert-manager leaves them to ownerReference GC, which
  needs kube-controller-manager);
* a drifted HTTPRoute is deleted and re-created rather than updated (the controller's RBAC has no
  update on httproutes), and routes are only ever deleted when the Challenge controls them;
* a solver config that cannot be presented (neither ``ingress`` nor ``gatewayHTTPRoute``, or a
  gateway solver with the Gateway API disabled) fails before any object is created.

Store failures become ``SolverError``s whose message is the API server's, so they surface on the
Challenge as cert-manager's do.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Final, Protocol

from certkeeper.acme.solvers.base import CheckResult, SolverConfigError, SolverContext, SolverError
from certkeeper.acme.solvers.http01_check import HTTP01SelfCheck, NameserverResolver, SelfCheckFailed
from certkeeper.acme.solvers.kube_http01_objects import (
    DEFAULT_SOLVER_COMMAND,
    SolverPodOptions,
    build_pod,
    build_service,
    is_controlled_by,
    solver_labels,
)
from certkeeper.acme.solvers.kube_http01_routes import (
    add_challenge_path,
    build_http_route,
    build_ingress,
    gateway_config,
    http_route_drifted,
    ingress_config,
    ingress_config_or_none,
    ingress_service_name,
    remove_challenge_path,
)
from certkeeper.api.acme import Challenge
from certkeeper.api.features import DEFAULT_GATES, FeatureGates
from certkeeper.store.ports import LabelSelector, NotFound, RawObject, ResourceType, Store, StoreError

log = logging.getLogger(__name__)

PODS: Final = ResourceType(group="", version="v1", kind="Pod", plural="pods")
SERVICES: Final = ResourceType(group="", version="v1", kind="Service", plural="services")
INGRESSES: Final = ResourceType(group="networking.k8s.io", version="v1", kind="Ingress", plural="ingresses")
HTTP_ROUTES: Final = ResourceType(
    group="gateway.networking.k8s.io", version="v1", kind="HTTPRoute", plural="httproutes"
)
#: Every kind the solver creates, in the order cleanup removes them.
SOLVER_RESOURCES: Final = (PODS, SERVICES, INGRESSES, HTTP_ROUTES)


class SelfCheck(Protocol):
    """Fetches the challenge URL as the CA will (``HTTP01SelfCheck``); raises SelfCheckFailed."""

    async def run(self, domain: str, token: str, key: str) -> None: ...


def aggregate(errors: Sequence[BaseException]) -> SolverError:
    """One error for several, formatted as Go's ``utilerrors.NewAggregate`` (``[a, b]``)."""
    if len(errors) == 1:
        return errors[0] if isinstance(errors[0], SolverError) else SolverError(str(errors[0]))
    return SolverError("[" + ", ".join(str(e) for e in errors) + "]")


def _name(obj: RawObject) -> str:
    return str((obj.get("metadata") or {}).get("name", ""))


class KubeHTTP01Solver:
    """Presents HTTP-01 challenges with a solver Pod, a Service and an Ingress or HTTPRoute in the Store."""

    def __init__(
        self,
        store: Store,
        options: SolverPodOptions,
        *,
        self_check: SelfCheck | None = None,
        gateway_api_enabled: bool = False,
    ) -> None:
        self.store = store
        self.options = options
        self.self_check: SelfCheck = self_check or HTTP01SelfCheck()
        self.gateway_api_enabled = gateway_api_enabled

    # -- the Solver protocol ------------------------------------------------------------------------

    async def present(self, challenge: Challenge, ctx: SolverContext) -> None:
        """Create what is missing so the challenge path reaches a solver Pod; idempotent."""
        self._check_presentable(challenge)
        errors: list[SolverError] = []
        try:
            await self._ensure_pod(challenge)
        except SolverError as exc:
            errors.append(exc)
        try:
            service = await self._ensure_service(challenge)
            if ingress_config_or_none(challenge) is not None:
                await self._ensure_ingress(challenge, service)
            else:
                await self._ensure_http_route(challenge, service)
        except SolverError as exc:
            errors.append(exc)
        if errors:
            raise aggregate(errors)

    async def check(self, challenge: Challenge, ctx: SolverContext) -> CheckResult:
        """Present again (idempotent, as cert-manager's Check does), then run the self check."""
        try:
            await self.present(challenge, ctx)
            await self.self_check.run(challenge.spec.dns_name, challenge.spec.token, challenge.spec.key)
        except (SolverError, SelfCheckFailed) as exc:
            return CheckResult(ready=False, reason=str(exc))
        return CheckResult(ready=True)

    async def cleanup(self, challenge: Challenge, ctx: SolverContext) -> None:
        """Delete the Challenge's solver objects (or take its path out of the named Ingress); idempotent."""
        errors: list[SolverError] = []
        for resource in (PODS, SERVICES):
            try:
                await self._delete_owned(resource, challenge)
            except SolverError as exc:
                errors.append(exc)
        try:
            await self._cleanup_ingress(challenge)
        except SolverError as exc:
            errors.append(exc)
        if gateway_config(challenge) is not None and self.gateway_api_enabled:
            try:
                await self._delete_owned(HTTP_ROUTES, challenge)
            except SolverError as exc:
                errors.append(exc)
        if errors:
            raise aggregate(errors)

    # -- present ------------------------------------------------------------------------------------

    def _check_presentable(self, challenge: Challenge) -> None:
        where = f"{challenge.namespace}/{challenge.name}"
        if challenge.spec.type != "HTTP-01":
            raise SolverConfigError(f"challenge of type {challenge.spec.type} cannot be solved over HTTP-01")
        if ingress_config_or_none(challenge) is not None:
            return
        if gateway_config(challenge) is None:
            raise SolverConfigError(
                f"couldn't Present challenge {where}: no Ingress nor Gateway HTTP01 solvers were specified"
            )
        if not self.gateway_api_enabled:
            raise SolverConfigError(f"couldn't Present challenge {where}: gateway api is not enabled")

    async def _ensure_pod(self, challenge: Challenge) -> None:
        pods = await self._owned(PODS, challenge)
        if len(pods) == 1:
            return
        if pods:
            await self._delete_all(PODS, pods)
            raise SolverError("multiple existing challenge solver pods found and cleaned up. retrying challenge sync")
        created = await self._create(PODS, build_pod(challenge, self.options))
        log.info("created HTTP-01 solver pod %s/%s for %s", challenge.namespace, _name(created), challenge.name)

    async def _ensure_service(self, challenge: Challenge) -> str:
        services = await self._owned(SERVICES, challenge)
        if len(services) == 1:
            return _name(services[0])
        if services:
            await self._delete_all(SERVICES, services)
            raise SolverError(
                "multiple existing challenge solver services found and cleaned up. retrying challenge sync"
            )
        created = await self._create(SERVICES, build_service(challenge, self.options))
        log.info("created HTTP-01 solver service %s/%s for %s", challenge.namespace, _name(created), challenge.name)
        return _name(created)

    async def _ensure_ingress(self, challenge: Challenge, service: str) -> None:
        config = ingress_config(challenge)
        if config.name:
            await self._add_path(challenge, config.name, service)
            return
        ingresses = await self._owned(INGRESSES, challenge)
        if len(ingresses) == 1 and ingress_service_name(ingresses[0]) == service:
            return
        if len(ingresses) == 1:
            await self._delete_all(INGRESSES, ingresses)
            raise SolverError(
                "service name changed, existing challenge solver ingresses found and cleaned up. "
                "retrying challenge sync"
            )
        if ingresses:
            await self._delete_all(INGRESSES, ingresses)
            raise SolverError(
                "multiple existing challenge solver ingresses found and cleaned up. retrying challenge sync"
            )
        created = await self._create(INGRESSES, build_ingress(challenge, service, self.options))
        log.info("created HTTP-01 solver ingress %s/%s for %s", challenge.namespace, _name(created), challenge.name)

    async def _add_path(self, challenge: Challenge, name: str, service: str) -> None:
        ingress = await self._get(INGRESSES, name, challenge.namespace)
        updated = add_challenge_path(ingress, challenge, service, exact=self.options.path_type_exact)
        if updated is not None:
            await self._update(INGRESSES, updated)
            log.info(
                "added the HTTP-01 challenge path for %s to ingress %s/%s", challenge.name, challenge.namespace, name
            )

    async def _ensure_http_route(self, challenge: Challenge, service: str) -> None:
        routes = await self._owned(HTTP_ROUTES, challenge)
        if len(routes) > 1:
            await self._delete_all(HTTP_ROUTES, routes[1:])
            raise SolverError("multiple HTTPRoutes found")
        if routes and not http_route_drifted(routes[0], challenge, service, self.options):
            return
        if routes:
            log.info("HTTPRoute %s/%s is out of date, re-creating it", challenge.namespace, _name(routes[0]))
            await self._delete_all(HTTP_ROUTES, routes)
        created = await self._create(HTTP_ROUTES, build_http_route(challenge, service, self.options))
        log.info("created HTTP-01 solver httproute %s/%s for %s", challenge.namespace, _name(created), challenge.name)

    # -- cleanup ------------------------------------------------------------------------------------

    async def _cleanup_ingress(self, challenge: Challenge) -> None:
        config = ingress_config_or_none(challenge)
        if config is None:
            return
        if not config.name:
            await self._delete_owned(INGRESSES, challenge)
            return
        try:
            ingress = await self.store.get(INGRESSES, config.name, namespace=challenge.namespace)
        except NotFound:
            log.info("ingress %s/%s not found, skipping cleanup", challenge.namespace, config.name)
            return
        except StoreError as exc:
            raise SolverError(str(exc)) from exc
        updated = remove_challenge_path(ingress, challenge)
        if updated is not None:
            await self._update(INGRESSES, updated)

    async def _delete_owned(self, resource: ResourceType, challenge: Challenge) -> None:
        await self._delete_all(resource, await self._owned(resource, challenge, missing_kind_ok=True))

    # -- store access -------------------------------------------------------------------------------

    async def _owned(
        self, resource: ResourceType, challenge: Challenge, *, missing_kind_ok: bool = False
    ) -> list[RawObject]:
        """The objects of ``resource`` with the Challenge's identity labels that the Challenge controls."""
        selector = LabelSelector(match_labels=solver_labels(challenge))
        try:
            listed = await self.store.list(resource, namespace=challenge.namespace, label_selector=selector)
        except NotFound as exc:
            # The kind is not served (no Gateway API CRDs): nothing of it can be left to clean up.
            if missing_kind_ok:
                return []
            raise SolverError(str(exc)) from exc
        except StoreError as exc:
            raise SolverError(str(exc)) from exc
        owned = [obj for obj in listed.items if is_controlled_by(obj, challenge)]
        if len(owned) != len(listed.items):
            log.info(
                "ignoring %d %s with the labels of challenge %s/%s that it does not own",
                len(listed.items) - len(owned),
                resource,
                challenge.namespace,
                challenge.name,
            )
        return owned

    async def _delete_all(self, resource: ResourceType, objects: Sequence[RawObject]) -> None:
        errors: list[BaseException] = []
        for obj in objects:
            meta = obj.get("metadata") or {}
            try:
                await self.store.delete(resource, meta["name"], namespace=meta.get("namespace"), uid=meta.get("uid"))
            except NotFound:
                continue
            except StoreError as exc:
                errors.append(SolverError(f"error deleting {resource.kind.lower()}: {exc}"))
        if errors:
            raise aggregate(errors)

    async def _create(self, resource: ResourceType, obj: RawObject) -> RawObject:
        try:
            return await self.store.create(resource, obj)
        except StoreError as exc:
            raise SolverError(str(exc)) from exc

    async def _update(self, resource: ResourceType, obj: RawObject) -> RawObject:
        try:
            return await self.store.update(resource, obj)
        except StoreError as exc:
            raise SolverError(str(exc)) from exc

    async def _get(self, resource: ResourceType, name: str, namespace: str) -> RawObject:
        try:
            return await self.store.get(resource, name, namespace=namespace)
        except StoreError as exc:
            raise SolverError(str(exc)) from exc


def kube_http01_solver(
    store: Store,
    *,
    image: str,
    command: Sequence[str] = DEFAULT_SOLVER_COMMAND,
    resource_request_cpu: str = "10m",
    resource_request_memory: str = "64Mi",
    resource_limits_cpu: str = "100m",
    resource_limits_memory: str = "64Mi",
    run_as_non_root: bool = True,
    extra_labels: Mapping[str, str] | None = None,
    runtime_class_name: str = "",
    nameservers: Sequence[str] = (),
    gateway_api_enabled: bool = False,
    feature_gates: FeatureGates = DEFAULT_GATES,
    self_check: SelfCheck | None = None,
) -> KubeHTTP01Solver:
    """The HTTP-01 solver ``certkeeper controller`` registers for ``"HTTP-01"``, from its flags.

    ``image`` (``--acme-http01-solver-image``) runs ``command`` (``certkeeper acmesolver`` in
    certkeeper's image; ``()`` keeps the image's entrypoint, as cert-manager's acmesolver image needs).
    ``nameservers`` (``--acme-http01-solver-nameservers``, ``host:port`` or DoH URLs) resolve the self
    check's requests; a given ``self_check`` replaces the default one and cannot be combined with them.
    Raises ValueError for an empty image or a resource value that is not a quantity.
    """
    if self_check is not None and nameservers:
        raise ValueError("give nameservers or a self_check, not both")
    options = SolverPodOptions(
        image=image,
        command=tuple(command),
        resource_request_cpu=resource_request_cpu,
        resource_request_memory=resource_request_memory,
        resource_limits_cpu=resource_limits_cpu,
        resource_limits_memory=resource_limits_memory,
        run_as_non_root=run_as_non_root,
        extra_labels=dict(extra_labels or {}),
        runtime_class_name=runtime_class_name,
        path_type_exact=feature_gates.acme_http01_ingress_path_type_exact,
    )
    if self_check is None:
        self_check = HTTP01SelfCheck(resolver=NameserverResolver(nameservers) if nameservers else None)
    return KubeHTTP01Solver(store, options, self_check=self_check, gateway_api_enabled=gateway_api_enabled)


__all__ = [
    "HTTP_ROUTES",
    "INGRESSES",
    "PODS",
    "SERVICES",
    "SOLVER_RESOURCES",
    "KubeHTTP01Solver",
    "SelfCheck",
    "aggregate",
    "kube_http01_solver",
]
