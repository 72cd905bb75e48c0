"""The /validate and /mutate handlers on decoded reviews: plugin order, messages, type checks, patches."""

from __future__ import annotations

import asyncio
import copy
import json
from collections.abc import Mapping
from typing import Any

import msgspec
import pytest

from certkeeper.api.certmanager import CertificateRequest
from certkeeper.runtime.clock import FakeClock
from certkeeper.validation.acme_issuer import DEPRECATED_EAB_KEY_ALGORITHM_WARNING
from certkeeper.validation.admission import admit
from certkeeper.validation.identity import UserInfo, mutate_identity
from certkeeper.webhook.admission import NO_CONTENT, RESOURCE_UNSET, AdmissionHandlers, identity_patch
from certkeeper.webhook.approval import ApprovalChecker
from certkeeper.webhook.authz import Decision, ResourceAttributes
from certkeeper.webhook.review import AdmissionResponse, api_server_message, decode_review
from tests.unit.validation.support import merge
from tests.unit.webhook.support import (
    ACME,
    APPROVED,
    CERTIFICATE,
    CHALLENGE,
    CLUSTER_ISSUER,
    DENIED,
    ISSUER,
    ORDER,
    REQUESTER,
    FakeAuthorizer,
    FakeDiscovery,
    certificate_request,
    handlers,
    review,
)

WEBHOOK = "webhook.cert-manager.io"


async def validate(body: Mapping[str, Any], **kwargs: Any) -> AdmissionResponse:
    return await handlers(**kwargs).validate(decode_review(json.dumps(body).encode()))


async def mutate(body: Mapping[str, Any]) -> AdmissionResponse:
    return await handlers().mutate(decode_review(json.dumps(body).encode()))


def apply_patch(obj: Mapping[str, Any], operations: Any) -> dict[str, Any]:
    """A small RFC 6902 applier for the add/replace/remove operations the webhook emits."""
    out = copy.deepcopy(dict(obj))
    for op in operations:
        *parents, last = op["path"].lstrip("/").split("/")
        target = out
        for part in parents:
            target = target[part]
        if op["op"] in ("add", "replace"):
            assert op["op"] == "add" or last in target
            target[last] = op["value"]
        else:
            assert op["op"] == "remove"
            del target[last]
    return out


# -- validation ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("resource", "group", "obj"),
    [
        ("certificates", "cert-manager.io", CERTIFICATE),
        ("issuers", "cert-manager.io", ISSUER),
        ("clusterissuers", "cert-manager.io", CLUSTER_ISSUER),
        ("certificaterequests", "cert-manager.io", certificate_request()),
        ("orders", ACME, ORDER),
        ("challenges", ACME, CHALLENGE),
    ],
    ids=["certificate", "issuer", "clusterissuer", "certificaterequest", "order", "challenge"],
)
async def test_valid_objects_are_allowed(resource: str, group: str, obj: dict[str, Any]) -> None:
    answer = await validate(review(resource, obj, group=group))
    assert answer.allowed, answer.message
    assert answer.code == 200
    updated = await validate(review(resource, obj, group=group, operation="UPDATE", old=obj))
    assert updated.allowed, updated.message


async def test_every_field_error_is_in_one_forbidden_message() -> None:
    broken = merge(CERTIFICATE, {"spec": {"dnsNames": None, "duration": "1m", "renewBefore": "2m"}})
    answer = await validate(review("certificates", broken))
    expected = [str(error) for error in admit("Certificate", "CREATE", broken).errors]
    assert len(expected) > 1
    assert not answer.allowed
    assert (answer.code, answer.reason) == (403, "Forbidden")
    assert answer.message == "[" + ", ".join(expected) + "]"
    # What kubectl prints: the API server puts the webhook's name in front.
    printed = api_server_message(WEBHOOK, {"message": answer.message, "reason": answer.reason})
    assert printed == f'admission webhook "webhook.cert-manager.io" denied the request: {answer.message}'


async def test_a_single_error_is_not_bracketed() -> None:
    answer = await validate(review("issuers", merge(ISSUER, {"spec": {"selfSigned": None}})))
    assert answer.message == "spec: Required value: at least one issuer must be configured"


async def test_warnings_travel_with_the_answer() -> None:
    acme = {
        "acme": {
            "server": "https://acme.example/directory",
            "privateKeySecretRef": {"name": "account"},
            "solvers": [{"http01": {"ingress": {}}}],
            "externalAccountBinding": {
                "keyID": "kid",
                "keySecretRef": {"name": "e", "key": "k"},
                "keyAlgorithm": "HS256",
            },
        }
    }
    answer = await validate(review("issuers", merge(ISSUER, {"spec": {"selfSigned": None, **acme}})))
    assert answer.allowed
    assert answer.warnings == (DEPRECATED_EAB_KEY_ALGORITHM_WARNING,)


