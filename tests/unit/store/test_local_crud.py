"""LocalStore create / get / update / update_status: API-server semantics, errors and admission."""

from __future__ import annotations

import copy
import json
import logging
import re
import uuid
from typing import Any

import pytest

from certkeeper.api.field import FieldError, FieldPath, invalid
from certkeeper.store.local import LocalStore, Operation
from certkeeper.store.ports import AlreadyExists, Conflict, Invalid, NotFound, RawObject, ResourceType

from .conftest import CERTIFICATES, CLUSTER_ISSUERS, SECRETS, WIDGETS, FakeClock, cert, secret

STALE = (
    'Operation cannot be fulfilled on certificates.cert-manager.io "a": the object has been modified; '
    "please apply your changes to the latest version and try again"
)


async def test_create_sets_system_metadata(store: LocalStore, clock: FakeClock) -> None:
    sent = cert("a")
    sent["metadata"]["managedFields"] = [{"manager": "kubectl"}]
    sent["metadata"]["uid"] = "chosen-by-client"
    sent["metadata"]["creationTimestamp"] = "2000-01-01T00:00:00Z"
    created = await store.create(CERTIFICATES, sent)
    meta = created["metadata"]
    assert uuid.UUID(meta["uid"]).version == 4
    assert meta["creationTimestamp"] == "2024-05-01T12:00:00Z"
    assert meta["generation"] == 1
    assert meta["resourceVersion"] == "1"
    assert "managedFields" not in meta
    assert list(created)[:2] == ["apiVersion", "kind"]
    assert await store.get(CERTIFICATES, "a", namespace="ns") == created
    assert store.resource_version == "1"


async def test_create_fills_api_version_and_kind(store: LocalStore) -> None:
    created = await store.create(CERTIFICATES, {"metadata": {"name": "a", "namespace": "ns"}, "spec": {}})
    assert (created["apiVersion"], created["kind"]) == ("cert-manager.io/v1", "Certificate")
    with pytest.raises(Invalid, match='kind: Invalid value: "Issuer": must be Certificate'):
        await store.create(CERTIFICATES, {**cert("b"), "kind": "Issuer"})


async def test_create_drops_status_only_with_status_subresource(store: LocalStore) -> None:
    created = await store.create(CERTIFICATES, cert("a", status={"conditions": []}))
    assert "status" not in created
    widget = await store.create(WIDGETS, {"metadata": {"name": "w", "namespace": "ns"}, "status": {"x": 1}})
    assert widget["status"] == {"x": 1}


async def test_resource_versions_are_store_wide_and_increasing(store: LocalStore) -> None:
    rvs = [
        (await store.create(CERTIFICATES, cert("a")))["metadata"]["resourceVersion"],
        (await store.create(SECRETS, secret("s")))["metadata"]["resourceVersion"],
        (await store.create(CERTIFICATES, cert("b")))["metadata"]["resourceVersion"],
    ]
    assert rvs == ["1", "2", "3"]


async def test_create_existing_is_already_exists(store: LocalStore) -> None:
    await store.create(CERTIFICATES, cert("a"))
    with pytest.raises(AlreadyExists, match=r'^certificates.cert-manager.io "a" already exists$'):
        await store.create(CERTIFICATES, cert("a"))
    # Same name in another namespace is another object.
    await store.create(CERTIFICATES, cert("a", namespace="other"))


async def test_create_with_resource_version_is_refused(store: LocalStore) -> None:
    sent = cert("a")
    sent["metadata"]["resourceVersion"] = "5"
    with pytest.raises(Invalid, match="resourceVersion should not be set on objects to be created"):
        await store.create(CERTIFICATES, sent)


