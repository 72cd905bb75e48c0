"""The runtime's informer (list + watch + relist) running on KubeStore against a real kube-apiserver."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from certkeeper.runtime.clock import SystemClock
from certkeeper.runtime.informer import Handler, Informer
from certkeeper.store.kube import OTHER_SECRETS, KubeStore, MetadataStore, strip_partial_metadata
from certkeeper.store.ports import LabelSelector, RawObject, ResourceType, WatchEvent
from certkeeper.store.resources import SECRETS
from tests.harness.kube import ControlPlane
from tests.integration.store.conftest import secret

pytestmark = pytest.mark.kube


class ForgetfulStore(KubeStore):
    """Its first ``forget`` watches start from resourceVersion 1, which the API server no longer has."""

    forget = 1

    def watch(
        self,
        resource: ResourceType,
        *,
        resource_version: str,
        namespace: str | None = None,
        label_selector: LabelSelector | None = None,
    ) -> AsyncIterator[WatchEvent]:
        if self.forget:
            self.forget -= 1
            resource_version = "1"
        return super().watch(
            resource, resource_version=resource_version, namespace=namespace, label_selector=label_selector
        )


class Recorder:
    def __init__(self) -> None:
        self.events: list[tuple[str, str]] = []
        self.changed = asyncio.Event()

    def handler(self) -> Handler:
        return Handler(on_add=self._add, on_update=self._update, on_delete=self._delete)

    def _record(self, kind: str, obj: RawObject) -> None:
        self.events.append((kind, obj["metadata"]["name"]))
        self.changed.set()

    def _add(self, obj: RawObject) -> None:
        self._record("add", obj)

    def _update(self, old: RawObject, new: RawObject) -> None:
        self._record("update", new)

    def _delete(self, obj: RawObject) -> None:
        self._record("delete", obj)

    async def wait_for(self, event: tuple[str, str], timeout: float = 20.0) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while event not in self.events:
            self.changed.clear()
            remaining = deadline - loop.time()
            assert remaining > 0, f"{event} not seen; saw {self.events}"
            try:
                await asyncio.wait_for(self.changed.wait(), remaining)
            except TimeoutError:
                continue


async def run(informer: Informer) -> asyncio.Task[None]:
    task = asyncio.create_task(informer.run())
    await asyncio.wait_for(informer.synced.wait(), 20)
    return task


async def stop(task: asyncio.Task[None]) -> None:
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


async def test_informer_lists_in_pages_watches_and_relists_on_gone(
    forgetful_apiserver: ControlPlane, namespace: str
) -> None:
    config = forgetful_apiserver.admin.kubeconfig
    async with ForgetfulStore.from_kubeconfig(config, watch_timeout_seconds=30) as store:
        for i in range(5):
            await store.create(SECRETS, secret(f"s{i}", namespace))
        informer = Informer(store, SECRETS, clock=SystemClock(), namespace=namespace, page_size=2)
        recorder = Recorder()
        informer.add_handler(recorder.handler())
        task = await run(informer)
        try:
            assert sorted(informer.cache.keys()) == [f"{namespace}/s{i}" for i in range(5)]
            assert informer.cache.get(f"{namespace}/s0") is not None
            # The first watch was Gone (resourceVersion 1): the informer listed again, then watched.
            await recorder.wait_for(("add", "s4"))
            created = await store.create(SECRETS, secret("new", namespace))
            await recorder.wait_for(("add", "new"))
            assert informer.relists == 2
            created["data"]["key"] = "Yg=="
            await store.update(SECRETS, created)
            await recorder.wait_for(("update", "new"))
            await store.delete(SECRETS, "s0", namespace=namespace)
            await recorder.wait_for(("delete", "s0"))
            cached = informer.cache.get(f"{namespace}/new")
            assert cached is not None
            assert cached["data"]["key"] == "Yg=="
            assert "managedFields" not in cached["metadata"]  # the informer's default transform
            assert informer.cache.get(f"{namespace}/s0") is None
        finally:
            await stop(task)


async def test_metadata_only_informer_of_other_secrets(store: KubeStore, namespace: str) -> None:
    await store.create(SECRETS, secret("foreign", namespace, labels={"app": "x"}))
    informer = Informer(
        MetadataStore(store),
        SECRETS,
        clock=SystemClock(),
        namespace=namespace,
        label_selector=OTHER_SECRETS,
        transform=strip_partial_metadata,
    )
    recorder = Recorder()
    informer.add_handler(recorder.handler())
    task = await run(informer)
    try:
        cached = informer.cache.get(f"{namespace}/foreign")
        assert cached is not None
        assert cached["kind"] == "PartialObjectMetadata"
        assert "labels" not in cached["metadata"]
        assert "data" not in cached
        ours = await store.create(SECRETS, secret("mine", namespace))
        await recorder.wait_for(("add", "mine"))
        ours["metadata"]["labels"] = {"controller.cert-manager.io/fao": "true"}
        await store.update(SECRETS, ours)
        await recorder.wait_for(("delete", "mine"))  # it left the metadata-only cache
        assert informer.cache.get(f"{namespace}/mine") is None
    finally:
        await stop(task)


@pytest.mark.slow
async def test_informer_survives_an_api_server_restart(
    control_plane: ControlPlane, store: KubeStore, namespace: str
) -> None:
    informer = Informer(store, SECRETS, clock=SystemClock(), namespace=namespace, max_backoff_seconds=2.0)
    recorder = Recorder()
    informer.add_handler(recorder.handler())
    task = await run(informer)
    try:
        await store.create(SECRETS, secret("before", namespace))
        await recorder.wait_for(("add", "before"))
        await control_plane.arestart_apiserver()
        await store.create(SECRETS, secret("after", namespace))
        await recorder.wait_for(("add", "after"), timeout=60)
        assert informer.cache.get(f"{namespace}/before") is not None
    finally:
        await stop(task)