async def test_an_update_is_checked_against_the_stored_object() -> None:
    old = certificate_request()
    new = merge(old, {"spec": {"isCA": True}})
    answer = await validate(review("certificaterequests", new, operation="UPDATE", old=old))
    assert answer.message == "spec: Forbidden: cannot change spec after creation"


@pytest.mark.parametrize(
    ("resource", "obj", "old", "message"),
    [
        (
            "certificates",
            certificate_request(),
            None,
            "internal error: object in admission request is not of type Certificate",
        ),
        ("issuers", CLUSTER_ISSUER, None, "internal error: object in admission request is not of type Issuer"),
        (
            "certificates",
            CERTIFICATE,
            ISSUER,
            "internal error: oldObject in admission request is not of type Certificate",
        ),
    ],
    ids=["certificaterequest-as-certificate", "clusterissuer-as-issuer", "old-object-of-another-kind"],
)
async def test_resource_and_payload_kind_must_agree(
    resource: str, obj: dict[str, Any], old: dict[str, Any] | None, message: str
) -> None:
    operation = "UPDATE" if old is not None else "CREATE"
    answer = await validate(review(resource, obj, operation=operation, old=old))
    assert (answer.allowed, answer.code, answer.message) == (False, 403, message)


async def test_a_kind_no_scheme_knows_is_a_bad_request() -> None:
    config_map = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x"}}
    answer = await validate(review("certificates", config_map))
    assert (answer.allowed, answer.code) == (False, 400)
    assert answer.message == 'no kind "ConfigMap" is registered for version "v1"'


async def test_the_request_kind_stands_in_for_a_payload_without_one() -> None:
    bare = {key: value for key, value in CERTIFICATE.items() if key not in ("apiVersion", "kind")}
    assert (await validate(review("certificates", bare, kind="Certificate"))).allowed
    refused = await validate(review("certificates", bare, kind="Issuer"))
    assert refused.message == "internal error: object in admission request is not of type Certificate"


async def test_other_resources_of_the_groups_are_not_judged() -> None:
    answer = await validate(review("certificates/scale", merge(CERTIFICATE, {"spec": {"dnsNames": None}})))
    assert answer.allowed


async def test_a_review_without_resource_is_refused() -> None:
    body = review("certificates", CERTIFICATE)
    body["request"]["resource"] = {}
    answer = await validate(body)
    assert (answer.allowed, answer.code, answer.message) == (False, 403, RESOURCE_UNSET)


@pytest.mark.parametrize("operation", ["DELETE", "CONNECT"])
async def test_operations_without_a_new_object_are_allowed(operation: str) -> None:
    answer = await validate(review("certificates", None, operation=operation, old=CERTIFICATE))
    assert answer.allowed


async def test_an_unknown_operation_is_a_bad_request() -> None:
    answer = await validate(review("certificates", CERTIFICATE, operation="PATCH"))
    assert (answer.allowed, answer.code, answer.message) == (False, 400, 'unknown operation "PATCH"')


@pytest.mark.parametrize(
    ("operation", "obj", "old"),
    [("CREATE", None, None), ("UPDATE", CERTIFICATE, None), ("UPDATE", None, CERTIFICATE)],
    ids=["create-without-object", "update-without-old", "update-without-new"],
)
async def test_missing_objects_are_a_bad_request(
    operation: str, obj: dict[str, Any] | None, old: dict[str, Any] | None
) -> None:
    answer = await validate(review("certificates", obj, operation=operation, old=old, kind="Certificate"))
    assert (answer.allowed, answer.code, answer.message) == (False, 400, NO_CONTENT)


# -- CertificateRequest identity ------------------------------------------------------------------------


async def test_a_request_must_carry_its_requesters_identity() -> None:
    spoofed = certificate_request(identity=UserInfo(username="root", uid="u-1", groups=("team",)))
    answer = await validate(review("certificaterequests", spoofed))
    assert answer.message == (
        "[spec.username: Forbidden: username identity must be that of the requester, "
        "spec.groups: Forbidden: groups identity must be that of the requester, "
        "spec.extra: Forbidden: extra identity must be that of the requester]"
    )


async def test_identity_errors_come_before_the_resource_rules() -> None:
    obj = certificate_request(identity=None, issuerRef={"name": ""})
    answer = await validate(review("certificaterequests", obj, user=UserInfo(username="bob")))
    assert answer.message == (
        "[spec.username: Forbidden: username identity must be that of the requester, "
        "spec.issuerRef.name: Required value: must be specified]"
    )


async def test_identity_cannot_change_on_update() -> None:
    old = certificate_request()
    new = merge(old, {"spec": {"username": "mallory"}})
    answer = await validate(review("certificaterequests", new, operation="UPDATE", old=old))
    assert answer.message == (
        "[spec.username: Forbidden: username identity cannot be changed once set, "
        "spec: Forbidden: cannot change spec after creation]"
    )


