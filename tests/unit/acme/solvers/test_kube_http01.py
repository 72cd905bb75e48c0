"""The Kubernetes HTTP-01 solver against the local store: what present, check and cleanup leave behind."""

from __future__ import annotations

import copy
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import msgspec
import pytest

from certkeeper.acme.solvers.base import SolverConfigError, SolverContext, SolverError
from certkeeper.acme.solvers.http01_check import HTTP01SelfCheck, NameserverResolver, SelfCheckFailed
from certkeeper.acme.solvers.kube_http01 import (
    HTTP_ROUTES,
    INGRESSES,
    PODS,
    SERVICES,
    KubeHTTP01Solver,
    aggregate,
    kube_http01_solver,
)
from certkeeper.acme.solvers.kube_http01_objects import SolverPodOptions, build_pod, solver_labels
from certkeeper.api.acme import Challenge
from certkeeper.api.features import DEFAULT_GATES
from certkeeper.store.local import LocalStore
from certkeeper.store.ports import Forbidden, LabelSelector, RawObject, ResourceType
from tests.unit.acme.solvers.builders import MemorySecrets
from tests.unit.acme.solvers.kube_http01_builders import DOMAIN, KEY, NAMESPACE, TOKEN, UID, http01_challenge

CTX = SolverContext(resource_namespace=NAMESPACE, secrets=MemorySecrets())
OPTIONS = SolverPodOptions(image="certkeeper:0.1.0")
GATEWAY = {"gatewayHTTPRoute": {"parentRefs": [{"name": "gw", "namespace": "infra"}]}}


