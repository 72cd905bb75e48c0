"""Structural validation of raw objects against the generated CRDs, with the API server's messages."""

from __future__ import annotations

import copy
from datetime import datetime
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from certkeeper.api import acme, certmanager
from certkeeper.api.crds import KINDS_BY_MODEL, openapi_schema
from certkeeper.api.field import ErrorType, FieldError
from certkeeper.api.openapi import SchemaError
from certkeeper.api.structural import Limits, SchemaValidator, StructuralResult, validate
from certkeeper.api.structural_values import RULES_NOT_CHECKED

CERTIFICATE = SchemaValidator(openapi_schema(KINDS_BY_MODEL[certmanager.Certificate]))
ISSUER = SchemaValidator(openapi_schema(KINDS_BY_MODEL[certmanager.Issuer]))
REQUEST = SchemaValidator(openapi_schema(KINDS_BY_MODEL[certmanager.CertificateRequest]))
CHALLENGE = SchemaValidator(openapi_schema(KINDS_BY_MODEL[acme.Challenge]))


def certificate(**spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "cert-manager.io/v1",
        "kind": "Certificate",
        "metadata": {"name": "web", "namespace": "default"},
        "spec": {"secretName": "web-tls", "issuerRef": {"name": "ca"}, "dnsNames": ["example.com"], **spec},
    }


def acme_issuer(**acme_spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "cert-manager.io/v1",
        "kind": "Issuer",
        "metadata": {"name": "le"},
        "spec": {"acme": {"server": "https://acme.example/dir", "privateKeySecretRef": {"name": "k"}, **acme_spec}},
    }


def messages(result: StructuralResult) -> list[str]:
    return [str(error) for error in result.errors]


def test_a_valid_certificate_passes_unchanged() -> None:
    manifest = certificate(privateKey={"algorithm": "ECDSA", "size": 256}, usages=["server auth"], isCA=False)
    result = CERTIFICATE.validate(manifest)
    assert result.ok
    assert result.unknown_fields == ()
    assert result.object == manifest


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        pytest.param(
            {"dnsNames": [1]},
            'spec.dnsNames[0]: Invalid value: "integer": spec.dnsNames[0] in body must be of type string: "integer"',
            id="int-for-string",
        ),
        pytest.param(
            {"commonName": 1.5},
            'spec.commonName: Invalid value: "number": spec.commonName in body must be of type string: "number"',
            id="float-for-string",
        ),
        pytest.param(
            {"commonName": True},
            'spec.commonName: Invalid value: "boolean": spec.commonName in body must be of type string: "boolean"',
            id="bool-for-string",
        ),
        pytest.param(
            {"dnsNames": [None]},
            'spec.dnsNames[0]: Invalid value: "null": spec.dnsNames[0] in body must be of type string: "null"',
            id="null-item",
        ),
        pytest.param(
            {"dnsNames": "example.com"},
            'spec.dnsNames: Invalid value: "string": spec.dnsNames in body must be of type array: "string"',
            id="string-for-array",
        ),
        pytest.param(
            {"isCA": "true"},
            'spec.isCA: Invalid value: "string": spec.isCA in body must be of type boolean: "string"',
            id="string-for-bool",
        ),
        pytest.param(
            {"privateKey": {"size": "2048"}},
            'spec.privateKey.size: Invalid value: "string": spec.privateKey.size in body must be of type integer: '
            '"string"',
            id="string-for-int",
        ),
        pytest.param(
            {"privateKey": "RSA"},
            'spec.privateKey: Invalid value: "string": spec.privateKey in body must be of type object: "string"',
            id="string-for-object",
        ),
        pytest.param(
            {"revisionHistoryLimit": "1"},
            'spec.revisionHistoryLimit: Invalid value: "string": spec.revisionHistoryLimit in body must be of type '
            'integer: "string"',
            id="string-for-int32",
        ),
        pytest.param(
            {"revisionHistoryLimit": True},
            'spec.revisionHistoryLimit: Invalid value: "": spec.revisionHistoryLimit in body must be of type int32: ""',
            id="bool-for-int32",
        ),
    ],
)
def test_type_errors(spec: dict[str, Any], expected: str) -> None:
    assert messages(CERTIFICATE.validate(certificate(**spec))) == [expected]