# -- approval -------------------------------------------------------------------------------------------


def _approval_review(condition: Mapping[str, str] = APPROVED, **spec: Any) -> dict[str, Any]:
    old = certificate_request(**spec)
    new = certificate_request(conditions=[condition], **spec)
    return review("certificaterequests", new, operation="UPDATE", old=old, sub_resource="status")


async def test_approval_asks_for_the_wildcard_signer_first() -> None:
    authorizer = FakeAuthorizer(allow={"alice": {"issuers.cert-manager.io/*"}})
    answer = await validate(_approval_review(), authorizer=authorizer)
    assert answer.allowed
    assert [(user, a.verb, a.group, a.resource, a.name) for user, a in authorizer.calls] == [
        ("alice", "approve", "cert-manager.io", "signers", "issuers.cert-manager.io/*")
    ]


@pytest.mark.parametrize(
    ("issuer_ref", "signer"),
    [
        ({"name": "ca"}, "issuers.cert-manager.io/default.ca"),
        ({"name": "root", "kind": "ClusterIssuer"}, "clusterissuers.cert-manager.io/root"),
    ],
    ids=["namespaced", "cluster"],
)
async def test_approval_by_the_issuers_own_signer_name(issuer_ref: dict[str, str], signer: str) -> None:
    authorizer = FakeAuthorizer(allow={"alice": {signer}})
    answer = await validate(_approval_review(DENIED, issuerRef=issuer_ref), authorizer=authorizer)
    assert answer.allowed
    assert [a.name for _, a in authorizer.calls][-1] == signer


async def test_approval_without_rbac_is_refused() -> None:
    answer = await validate(_approval_review(), authorizer=FakeAuthorizer())
    assert answer.message == (
        'status.conditions: Forbidden: user "alice" does not have permissions to set approved/denied '
        "conditions for issuer {ca  }"
    )


async def test_updates_of_the_main_resource_ask_no_one() -> None:
    authorizer = FakeAuthorizer()
    body = _approval_review()
    del body["request"]["subResource"]
    await validate(body, authorizer=authorizer)
    assert authorizer.calls == []


async def test_status_updates_that_add_no_decision_ask_no_one() -> None:
    authorizer = FakeAuthorizer()
    old = certificate_request(conditions=[{"type": "Ready", "status": "False", "reason": "Pending", "message": "x"}])
    body = review("certificaterequests", certificate_request(), operation="UPDATE", old=old, sub_resource="status")
    assert (await validate(body, authorizer=authorizer)).allowed
    assert authorizer.calls == []


async def test_an_unknown_issuer_kind_is_not_a_signer_and_the_answer_is_kept_for_30s() -> None:
    discovery, clock = FakeDiscovery(), FakeClock()
    checker = handlers(discovery=discovery, clock=clock)
    body = decode_review(json.dumps(_approval_review(issuerRef={"name": "x", "kind": "Foo"})).encode())
    first = await checker.validate(body)
    assert first.message == ("spec.issuerRef: Forbidden: referenced signer resource does not exist: {x Foo }")
    await checker.validate(body)
    clock.advance(29)
    await checker.validate(body)
    assert discovery.lookups == [("cert-manager.io", "Foo")]
    clock.advance(2)
    await checker.validate(body)
    assert len(discovery.lookups) == 2


async def test_an_unserved_group_is_asked_again_every_time() -> None:
    discovery = FakeDiscovery()
    checker = handlers(discovery=discovery)
    body = decode_review(json.dumps(_approval_review(issuerRef={"name": "x", "kind": "V", "group": "ext.io"})).encode())
    for _ in range(2):
        assert "referenced signer resource does not exist: {x V ext.io}" in (await checker.validate(body)).message
    assert discovery.lookups == [("ext.io", "V"), ("ext.io", "V")]


@pytest.mark.parametrize("broken", ["authorizer", "discovery"])
async def test_approval_is_refused_with_the_reason_when_the_api_server_cannot_answer(broken: str) -> None:
    reason = "cannot connect to the API server at 10.0.0.1:443"
    authorizer = FakeAuthorizer(unavailable=reason if broken == "authorizer" else "")
    discovery = FakeDiscovery(unavailable=reason if broken == "discovery" else "")
    answer = await validate(_approval_review(), authorizer=authorizer, discovery=discovery)
    assert not answer.allowed
    assert answer.message == (
        'status.conditions: Internal error: cannot check whether user "alice" may set approved/denied '
        f"conditions for issuer {{ca  }}: {reason}"
    )