@pytest.mark.parametrize(
    ("meta", "message"),
    [
        ({"namespace": "ns"}, "metadata.name: Required value: name or generateName is required"),
        (
            {"name": "Bad_Name", "namespace": "ns"},
            'metadata.name: Invalid value: "Bad_Name": a lowercase RFC 1123 subdomain must consist of lower case '
            "alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. "
            "'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*"
            "[a-z0-9])?)*')",
        ),
        ({"name": "a"}, "metadata.namespace: Required value"),
        ({"name": "a", "namespace": "a.b"}, 'metadata.namespace: Invalid value: "a.b": must not contain dots'),
        (
            {"name": "a", "namespace": "ns", "labels": {"k": "bad value"}},
            'metadata.labels: Invalid value: "bad value": a valid label must be an empty string or consist of '
            "alphanumeric characters",
        ),
        (
            {"name": "a", "namespace": "ns", "finalizers": ["a/b/c"]},
            'metadata.finalizers: Invalid value: "a/b/c": a valid label key must consist of',
        ),
        (
            {"name": "a", "namespace": "ns", "ownerReferences": [{"apiVersion": "v1", "kind": "Secret"}]},
            "metadata.ownerReferences[0].name: Required value: must not be empty",
        ),
        (
            {"name": "a", "namespace": "ns", "annotations": {"k": "x" * (256 * 1024)}},
            "metadata.annotations: Too long: may not be more than 262144 bytes",
        ),
    ],
    ids=["no-name", "bad-name", "no-namespace", "dotted-namespace", "label", "finalizer", "owner-ref", "annotations"],
)
async def test_create_validates_metadata(store: LocalStore, meta: dict[str, Any], message: str) -> None:
    obj = cert("x")
    obj["metadata"] = meta
    with pytest.raises(Invalid) as caught:
        await store.create(CERTIFICATES, obj)
    assert str(caught.value).startswith('Certificate.cert-manager.io "')
    assert message in str(caught.value)
    assert store.resource_version == "0"


async def test_generate_name(store: LocalStore) -> None:
    obj = cert("")
    obj["metadata"] = {"generateName": "req-", "namespace": "ns"}
    created = await store.create(CERTIFICATES, obj)
    assert re.fullmatch(r"req-[bcdfghjklmnpqrstvwxz2456789]{5}", created["metadata"]["name"])
    assert created["metadata"]["generateName"] == "req-"
    long = cert("")
    long["metadata"] = {"generateName": "x" * 70, "namespace": "ns"}
    assert len((await store.create(CERTIFICATES, long))["metadata"]["name"]) == 63


async def test_cluster_scoped_objects_have_no_namespace(store: LocalStore) -> None:
    obj = {"metadata": {"name": "ca", "namespace": "ignored"}, "spec": {}}
    created = await store.create(CLUSTER_ISSUERS, obj)
    assert "namespace" not in created["metadata"]
    assert await store.get(CLUSTER_ISSUERS, "ca") == created
    assert await store.get(CLUSTER_ISSUERS, "ca", namespace="anything") == created


async def test_get_missing_is_not_found(store: LocalStore) -> None:
    with pytest.raises(NotFound, match=r'^certificates.cert-manager.io "a" not found$'):
        await store.get(CERTIFICATES, "a", namespace="ns")
    await store.create(CERTIFICATES, cert("a"))
    with pytest.raises(NotFound):
        await store.get(CERTIFICATES, "a", namespace="elsewhere")
    with pytest.raises(NotFound):
        await store.get(CERTIFICATES, "a")  # a namespaced object has no cluster-wide path


async def test_callers_cannot_mutate_the_store(store: LocalStore) -> None:
    sent = cert("a")
    created = await store.create(CERTIFICATES, sent)
    sent["spec"]["dnsNames"].append("evil.example.com")
    created["spec"]["dnsNames"].append("evil.example.com")
    fetched = await store.get(CERTIFICATES, "a", namespace="ns")
    fetched["metadata"]["name"] = "changed"
    again = await store.get(CERTIFICATES, "a", namespace="ns")
    assert again["spec"]["dnsNames"] == ["a.example.com"]
    assert again["metadata"]["name"] == "a"


async def test_update_bumps_generation_on_spec_changes_only(store: LocalStore) -> None:
    created = await store.create(CERTIFICATES, cert("a"))
    created["metadata"]["labels"] = {"team": "x"}
    relabelled = await store.update(CERTIFICATES, created)
    assert relabelled["metadata"]["generation"] == 1
    assert relabelled["metadata"]["resourceVersion"] == "2"
    relabelled["spec"]["dnsNames"] = ["b.example.com"]
    respecced = await store.update(CERTIFICATES, relabelled)
    assert respecced["metadata"]["generation"] == 2
    assert respecced["metadata"]["creationTimestamp"] == created["metadata"]["creationTimestamp"]


