"""Patches: RFC 7386 merge patch, RFC 6902 JSON patch, and the server-side-apply approximation."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from certkeeper.policies.managed_fields import applied_fields_from_managed_fields
from certkeeper.store.local import LocalStore
from certkeeper.store.local.apply import apply, field_set
from certkeeper.store.local.patches import MAX_JSON_PATCH_OPERATIONS, PatchError, json_patch, merge_patch
from certkeeper.store.ports import Conflict, Invalid, NotFound, PatchType

from .conftest import CERTIFICATES, SECRETS, WIDGETS, cert

# -- RFC 7386 -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("target", "patch", "result"),
    [
        ({"a": "b"}, {"a": "c"}, {"a": "c"}),
        ({"a": "b"}, {"b": "c"}, {"a": "b", "b": "c"}),
        ({"a": "b"}, {"a": None}, {}),
        ({"a": "b", "b": "c"}, {"a": None}, {"b": "c"}),
        ({"a": ["b"]}, {"a": "c"}, {"a": "c"}),
        ({"a": "c"}, {"a": ["b"]}, {"a": ["b"]}),
        ({"a": {"b": "c"}}, {"a": {"b": "d", "c": None}}, {"a": {"b": "d"}}),
        ({"a": [{"b": "c"}]}, {"a": [1]}, {"a": [1]}),
        (["a", "b"], ["c", "d"], ["c", "d"]),
        ({"a": "b"}, ["c"], ["c"]),
        ({"e": None}, {"a": 1}, {"e": None, "a": 1}),
        ([1, 2], {"a": "b", "c": None}, {"a": "b"}),
        ({}, {"a": {"bb": {"ccc": None}}}, {"a": {"bb": {}}}),
    ],
    ids=[f"rfc7386-{i}" for i in range(13)],
)
def test_merge_patch_rfc_examples(target: Any, patch: Any, result: Any) -> None:
    before = copy.deepcopy(target)
    assert merge_patch(target, patch) == result
    assert target == before


# -- RFC 6902 -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("doc", "ops", "result"),
    [
        ({"foo": "bar"}, [{"op": "add", "path": "/baz", "value": "qux"}], {"foo": "bar", "baz": "qux"}),
        ({"foo": ["bar", "baz"]}, [{"op": "add", "path": "/foo/1", "value": "qux"}], {"foo": ["bar", "qux", "baz"]}),
        ({"foo": [1]}, [{"op": "add", "path": "/foo/-", "value": 2}], {"foo": [1, 2]}),
        ({"baz": "qux", "foo": "bar"}, [{"op": "remove", "path": "/baz"}], {"foo": "bar"}),
        ({"foo": ["bar", "qux", "baz"]}, [{"op": "remove", "path": "/foo/1"}], {"foo": ["bar", "baz"]}),
        ({"baz": "qux"}, [{"op": "replace", "path": "/baz", "value": "boo"}], {"baz": "boo"}),
        (
            {"foo": {"bar": "baz", "waldo": "fred"}, "qux": {"corge": "grault"}},
            [{"op": "move", "from": "/foo/waldo", "path": "/qux/thud"}],
            {"foo": {"bar": "baz"}, "qux": {"corge": "grault", "thud": "fred"}},
        ),
        ({"foo": [1, 2]}, [{"op": "copy", "from": "/foo/0", "path": "/bar"}], {"foo": [1, 2], "bar": 1}),
        ({"a/b": 1, "m~n": 2}, [{"op": "replace", "path": "/a~1b", "value": 3}], {"a/b": 3, "m~n": 2}),
        ({"m~n": 2}, [{"op": "test", "path": "/m~0n", "value": 2}], {"m~n": 2}),
        ({"a": 1}, [{"op": "replace", "path": "", "value": {"b": 2}}], {"b": 2}),
    ],
    ids=["add", "add-index", "add-end", "remove", "remove-index", "replace", "move", "copy", "escape", "test", "root"],
)
def test_json_patch(doc: Any, ops: list[Any], result: Any) -> None:
    before = copy.deepcopy(doc)
    assert json_patch(doc, ops) == result
    assert doc == before


@pytest.mark.parametrize(
    ("ops", "message"),
    [
        ([{"op": "test", "path": "/a", "value": 2}], "test operation for path '/a' failed"),
        ([{"op": "test", "path": "/t", "value": 1}], "test operation for path '/t' failed"),
        ([{"op": "remove", "path": "/missing"}], "does not exist"),
        ([{"op": "replace", "path": "/missing", "value": 1}], "does not exist"),
        ([{"op": "add", "path": "/l/5", "value": 1}], "out of bounds"),
        ([{"op": "add", "path": "/l/01", "value": 1}], "invalid array index"),
        ([{"op": "add", "path": "a", "value": 1}], "must start with '/'"),
        ([{"op": "add", "path": "/x"}], "has no value"),
        ([{"op": "move", "from": "/l", "path": "/l/0"}], "own child"),
        ([{"op": "frobnicate", "path": "/a"}], "unknown op"),
        ({"op": "add"}, "list of operations"),
        ([{"op": "add", "path": "/n", "value": 1}] * (MAX_JSON_PATCH_OPERATIONS + 1), "maximum operations"),
    ],
    ids=["test", "test-bool-is-not-1", "remove", "replace", "bounds", "leading-zero", "pointer", "value", "move",
         "op", "shape", "limit"],
)  # fmt: skip
def test_json_patch_errors(ops: Any, message: str) -> None:
    with pytest.raises(PatchError, match=message):
        json_patch({"a": 1, "l": [0], "t": True}, ops)


_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=5),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=4), inner, max_size=4),
    max_leaves=20,
)


@given(doc=_json, ops=st.lists(st.dictionaries(st.sampled_from(["op", "path", "from", "value"]), _json), max_size=5))
def test_json_patch_never_crashes(doc: Any, ops: list[Any]) -> None:
    try:
        json_patch(doc, ops)
    except PatchError as exc:
        outcome = str(exc)
    else:
        outcome = "applied"
    assert outcome


@given(target=_json, patch=_json)
def test_merge_patch_is_idempotent(target: Any, patch: Any) -> None:
    once = merge_patch(target, patch)
    assert merge_patch(once, patch) == once


# -- server-side apply approximation ----------------------------------------------------------------------


def test_apply_merges_conditions_by_type_and_removes_what_a_manager_dropped() -> None:
    obj = {"status": {"conditions": [{"type": "Ready", "status": "False"}]}}
    managers: dict[str, list[str]] = {}
    obj, managers = apply(obj, {"status": {"conditions": [{"type": "Ready", "status": "False"}]}}, managers, "ready")
    obj, managers = apply(obj, {"status": {"conditions": [{"type": "Issuing", "status": "True"}]}}, managers, "issuing")
    assert [c["type"] for c in obj["status"]["conditions"]] == ["Ready", "Issuing"]
    obj, managers = apply(obj, {"status": {"conditions": [{"type": "Ready", "status": "True"}]}}, managers, "ready")
    assert obj["status"]["conditions"] == [{"type": "Ready", "status": "True"}, {"type": "Issuing", "status": "True"}]
    # The issuing manager stops applying its condition: it goes, the other stays.
    obj, managers = apply(obj, {"status": {}}, managers, "issuing")
    assert obj["status"]["conditions"] == [{"type": "Ready", "status": "True"}]


def test_apply_keeps_fields_another_manager_applied() -> None:
    obj, managers = apply(None, {"spec": {"a": 1, "b": 2}}, {}, "one")
    obj, managers = apply(obj, {"spec": {"b": 2}}, managers, "two")
    obj, managers = apply(obj, {"spec": {}}, managers, "one")
    assert obj == {"spec": {"b": 2}}
    obj, managers = apply(obj, {"metadata": {"finalizers": ["x"]}}, managers, "two")
    obj, managers = apply(obj, {"metadata": {"finalizers": ["y"]}}, managers, "one")
    assert obj["metadata"]["finalizers"] == ["x", "y"]
    obj, _ = apply(obj, {"metadata": {}}, managers, "two")
    assert obj["metadata"]["finalizers"] == ["y"]
    assert "spec" not in obj  # "two" dropped spec.b and nobody else applies it


def test_field_sets_leave_out_identity() -> None:
    paths = field_set({"apiVersion": "v1", "kind": "X", "metadata": {"name": "a", "labels": {"k": "v"}}, "spec": {}})
    assert paths == {'["metadata","labels","k"]', '["spec"]'}


async def test_merge_patch_through_the_store(store: LocalStore) -> None:
    await store.create(CERTIFICATES, cert("a"))
    patched = await store.patch(
        CERTIFICATES, "a", {"spec": {"dnsNames": None, "commonName": "a"}, "status": {"x": 1}}, namespace="ns"
    )
    assert patched["spec"] == {"secretName": "a-tls", "commonName": "a"}
    assert "status" not in patched  # the main resource does not write status
    assert patched["metadata"]["generation"] == 2
    status = await store.patch(CERTIFICATES, "a", {"status": {"x": 1}}, namespace="ns", subresource="status")
    assert status["status"] == {"x": 1}
    assert status["metadata"]["generation"] == 2


async def test_json_patch_through_the_store(store: LocalStore) -> None:
    await store.create(CERTIFICATES, cert("a"))
    ops = [
        {"op": "test", "path": "/spec/secretName", "value": "a-tls"},
        {"op": "add", "path": "/spec/dnsNames/-", "value": "b"},
    ]
    patched = await store.patch(CERTIFICATES, "a", ops, namespace="ns", patch_type=PatchType.JSON)
    assert patched["spec"]["dnsNames"] == ["a.example.com", "b"]
    failing = [{"op": "test", "path": "/spec/secretName", "value": "other"}]
    with pytest.raises(Invalid, match="test operation for path '/spec/secretName' failed"):
        await store.patch(CERTIFICATES, "a", failing, namespace="ns", patch_type=PatchType.JSON)


async def test_patch_errors(store: LocalStore) -> None:
    with pytest.raises(NotFound):
        await store.patch(CERTIFICATES, "a", {"spec": {}}, namespace="ns")
    created = await store.create(CERTIFICATES, cert("a"))
    with pytest.raises(Conflict):
        await store.patch(CERTIFICATES, "a", {"metadata": {"resourceVersion": "999"}}, namespace="ns")
    with pytest.raises(Invalid, match=r'metadata\.name: Invalid value: "b": field is immutable'):
        await store.patch(CERTIFICATES, "a", {"metadata": {"name": "b"}}, namespace="ns")
    with pytest.raises(NotFound, match="could not find the requested resource"):
        await store.patch(CERTIFICATES, "a", {}, namespace="ns", subresource="scale")
    with pytest.raises(NotFound, match="could not find the requested resource"):
        await store.patch(WIDGETS, "a", {}, namespace="ns", subresource="status")
    # A matching resourceVersion is a precondition that holds.
    rv = created["metadata"]["resourceVersion"]
    patched = await store.patch(
        CERTIFICATES, "a", {"metadata": {"resourceVersion": rv, "labels": {"a": "b"}}}, namespace="ns"
    )
    assert patched["metadata"]["labels"] == {"a": "b"}


async def test_apply_creates_then_updates(store: LocalStore) -> None:
    config = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "s", "labels": {"a": "1"}},
        "data": {"k": "dg=="},
    }
    created = await store.patch(SECRETS, "s", config, namespace="ns", patch_type=PatchType.APPLY, field_manager="me")
    assert created["metadata"]["namespace"] == "ns"
    assert created["data"] == {"k": "dg=="}
    config["metadata"] = {"name": "s"}
    updated = await store.patch(SECRETS, "s", config, namespace="ns", patch_type=PatchType.APPLY, field_manager="me")
    assert "labels" not in updated["metadata"]  # the manager stopped applying its label
    with pytest.raises(Invalid, match="kind: Required value"):
        await store.patch(SECRETS, "s", {"apiVersion": "v1"}, namespace="ns", patch_type=PatchType.APPLY)


async def test_apply_to_status_with_two_managers(store: LocalStore) -> None:
    await store.create(CERTIFICATES, cert("a"))

    async def apply_status(manager: str, conditions: list[dict[str, str]]) -> dict[str, Any]:
        config = {"apiVersion": "cert-manager.io/v1", "kind": "Certificate", "status": {"conditions": conditions}}
        return await store.patch(
            CERTIFICATES, "a", config, namespace="ns", patch_type=PatchType.APPLY, field_manager=manager,
            subresource="status", force=True,
        )  # fmt: skip

    await apply_status("readiness", [{"type": "Ready", "status": "False"}])
    both = await apply_status("issuing", [{"type": "Issuing", "status": "True"}])
    assert [c["type"] for c in both["status"]["conditions"]] == ["Ready", "Issuing"]
    done = await apply_status("issuing", [])
    assert [c["type"] for c in done["status"]["conditions"]] == ["Ready"]
    assert done["metadata"]["generation"] == 1
    with pytest.raises(NotFound):
        await store.patch(
            CERTIFICATES, "missing", {"apiVersion": "cert-manager.io/v1", "kind": "Certificate"}, namespace="ns",
            patch_type=PatchType.APPLY, subresource="status",
        )  # fmt: skip


async def test_applying_managers_are_shown_as_managed_fields(store: LocalStore) -> None:
    owner = await store.create(CERTIFICATES, cert("a"))
    uid = owner["metadata"]["uid"]
    config = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {
            "name": "s",
            "labels": {"controller.cert-manager.io/fao": "true"},
            "annotations": {"cert-manager.io/common-name": "a"},
            "ownerReferences": [{"apiVersion": "cert-manager.io/v1", "kind": "Certificate", "name": "a", "uid": uid}],
        },
        "type": "kubernetes.io/tls",
        "data": {"tls.crt": "Yw==", "tls.key": "aw=="},
    }
    secret_obj = await store.patch(
        SECRETS, "s", config, namespace="ns", patch_type=PatchType.APPLY, field_manager="issuing", force=True
    )
    [entry] = secret_obj["metadata"]["managedFields"]
    assert {k: v for k, v in entry.items() if k != "fieldsV1"} == {
        "manager": "issuing",
        "operation": "Apply",
        "apiVersion": "v1",
        "fieldsType": "FieldsV1",
    }
    assert entry["fieldsV1"]["f:data"] == {"f:tls.crt": {}, "f:tls.key": {}}
    assert entry["fieldsV1"]["f:metadata"]["f:ownerReferences"] == {
        f'k:{{"uid":"{uid}"}}': {".": {}, "f:apiVersion": {}, "f:kind": {}, "f:name": {}, "f:uid": {}}
    }
    # What certkeeper's controllers read back from a Secret.
    applied = applied_fields_from_managed_fields(secret_obj["metadata"]["managedFields"], "issuing")
    assert applied.parse_error is None
    assert applied.labels == {"controller.cert-manager.io/fao"}
    assert applied.annotations == {"cert-manager.io/common-name"}
    assert applied.data == {"tls.crt", "tls.key"}
    assert applied.owner_reference_uids == {uid}
    # A client cannot rewrite them with an update.
    secret_obj["metadata"]["managedFields"] = [{"manager": "forged", "operation": "Apply"}]
    secret_obj["data"]["extra"] = "eA=="
    updated = await store.update(SECRETS, secret_obj)
    assert [e["manager"] for e in updated["metadata"]["managedFields"]] == ["issuing"]


async def test_status_appliers_are_filed_under_the_subresource(store: LocalStore) -> None:
    await store.create(CERTIFICATES, cert("a", metadata={"name": "a", "namespace": "ns", "managedFields": [{}]}))
    assert "managedFields" not in (await store.get(CERTIFICATES, "a", namespace="ns"))["metadata"]
    config = {"apiVersion": "cert-manager.io/v1", "kind": "Certificate", "status": {"conditions": [{"type": "Ready"}]}}
    applied = await store.patch(
        CERTIFICATES, "a", config, namespace="ns", patch_type=PatchType.APPLY, field_manager="readiness",
        subresource="status",
    )  # fmt: skip
    [entry] = applied["metadata"]["managedFields"]
    assert (entry["manager"], entry["subresource"]) == ("readiness", "status")
    assert entry["fieldsV1"] == {"f:status": {"f:conditions": {'k:{"type":"Ready"}': {".": {}, "f:type": {}}}}}
    # Applying nothing leaves nothing managed.
    cleared = await store.patch(
        CERTIFICATES, "a", {"apiVersion": "cert-manager.io/v1", "kind": "Certificate"}, namespace="ns",
        patch_type=PatchType.APPLY, field_manager="readiness", subresource="status",
    )  # fmt: skip
    assert "managedFields" not in cleared["metadata"]
    assert "conditions" not in cleared.get("status", {})
