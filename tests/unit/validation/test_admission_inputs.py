"""admit() never changes the objects it is given, for every kind and operation, admitted or refused.

The local store relies on this: it hands admission the object it is about to store and the stored
entry's own decoded object, not copies (``certkeeper.store.local.admission.Admit``). The check is
strict: the objects must serialise to the same JSON (types and key order included) and every dict
and list in them must still be the very same container.
"""

from __future__ import annotations

import base64
import copy
import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from certkeeper.validation.admission import ADMITTED_KINDS, AdmissionResult, Operation, Stage, admit
from certkeeper.validation.identity import UserInfo
from tests.unit.validation.support import merge
from tests.unit.validation.test_certificaterequest import DEFAULT_CSR

_META = {"name": "web", "namespace": "default", "uid": "u-1", "resourceVersion": "7", "generation": 1}
_CONDITION = {
    "type": "Ready",
    "status": "True",
    "lastTransitionTime": "2024-01-01T00:00:00Z",
    "reason": "Ready",
    "message": "ok",
    "observedGeneration": 1,
}

#: One object of every admitted kind, shaped as the engine writes them (status included).
OBJECTS: dict[str, dict[str, Any]] = {
    "Certificate": {
        "apiVersion": "cert-manager.io/v1",
        "kind": "Certificate",
        "metadata": {**_META, "labels": {"app": "web"}},
        "spec": {
            "secretName": "web-tls",
            "dnsNames": ["example.com", "www.example.com"],
            "issuerRef": {"name": "ca"},
            "privateKey": {"algorithm": "ECDSA", "size": 256},
            "revisionHistoryLimit": 3,
        },
        "status": {"conditions": [_CONDITION], "revision": 1, "notAfter": "2025-01-01T00:00:00Z"},
    },
    "CertificateRequest": {
        "apiVersion": "cert-manager.io/v1",
        "kind": "CertificateRequest",
        "metadata": {
            **_META,
            "annotations": {"cert-manager.io/certificate-name": "web", "cert-manager.io/certificate-revision": "1"},
            "ownerReferences": [
                {"apiVersion": "cert-manager.io/v1", "kind": "Certificate", "name": "web", "uid": "u-0"}
            ],
        },
        "spec": {"issuerRef": {"name": "ca"}, "request": base64.b64encode(DEFAULT_CSR).decode(), "usages": []},
        "status": {"conditions": [{**_CONDITION, "type": "Approved", "reason": "cert-manager.io"}]},
    },
    "Issuer": {
        "apiVersion": "cert-manager.io/v1",
        "kind": "Issuer",
        "metadata": dict(_META),
        "spec": {"ca": {"secretName": "ca-tls"}},
        "status": {"conditions": [_CONDITION]},
    },
    "ClusterIssuer": {
        "apiVersion": "cert-manager.io/v1",
        "kind": "ClusterIssuer",
        "metadata": {"name": "selfsigned", "uid": "u-2"},
        "spec": {"selfSigned": {"crlDistributionPoints": ["http://crl.example"]}},
    },
    "Order": {
        "apiVersion": "acme.cert-manager.io/v1",
        "kind": "Order",
        "metadata": dict(_META),
        "spec": {"request": "Y3Ny", "issuerRef": {"name": "le"}, "dnsNames": ["example.com"]},
        "status": {"state": "pending", "authorizations": [{"url": "https://acme/a", "identifier": "example.com"}]},
    },
    "Challenge": {
        "apiVersion": "acme.cert-manager.io/v1",
        "kind": "Challenge",
        "metadata": dict(_META),
        "spec": {
            "url": "u",
            "authorizationURL": "a",
            "dnsName": "example.com",
            "type": "HTTP-01",
            "token": "t",
            "key": "k",
            "solver": {"http01": {"gatewayHTTPRoute": {"parentRefs": [{"name": "gw"}]}}},
            "issuerRef": {"name": "le"},
        },
        "status": {"processing": True, "presented": False, "state": "pending"},
    },
}

#: Changes that take an object through each step: pruning and defaults, schema and decode errors.
VARIANTS: dict[str, dict[str, Any]] = {
    "as-written": {},
    "unknown-fields": {"metadata": {"bogus": 1}, "spec": {"bogus": {"x": [1.0, True]}}, "extra": [1]},
    "schema-error": {"spec": {"issuerRef": "not an object"}},
    "no-spec": {"spec": None},
    "wrong-kind": {"kind": "Widget"},
    "float-generation": {"metadata": {"generation": 1.0}},
}


