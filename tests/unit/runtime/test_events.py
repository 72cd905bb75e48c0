from certkeeper.runtime.clock import FakeClock
from certkeeper.runtime.events import Event, EventRecorder
from certkeeper.store.local import LocalStore
from certkeeper.store.resources import EVENTS

INVOLVED = {
    "apiVersion": "cert-manager.io/v1",
    "kind": "Certificate",
    "metadata": {"name": "web", "namespace": "apps", "uid": "u-1", "resourceVersion": "7"},
}


async def test_events_are_recorded_and_repeats_aggregate() -> None:
    clock = FakeClock()
    store = await LocalStore.open(None, now=clock.now, bookmark_interval=None)
    recorder = EventRecorder(store, clock=clock, component="certkeeper-test")
    issuing = Event(type="Normal", reason="Issuing", message="Issuing certificate as Secret does not exist")
    await recorder.record(INVOLVED, issuing)
    clock.advance(30)
    await recorder.record(INVOLVED, issuing)
    await recorder.record(INVOLVED, Event(type="Warning", reason="Failed", message="x" * 5000))
    events = sorted((await store.list(EVENTS, namespace="apps")).items, key=lambda e: e["reason"])
    assert [e["reason"] for e in events] == ["Failed", "Issuing"]
    failed, repeated = events
    assert repeated["count"] == 2
    assert repeated["firstTimestamp"] == "2025-01-01T00:00:00Z"
    assert repeated["lastTimestamp"] == "2025-01-01T00:00:30Z"
    assert repeated["involvedObject"]["uid"] == "u-1"
    assert repeated["metadata"]["name"].startswith("web.")
    assert repeated["source"] == {"component": "certkeeper-test"}
    assert len(failed["message"]) == 1024
    assert failed["type"] == "Warning"
    await store.close()
