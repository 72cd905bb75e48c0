"""Reading what a field manager owns from server-side-apply managed fields (FieldsV1)."""

import json

import pytest

from certkeeper.policies.managed_fields import AppliedSecretFields, applied_fields_from_managed_fields

MANAGER = "cert-manager-unit-test"
FIELDS = {
    "f:metadata": {
        "f:labels": {"f:controller.cert-manager.io/fao": {}, "f:app": {}},
        "f:annotations": {"f:cert-manager.io/common-name": {}, "f:foo": {}},
        "f:ownerReferences": {
            'k:{"uid":"cert-uid-1"}': {},
            'k:{"uid":"cert-uid-2"}': {".": {}, "f:apiVersion": {}},
            'k:{"uid":"cert-uid-3"}': {"f:apiVersion": {}},
            'k:{"uid":"cert-uid-4","name":"x"}': {},
        },
    },
    "f:data": {"f:tls.crt": {}, "f:key.der": {}, ".": {}},
}


def test_reads_labels_annotations_data_and_owner_references() -> None:
    entries: list[dict[str, object]] = [
        {"manager": MANAGER, "operation": "Apply", "fieldsType": "FieldsV1", "fieldsV1": FIELDS},
        {"manager": "kubectl", "fieldsV1": {"f:metadata": {"f:labels": {"f:kubectl-label": {}}}}},
        {"manager": MANAGER},
    ]
    assert applied_fields_from_managed_fields(entries, MANAGER) == AppliedSecretFields(
        labels=frozenset({"controller.cert-manager.io/fao", "app"}),
        annotations=frozenset({"cert-manager.io/common-name", "foo"}),
        data=frozenset({"tls.crt", "key.der"}),
        owner_reference_uids=frozenset({"cert-uid-1", "cert-uid-2"}),
    )


def test_merges_every_entry_of_the_manager_and_accepts_json_text() -> None:
    entries: list[dict[str, object]] = [
        {"manager": MANAGER, "fieldsV1": {"f:metadata": {"f:labels": {"f:a": {}}}}},
        {"manager": MANAGER, "fieldsV1": json.dumps({"f:metadata": {"f:labels": {"f:b": {}}}})},
    ]
    assert applied_fields_from_managed_fields(entries, MANAGER).labels == {"a", "b"}


@pytest.mark.parametrize(
    "entries", [None, [], [{"manager": "other", "fieldsV1": "not json"}]], ids=["none", "empty", "other"]
)
def test_nothing_owned(entries: list[dict[str, object]] | None) -> None:
    assert applied_fields_from_managed_fields(entries, MANAGER) == AppliedSecretFields()


@pytest.mark.parametrize(
    "fields",
    [
        "not json",
        [],
        {"f:metadata": {"f:labels": {"app": {}}}},
        {"f:metadata": {"f:labels": {"f:app": "x"}}},
        {"f:metadata": {"f:ownerReferences": {"k:{not json": {}}}},
    ],
    ids=["text", "list", "unprefixed", "non-object", "bad-key"],
)
def test_malformed_fields_become_a_parse_error(fields: object) -> None:
    applied = applied_fields_from_managed_fields([{"manager": MANAGER, "fieldsV1": fields}], MANAGER)
    assert applied.parse_error
    assert applied.labels == frozenset()
