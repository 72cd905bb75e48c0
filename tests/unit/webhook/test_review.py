"""The AdmissionReview wire format: what is accepted, what is a BadReview, and how answers are encoded."""

from __future__ import annotations

import base64
import json
import time
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from certkeeper.webhook.review import (
    BadReview,
    allowed,
    api_server_message,
    decode_review,
    denied,
    encode_response,
    encode_status,
    errored,
    patched,
)
from tests.unit.webhook.support import CERTIFICATE, review


def test_a_review_decodes_into_the_request() -> None:
    body = review("certificaterequests", CERTIFICATE, sub_resource="status", operation="UPDATE", old=CERTIFICATE)
    request = decode_review(json.dumps(body).encode())
    assert request.uid == "req-1"
    assert (request.resource.group, request.resource.resource, request.sub_resource) == (
        "cert-manager.io",
        "certificaterequests",
        "status",
    )
    assert request.user.username == "alice"
    assert request.user.groups == ("team", "system:authenticated")
    assert request.user.extra == {"scope": ("a",)}
    assert request.object == CERTIFICATE
    assert request.old_object == CERTIFICATE
    assert request.describe() == "UPDATE certificaterequests.cert-manager.io/status default/web (uid req-1)"


def test_unknown_fields_are_ignored_and_nulls_are_absent() -> None:
    body = review("certificates", CERTIFICATE)
    body["request"]["requestKind"] = {"group": "x"}
    body["request"]["userInfo"]["extra"] = {"k": None}
    body["request"]["oldObject"] = None
    request = decode_review(json.dumps(body).encode())
    assert request.old_object is None
    assert request.user.extra == {"k": ()}


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"", "request body is empty"),
        (b"{not json", "the body is not valid JSON"),
        (b"[]", "the body is not an AdmissionReview"),
        (
            b'{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"uid":"u","object":{"a":'
            + b"[" * 100_000
            + b"]" * 100_000
            + b"}}}",
            "the body is not valid JSON: nested too deeply",
        ),
        (json.dumps({"apiVersion": "admission.k8s.io/v1beta1", "kind": "AdmissionReview"}).encode(), "expected an"),
        (json.dumps({"apiVersion": "admission.k8s.io/v1", "kind": "Status"}).encode(), "expected an AdmissionReview"),
        (json.dumps({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview"}).encode(), "has no request"),
        (
            json.dumps({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": {}}).encode(),
            "has no uid",
        ),
        (
            json.dumps(
                {"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": {"uid": 5}}
            ).encode(),
            "Expected `str`, got `int` - at `$.request.uid`",
        ),
        (
            json.dumps(
                {"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": {"uid": "u", "object": []}}
            ).encode(),
            "at `$.request.object`",
        ),
    ],
    ids=[
        "empty",
        "not-json",
        "not-an-object",
        "nesting-bomb",
        "v1beta1",
        "wrong-kind",
        "no-request",
        "no-uid",
        "uid-not-a-string",
        "object-not-an-object",
    ],
)
def test_bodies_that_are_not_a_v1_review(body: bytes, message: str) -> None:
    with pytest.raises(BadReview) as raised:
        decode_review(body)
    assert message in str(raised.value)


_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=8),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=30,
)
_FIELDS = ["uid", "kind", "resource", "subResource", "operation", "userInfo", "object", "oldObject", "dryRun"]
_REVIEWS = st.fixed_dictionaries(
    {
        "apiVersion": st.just("admission.k8s.io/v1"),
        "kind": st.just("AdmissionReview"),
        "request": st.dictionaries(st.sampled_from(_FIELDS), _JSON, max_size=6),
    }
)
_BODIES = (
    st.binary(max_size=2048)
    | _JSON.map(lambda v: json.dumps(v).encode())
    | _REVIEWS.map(lambda v: json.dumps(v).encode())
)


@settings(max_examples=200, deadline=None)
@given(_BODIES)
def test_decoding_arbitrary_bytes_never_crashes(body: bytes) -> None:
    started = time.monotonic()
    reason = ""
    try:
        request = decode_review(body)
    except BadReview as exc:
        reason = str(exc)
    else:
        assert request.uid
        reason = "decoded"
    assert reason  # either a request with a uid, or a reason a person can read
    assert time.monotonic() - started < 1.0


def test_encoding_a_denial() -> None:
    encoded = json.loads(encode_response("u-1", denied("spec: Required value", ["careful"])))
    assert encoded == {
        "apiVersion": "admission.k8s.io/v1",
        "kind": "AdmissionReview",
        "response": {
            "uid": "u-1",
            "allowed": False,
            "status": {"metadata": {}, "code": 403, "reason": "Forbidden", "message": "spec: Required value"},
            "warnings": ["careful"],
        },
    }


def test_encoding_an_error_and_an_allowance() -> None:
    error = json.loads(encode_response("u", errored(400, "bad")))["response"]
    assert error["status"] == {"metadata": {}, "code": 400, "message": "bad"}
    ok = json.loads(encode_response("u", allowed()))["response"]
    assert ok == {"uid": "u", "allowed": True, "status": {"metadata": {}, "code": 200}}


def test_encoding_a_patch() -> None:
    operations: list[dict[str, Any]] = [{"op": "add", "path": "/spec/uid", "value": "x"}]
    response = json.loads(encode_response("u", patched(operations)))["response"]
    assert response["patchType"] == "JSONPatch"
    assert json.loads(base64.b64decode(response["patch"])) == operations
    assert "patch" not in json.loads(encode_response("u", patched([])))["response"]


def test_a_bare_status() -> None:
    assert json.loads(encode_status(413, "RequestEntityTooLarge", "too big")) == {
        "apiVersion": "v1",
        "kind": "Status",
        "metadata": {},
        "status": "Failure",
        "message": "too big",
        "reason": "RequestEntityTooLarge",
        "code": 413,
    }


@pytest.mark.parametrize(
    ("status", "printed"),
    [
        ({"message": "spec: x", "reason": "Forbidden"}, 'admission webhook "w" denied the request: spec: x'),
        ({"reason": "Forbidden"}, 'admission webhook "w" denied the request: Forbidden'),
        (None, 'admission webhook "w" denied the request without explanation'),
    ],
    ids=["message", "reason-only", "nothing"],
)
def test_what_the_api_server_prints(status: dict[str, str] | None, printed: str) -> None:
    assert api_server_message("w", status) == printed