def test_an_integral_float_is_an_integer() -> None:
    assert CERTIFICATE.validate(certificate(privateKey={"size": 2048.0})).ok
    # A fraction fails the type check and kube-openapi's integer range check, and both are reported.
    assert messages(CERTIFICATE.validate(certificate(privateKey={"size": 2048.5}))) == [
        'spec.privateKey.size: Invalid value: "number": spec.privateKey.size in body must be of type integer: "number"',
        'Invalid value: "": Checked value must be of type integer (default format) in spec.privateKey.size',
    ]


def test_int32_range() -> None:
    result = CERTIFICATE.validate(certificate(renewBeforePercentage=2**31))
    assert messages(result) == [
        'Invalid value: "": Checked value must be of type integer with format int32 in spec.renewBeforePercentage'
    ]
    assert CERTIFICATE.validate(certificate(renewBeforePercentage=2**31 - 1)).ok


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        pytest.param(
            {"privateKey": {"algorithm": "DSA"}},
            'spec.privateKey.algorithm: Unsupported value: "DSA": supported values: "RSA", "ECDSA", "Ed25519"',
            id="key-algorithm",
        ),
        pytest.param(
            {"additionalOutputFormats": [{"type": "PEM"}]},
            'spec.additionalOutputFormats[0].type: Unsupported value: "PEM": supported values: "DER", "CombinedPEM"',
            id="output-format",
        ),
        pytest.param(
            {"keystores": {"pkcs12": {"create": True, "profile": "Modern2024"}}},
            'spec.keystores.pkcs12.profile: Unsupported value: "Modern2024": supported values: "LegacyRC2", '
            '"LegacyDES", "Modern2023", "Modern2026"',
            id="pkcs12-profile",
        ),
    ],
)
def test_enums(spec: dict[str, Any], expected: str) -> None:
    assert messages(CERTIFICATE.validate(certificate(**spec))) == [expected]


def test_enum_and_type_errors_together() -> None:
    result = CERTIFICATE.validate(certificate(usages=["server auth", 7]))
    assert messages(result)[0].startswith('spec.usages[1]: Invalid value: "integer"')
    assert messages(result)[1].startswith('spec.usages[1]: Unsupported value: 7: supported values: "signing", ')


def test_required() -> None:
    manifest = certificate(issuerRef={"kind": "Issuer"})
    del manifest["spec"]["secretName"]
    assert messages(CERTIFICATE.validate(manifest)) == [
        "spec.issuerRef.name: Required value",
        "spec.secretName: Required value",
    ]
    no_spec = {"apiVersion": "cert-manager.io/v1", "kind": "Issuer", "metadata": {"name": "x"}}
    # The Issuer schema carries a CEL rule, so a blocking error also brings the API server's notice.
    assert messages(ISSUER.validate(no_spec)) == ["spec: Required value", f"Invalid value: null: {RULES_NOT_CHECKED}"]


def test_patterns_and_lengths() -> None:
    renewal = {"windows": [{"windowDuration": "1h30m", "cron": "0 2 * * *"}, {"windowDuration": "1d", "cron": ""}]}
    result = CERTIFICATE.validate(certificate(renewal=renewal))
    assert messages(result) == [
        'spec.renewal.windows[1].cron: Invalid value: "": spec.renewal.windows[1].cron in body should be at least 1 '
        "chars long",
        'spec.renewal.windows[1].windowDuration: Invalid value: "1d": spec.renewal.windows[1].windowDuration in body '
        "should match '^([0-9]+(\\.[0-9]+)?(s|m|h))+$'",
    ]
    # RE2's $ is the end of the text: a trailing newline does not match.
    newline = {"windows": [{"windowDuration": "1h\n", "cron": "x"}]}
    assert len(CERTIFICATE.validate(certificate(renewal=newline)).errors) == 1
    too_long = ISSUER.validate(acme_issuer(preferredChain="x" * 65))
    assert messages(too_long)[0] == "spec.acme.preferredChain: Too long: may not be more than 64 bytes"
    assert ISSUER.validate(acme_issuer(preferredChain="é" * 64)).ok  # characters, not bytes


def _gateway_solver(**parent_ref: Any) -> dict[str, Any]:
    return {"http01": {"gatewayHTTPRoute": {"parentRefs": [{"name": "gw", **parent_ref}]}}}