def _fingerprint(value: object) -> tuple[str, list[int]]:
    """``value`` as JSON (types and key order kept) and the identity of every dict and list in it."""
    containers: list[int] = []

    def walk(node: object) -> None:
        if isinstance(node, dict):
            containers.append(id(node))
            for item in node.values():
                walk(item)
        elif isinstance(node, list):
            containers.append(id(node))
            for item in node:
                walk(item)

    walk(value)
    return json.dumps(value), containers


def _admit_unchanged(
    kind: str, operation: Operation, new: dict[str, Any], old: dict[str, Any] | None
) -> AdmissionResult:
    """Admit, and check that neither input was touched."""
    before = (_fingerprint(new), _fingerprint(old))
    snapshot = (copy.deepcopy(new), copy.deepcopy(old))
    result = admit(kind, operation, new, old)
    assert (_fingerprint(new), _fingerprint(old)) == before
    assert (new, old) == snapshot
    return result


def test_every_admitted_kind_is_covered() -> None:
    assert frozenset(OBJECTS) == ADMITTED_KINDS


@pytest.mark.parametrize("variant", list(VARIANTS), ids=list(VARIANTS))
@pytest.mark.parametrize("kind", sorted(OBJECTS), ids=sorted(OBJECTS))
def test_create_leaves_its_input_alone(kind: str, variant: str) -> None:
    _admit_unchanged(kind, Operation.CREATE, merge(OBJECTS[kind], VARIANTS[variant]), None)


@pytest.mark.parametrize("variant", list(VARIANTS), ids=list(VARIANTS))
@pytest.mark.parametrize("kind", sorted(OBJECTS), ids=sorted(OBJECTS))
def test_update_leaves_both_inputs_alone(kind: str, variant: str) -> None:
    stored = admit(kind, Operation.CREATE, OBJECTS[kind]).raw
    assert stored is not None
    new = merge(stored, {"spec": {"changed": True}, "status": {"observedGeneration": 2}, **VARIANTS[variant]})
    _admit_unchanged(kind, Operation.UPDATE, new, stored)
    # The stored object as written (without defaults), and one that does not decode.
    _admit_unchanged(kind, Operation.UPDATE, new, merge(OBJECTS[kind], {}))
    result = _admit_unchanged(kind, Operation.UPDATE, new, merge(stored, {"spec": 1}))
    assert result.stage in (Stage.SCHEMA, Stage.DECODE)


def test_a_status_update_of_what_admission_returned_is_unchanged() -> None:
    """What the store sees for most writes: admission's own output, admitted again, gives equal JSON."""
    for kind, obj in OBJECTS.items():
        stored = admit(kind, Operation.CREATE, obj).raw
        assert stored is not None
        result = _admit_unchanged(kind, Operation.UPDATE, copy.deepcopy(stored), stored)
        assert json.dumps(result.raw, sort_keys=True) == json.dumps(stored, sort_keys=True)


def test_identity_mutation_leaves_the_request_alone() -> None:
    new = merge(OBJECTS["CertificateRequest"], {"spec": {"username": "mallory", "groups": ["x"]}})
    snapshot = _fingerprint(new)
    result = admit("CertificateRequest", Operation.CREATE, new, None, user=UserInfo(username="alice", uid="1"))
    assert result.raw is not None
    assert result.raw["spec"]["username"] == "alice"
    assert _fingerprint(new) == snapshot


_JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**40), 2**40) | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=6), children, max_size=3),
    max_leaves=8,
)


def _paths(value: object, prefix: tuple[str | int, ...] = ()) -> list[tuple[str | int, ...]]:
    found = [prefix] if prefix else []
    if isinstance(value, dict):
        for key, item in value.items():
            found += _paths(item, (*prefix, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found += _paths(item, (*prefix, index))
    return found


def _replaced(obj: dict[str, Any], path: tuple[str | int, ...], value: object) -> dict[str, Any]:
    out = copy.deepcopy(obj)
    node: Any = out
    for step in path[:-1]:
        node = node[step]
    node[path[-1]] = value
    return out


@settings(suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data(), kind=st.sampled_from(sorted(OBJECTS)), value=_JSON)
def test_any_value_anywhere_leaves_the_inputs_alone(data: st.DataObject, kind: str, value: object) -> None:
    path = data.draw(st.sampled_from(_paths(OBJECTS[kind])), label="path")
    new = _replaced(OBJECTS[kind], path, value)
    _admit_unchanged(kind, Operation.CREATE, new, None)
    _admit_unchanged(kind, Operation.UPDATE, new, merge(OBJECTS[kind], {}))
    _admit_unchanged(kind, Operation.UPDATE, merge(OBJECTS[kind], {}), new)