async def test_update_ignores_status_with_status_subresource(store: LocalStore) -> None:
    created = await store.create(CERTIFICATES, cert("a"))
    with_status = await store.update_status(CERTIFICATES, {**created, "status": {"revision": 1}})
    with_status["status"] = {"revision": 99}
    with_status["spec"]["dnsNames"] = ["b.example.com"]
    updated = await store.update(CERTIFICATES, with_status)
    assert updated["status"] == {"revision": 1}
    assert updated["spec"]["dnsNames"] == ["b.example.com"]
    without = {k: v for k, v in updated.items() if k != "status"}
    assert (await store.update(CERTIFICATES, without))["status"] == {"revision": 1}


async def test_update_of_status_field_without_subresource_bumps_generation(store: LocalStore) -> None:
    widget = await store.create(WIDGETS, {"metadata": {"name": "w", "namespace": "ns"}, "status": {"x": 1}})
    widget["status"] = {"x": 2}
    updated = await store.update(WIDGETS, widget)
    assert updated["status"] == {"x": 2}
    assert updated["metadata"]["generation"] == 2


async def test_update_cannot_change_server_owned_metadata(store: LocalStore) -> None:
    created = await store.create(CERTIFICATES, cert("a"))
    created["metadata"]["creationTimestamp"] = "1999-01-01T00:00:00Z"
    created["metadata"]["generation"] = 42
    created["metadata"]["deletionTimestamp"] = "1999-01-01T00:00:00Z"
    created["metadata"]["labels"] = {"changed": "yes"}
    updated = await store.update(CERTIFICATES, created)
    assert updated["metadata"]["creationTimestamp"] == "2024-05-01T12:00:00Z"
    assert updated["metadata"]["generation"] == 1
    assert "deletionTimestamp" not in updated["metadata"]


async def test_update_with_stale_resource_version_conflicts(store: LocalStore) -> None:
    created = await store.create(CERTIFICATES, cert("a"))
    first = dict(created, spec={"secretName": "x"})
    await store.update(CERTIFICATES, first)
    with pytest.raises(Conflict) as caught:
        await store.update(CERTIFICATES, dict(created, spec={"secretName": "y"}))
    assert str(caught.value) == STALE
    assert (await store.get(CERTIFICATES, "a", namespace="ns"))["spec"] == {"secretName": "x"}


async def test_update_without_resource_version(store: LocalStore) -> None:
    created = await store.create(CERTIFICATES, cert("a"))
    del created["metadata"]["resourceVersion"]
    with pytest.raises(Invalid) as caught:
        await store.update(CERTIFICATES, created)
    assert str(caught.value) == (
        'certificates.cert-manager.io "a" is invalid: metadata.resourceVersion: Invalid value: 0: '
        "must be specified for an update"
    )
    # Built-in kinds (Secret) update unconditionally, as the API server allows.
    await store.create(SECRETS, secret("s"))
    updated = await store.update(SECRETS, secret("s", data={"b": "Yg=="}))
    assert updated["data"] == {"b": "Yg=="}


async def test_update_missing_object_is_not_found(store: LocalStore) -> None:
    obj = cert("a")
    obj["metadata"]["resourceVersion"] = "1"
    with pytest.raises(NotFound):
        await store.update(CERTIFICATES, obj)
    with pytest.raises(Invalid, match=r"metadata\.name: Required value"):
        await store.update(CERTIFICATES, {"metadata": {"namespace": "ns"}})


async def test_update_with_other_uid_is_a_precondition_conflict(store: LocalStore) -> None:
    created = await store.create(CERTIFICATES, cert("a"))
    uid = created["metadata"]["uid"]
    created["metadata"]["uid"] = "not-it"
    with pytest.raises(Conflict) as caught:
        await store.update(CERTIFICATES, created)
    assert str(caught.value) == (
        'Operation cannot be fulfilled on certificates.cert-manager.io "a": '
        f"Precondition failed: UID in precondition: not-it, UID in object meta: {uid}"
    )


async def test_update_that_changes_nothing_writes_nothing(store: LocalStore) -> None:
    created = await store.create(CERTIFICATES, cert("a"))
    same = await store.update(CERTIFICATES, created)
    assert same == created
    assert store.resource_version == "1"
    assert await store.update_status(CERTIFICATES, created) == created


