"""Requests made while the API server is down: retried when they provably never reached it."""

from __future__ import annotations

import asyncio

import pytest

from certkeeper.store.kube import ClientOptions, KubeStore, RetryPolicy
from certkeeper.store.ports import Unavailable
from certkeeper.store.resources import SECRETS
from tests.harness.kube import ControlPlane
from tests.integration.store.conftest import StoreFactory, secret

pytestmark = [pytest.mark.kube, pytest.mark.slow]


async def test_reads_and_writes_wait_out_a_restart(
    control_plane: ControlPlane, store: KubeStore, admin_store_with: StoreFactory, namespace: str
) -> None:
    await store.create(SECRETS, secret("existing", namespace))
    patient = admin_store_with(
        options=ClientOptions(retry=RetryPolicy(max_attempts=40, base_delay=0.25, max_delay=0.5, jitter=0.2))
    )
    impatient = admin_store_with(options=ClientOptions(retry=RetryPolicy(max_attempts=2, base_delay=0.1)))
    await control_plane.astop_apiserver()
    try:
        with pytest.raises(Unavailable, match="cannot connect to the API server"):
            await impatient.get(SECRETS, "existing", namespace=namespace)
        read = asyncio.create_task(patient.get(SECRETS, "existing", namespace=namespace))
        # Connection refused: the create never reached the server, so it is safe to send again.
        write = asyncio.create_task(patient.create(SECRETS, secret("during-outage", namespace)))
        await asyncio.sleep(1.0)
        assert not read.done()
        assert not write.done()
    finally:
        await control_plane.astart_apiserver()
    assert (await asyncio.wait_for(read, 30))["metadata"]["name"] == "existing"
    created = await asyncio.wait_for(write, 30)
    assert created["metadata"]["name"] == "during-outage"
    names = [i["metadata"]["name"] for i in (await store.list(SECRETS, namespace=namespace)).items]
    assert sorted(names) == ["during-outage", "existing"]
