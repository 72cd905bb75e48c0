"""SubjectAccessReviews and discovery on an API client, and the one-second decision cache."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import pytest

from certkeeper.runtime.clock import FakeClock
from certkeeper.store.ports import Forbidden, Unavailable
from certkeeper.validation.identity import UserInfo
from certkeeper.webhook.authz import (
    SAR_PATH,
    ApiDiscovery,
    ApiResource,
    AuthorizationUnavailable,
    CachingAuthorizer,
    LookupResult,
    NoApiServer,
    ResourceAttributes,
    SubjectAccessReviewAuthorizer,
    subject_access_review,
)
from tests.unit.webhook.support import FakeAuthorizer

USER = UserInfo(username="alice", uid="u-1", groups=("team",), extra={"scope": ("a", "b")})
SIGNER = ResourceAttributes(
    verb="approve", group="cert-manager.io", resource="signers", name="issuers.cert-manager.io/*"
)


@dataclass
class ScriptedApi:
    """Answers requests from a table of path -> answer (an exception is raised)."""

    answers: dict[str, Any] = field(default_factory=dict)
    requests: list[tuple[str, str, object, bool]] = field(default_factory=list)

    async def request(self, method: str, path: str, *, body: object = None, idempotent: bool) -> dict[str, Any]:
        self.requests.append((method, path, body, idempotent))
        answer = self.answers[path]
        if isinstance(answer, Exception):
            raise answer
        assert isinstance(answer, dict)
        return answer


def test_the_review_names_the_user_and_the_signer() -> None:
    assert subject_access_review(USER, SIGNER) == {
        "apiVersion": "authorization.k8s.io/v1",
        "kind": "SubjectAccessReview",
        "spec": {
            "resourceAttributes": {
                "namespace": "",
                "verb": "approve",
                "group": "cert-manager.io",
                "version": "*",
                "resource": "signers",
                "name": "issuers.cert-manager.io/*",
            },
            "user": "alice",
            "groups": ["team"],
            "uid": "u-1",
            "extra": {"scope": ["a", "b"]},
        },
    }
    assert "extra" not in subject_access_review(UserInfo(username="bob"), SIGNER)["spec"]


@pytest.mark.parametrize(
    ("status", "allowed"),
    [
        ({"allowed": True}, True),
        ({"allowed": False, "reason": "no RoleBinding"}, False),
        ({"allowed": True, "denied": True}, False),
        ({}, False),
    ],
    ids=["allowed", "not-allowed", "explicitly-denied", "empty-status"],
)
async def test_the_decision_is_read_from_the_status(status: dict[str, Any], allowed: bool) -> None:
    api = ScriptedApi({SAR_PATH: {"status": status}})
    decision = await SubjectAccessReviewAuthorizer(api).authorize(USER, SIGNER)
    assert decision.allowed is allowed
    assert api.requests == [("POST", SAR_PATH, subject_access_review(USER, SIGNER), True)]


@pytest.mark.parametrize(
    ("answer", "reason"),
    [
        (Unavailable("cannot connect to the API server at 127.0.0.1:1"), "cannot connect to the API server"),
        (Forbidden("subjectaccessreviews is forbidden"), "subjectaccessreviews is forbidden"),
        ({"kind": "SubjectAccessReview"}, "without a status"),
        ({"status": {"allowed": False, "evaluationError": "webhook authorizer down"}}, "webhook authorizer down"),
    ],
    ids=["unreachable", "no-rbac-for-reviews", "no-status", "evaluation-error"],
)
async def test_failures_are_unavailable_not_a_decision(answer: object, reason: str) -> None:
    api = ScriptedApi({SAR_PATH: answer})
    with pytest.raises(AuthorizationUnavailable, match=reason):
        await SubjectAccessReviewAuthorizer(api).authorize(USER, SIGNER)


async def test_decisions_are_kept_for_one_second_failures_not_at_all() -> None:
    inner, clock = FakeAuthorizer(allow={"alice": {SIGNER.name}}), FakeClock()
    caching = CachingAuthorizer(inner, clock)
    assert (await caching.authorize(USER, SIGNER)).allowed
    clock.advance(0.9)
    assert (await caching.authorize(USER, SIGNER)).allowed
    assert len(inner.calls) == 1
    # Another user, or another signer, is another question.
    assert not (await caching.authorize(UserInfo(username="bob"), SIGNER)).allowed
    assert len(inner.calls) == 2
    clock.advance(0.2)
    inner.allow.clear()
    assert not (await caching.authorize(USER, SIGNER)).allowed
    assert len(inner.calls) == 3
    inner.unavailable = "down"
    clock.advance(1.5)
    for _ in range(2):
        with pytest.raises(AuthorizationUnavailable):
            await caching.authorize(USER, SIGNER)
    assert len(inner.calls) == 5


async def test_the_cache_stays_bounded() -> None:
    inner, clock = FakeAuthorizer(), FakeClock()
    caching = CachingAuthorizer(inner, clock)
    for number in range(5000):
        await caching.authorize(UserInfo(username=f"user-{number}"), SIGNER)
    assert len(caching._cache) <= 4096


GROUPS = {
    "kind": "APIGroupList",
    "groups": [
        {"name": "apps", "versions": [{"groupVersion": "apps/v1", "version": "v1"}]},
        {
            "name": "cert-manager.io",
            "versions": [
                {"groupVersion": "cert-manager.io/v1", "version": "v1"},
                {"groupVersion": "cert-manager.io/v1beta1", "version": "v1beta1"},
            ],
        },
    ],
}
CERT_MANAGER_V1 = {
    "kind": "APIResourceList",
    "resources": [
        {"name": "issuers", "namespaced": True, "kind": "Issuer"},
        {"name": "issuers/status", "namespaced": True, "kind": "Issuer"},
        {"name": "clusterissuers", "namespaced": False, "kind": "ClusterIssuer"},
    ],
}
CERT_MANAGER_V1BETA1 = {"kind": "APIResourceList", "resources": [{"name": "olds", "namespaced": True, "kind": "Old"}]}


@pytest.mark.parametrize(
    ("group", "kind", "expected"),
    [
        ("cert-manager.io", "Issuer", ApiResource(result=LookupResult.FOUND, resource="issuers", namespaced=True)),
        ("cert-manager.io", "ClusterIssuer", ApiResource(result=LookupResult.FOUND, resource="clusterissuers")),
        ("cert-manager.io", "Old", ApiResource(result=LookupResult.FOUND, resource="olds", namespaced=True)),
        ("cert-manager.io", "Nope", ApiResource(result=LookupResult.KIND_MISSING)),
        ("example.com", "Issuer", ApiResource(result=LookupResult.GROUP_MISSING)),
    ],
    ids=["issuer", "clusterissuer", "in-a-later-version", "kind-missing", "group-missing"],
)
async def test_discovery(group: str, kind: str, expected: ApiResource) -> None:
    api = ScriptedApi(
        {
            "/apis": GROUPS,
            "/apis/cert-manager.io/v1": CERT_MANAGER_V1,
            "/apis/cert-manager.io/v1beta1": CERT_MANAGER_V1BETA1,
        }
    )
    assert await ApiDiscovery(api).lookup(group, kind) == expected
    assert all(method == "GET" and idempotent for method, _, _, idempotent in api.requests)


async def test_discovery_failures_are_unavailable() -> None:
    api = ScriptedApi({"/apis": GROUPS, "/apis/cert-manager.io/v1": Unavailable("connection reset")})
    expected = re.escape("discovery of /apis/cert-manager.io/v1 failed: connection reset")
    with pytest.raises(AuthorizationUnavailable, match=expected):
        await ApiDiscovery(api).lookup("cert-manager.io", "Issuer")


async def test_discovery_tolerates_malformed_documents() -> None:
    api = ScriptedApi({"/apis": {"groups": [1, {"name": "cert-manager.io", "versions": [None, {"groupVersion": 3}]}]}})
    assert (await ApiDiscovery(api).lookup("cert-manager.io", "Issuer")).result is LookupResult.KIND_MISSING


async def test_without_an_api_server_every_question_is_unavailable() -> None:
    nothing = NoApiServer("no API access")
    with pytest.raises(AuthorizationUnavailable, match="no API access"):
        await nothing.authorize(USER, SIGNER)
    with pytest.raises(AuthorizationUnavailable, match="no API access"):
        await nothing.lookup("cert-manager.io", "Issuer")