async def test_update_status_changes_only_status(store: LocalStore) -> None:
    created = await store.create(CERTIFICATES, cert("a"))
    sent = dict(created, spec={"secretName": "other"}, status={"conditions": [{"type": "Ready", "status": "True"}]})
    sent["metadata"] = dict(created["metadata"], labels={"ignored": "yes"})
    updated = await store.update_status(CERTIFICATES, sent)
    assert updated["status"]["conditions"][0]["type"] == "Ready"
    assert updated["spec"] == created["spec"]
    assert "labels" not in updated["metadata"]
    assert updated["metadata"]["generation"] == 1
    assert updated["metadata"]["resourceVersion"] == "2"
    cleared = await store.update_status(CERTIFICATES, {k: v for k, v in updated.items() if k != "status"})
    assert "status" not in cleared


async def test_update_status_conflicts_and_needs_the_subresource(store: LocalStore) -> None:
    created = await store.create(CERTIFICATES, cert("a"))
    await store.update_status(CERTIFICATES, dict(created, status={"a": 1}))
    with pytest.raises(Conflict):
        await store.update_status(CERTIFICATES, dict(created, status={"a": 2}))
    widget = await store.create(WIDGETS, {"metadata": {"name": "w", "namespace": "ns"}})
    with pytest.raises(NotFound, match="the server could not find the requested resource"):
        await store.update_status(WIDGETS, widget)


async def test_secrets_are_stored_as_the_api_server_stores_them(store: LocalStore) -> None:
    sent = secret("s", data={"a": "YQ=="})
    sent["stringData"] = {"b": "bee"}
    created = await store.create(SECRETS, sent)
    assert created["data"] == {"a": "YQ==", "b": "YmVl"}
    assert "stringData" not in created
    assert created["type"] == "Opaque"
    assert "generation" not in created["metadata"]
    created["data"] = {"c": "Yw=="}
    assert "generation" not in (await store.update(SECRETS, created))["metadata"]