async def test_an_api_server_that_does_not_answer_in_time_is_a_refusal_with_the_reason() -> None:
    class Hanging(FakeAuthorizer):
        async def authorize(self, user: UserInfo, attributes: ResourceAttributes) -> Decision:
            await asyncio.sleep(30)
            raise AssertionError("the budget should have ended this")

    checker = ApprovalChecker(FakeDiscovery(), Hanging(), FakeClock(), budget_seconds=0.1)
    answer = await AdmissionHandlers(approval=checker).validate(decode_review(json.dumps(_approval_review()).encode()))
    assert answer.message == (
        'status.conditions: Internal error: cannot check whether user "alice" may set approved/denied '
        "conditions for issuer {ca  }: the API server did not answer within 0.1s"
    )


async def test_the_approval_refusal_sits_between_identity_and_resource_errors() -> None:
    old = certificate_request()
    new = certificate_request(conditions=[APPROVED, DENIED], username="mallory")
    body = review("certificaterequests", new, operation="UPDATE", old=old, sub_resource="status")
    answer = await validate(body)
    messages = answer.message.strip("[]").split(", ")
    assert messages[0] == "spec.username: Forbidden: username identity cannot be changed once set"
    assert messages[1].startswith('status.conditions: Forbidden: user "alice" does not have permissions')
    assert "status.conditions: Forbidden: both 'Denied' and 'Approved' conditions cannot coexist" in messages[2:]


# -- mutation -------------------------------------------------------------------------------------------


async def test_mutation_stamps_the_requesters_identity() -> None:
    obj = certificate_request(identity=None)
    answer = await mutate(review("certificaterequests", obj))
    assert answer.allowed
    assert [(op["op"], op["path"]) for op in answer.patch] == [
        ("add", "/spec/uid"),
        ("add", "/spec/username"),
        ("add", "/spec/groups"),
        ("add", "/spec/extra"),
    ]
    patched = apply_patch(obj, answer.patch)
    # The same fields the typed mutation sets, and nothing else changed.
    typed = mutate_identity(msgspec.convert(obj, CertificateRequest), REQUESTER)
    assert msgspec.convert(patched, CertificateRequest) == typed
    assert {k: v for k, v in patched["spec"].items() if k not in ("uid", "username", "groups", "extra")} == obj["spec"]
    # The result passes validation.
    assert (await validate(review("certificaterequests", patched))).allowed


async def test_mutation_overwrites_spoofed_fields_and_drops_extra_the_requester_lacks() -> None:
    obj = certificate_request(identity=UserInfo(username="root", uid="0", groups=("system:masters",), extra={"x": ()}))
    user = UserInfo(username="bob", uid="u-2")
    operations = (await mutate(review("certificaterequests", obj, user=user))).patch
    assert [(op["op"], op["path"], op.get("value")) for op in operations] == [
        ("replace", "/spec/uid", "u-2"),
        ("replace", "/spec/username", "bob"),
        ("replace", "/spec/groups", []),
        ("remove", "/spec/extra", None),
    ]


async def test_a_request_already_carrying_the_identity_needs_no_patch() -> None:
    answer = await mutate(review("certificaterequests", certificate_request()))
    assert answer.allowed
    assert answer.patch == ()


def test_a_request_without_spec_gets_one() -> None:
    obj = {"apiVersion": "cert-manager.io/v1", "kind": "CertificateRequest", "metadata": {"name": "x"}}
    operations = identity_patch(obj, UserInfo(username="bob"))
    assert operations == [{"op": "add", "path": "/spec", "value": {"uid": "", "username": "bob", "groups": []}}]


async def test_a_spec_that_is_not_an_object_is_refused() -> None:
    obj = certificate_request()
    obj["spec"] = ["not", "an", "object"]
    answer = await mutate(review("certificaterequests", obj))
    assert (answer.allowed, answer.code) == (False, 403)


@pytest.mark.parametrize(
    ("resource", "operation", "obj"),
    [
        ("certificates", "CREATE", CERTIFICATE),
        ("certificaterequests", "UPDATE", certificate_request(identity=None)),
        ("certificaterequests", "DELETE", None),
    ],
    ids=["other-resource", "update", "delete"],
)
async def test_mutation_leaves_everything_else_alone(resource: str, operation: str, obj: dict[str, Any] | None) -> None:
    old = obj if operation == "UPDATE" else certificate_request() if obj is None else None
    answer = await mutate(review(resource, obj, operation=operation, old=old))
    assert answer.allowed
    assert answer.patch == ()


async def test_mutation_refuses_what_it_cannot_judge() -> None:
    unset = review("certificaterequests", certificate_request())
    unset["request"]["resource"] = {}
    assert (await mutate(unset)).message == RESOURCE_UNSET
    mismatch = await mutate(review("certificaterequests", CERTIFICATE))
    assert mismatch.message == "internal error: object in admission request is not of type CertificateRequest"
    empty = await mutate(review("certificaterequests", None, kind="CertificateRequest"))
    assert (empty.code, empty.message) == (400, NO_CONTENT)
