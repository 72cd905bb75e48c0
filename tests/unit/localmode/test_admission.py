"""store_admission: certkeeper's admission as the local store's ``Admit`` hook, within its contract."""

from __future__ import annotations

import copy
import json

from certkeeper.api.features import DEFAULT_GATES
from certkeeper.localmode.admission import store_admission
from certkeeper.store.local import Operation
from certkeeper.store.ports import RawObject, ResourceType

CERTIFICATES = ResourceType(
    group="cert-manager.io", version="v1", kind="Certificate", plural="certificates", status_subresource=True
)
SECRETS = ResourceType(group="", version="v1", kind="Secret", plural="secrets")


def _certificate(**spec: object) -> RawObject:
    return {
        "apiVersion": "cert-manager.io/v1",
        "kind": "Certificate",
        "metadata": {"name": "a", "namespace": "ns"},
        "spec": {"secretName": "a-tls", "dnsNames": ["a.example.com"], "issuerRef": {"name": "ca"}, **spec},
    }


def test_other_kinds_get_the_object_itself_back() -> None:
    admit = store_admission(DEFAULT_GATES)
    obj: RawObject = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s"}, "data": {"a": "YQ=="}}
    before = json.dumps(obj)
    returned, errors, warnings = admit(SECRETS, Operation.CREATE, obj, None)
    assert returned is obj
    assert (list(errors), list(warnings)) == ([], [])
    assert json.dumps(obj) == before


def test_admitted_objects_are_admissions_own() -> None:
    admit = store_admission(DEFAULT_GATES)
    new, old = _certificate(bogus=1), _certificate()
    before = (json.dumps(new), json.dumps(old))
    returned, errors, warnings = admit(CERTIFICATES, Operation.UPDATE, new, old)
    assert returned is not new
    assert returned["spec"]["issuerRef"] == {"name": "ca", "kind": "Issuer", "group": "cert-manager.io"}
    assert "bogus" not in returned["spec"]
    assert list(errors) == []
    assert list(warnings) == ['unknown field "spec.bogus"']
    assert (json.dumps(new), json.dumps(old)) == before


def test_refused_objects_come_back_as_given_with_the_errors() -> None:
    admit = store_admission(DEFAULT_GATES)
    new = _certificate(duration="1m")
    snapshot = copy.deepcopy(new)
    returned, errors, _ = admit(CERTIFICATES, Operation.CREATE, new, None)
    assert returned is new
    assert [error.field for error in errors] == ["spec.duration"]
    assert new == snapshot