@pytest.mark.parametrize(
    ("obj", "message"),
    [
        (secret("s", data={"../x": "YQ=="}), 'data[../x]: Invalid value: "../x": a valid config key must consist'),
        (secret("s", data={"..x": "YQ=="}), "must not start with '..'"),
        (secret("s", data={"k": "not base64!"}), "data[k]: Invalid value: must be base64-encoded bytes"),
        ({**secret("s", data={"tls.crt": ""}), "type": "kubernetes.io/tls"}, "data[tls.key]: Required value"),
        (secret("s", data={"big": "A" * (4 * (1024 * 1024 // 3 + 8))}), "data: Too long"),
    ],
    ids=["path-key", "dotdot-key", "base64", "tls-keys", "size"],
)
async def test_secret_validation(store: LocalStore, obj: RawObject, message: str) -> None:
    with pytest.raises(Invalid) as caught:
        await store.create(SECRETS, obj)
    assert message in str(caught.value)
    assert "not base64!" not in str(caught.value)  # Secret values never appear in errors


async def test_secret_type_and_immutable_data(store: LocalStore) -> None:
    created = await store.create(SECRETS, {**secret("s"), "immutable": True})
    with pytest.raises(Invalid) as caught:
        await store.update(SECRETS, {**created, "type": "kubernetes.io/tls", "data": {"x": "eA=="}, "immutable": False})
    text = str(caught.value)
    assert 'type: Invalid value: "kubernetes.io/tls": field is immutable' in text
    assert "immutable: Forbidden: field is immutable when `immutable` is set" in text
    assert "data: Forbidden: field is immutable when `immutable` is set" in text


class RecordingAdmission:
    """Defaults spec.duration, refuses spec.secretName 'bad', warns about spec.warn.

    As the ``Admit`` contract asks, it changes neither object it is given (it changes a copy) and keeps
    copies of them, not the objects.
    """

    def __init__(self) -> None:
        self.calls: list[tuple[str, Operation, RawObject, RawObject | None]] = []

    def __call__(
        self, resource: ResourceType, operation: Operation, new_obj: RawObject, old_obj: RawObject | None, /
    ) -> tuple[RawObject, list[FieldError], list[str]]:
        self.calls.append((str(resource), operation, copy.deepcopy(new_obj), copy.deepcopy(old_obj)))
        new_obj = copy.deepcopy(new_obj)
        spec = new_obj.setdefault("spec", {})
        spec.setdefault("duration", "2160h")
        new_obj["metadata"]["uid"] = "admission-may-not-set-this"
        errors = []
        if spec.get("secretName") == "bad":
            errors.append(invalid(FieldPath("spec", "secretName"), "bad", "is bad"))
        return new_obj, errors, ["spec.warn is deprecated"] if "warn" in spec else []


@pytest.fixture
async def admitted(clock: FakeClock) -> Any:
    admission = RecordingAdmission()
    async with await LocalStore.open(None, now=clock.now, admit=admission, bookmark_interval=None) as s:
        yield s, admission


async def test_admission_mutates_creates_and_updates(admitted: Any) -> None:
    store, admission = admitted
    created = await store.create(CERTIFICATES, cert("a"))
    assert created["spec"]["duration"] == "2160h"
    assert created["metadata"]["uid"] != "admission-may-not-set-this"
    created["spec"]["duration"] = "24h"
    updated = await store.update(CERTIFICATES, created)
    assert updated["spec"]["duration"] == "24h"
    assert [(c[0], c[1]) for c in admission.calls] == [
        ("certificates.cert-manager.io", Operation.CREATE),
        ("certificates.cert-manager.io", Operation.UPDATE),
    ]
    assert admission.calls[0][3] is None
    assert admission.calls[1][3] is not None
    assert admission.calls[1][3]["spec"]["duration"] == "2160h"


async def test_admission_errors_change_nothing(admitted: Any) -> None:
    store, _ = admitted
    bad = cert("a")
    bad["spec"]["secretName"] = "bad"
    with pytest.raises(Invalid) as caught:
        await store.create(CERTIFICATES, bad)
    assert (
        str(caught.value) == 'Certificate.cert-manager.io "a" is invalid: spec.secretName: Invalid value: "bad": is bad'
    )
    assert caught.value.errors[0].field == "spec.secretName"
    with pytest.raises(NotFound):
        await store.get(CERTIFICATES, "a", namespace="ns")
    created = await store.create(CERTIFICATES, cert("a"))
    created["spec"]["secretName"] = "bad"
    with pytest.raises(Invalid):
        await store.update(CERTIFICATES, created)
    assert (await store.get(CERTIFICATES, "a", namespace="ns"))["spec"]["secretName"] == "a-tls"
    assert store.resource_version == "1"


async def test_admission_warnings_are_logged(admitted: Any, caplog: pytest.LogCaptureFixture) -> None:
    store, _ = admitted
    with caplog.at_level(logging.WARNING, logger="certkeeper.store.local.writes"):
        await store.create(CERTIFICATES, cert("a", spec={"secretName": "s", "warn": True}))
    assert "spec.warn is deprecated" in caplog.text


@pytest.mark.parametrize(
    ("change", "stored"),
    [(None, 3), (3.0, 3.0), (True, True)],
    ids=["unchanged", "integer-to-float", "integer-to-bool"],
)
async def test_what_admission_returns_is_stored_exactly(clock: FakeClock, change: object, stored: object) -> None:
    def admission(
        resource: ResourceType, operation: Operation, new_obj: RawObject, old_obj: RawObject | None, /
    ) -> tuple[RawObject, list[FieldError], list[str]]:
        if change is None:
            return new_obj, [], []
        changed = copy.deepcopy(new_obj)
        changed["spec"]["revisionHistoryLimit"] = change  # equal to 3 for ==, not as JSON
        return changed, [], []

    async with await LocalStore.open(None, now=clock.now, admit=admission, bookmark_interval=None) as store:
        created = await store.create(CERTIFICATES, cert("a", spec={"secretName": "s", "revisionHistoryLimit": 3}))
        assert json.dumps(created["spec"]["revisionHistoryLimit"]) == json.dumps(stored)
        created["spec"]["secretName"] = "t"
        updated = await store.update(CERTIFICATES, created)
        assert json.dumps(updated["spec"]["revisionHistoryLimit"]) == json.dumps(stored)
        assert updated["metadata"]["generation"] == 2
