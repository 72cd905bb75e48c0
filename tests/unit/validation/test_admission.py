"""admit(): schema, decode, defaults and rules in the API server's order, for every kind."""

from __future__ import annotations

import base64
import copy
from typing import Any

import pytest

from certkeeper.api.acme import Challenge, Order
from certkeeper.api.certmanager import Certificate, CertificateRequest, ClusterIssuer, Issuer
from certkeeper.api.features import DEFAULT_GATES
from certkeeper.api.field import ErrorType
from certkeeper.api.structural import Limits
from certkeeper.validation.acme_issuer import DEPRECATED_EAB_KEY_ALGORITHM_WARNING
from certkeeper.validation.admission import ADMITTED_KINDS, Operation, Stage, UnknownKind, admit
from certkeeper.validation.identity import UserInfo
from tests.unit.validation.support import merge
from tests.unit.validation.test_certificaterequest import DEFAULT_CSR

CERTIFICATE: dict[str, Any] = {
    "apiVersion": "cert-manager.io/v1",
    "kind": "Certificate",
    "metadata": {"name": "web", "namespace": "default"},
    "spec": {"secretName": "web-tls", "dnsNames": ["example.com"], "issuerRef": {"name": "ca"}},
}


def _request_raw(**spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "cert-manager.io/v1",
        "kind": "CertificateRequest",
        "metadata": {
            "name": "web-1",
            "namespace": "default",
            "annotations": {"cert-manager.io/certificate-name": "web"},
        },
        "spec": {"issuerRef": {"name": "ca"}, "request": base64.b64encode(DEFAULT_CSR).decode(), **spec},
    }


def test_valid_create_returns_the_defaulted_object() -> None:
    result = admit("Certificate", "CREATE", CERTIFICATE)
    assert result.allowed
    assert result.stage is None
    assert result.errors == ()
    assert isinstance(result.object, Certificate)
    assert result.object.spec.issuer_ref.kind == "Issuer"
    assert result.raw is not None
    assert result.raw["spec"]["issuerRef"] == {"name": "ca", "kind": "Issuer", "group": "cert-manager.io"}
    # What admission returns is admitted again unchanged.
    again = admit("Certificate", Operation.CREATE, result.raw)
    assert again.allowed
    assert again.raw == result.raw


def test_input_is_never_modified() -> None:
    raw = merge(CERTIFICATE, {"spec": {"unknown": 1}})
    snapshot = copy.deepcopy(raw)
    admit("Certificate", "CREATE", raw)
    assert raw == snapshot


def test_unknown_fields_are_pruned_with_a_warning() -> None:
    raw = merge(CERTIFICATE, {"spec": {"bogus": True, "issuerRef": {"extra": 1}}, "metadata": {"nope": 1}})
    result = admit("Certificate", "CREATE", raw)
    assert result.allowed
    assert result.warnings == (
        'unknown field "metadata.nope"',
        'unknown field "spec.bogus"',
        'unknown field "spec.issuerRef.extra"',
    )
    assert result.raw is not None
    assert "bogus" not in result.raw["spec"]


def test_schema_errors_stop_before_the_webhook() -> None:
    # secretName has the wrong type (schema) and there is no name at all (webhook): only the first is reported.
    raw = merge(CERTIFICATE, {"spec": {"secretName": 5, "dnsNames": None, "usages": ["nope"]}})
    result = admit("Certificate", "CREATE", raw)
    assert result.stage is Stage.SCHEMA
    assert result.object is None
    assert result.raw is None
    assert [e.field for e in result.errors] == ["spec.secretName", "spec.usages[0]"]
    assert str(result.errors[0]) == (
        'spec.secretName: Invalid value: "integer": spec.secretName in body must be of type string: "integer"'
    )


def test_missing_required_fields_are_schema_errors() -> None:
    result = admit("Certificate", "CREATE", merge(CERTIFICATE, {"spec": {"issuerRef": None, "secretName": None}}))
    assert result.stage is Stage.SCHEMA
    assert [str(e) for e in result.errors] == ["spec.issuerRef: Required value", "spec.secretName: Required value"]


