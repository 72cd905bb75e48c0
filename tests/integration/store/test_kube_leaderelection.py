"""Leader election between candidates on a real Lease."""

from __future__ import annotations

import asyncio

import pytest

from certkeeper.store.kube import LEASES, KubeStore, LeaderElectionConfig, LeaderElector, LeadershipLost
from certkeeper.store.kube.leaderelection import LeaderRecord
from tests.harness.kubeclient import KubeClient
from tests.integration.store.conftest import StoreFactory, once_allowed

pytestmark = pytest.mark.kube

LEASE = "cert-manager-controller"


def config(namespace: str, identity: str, *, release: bool = True) -> LeaderElectionConfig:
    # cert-manager's 60/40/15 seconds scaled down twenty-fold, keeping their proportions.
    return LeaderElectionConfig(
        name=LEASE,
        identity=identity,
        namespace=namespace,
        lease_duration=3.0,
        renew_deadline=2.0,
        retry_period=0.75,
        release_on_cancel=release,
        labels={"app.kubernetes.io/managed-by": "cert-manager"},
    )


async def wait_for(condition: object, timeout: float = 10.0) -> None:
    assert callable(condition)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not condition():
        assert loop.time() < deadline, "condition not met in time"
        await asyncio.sleep(0.05)


async def record(store: KubeStore, namespace: str) -> LeaderRecord:
    return LeaderRecord.from_lease(await store.get(LEASES, LEASE, namespace=namespace))


async def test_the_other_candidate_takes_over_when_the_leader_stops_renewing(
    store: KubeStore, admin_store_with: StoreFactory, namespace: str
) -> None:
    a = LeaderElector(store, config(namespace, "a", release=False))
    b = LeaderElector(admin_store_with(), config(namespace, "b"))
    leading = asyncio.Event()

    async def lead() -> None:
        leading.set()
        await asyncio.Event().wait()

    a_task = asyncio.create_task(a.run(lead))
    await asyncio.wait_for(leading.wait(), 10)
    lease = await store.get(LEASES, LEASE, namespace=namespace)
    assert lease["metadata"]["labels"] == {"app.kubernetes.io/managed-by": "cert-manager"}
    assert lease["spec"]["leaseDurationSeconds"] == 3

    b_task = asyncio.create_task(b.acquire())
    await asyncio.sleep(2.0)
    assert not b_task.done()  # a renews: b keeps waiting
    assert b.leader == "a"

    loop = asyncio.get_running_loop()
    a_task.cancel()  # a stops renewing without releasing (a crash)
    with pytest.raises(asyncio.CancelledError):
        await a_task
    stopped = loop.time()
    await asyncio.wait_for(b_task, 15)
    waited = loop.time() - stopped
    assert 2.0 <= waited <= 3.0 + 2.2 * 0.75 + 1.0  # the lease had to expire on b's clock first
    taken = await record(store, namespace)
    assert (taken.holder_identity, taken.lease_transitions) == ("b", 1)


async def test_a_released_lease_is_taken_without_waiting_for_expiry(
    store: KubeStore, admin_store_with: StoreFactory, namespace: str
) -> None:
    a = LeaderElector(store, config(namespace, "a"))
    b = LeaderElector(admin_store_with(), config(namespace, "b"))
    release = asyncio.Event()
    a_task = asyncio.create_task(a.run(release.wait))
    await wait_for(lambda: a.is_leader)
    b_task = asyncio.create_task(b.acquire())
    await asyncio.sleep(1.0)
    assert not b_task.done()
    loop = asyncio.get_running_loop()
    release.set()
    await a_task
    released = loop.time()
    await asyncio.wait_for(b_task, 10)
    assert loop.time() - released < 3.0  # sooner than the 3 s lease could have expired plus b's retry
    assert (await record(store, namespace)).holder_identity == "b"


async def test_losing_the_right_to_renew_cancels_the_leaders_work(
    store_for: StoreFactory, kube: KubeClient, namespace: str
) -> None:
    role = {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "Role",
        "metadata": {"name": "leader-election", "namespace": namespace},
        "rules": [
            {"apiGroups": ["coordination.k8s.io"], "resources": ["leases"], "verbs": ["get", "create", "update"]}
        ],
    }
    binding = {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "RoleBinding",
        "metadata": {"name": "leader-election", "namespace": namespace},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "leader-election"},
        "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": "elector"}],
    }
    await kube.apply([role, binding])
    elector_store = store_for("elector")
    await once_allowed(lambda: elector_store.get(LEASES, LEASE, namespace=namespace))
    elector = LeaderElector(elector_store, config(namespace, "elector"))
    working = asyncio.Event()

    async def work() -> None:
        working.set()
        await asyncio.Event().wait()

    task = asyncio.create_task(elector.run(work))
    await asyncio.wait_for(working.wait(), 10)
    await kube.delete("rbac.authorization.k8s.io/v1", "RoleBinding", "leader-election", namespace=namespace)
    loop = asyncio.get_running_loop()
    revoked = loop.time()
    with pytest.raises(LeadershipLost):
        await asyncio.wait_for(task, 10)
    # The next renewal, then the renew deadline (plus the moment the revocation takes to reach the authorizer).
    assert loop.time() - revoked <= 0.75 + 2.0 + 3.0