def test_minimum_maximum_and_defaults() -> None:
    result = ISSUER.validate(acme_issuer(solvers=[_gateway_solver(port=0), _gateway_solver(port=70000)]))
    path = "spec.acme.solvers[{}].http01.gatewayHTTPRoute.parentRefs[0].port"
    assert messages(result) == [
        f"{path.format(0)}: Invalid value: 0: {path.format(0)} in body should be greater than or equal to 1",
        f"{path.format(1)}: Invalid value: 70000: {path.format(1)} in body should be less than or equal to 65535",
    ]
    ok = ISSUER.validate(acme_issuer(solvers=[_gateway_solver(port=443)]))
    assert ok.ok
    assert ok.object["spec"]["acme"]["renewalInformationSource"] == "ARI"
    ref = ok.object["spec"]["acme"]["solvers"][0]["http01"]["gatewayHTTPRoute"]["parentRefs"][0]
    assert ref == {"name": "gw", "port": 443, "group": "gateway.networking.k8s.io", "kind": "Gateway"}
    explicit = ISSUER.validate(acme_issuer(renewalInformationSource="None"))
    assert explicit.object["spec"]["acme"]["renewalInformationSource"] == "None"


def test_formats() -> None:
    status = {"notAfter": "2027-01-01T00:00:00Z", "renewalTime": "soon", "notBefore": "2026-02-30T00:00:00Z"}
    result = CERTIFICATE.validate({**certificate(), "status": status})
    assert messages(result) == [
        'status.notBefore: Invalid value: "2026-02-30T00:00:00Z": status.notBefore in body must be of type '
        'date-time: "2026-02-30T00:00:00Z"',
        'status.renewalTime: Invalid value: "soon": status.renewalTime in body must be of type date-time: "soon"',
    ]
    request: dict[str, Any] = {
        "apiVersion": "cert-manager.io/v1",
        "kind": "CertificateRequest",
        "metadata": {"name": "r"},
        "spec": {"issuerRef": {"name": "ca"}, "request": "not base64!"},
    }
    assert messages(REQUEST.validate(request)) == [
        'spec.request: Invalid value: "not base64!": spec.request in body must be of type byte: "not base64!"'
    ]
    request["spec"]["request"] = "LS0tLS1CRUdJTg=="
    assert REQUEST.validate(request).ok


def test_maps() -> None:
    template = {"labels": {"a": "b", "n": 1}, "annotations": ["x"]}
    assert messages(CERTIFICATE.validate(certificate(secretTemplate=template))) == [
        'spec.secretTemplate.annotations: Invalid value: "array": spec.secretTemplate.annotations in body must be '
        'of type object: "array"',
        'spec.secretTemplate.labels.n: Invalid value: "integer": spec.secretTemplate.labels.n in body must be of '
        'type string: "integer"',
    ]


def test_int_or_string() -> None:
    resources = {"limits": {"cpu": "100m", "memory": 64, "gpu": True, "bad": "1Q"}}
    pod = {"podTemplate": {"spec": {"resources": resources}}}
    result = ISSUER.validate(acme_issuer(solvers=[{"http01": {"ingress": pod}}]))
    limits = "spec.acme.solvers[0].http01.ingress.podTemplate.spec.resources.limits"
    assert messages(result) == [
        f"{limits}.bad: Invalid value: \"1Q\": {limits}.bad in body should match '{_QUANTITY}'",
        f'Invalid value: "": "{limits}.gpu" must validate at least one schema (anyOf)',
        f'{limits}.gpu: Invalid value: "boolean": {limits}.gpu in body must be of type integer: "boolean"',
        f"Invalid value: null: {RULES_NOT_CHECKED}",
    ]


_QUANTITY = (
    r"^(\+|-)?(([0-9]+(\.[0-9]*)?)|(\.[0-9]+))(([KMGTPE]i)|[numkMGTPE]|([eE](\+|-)?(([0-9]+(\.[0-9]*)?)|(\.[0-9]+))))?$"
)


def test_list_map_keys_are_unique() -> None:
    conditions = [
        {"type": "Ready", "status": "True"},
        {"type": "Issuing", "status": "False"},
        {"type": "Ready", "status": "False"},
        {"type": "Ready", "status": "Unknown"},
    ]
    result = CERTIFICATE.validate({**certificate(), "status": {"conditions": conditions}})
    assert messages(result) == ['status.conditions[2]: Duplicate value: {"type":"Ready"}']