def test_webhook_errors_and_warnings_together() -> None:
    raw = {
        "apiVersion": "cert-manager.io/v1",
        "kind": "Issuer",
        "metadata": {"name": "le"},
        "spec": {
            "acme": {
                "server": "https://acme",
                "privateKeySecretRef": {"name": "k"},
                "externalAccountBinding": {
                    "keyID": "",
                    "keySecretRef": {"name": "e", "key": "k"},
                    "keyAlgorithm": "HS256",
                },
                "unknownThing": 1,
            }
        },
    }
    result = admit("Issuer", "CREATE", raw)
    assert result.stage is Stage.WEBHOOK
    assert [str(e) for e in result.errors] == [
        "spec.acme.externalAccountBinding.keyID: Required value: the keyID field is required when using "
        "externalAccountBinding"
    ]
    assert result.warnings == ('unknown field "spec.acme.unknownThing"', DEPRECATED_EAB_KEY_ALGORITHM_WARNING)
    # The object is still decoded (with its CRD default) for callers that want to show it.
    assert isinstance(result.object, Issuer)
    assert result.object.spec.acme is not None
    assert result.object.spec.acme.renewal_information_source == "ARI"


def test_rules_see_the_object_before_issuer_ref_defaults() -> None:
    # cert-manager's webhook decodes without defaulting, which is what makes its hint possible.
    raw = merge(CERTIFICATE, {"spec": {"issuerRef": {"kind": "AWSPCAClusterIssuer"}}})
    (error,) = admit("Certificate", "CREATE", raw).errors
    assert error.detail.endswith("(did you forget to set spec.issuerRef.kind.group?)")


@pytest.mark.parametrize(
    ("changes", "field"),
    [({"kind": "Issuer"}, "kind"), ({"apiVersion": "cert-manager.io/v2"}, "apiVersion")],
    ids=["kind", "apiVersion"],
)
def test_payload_must_be_the_admitted_kind(changes: dict[str, Any], field: str) -> None:
    result = admit("Certificate", "CREATE", {**CERTIFICATE, **changes})
    assert result.stage is Stage.SCHEMA
    assert [e.field for e in result.errors] == [field]


def test_kind_and_api_version_may_be_omitted() -> None:
    raw = {key: value for key, value in CERTIFICATE.items() if key not in ("kind", "apiVersion")}
    result = admit("Certificate", "CREATE", raw)
    assert result.allowed
    assert result.raw is not None
    assert (result.raw["kind"], result.raw["apiVersion"]) == ("Certificate", "cert-manager.io/v1")


def test_values_msgspec_cannot_hold_fail_at_decode() -> None:
    result = admit("Certificate", "CREATE", {**CERTIFICATE, "status": {"notAfter": "0000-01-01T00:00:00Z"}})
    assert result.stage is Stage.DECODE
    assert [e.field for e in result.errors] == ["status.notAfter"]


def test_hostile_shapes_are_refused_by_the_limits() -> None:
    deep: dict[str, Any] = {}
    node = deep
    for _ in range(100):
        node["a"] = {}
        node = node["a"]
    result = admit("Certificate", "CREATE", merge(CERTIFICATE, {"spec": {"secretTemplate": {"labels": deep}}}))
    assert result.stage is Stage.SCHEMA
    many = merge(CERTIFICATE, {"spec": {"dnsNames": ["a.example"] * 50}})
    result = admit("Certificate", "CREATE", many, limits=Limits(max_values=40))
    assert result.stage is Stage.SCHEMA
    assert "must not hold more than 40 values" in str(result.errors[0])