class RecordingCheck:
    """A self check that records its calls and fails with ``failure`` when set."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str, str]] = []
        self.failure: str | None = None

    async def run(self, domain: str, token: str, key: str) -> None:
        self.calls.append((domain, token, key))
        if self.failure is not None:
            raise SelfCheckFailed(self.failure)


@pytest.fixture
async def store() -> AsyncIterator[LocalStore]:
    local = await LocalStore.open(None, now=lambda: datetime.now(UTC), bookmark_interval=None)
    try:
        yield local
    finally:
        await local.close()


@pytest.fixture
def self_check() -> RecordingCheck:
    return RecordingCheck()


@pytest.fixture
def solver(store: LocalStore, self_check: RecordingCheck) -> KubeHTTP01Solver:
    return KubeHTTP01Solver(store, OPTIONS, self_check=self_check, gateway_api_enabled=True)


async def items(store: LocalStore, resource: ResourceType) -> list[RawObject]:
    return (await store.list(resource, namespace=NAMESPACE)).items


async def names(store: LocalStore, resource: ResourceType) -> list[str]:
    return sorted(o["metadata"]["name"] for o in await items(store, resource))


def backend(ingress: RawObject) -> str:
    return str(ingress["spec"]["rules"][0]["http"]["paths"][0]["backend"]["service"]["name"])


async def test_present_creates_pod_service_and_ingress_owned_by_the_challenge(
    store: LocalStore, solver: KubeHTTP01Solver
) -> None:
    await solver.present(http01_challenge(), CTX)
    [pod], [service], [ingress] = [await items(store, r) for r in (PODS, SERVICES, INGRESSES)]
    for obj in (pod, service, ingress):
        assert obj["metadata"]["name"].startswith("cm-acme-http-solver-")
        assert obj["metadata"]["ownerReferences"][0]["uid"] == UID
        assert obj["metadata"]["labels"]["acme.cert-manager.io/http01-solver"] == "true"
    assert pod["spec"]["containers"][0]["args"][1:] == [f"--domain={DOMAIN}", f"--token={TOKEN}", f"--key={KEY}"]
    assert backend(ingress) == service["metadata"]["name"]
    assert ingress["spec"]["rules"][0]["http"]["paths"][0]["path"] == f"/.well-known/acme-challenge/{TOKEN}"


async def test_present_is_idempotent(store: LocalStore, solver: KubeHTTP01Solver) -> None:
    await solver.present(http01_challenge(), CTX)
    before = [await names(store, r) for r in (PODS, SERVICES, INGRESSES)]
    await solver.present(http01_challenge(), CTX)
    assert [await names(store, r) for r in (PODS, SERVICES, INGRESSES)] == before


async def test_objects_of_other_challenges_are_ignored(store: LocalStore, solver: KubeHTTP01Solver) -> None:
    # Same domain and token (so the same labels), but another Challenge controls it.
    foreign = await store.create(PODS, build_pod(http01_challenge(uid="someone-else"), OPTIONS))
    await solver.present(http01_challenge(), CTX)
    pods = await names(store, PODS)
    assert len(pods) == 2
    await solver.cleanup(http01_challenge(), CTX)
    assert await names(store, PODS) == [foreign["metadata"]["name"]]


async def test_several_pods_are_all_deleted_and_the_sync_retried(store: LocalStore, solver: KubeHTTP01Solver) -> None:
    for _ in range(2):
        await store.create(PODS, build_pod(http01_challenge(), OPTIONS))
    with pytest.raises(SolverError, match="multiple existing challenge solver pods found and cleaned up"):
        await solver.present(http01_challenge(), CTX)
    assert await names(store, PODS) == []
    # The Service and Ingress were still made: a pod failure does not stop the rest.
    assert len(await names(store, SERVICES)) == 1
    await solver.present(http01_challenge(), CTX)
    assert len(await names(store, PODS)) == 1


async def test_several_services_are_deleted(store: LocalStore, solver: KubeHTTP01Solver) -> None:
    await solver.present(http01_challenge(), CTX)
    [service] = await items(store, SERVICES)
    duplicate = copy.deepcopy(service)
    for key in ("name", "uid", "resourceVersion", "creationTimestamp"):
        duplicate["metadata"].pop(key, None)
    await store.create(SERVICES, duplicate)
    with pytest.raises(SolverError, match="multiple existing challenge solver services found and cleaned up"):
        await solver.present(http01_challenge(), CTX)
    assert await names(store, SERVICES) == []


async def test_an_ingress_pointing_elsewhere_is_replaced(store: LocalStore, solver: KubeHTTP01Solver) -> None:
    await solver.present(http01_challenge(), CTX)
    [service] = await items(store, SERVICES)
    await store.delete(SERVICES, service["metadata"]["name"], namespace=NAMESPACE)
    with pytest.raises(SolverError, match="service name changed, existing challenge solver ingresses found"):
        await solver.present(http01_challenge(), CTX)
    assert await names(store, INGRESSES) == []
    await solver.present(http01_challenge(), CTX)
    [new_service], [ingress] = await items(store, SERVICES), await items(store, INGRESSES)
    assert backend(ingress) == new_service["metadata"]["name"] != service["metadata"]["name"]


async def test_cleanup_deletes_everything_and_is_idempotent(store: LocalStore, solver: KubeHTTP01Solver) -> None:
    await solver.present(http01_challenge(), CTX)
    await solver.cleanup(http01_challenge(), CTX)
    assert [await names(store, r) for r in (PODS, SERVICES, INGRESSES)] == [[], [], []]
    await solver.cleanup(http01_challenge(), CTX)


async def test_two_challenges_keep_their_own_objects(store: LocalStore, solver: KubeHTTP01Solver) -> None:
    first = http01_challenge()
    second = http01_challenge(dns_name="api.example.test", token="other-token", uid="uid-2", name="ch-2")
    await solver.present(first, CTX)
    await solver.present(second, CTX)
    assert len(await names(store, PODS)) == 2
    await solver.cleanup(first, CTX)
    [pod] = await items(store, PODS)
    assert pod["metadata"]["labels"] == solver_labels(second)


# -- an existing Ingress ----------------------------------------------------------------------------------


def web_ingress() -> RawObject:
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "Ingress",
        "metadata": {"name": "web", "namespace": NAMESPACE},
        "spec": {
            "rules": [
                {
                    "host": DOMAIN,
                    "http": {
                        "paths": [
                            {
                                "path": "/",
                                "pathType": "Prefix",
                                "backend": {"service": {"name": "web", "port": {"number": 80}}},
                            }
                        ]
                    },
                }
            ]
        },
    }


async def test_named_ingress_gets_the_path_and_loses_it_on_cleanup(store: LocalStore, solver: KubeHTTP01Solver) -> None:
    await store.create(INGRESSES, web_ingress())
    challenge = http01_challenge({"ingress": {"name": "web"}})
    await solver.present(challenge, CTX)
    [service] = await items(store, SERVICES)
    [ingress] = await items(store, INGRESSES)  # no solver Ingress of its own
    paths = ingress["spec"]["rules"][0]["http"]["paths"]
    assert [p["path"] for p in paths] == [f"/.well-known/acme-challenge/{TOKEN}", "/"]
    assert paths[0]["backend"]["service"]["name"] == service["metadata"]["name"]
    version = ingress["metadata"]["resourceVersion"]
    await solver.present(challenge, CTX)
    assert (await store.get(INGRESSES, "web", namespace=NAMESPACE))["metadata"]["resourceVersion"] == version
    await solver.cleanup(challenge, CTX)
    cleaned = await store.get(INGRESSES, "web", namespace=NAMESPACE)
    assert cleaned["spec"] == web_ingress()["spec"]
    assert await names(store, PODS) == await names(store, SERVICES) == []


async def test_named_ingress_missing(store: LocalStore, solver: KubeHTTP01Solver) -> None:
    challenge = http01_challenge({"ingress": {"name": "absent"}})
    with pytest.raises(SolverError, match="absent"):
        await solver.present(challenge, CTX)
    # Cleanup of an Ingress that is gone is not an error.
    await solver.cleanup(challenge, CTX)


# -- Gateway API ------------------------------------------------------------------------------------------


async def test_gateway_route_is_created_drift_recreated_and_cleaned_up(
    store: LocalStore, solver: KubeHTTP01Solver
) -> None:
    challenge = http01_challenge(GATEWAY)
    await solver.present(challenge, CTX)
    [route] = await items(store, HTTP_ROUTES)
    assert await names(store, INGRESSES) == []
    [service] = await items(store, SERVICES)
    assert route["spec"]["rules"][0]["backendRefs"][0]["name"] == service["metadata"]["name"]
    await solver.present(challenge, CTX)
    assert await names(store, HTTP_ROUTES) == [route["metadata"]["name"]]
    moved = http01_challenge({"gatewayHTTPRoute": {"parentRefs": [{"name": "gw2"}]}})
    await solver.present(moved, CTX)
    [recreated] = await items(store, HTTP_ROUTES)
    assert recreated["metadata"]["name"] != route["metadata"]["name"]
    assert recreated["spec"]["parentRefs"] == [{"name": "gw2"}]
    await solver.cleanup(moved, CTX)
    assert await names(store, HTTP_ROUTES) == []


async def test_gateway_disabled_creates_nothing(store: LocalStore, self_check: RecordingCheck) -> None:
    solver = KubeHTTP01Solver(store, OPTIONS, self_check=self_check)
    with pytest.raises(SolverConfigError, match="couldn't Present challenge default/ch-1: gateway api is not enabled"):
        await solver.present(http01_challenge(GATEWAY), CTX)
    assert await names(store, PODS) == []
    await solver.cleanup(http01_challenge(GATEWAY), CTX)


async def test_several_routes_are_trimmed(store: LocalStore, solver: KubeHTTP01Solver) -> None:
    challenge = http01_challenge(GATEWAY)
    await solver.present(challenge, CTX)
    [route] = await items(store, HTTP_ROUTES)
    extra = copy.deepcopy(route)
    for key in ("name", "uid", "resourceVersion", "creationTimestamp"):
        extra["metadata"].pop(key, None)
    await store.create(HTTP_ROUTES, extra)
    with pytest.raises(SolverError, match="multiple HTTPRoutes found"):
        await solver.present(challenge, CTX)
    assert len(await names(store, HTTP_ROUTES)) == 1


# -- what cannot be presented -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("challenge", "message"),
    [
        (http01_challenge({}), "couldn't Present challenge default/ch-1: no Ingress nor Gateway HTTP01 solvers"),
        (
            msgspec.structs.replace(
                http01_challenge(), spec=msgspec.structs.replace(http01_challenge().spec, type="DNS-01")
            ),
            "challenge of type DNS-01 cannot be solved over HTTP-01",
        ),
    ],
    ids=["no-ingress-nor-gateway", "dns01"],
)
async def test_unpresentable_challenges(
    store: LocalStore, solver: KubeHTTP01Solver, challenge: Challenge, message: str
) -> None:
    with pytest.raises(SolverConfigError, match=message):
        await solver.present(challenge, CTX)
    assert await names(store, PODS) == await names(store, SERVICES) == []


async def test_store_errors_become_solver_errors(
    store: LocalStore, solver: KubeHTTP01Solver, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def refuse(resource: ResourceType, obj: RawObject) -> RawObject:
        raise Forbidden(f'{resource.plural} is forbidden: User "x" cannot create resource "{resource.plural}"')

    monkeypatch.setattr(store, "create", refuse)
    with pytest.raises(SolverError) as raised:
        await solver.present(http01_challenge(), CTX)
    # Pod and Service both failed: one aggregate message, as Go's utilerrors.NewAggregate.
    assert str(raised.value) == (
        '[pods is forbidden: User "x" cannot create resource "pods", '
        'services is forbidden: User "x" cannot create resource "services"]'
    )


# -- check ------------------------------------------------------------------------------------------------


async def test_check_presents_again_then_runs_the_self_check(
    store: LocalStore, solver: KubeHTTP01Solver, self_check: RecordingCheck
) -> None:
    await solver.present(http01_challenge(), CTX)
    [pod] = await items(store, PODS)
    await store.delete(PODS, pod["metadata"]["name"], namespace=NAMESPACE)  # evicted
    result = await solver.check(http01_challenge(), CTX)
    assert result.ready
    assert self_check.calls == [(DOMAIN, TOKEN, KEY)]
    assert len(await names(store, PODS)) == 1


async def test_check_not_ready(store: LocalStore, solver: KubeHTTP01Solver, self_check: RecordingCheck) -> None:
    self_check.failure = "wrong status code '404', expected '200'"
    result = await solver.check(http01_challenge(), CTX)
    assert (result.ready, result.reason) == (False, "wrong status code '404', expected '200'")
    failing = await solver.check(http01_challenge({"ingress": {"name": "absent"}}), CTX)
    assert not failing.ready
    assert "absent" in failing.reason
    assert len(self_check.calls) == 1  # no self check while the objects cannot be presented


# -- the factory ------------------------------------------------------------------------------------------


async def test_factory_maps_flags(store: LocalStore) -> None:
    solver = kube_http01_solver(
        store,
        image="img",
        command=(),
        resource_request_cpu="1m",
        extra_labels={"a": "b"},
        runtime_class_name="rc",
        run_as_non_root=False,
        feature_gates=DEFAULT_GATES.with_gates(acme_http01_ingress_path_type_exact=False),
        gateway_api_enabled=True,
    )
    assert solver.options == SolverPodOptions(
        image="img",
        command=(),
        resource_request_cpu="1m",
        extra_labels={"a": "b"},
        runtime_class_name="rc",
        run_as_non_root=False,
        path_type_exact=False,
    )
    assert solver.gateway_api_enabled
    assert isinstance(solver.self_check, HTTP01SelfCheck)
    assert solver.self_check.resolver is None


async def test_factory_nameservers_resolve_the_self_check(store: LocalStore) -> None:
    solver = kube_http01_solver(store, image="img", nameservers=["127.0.0.1:53"])
    assert isinstance(solver.self_check, HTTP01SelfCheck)
    assert isinstance(solver.self_check.resolver, NameserverResolver)
    with pytest.raises(ValueError, match="not both"):
        kube_http01_solver(store, image="img", nameservers=["127.0.0.1:53"], self_check=RecordingCheck())
    with pytest.raises(ValueError, match="not a resource quantity"):
        kube_http01_solver(store, image="img", resource_limits_memory="lots")


def test_aggregate_formats_like_go() -> None:
    assert str(aggregate([SolverError("a")])) == "a"
    assert str(aggregate([SolverError("a"), ValueError("b")])) == "[a, b]"
    single = SolverConfigError("c")
    assert aggregate([single]) is single


async def test_lists_by_identity_labels(store: LocalStore, solver: KubeHTTP01Solver) -> None:
    await solver.present(http01_challenge(), CTX)
    selector = LabelSelector(match_labels=solver_labels(http01_challenge()))
    for resource in (PODS, SERVICES, INGRESSES):
        listed: Any = await store.list(resource, namespace=NAMESPACE, label_selector=selector)
        assert len(listed.items) == 1