def test_preserve_unknown_fields_keeps_free_form_json() -> None:
    config = {"nested": {"deep": [1, {"x": None}]}, "flag": True}
    affinity: dict[str, Any] = {
        "nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": []}}
    }
    solver = {
        "dns01": {"webhook": {"groupName": "acme.example", "solverName": "s", "config": config}},
        "http01": {"ingress": {"podTemplate": {"spec": {"affinity": affinity}}}},
    }
    result = ISSUER.validate(acme_issuer(solvers=[solver]))
    assert result.ok
    assert result.unknown_fields == ()
    kept = result.object["spec"]["acme"]["solvers"][0]
    assert kept["dns01"]["webhook"]["config"] == config
    assert kept["http01"]["ingress"]["podTemplate"]["spec"]["affinity"] == affinity


def test_unknown_fields_are_pruned_and_reported() -> None:
    manifest = certificate(foo=1, privateKey={"algorithm": "RSA", "bits": 2048}, dnsNames=[{"name": "x"}])
    manifest["metadata"]["colour"] = "red"
    manifest["extra"] = True
    original = copy.deepcopy(manifest)
    result = CERTIFICATE.validate(manifest)
    assert result.unknown_fields == (
        "metadata.colour",
        "extra",
        "spec.dnsNames[0].name",
        "spec.foo",
        "spec.privateKey.bits",
    )
    assert result.warnings[0] == 'unknown field "metadata.colour"'
    assert result.object["spec"]["privateKey"] == {"algorithm": "RSA"}
    assert "foo" not in result.object["spec"]
    assert "extra" not in result.object
    assert "colour" not in result.object["metadata"]
    assert manifest == original  # the input is never modified
    # A pruned object validates to itself: nothing left to prune.
    again = CERTIFICATE.validate(result.object)
    assert again.unknown_fields == ()
    assert again.object == result.object


def test_non_nullable_nulls_are_dropped() -> None:
    result = CERTIFICATE.validate(certificate(commonName=None, privateKey={"size": None}))
    assert result.ok
    assert "commonName" not in result.object["spec"]
    assert result.object["spec"]["privateKey"] == {}


def test_every_error_is_reported() -> None:
    manifest = certificate(dnsNames=[1, 2], isCA="yes", privateKey={"algorithm": "DSA", "encoding": "DER"})
    del manifest["spec"]["issuerRef"]
    result = CERTIFICATE.validate(manifest)
    assert [(e.type, e.field) for e in result.errors] == [
        (ErrorType.INVALID, "spec.dnsNames[0]"),
        (ErrorType.INVALID, "spec.dnsNames[1]"),
        (ErrorType.INVALID, "spec.isCA"),
        (ErrorType.NOT_SUPPORTED, "spec.privateKey.algorithm"),
        (ErrorType.NOT_SUPPORTED, "spec.privateKey.encoding"),
        (ErrorType.REQUIRED, "spec.issuerRef"),
    ]
    assert (
        result.validation_result()
        .invalid_message("Certificate.cert-manager.io", "web")
        .startswith('Certificate.cert-manager.io "web" is invalid: [spec.dnsNames[0]: Invalid value: "integer"')
    )


def _venafi(**venafi: Any) -> dict[str, Any]:
    return {
        "apiVersion": "cert-manager.io/v1",
        "kind": "ClusterIssuer",
        "metadata": {"name": "v"},
        "spec": {"venafi": {"zone": "z", **venafi}},
    }


def test_venafi_one_of_rule() -> None:
    cloud = {"apiTokenSecretRef": {"name": "t"}}
    tpp = {"url": "https://tpp", "credentialsRef": {"name": "c"}}
    assert ISSUER.validate(_venafi(cloud=cloud)).ok
    message = "spec.venafi: Invalid value: exactly one of tpp, cloud, or ngts must be configured"
    assert messages(ISSUER.validate(_venafi())) == [message]
    assert messages(ISSUER.validate(_venafi(cloud=cloud, tpp=tpp))) == [message]
    blocked = ISSUER.validate(_venafi(cloud=cloud, tpp={"url": 1, "credentialsRef": {"name": "c"}}))
    assert [str(e) for e in blocked.errors][-1] == f"Invalid value: null: {RULES_NOT_CHECKED}"