def test_update_runs_the_update_rules() -> None:
    old = _request_raw()
    new = merge(old, {"spec": {"isCA": True}, "metadata": {"annotations": {"cert-manager.io/certificate-name": "x"}}})
    result = admit("CertificateRequest", "UPDATE", new, old)
    assert result.stage is Stage.WEBHOOK
    assert [str(e) for e in result.errors] == [
        "metadata.annotations.cert-manager.io/certificate-name: Forbidden: cannot change cert-manager annotation "
        "after creation",
        "metadata.annotations.cert-manager.io/certificate-name: Forbidden: cannot change cert-manager annotation "
        "after creation",
        "spec: Forbidden: cannot change spec after creation",
    ]


def test_update_of_a_stored_defaulted_object_with_the_original_manifest() -> None:
    stored = admit("CertificateRequest", "CREATE", _request_raw()).raw
    assert stored is not None
    assert stored["spec"]["issuerRef"]["kind"] == "Issuer"
    assert admit("CertificateRequest", "UPDATE", _request_raw(), stored).allowed


def test_update_with_an_undecodable_stored_object() -> None:
    result = admit("Certificate", "UPDATE", CERTIFICATE, {**CERTIFICATE, "spec": {"secretName": 1}})
    assert result.stage is Stage.DECODE
    (error,) = result.errors
    assert error.type is ErrorType.INTERNAL
    assert error.detail.startswith("the stored object does not decode: spec.secretName: Invalid value")


def test_requester_identity_is_set_on_create() -> None:
    user = UserInfo(username="alice", uid="1", groups=("devs",), extra={"k": ("v",)})
    result = admit("CertificateRequest", "CREATE", _request_raw(username="mallory"), user=user)
    assert result.allowed
    assert isinstance(result.object, CertificateRequest)
    assert (result.object.spec.username, result.object.spec.groups) == ("alice", ["devs"])
    # Without a requester the identity fields are left as written.
    result = admit("CertificateRequest", "CREATE", _request_raw(username="mallory"))
    assert isinstance(result.object, CertificateRequest)
    assert result.object.spec.username == "mallory"


def test_every_kind_is_admitted() -> None:
    assert frozenset({"Certificate", "CertificateRequest", "Issuer", "ClusterIssuer", "Order", "Challenge"}) == (
        ADMITTED_KINDS
    )
    cluster_issuer = {"apiVersion": "cert-manager.io/v1", "kind": "ClusterIssuer", "metadata": {"name": "c"}}
    assert isinstance(
        admit("ClusterIssuer", "CREATE", {**cluster_issuer, "spec": {"selfSigned": {}}}).object, ClusterIssuer
    )
    order = {
        "apiVersion": "acme.cert-manager.io/v1",
        "kind": "Order",
        "metadata": {"name": "o"},
        "spec": {"request": "Y3Ny", "issuerRef": {"name": "le"}},
    }
    assert isinstance(admit("Order", "CREATE", order).object, Order)
    changed = merge(order, {"spec": {"request": "b3RoZXI="}})
    assert [str(e) for e in admit("Order", "UPDATE", changed, order).errors] == [
        "spec.request: Forbidden: field is immutable once set"
    ]
    challenge = {
        "apiVersion": "acme.cert-manager.io/v1",
        "kind": "Challenge",
        "metadata": {"name": "c"},
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
    }
    admitted = admit("Challenge", "CREATE", challenge)
    assert isinstance(admitted.object, Challenge)
    assert admitted.raw is not None
    parent = admitted.raw["spec"]["solver"]["http01"]["gatewayHTTPRoute"]["parentRefs"][0]
    assert parent == {"group": "gateway.networking.k8s.io", "kind": "Gateway", "name": "gw"}
    assert admit("Challenge", "UPDATE", challenge, admitted.raw).allowed


def test_misuse_is_an_error() -> None:
    with pytest.raises(UnknownKind):
        admit("Secret", "CREATE", {"apiVersion": "v1", "kind": "Secret"})
    with pytest.raises(ValueError, match="old_raw"):
        admit("Certificate", "UPDATE", CERTIFICATE)
    with pytest.raises(ValueError, match="DELETE"):
        admit("Certificate", "DELETE", CERTIFICATE, CERTIFICATE, DEFAULT_GATES)
