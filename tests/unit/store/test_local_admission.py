"""The store's side of the ``Admit`` contract: admission gets the store's own objects, not copies.

Admission changes neither object it is given (``tests/unit/validation/test_admission_inputs.py``
proves it of certkeeper's), so the store hands it the write's object and the stored entry's decoded
object as they are; what it returns, when not the object itself, is copied in. These tests check that
the results are the same as when admission gets private copies.
"""

from __future__ import annotations

import json
from typing import Any

import msgspec

from certkeeper.api.features import DEFAULT_GATES
from certkeeper.api.field import FieldError, FieldPath, invalid
from certkeeper.localmode.admission import store_admission
from certkeeper.store.local import Admit, LocalStore, Operation
from certkeeper.store.ports import Invalid, RawObject, ResourceType

from .conftest import CERTIFICATES, CLUSTER_ISSUERS, SECRETS, FakeClock, cert, secret

_Call = tuple[Operation, RawObject, RawObject | None]


class Spy:
    """Records the objects admission is given (the objects themselves); refuses spec.secretName 'bad'.

    It returns ``new_obj`` itself and changes nothing, as the contract asks.
    """

    def __init__(self) -> None:
        self.calls: list[_Call] = []

    def __call__(
        self, resource: ResourceType, operation: Operation, new_obj: RawObject, old_obj: RawObject | None, /
    ) -> tuple[RawObject, list[FieldError], list[str]]:
        self.calls.append((operation, new_obj, old_obj))
        bad = new_obj.get("spec", {}).get("secretName") == "bad"
        return new_obj, [invalid(FieldPath("spec", "secretName"), "bad", "is bad")] if bad else [], []


async def test_admission_gets_the_stores_objects(clock: FakeClock) -> None:
    spy = Spy()
    async with await LocalStore.open(None, now=clock.now, admit=spy, bookmark_interval=None) as store:
        created = await store.create(CERTIFICATES, cert("a"))
        for secret_name in ("bad", "bad", "good"):
            attempt = {**created, "spec": {**created["spec"], "secretName": secret_name}}
            try:
                await store.update(CERTIFICATES, attempt)
            except Invalid:
                assert secret_name == "bad"
        stored = await store.get(CERTIFICATES, "a", namespace="ns")
    assert [call[0] for call in spy.calls] == [Operation.CREATE] + [Operation.UPDATE] * 3
    olds = [old for _, _, old in spy.calls[1:]]
    assert olds[0] == created
    # Every update of that version was handed the entry's one decoded object, not a copy each.
    assert olds[0] is olds[1] is olds[2]
    # What admission returned unchanged is what was stored (and handed back).
    assert spy.calls[3][1] == stored
    assert stored["spec"]["secretName"] == "good"
    assert olds[0]["spec"]["secretName"] == "a-tls"  # the stored entry's object was not changed


def _issuer() -> RawObject:
    return {
        "apiVersion": "cert-manager.io/v1",
        "kind": "ClusterIssuer",
        "metadata": {"name": "selfsigned", "labels": {"a": "b"}},
        "spec": {"selfSigned": {}, "bogus": 1},
    }


def _certificate(name: str, **spec: Any) -> RawObject:
    obj = cert(name)
    obj["spec"].update({"issuerRef": {"name": "selfsigned", "kind": "ClusterIssuer"}, **spec})
    return obj


def _copying(admit: Admit) -> Admit:
    """``admit`` given private JSON copies of both objects, as the store did before relying on the contract."""

    def copied(
        resource: ResourceType, operation: Operation, new_obj: RawObject, old_obj: RawObject | None, /
    ) -> tuple[RawObject, Any, Any]:
        fresh = msgspec.json.decode(msgspec.json.encode(new_obj))
        old = None if old_obj is None else msgspec.json.decode(msgspec.json.encode(old_obj))
        return admit(resource, operation, fresh, old)

    return copied


async def _session(store: LocalStore) -> list[str]:
    """A run of writes through admission (defaults, pruning, refusals, status writes, patches), as JSON."""
    seen: list[str] = []

    async def attempt(write: Any) -> None:
        try:
            seen.append(json.dumps(await write))
        except Invalid as exc:
            seen.append(f"Invalid: {exc}")

    await attempt(store.create(CLUSTER_ISSUERS, _issuer()))
    await attempt(store.create(CERTIFICATES, _certificate("a", revisionHistoryLimit=2, unknown={"x": 1})))
    await attempt(store.create(CERTIFICATES, _certificate("b", duration="1m")))  # refused: too short
    await attempt(store.create(CERTIFICATES, cert("c")))  # refused: no issuerRef
    await attempt(store.create(SECRETS, secret("s")))
    current = await store.get(CERTIFICATES, "a", namespace="ns")
    for revision in (1, 2, 2, 3.0):  # the same status again (no change), and a float the model refuses
        status = {"revision": revision, "conditions": [{"type": "Ready", "status": "True", "reason": "R"}]}
        await attempt(store.update_status(CERTIFICATES, {**current, "status": status}))
        current = await store.get(CERTIFICATES, "a", namespace="ns")
    await attempt(store.update(CERTIFICATES, {**current, "spec": {**current["spec"], "secretName": "other"}}))
    current = await store.get(CERTIFICATES, "a", namespace="ns")
    await attempt(store.update(CERTIFICATES, {**current, "spec": {**current["spec"], "isCA": "yes"}}))
    await attempt(store.patch(CERTIFICATES, "a", {"spec": {"dnsNames": ["x.example.com"]}}, namespace="ns"))
    await attempt(store.patch(CERTIFICATES, "a", {"spec": {"duration": "1s"}}, namespace="ns"))
    for name, resource in (("a", CERTIFICATES), ("s", SECRETS)):
        seen.append(json.dumps(await store.get(resource, name, namespace="ns")))
    seen.append(json.dumps(await store.get(CLUSTER_ISSUERS, "selfsigned")))
    seen.append(store.resource_version)
    return seen


async def test_results_are_those_of_admission_on_private_copies(clock: FakeClock) -> None:
    admit = store_admission(DEFAULT_GATES)
    results = []
    for hook in (admit, _copying(admit)):
        async with await LocalStore.open(
            None, now=clock.now, admit=hook, bookmark_interval=None, new_uid=_uids()
        ) as store:
            results.append(await _session(store))
    direct, copied = results
    assert direct == copied
    assert any(line.startswith("Invalid: ") for line in direct)
    assert '"revision": 2' in direct[-4]


def _uids() -> Any:
    counter = iter(range(1_000))
    return lambda: f"uid-{next(counter)}"