def test_unsupported_cel_rules_are_refused() -> None:
    schema = {"type": "object", "x-kubernetes-validations": [{"rule": "self.a.size() > 1", "message": "m"}]}
    with pytest.raises(SchemaError, match="unsupported x-kubernetes-validations rule"):
        SchemaValidator(schema)


def _nested(levels: int) -> dict[str, Any]:
    value: dict[str, Any] = {}
    for _ in range(levels - 1):
        value = {"a": value}
    return value


def test_depth_limit() -> None:
    # The webhook config is free-form JSON, so depth is the only thing bounding it.
    def issuer_with_config(levels: int) -> dict[str, Any]:
        webhook = {"groupName": "g", "solverName": "s", "config": _nested(levels)}
        return acme_issuer(solvers=[{"dns01": {"webhook": webhook}}])

    # The object itself, spec, acme, solvers, [0], dns01, webhook: config starts 8 levels down.
    assert ISSUER.validate(issuer_with_config(64 - 7)).ok
    refused = ISSUER.validate(issuer_with_config(64 - 6))
    assert refused.object is None
    (error,) = refused.errors
    assert error.type is ErrorType.FORBIDDEN
    assert error.field.startswith("spec.acme.solvers[0].dns01.webhook.config.a.a")
    assert error.detail == "must not be nested more than 64 levels deep"
    very_deep = ISSUER.validate(issuer_with_config(100_000))  # no recursion on the way in
    assert very_deep.object is None


def test_size_limit() -> None:
    validator = SchemaValidator(openapi_schema(KINDS_BY_MODEL[certmanager.Certificate]), limits=Limits(max_values=50))
    refused = validator.validate(certificate(dnsNames=[f"n{i}.example" for i in range(60)]))
    assert [str(e) for e in refused.errors] == ["Forbidden: must not hold more than 50 values"]
    assert validator.validate(certificate()).ok


def test_values_json_cannot_hold_never_crash() -> None:
    manifest = certificate(
        commonName=datetime(2026, 1, 1), dnsNames=("a.example", b"b"), secretTemplate={"labels": {1: "x"}}
    )
    result = CERTIFICATE.validate(manifest)
    assert messages(result) == [
        'spec.commonName: Invalid value: "datetime": spec.commonName in body must be of type string: "datetime"',
        'spec.dnsNames[1]: Invalid value: "bytes": spec.dnsNames[1] in body must be of type string: "bytes"',
    ]
    assert result.object["spec"]["secretTemplate"]["labels"] == {"1": "x"}


def test_root_that_is_not_an_object() -> None:
    result = validate(["not", "an", "object"], openapi_schema(KINDS_BY_MODEL[acme.Challenge]))
    assert [str(e) for e in result.errors] == ['Invalid value: "array":  in body must be of type object: "array"']


_SCALARS = st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20)
_JSON = st.recursive(
    _SCALARS,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4),
    max_leaves=30,
)
_SPEC_KEYS = st.sampled_from(
    ["secretName", "issuerRef", "dnsNames", "privateKey", "usages", "renewal", "secretTemplate", "keystores", "isCA"]
)


@given(spec=st.dictionaries(_SPEC_KEYS | st.text(max_size=8), _JSON, max_size=6), status=_JSON)
def test_random_json_never_crashes_the_certificate_schema(spec: dict[str, Any], status: Any) -> None:
    manifest = {
        "apiVersion": "cert-manager.io/v1",
        "kind": "Certificate",
        "metadata": {},
        "spec": spec,
        "status": status,
    }
    result = CERTIFICATE.validate(manifest)
    assert all(isinstance(error, FieldError) for error in result.errors)
    assert all(isinstance(path, str) for path in result.unknown_fields)
    again = CERTIFICATE.validate(result.object)
    assert again.unknown_fields == ()
    assert again.object == result.object


@given(value=_JSON)
def test_random_json_never_crashes_any_schema(value: Any) -> None:
    for validator in (ISSUER, CHALLENGE):
        result = validator.validate(value)
        assert all(isinstance(error, FieldError) for error in result.errors)
        spec = validator.validate({"apiVersion": "v", "kind": "k", "spec": value})
        assert all(isinstance(str(error), str) for error in spec.errors)
