"""The cainjector on the local store: each source kind into each target kind, merging, rotation,
expiry, refusals and what lifts them, idempotence, field ownership, and metadata-only Secrets."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from certkeeper.cainjector import (
    API_SERVICES,
    CUSTOM_RESOURCE_DEFINITIONS,
    MUTATING_WEBHOOK_CONFIGURATIONS,
    VALIDATING_WEBHOOK_CONFIGURATIONS,
    InjectorOptions,
)
from certkeeper.cainjector.reconciler import TargetReconciler
from certkeeper.cainjector.sources import SourceKind
from certkeeper.cainjector.targets import API_SERVICE_TARGET
from certkeeper.runtime.informer import Indexer
from certkeeper.store.ports import Conflict, NotFound, RawObject, StoreError
from certkeeper.store.resources import CERTIFICATES, SECRETS
from tests.unit.cainjector.builders import (
    api_service,
    b64,
    ca_pem,
    certificate,
    crd,
    from_apiserver,
    from_certificate,
    from_secret,
    secret,
    unb64,
    webhook_bundles,
    webhook_configuration,
)
from tests.unit.cainjector.harness import Harness, running_injector

CA_1 = ca_pem("rotation-1")
CA_2 = ca_pem("rotation-2")
OTHER = ca_pem("someone-elses-ca")
EXPIRED = ca_pem("long-gone", days=30)  # from a year before the fake clock's start
SHORT = ca_pem("short-lived", days=400)  # expires 35 days after the fake clock's start
APISERVER_CA = ca_pem("kube-apiserver")

VWC = "ValidatingWebhookConfiguration"


def _vwc(annotations: dict[str, str], **bundles: bytes | None) -> RawObject:
    hooks = {f"{k}.example.com": v for k, v in bundles.items()} or None
    return webhook_configuration(VWC, "hooks", annotations, webhooks=hooks)


async def test_inject_ca_from_secret_into_every_webhook() -> None:
    objects = [secret("ns", "ca", ca=CA_1, allow_injection=True), _vwc(from_secret("ns/ca"))]
    async with running_injector(objects=objects) as h:
        stored = await h.get(VALIDATING_WEBHOOK_CONFIGURATIONS, "hooks")
        assert webhook_bundles(stored) == {"a.example.com": CA_1, "b.example.com": CA_1}
        # Nothing but the bundles changed: rules, service, policies are as created.
        for hook in stored["webhooks"]:
            assert hook["clientConfig"]["service"]["name"] == "webhook"
            assert hook["rules"][0]["resources"] == ["widgets"]
            assert hook["failurePolicy"] == "Fail"


async def test_the_cainjector_owns_only_the_ca_bundle_fields() -> None:
    objects = [secret("ns", "ca", ca=CA_1, allow_injection=True), _vwc(from_secret("ns/ca"))]
    async with running_injector(objects=objects) as h:
        stored = await h.get(VALIDATING_WEBHOOK_CONFIGURATIONS, "hooks")
        (entry,) = [m for m in stored["metadata"]["managedFields"] if m["manager"] == "cert-manager-cainjector"]
        assert entry["operation"] == "Apply"
        webhooks = entry["fieldsV1"]["f:webhooks"]
        assert set(entry["fieldsV1"]) == {"f:webhooks"}
        for element in webhooks.values():
            assert element == {".": {}, "f:name": {}, "f:clientConfig": {"f:caBundle": {}}}


async def test_inject_ca_from_certificate_into_a_mutating_webhook() -> None:
    objects = [
        certificate("ns", "serving", "serving-tls"),
        secret("ns", "serving-tls", ca=CA_1, certificate="serving"),
        webhook_configuration("MutatingWebhookConfiguration", "mutator", from_certificate("ns/serving")),
    ]
    async with running_injector(objects=objects) as h:
        stored = await h.get(MUTATING_WEBHOOK_CONFIGURATIONS, "mutator")
        assert set(webhook_bundles(stored).values()) == {CA_1}


async def test_inject_apiserver_ca_into_an_api_service() -> None:
    objects = [api_service("v1.example.com", from_apiserver())]
    async with running_injector(InjectorOptions(apiserver_ca=APISERVER_CA), objects=objects) as h:
        stored = await h.get(API_SERVICES, "v1.example.com")
        assert unb64(stored["spec"]["caBundle"]) == APISERVER_CA
        assert stored["spec"]["groupPriorityMinimum"] == 1000


async def test_inject_into_a_crd_conversion_webhook_only() -> None:
    objects = [
        secret("ns", "ca", ca=CA_1, allow_injection=True),
        crd("widgets", "example.com", from_secret("ns/ca")),
        crd("gadgets", "example.com", from_secret("ns/ca"), strategy="None"),
    ]
    async with running_injector(objects=objects) as h:
        widgets = await h.get(CUSTOM_RESOURCE_DEFINITIONS, "widgets.example.com")
        assert unb64(widgets["spec"]["conversion"]["webhook"]["clientConfig"]["caBundle"]) == CA_1
        assert len(widgets["spec"]["versions"]) == 2  # the schemas the cache drops are still in the store
        gadgets = await h.get(CUSTOM_RESOURCE_DEFINITIONS, "gadgets.example.com")
        assert gadgets["spec"]["conversion"] == {"strategy": "None"}
        assert "managedFields" not in gadgets["metadata"]


async def test_merging_keeps_valid_certificates_and_drops_expired_ones() -> None:
    objects = [
        secret("ns", "ca", ca=CA_1, allow_injection=True),
        _vwc(from_secret("ns/ca"), a=OTHER + EXPIRED, b=EXPIRED),
    ]
    async with running_injector(objects=objects) as h:
        stored = await h.get(VALIDATING_WEBHOOK_CONFIGURATIONS, "hooks")
        assert webhook_bundles(stored) == {"a.example.com": OTHER + CA_1, "b.example.com": CA_1}


async def test_without_merging_the_bundle_is_replaced() -> None:
    objects = [secret("ns", "ca", ca=CA_1, allow_injection=True), _vwc(from_secret("ns/ca"), a=OTHER)]
    async with running_injector(InjectorOptions(merge=False), objects=objects) as h:
        stored = await h.get(VALIDATING_WEBHOOK_CONFIGURATIONS, "hooks")
        assert webhook_bundles(stored) == {"a.example.com": CA_1}


async def test_secret_rotation_updates_the_target() -> None:
    objects = [secret("ns", "ca", ca=CA_1, allow_injection=True), _vwc(from_secret("ns/ca"))]
    async with running_injector(objects=objects) as h:
        await h.merge(SECRETS, "ca", {"data": {"ca.crt": b64(CA_2)}}, namespace="ns")
        await h.settle()
        stored = await h.get(VALIDATING_WEBHOOK_CONFIGURATIONS, "hooks")
        # Merged: webhooks keep trusting the old CA while servers move to the new one.
        assert webhook_bundles(stored)["a.example.com"] == CA_1 + CA_2


async def test_certificate_secret_rotation_updates_the_target() -> None:
    objects = [
        certificate("ns", "serving", "serving-tls"),
        secret("ns", "serving-tls", ca=CA_1, certificate="serving"),
        api_service("v1.example.com", from_certificate("ns/serving")),
    ]
    async with running_injector(objects=objects) as h:
        await h.merge(SECRETS, "serving-tls", {"data": {"ca.crt": b64(CA_2)}}, namespace="ns")
        await h.settle()
        stored = await h.get(API_SERVICES, "v1.example.com")
        assert unb64(stored["spec"]["caBundle"]) == CA_1 + CA_2


async def test_certificate_pointing_to_another_secret_is_followed() -> None:
    objects = [
        certificate("ns", "serving", "serving-tls"),
        secret("ns", "serving-tls", ca=CA_1, certificate="serving"),
        secret("ns", "serving-tls-2", ca=CA_2, certificate="serving"),
        api_service("v1.example.com", from_certificate("ns/serving")),
    ]
    async with running_injector(InjectorOptions(merge=False), objects=objects) as h:
        await h.merge(CERTIFICATES, "serving", {"spec": {"secretName": "serving-tls-2"}}, namespace="ns")
        await h.settle()
        stored = await h.get(API_SERVICES, "v1.example.com")
        assert unb64(stored["spec"]["caBundle"]) == CA_2


async def test_an_expired_certificate_leaves_the_bundle_when_it_expires() -> None:
    objects = [secret("ns", "ca", ca=SHORT, allow_injection=True), _vwc(from_secret("ns/ca"), a=None)]
    async with running_injector(objects=objects) as h:
        await h.merge(SECRETS, "ca", {"data": {"ca.crt": b64(CA_1)}}, namespace="ns")
        await h.settle()
        stored = await h.get(VALIDATING_WEBHOOK_CONFIGURATIONS, "hooks")
        assert webhook_bundles(stored) == {"a.example.com": SHORT + CA_1}
        await h.advance(timedelta(days=34).total_seconds())
        stored = await h.get(VALIDATING_WEBHOOK_CONFIGURATIONS, "hooks")
        assert webhook_bundles(stored) == {"a.example.com": SHORT + CA_1}
        await h.advance(timedelta(days=2).total_seconds())
        stored = await h.get(VALIDATING_WEBHOOK_CONFIGURATIONS, "hooks")
        assert webhook_bundles(stored) == {"a.example.com": CA_1}


async def test_a_second_pass_writes_nothing() -> None:
    objects = [secret("ns", "ca", ca=CA_1, allow_injection=True), _vwc(from_secret("ns/ca"))]
    async with running_injector(objects=objects) as h:
        assert h.writes == 1
        before = await h.get(VALIDATING_WEBHOOK_CONFIGURATIONS, "hooks")
        # Touch the source and the target without changing the CA: both reconcile, neither writes.
        await h.merge(SECRETS, "ca", {"metadata": {"labels": {"touched": "yes"}}}, namespace="ns")
        await h.merge(VALIDATING_WEBHOOK_CONFIGURATIONS, "hooks", {"metadata": {"labels": {"touched": "yes"}}})
        await h.settle()
        after = await h.get(VALIDATING_WEBHOOK_CONFIGURATIONS, "hooks")
        assert h.writes == 1
        assert webhook_bundles(after) == webhook_bundles(before)
        assert after["metadata"]["resourceVersion"] != before["metadata"]["resourceVersion"]  # only our label
        assert sum(c.sync_calls for c in h.injector.controllers.values()) >= 3


async def test_a_target_annotated_later_is_injected() -> None:
    objects = [secret("ns", "ca", ca=CA_1, allow_injection=True), _vwc({})]
    async with running_injector(objects=objects) as h:
        assert h.writes == 0
        await h.merge(VALIDATING_WEBHOOK_CONFIGURATIONS, "hooks", {"metadata": {"annotations": from_secret("ns/ca")}})
        await h.settle(lambda: h.writes == 1)
        stored = await h.get(VALIDATING_WEBHOOK_CONFIGURATIONS, "hooks")
        assert set(webhook_bundles(stored).values()) == {CA_1}


Setup = tuple[InjectorOptions, list[RawObject]]

REFUSALS: dict[str, Setup] = {
    "secret-does-not-allow-injection": (InjectorOptions(), [secret("ns", "ca", ca=CA_1), _vwc(from_secret("ns/ca"))]),
    "secret-without-ca-crt": (
        InjectorOptions(),
        [secret("ns", "ca", allow_injection=True), _vwc(from_secret("ns/ca"))],
    ),
    "secret-missing": (InjectorOptions(), [_vwc(from_secret("ns/ca"))]),
    "secret-reference-without-namespace": (
        InjectorOptions(),
        [secret("ns", "ca", ca=CA_1, allow_injection=True), _vwc(from_secret("ca"))],
    ),
    "certificate-reference-without-namespace": (
        InjectorOptions(),
        [
            certificate("ns", "serving", "serving-tls"),
            secret("ns", "serving-tls", ca=CA_1, certificate="serving"),
            _vwc(from_certificate("serving")),
        ],
    ),
    "ignored-namespace": (
        InjectorOptions(ignore_namespaces=frozenset({"ns"})),
        [secret("ns", "ca", ca=CA_1, allow_injection=True), _vwc(from_secret("ns/ca"))],
    ),
    "outside-namespace-scope": (
        InjectorOptions(namespace="mine"),
        [secret("ns", "ca", ca=CA_1, allow_injection=True), _vwc(from_secret("ns/ca"))],
    ),
    "certificate-secret-not-written-for-it": (
        InjectorOptions(),
        [
            certificate("ns", "serving", "serving-tls"),
            secret("ns", "serving-tls", ca=CA_1, certificate="impostor"),
            _vwc(from_certificate("ns/serving")),
        ],
    ),
    "certificate-missing": (
        InjectorOptions(),
        [secret("ns", "serving-tls", ca=CA_1, certificate="serving"), _vwc(from_certificate("ns/serving"))],
    ),
    "certificates-data-source-disabled": (
        InjectorOptions(enable_certificates_data_source=False),
        [
            certificate("ns", "serving", "serving-tls"),
            secret("ns", "serving-tls", ca=CA_1, certificate="serving"),
            _vwc(from_certificate("ns/serving")),
        ],
    ),
    "target-kind-disabled": (
        InjectorOptions(targets=frozenset({"apiservice", "customresourcedefinition"})),
        [secret("ns", "ca", ca=CA_1, allow_injection=True), _vwc(from_secret("ns/ca"))],
    ),
    "apiserver-ca-unknown": (InjectorOptions(), [_vwc(from_apiserver())]),
    "apiserver-annotation-not-true": (InjectorOptions(apiserver_ca=APISERVER_CA), [_vwc(from_apiserver("yes"))]),
}


@pytest.mark.parametrize(("options", "objects"), list(REFUSALS.values()), ids=list(REFUSALS))
async def test_refusals_leave_the_target_alone(options: InjectorOptions, objects: list[RawObject]) -> None:
    async with running_injector(options, objects=objects) as h:
        stored = await h.get(VALIDATING_WEBHOOK_CONFIGURATIONS, "hooks")
        assert set(webhook_bundles(stored).values()) == {b""}
        assert h.writes == 0


async def test_refusals_are_logged_with_cert_managers_messages(caplog: pytest.LogCaptureFixture) -> None:
    objects = [secret("ns", "ca", ca=CA_1), _vwc(from_secret("ns/ca"))]
    with caplog.at_level("INFO", logger="certkeeper.cainjector"):
        async with running_injector(InjectorOptions(namespace="ns"), objects=objects) as h:
            elsewhere = {"metadata": {"annotations": from_secret("x/ca")}}
            await h.merge(VALIDATING_WEBHOOK_CONFIGURATIONS, "hooks", elsewhere)
            await h.settle()
    messages = [r.getMessage() for r in caplog.records]
    assert any("Secret resource does not allow direct injection - refusing to inject CA" in m for m in messages)
    assert any(
        'forbidden to retrieve the ca data source: certificates.cert-manager.io "ca" is forbidden: cannot read CA '
        "data from Secret in namespace x, cainjector is scoped to namespace ns" in m
        for m in messages
    )


@pytest.mark.parametrize(
    ("fix", "secret_name"),
    [
        pytest.param(
            {"metadata": {"annotations": {"cert-manager.io/allow-direct-injection": "true"}}}, "ca", id="allow"
        ),
        pytest.param({"data": {"ca.crt": b64(CA_1)}}, "ca-no-data", id="add-ca-crt"),
    ],
)
async def test_fixing_the_source_lifts_the_refusal(fix: dict[str, Any], secret_name: str) -> None:
    objects = [
        secret("ns", "ca", ca=CA_1),
        secret("ns", "ca-no-data", allow_injection=True),
        _vwc(from_secret(f"ns/{secret_name}")),
    ]
    async with running_injector(objects=objects) as h:
        assert h.writes == 0
        await h.merge(SECRETS, secret_name, fix, namespace="ns")
        await h.settle(lambda: h.writes == 1)
        stored = await h.get(VALIDATING_WEBHOOK_CONFIGURATIONS, "hooks")
        assert set(webhook_bundles(stored).values()) == {CA_1}


async def test_sources_created_after_the_target_are_injected() -> None:
    objects = [api_service("v1.example.com", from_certificate("ns/serving"))]
    async with running_injector(objects=objects) as h:
        await h.create(SECRETS, secret("ns", "serving-tls", ca=CA_1, certificate="serving"))
        await h.settle()
        assert h.writes == 0
        await h.create(CERTIFICATES, certificate("ns", "serving", "serving-tls"))
        await h.settle(lambda: h.writes == 1)
        stored = await h.get(API_SERVICES, "v1.example.com")
        assert unb64(stored["spec"]["caBundle"]) == CA_1


async def test_a_secret_claimed_by_a_certificate_later_is_followed() -> None:
    objects = [
        certificate("ns", "serving", "serving-tls"),
        secret("ns", "serving-tls", ca=CA_1),
        api_service("v1.example.com", from_certificate("ns/serving")),
    ]
    async with running_injector(objects=objects) as h:
        assert h.writes == 0
        await h.merge(
            SECRETS, "serving-tls", {"metadata": {"annotations": {"cert-manager.io/certificate-name": "serving"}}}, "ns"
        )
        await h.settle(lambda: h.writes == 1)
        stored = await h.get(API_SERVICES, "v1.example.com")
        assert unb64(stored["spec"]["caBundle"]) == CA_1


async def test_in_scope_namespace_is_injected() -> None:
    objects = [secret("ns", "ca", ca=CA_1, allow_injection=True), _vwc(from_secret("ns/ca"))]
    async with running_injector(InjectorOptions(namespace="ns"), objects=objects) as h:
        assert h.writes == 1


@pytest.mark.parametrize("annotation", [from_secret("ns/ca"), from_certificate("ns/serving")], ids=["secret", "cert"])
async def test_metadata_only_secrets_are_read_with_a_get(annotation: dict[str, str]) -> None:
    objects = [
        certificate("ns", "serving", "serving-tls"),
        secret("ns", "serving-tls", ca=CA_1, certificate="serving"),
        secret("ns", "ca", ca=CA_1, allow_injection=True),
        _vwc(annotation),
    ]
    async with running_injector(objects=objects, metadata_only=True) as h:
        cached = h.injector.secrets.cache.items()
        assert cached
        assert all("data" not in obj for obj in cached)
        stored = await h.get(VALIDATING_WEBHOOK_CONFIGURATIONS, "hooks")
        assert set(webhook_bundles(stored).values()) == {CA_1}
        secret_name = "ca" if annotation == from_secret("ns/ca") else "serving-tls"
        await h.merge(SECRETS, secret_name, {"data": {"ca.crt": b64(CA_2)}}, namespace="ns")
        await h.settle(lambda: h.writes == 2)
        stored = await h.get(VALIDATING_WEBHOOK_CONFIGURATIONS, "hooks")
        assert set(webhook_bundles(stored).values()) == {CA_1 + CA_2}


async def test_a_secret_leaving_a_certificate_reconciles_the_old_targets(caplog: pytest.LogCaptureFixture) -> None:
    objects = [
        certificate("ns", "serving", "serving-tls"),
        secret("ns", "serving-tls", ca=CA_1, certificate="serving"),
        api_service("v1.example.com", from_certificate("ns/serving")),
    ]
    async with running_injector(objects=objects) as h:
        assert h.writes == 1
        with caplog.at_level("WARNING", logger="certkeeper.cainjector"):
            await h.merge(
                SECRETS, "serving-tls", {"metadata": {"annotations": {"cert-manager.io/certificate-name": "x"}}}, "ns"
            )
            await h.settle()
        # The target of the Certificate the Secret left is reconciled (and now refuses the Secret).
        assert any("annotationValue=ns/x, expected=ns/serving" in r.getMessage() for r in caplog.records)


async def _reconciler_with_stale_cache(h: Harness, stale: RawObject) -> TargetReconciler:
    cache = Indexer()
    cache.upsert(stale)
    return TargetReconciler(
        API_SERVICE_TARGET,
        cache=cache,
        reader=h.injector.reader,
        sources=frozenset(SourceKind),
        store=h.store,
        clock=h.clock,
    )


async def test_a_bundle_changed_since_it_was_read_is_a_conflict_not_an_overwrite() -> None:
    objects = [secret("ns", "ca", ca=CA_1, allow_injection=True)]
    async with running_injector(InjectorOptions(targets=frozenset()), objects=objects) as h:
        stale = await h.create(API_SERVICES, api_service("v1.example.com", from_secret("ns/ca")))
        await h.merge(API_SERVICES, "v1.example.com", {"spec": {"caBundle": b64(OTHER)}})
        reconcile = await _reconciler_with_stale_cache(h, stale)
        with pytest.raises(Conflict):
            await reconcile("v1.example.com")
        stored = await h.get(API_SERVICES, "v1.example.com")
        assert unb64(stored["spec"]["caBundle"]) == OTHER


async def test_a_target_deleted_since_it_was_read_is_not_recreated() -> None:
    objects = [secret("ns", "ca", ca=CA_1, allow_injection=True)]
    async with running_injector(InjectorOptions(targets=frozenset()), objects=objects) as h:
        stale = await h.create(API_SERVICES, api_service("v1.example.com", from_secret("ns/ca")))
        await h.store.delete(API_SERVICES, "v1.example.com")
        reconcile = await _reconciler_with_stale_cache(h, stale)
        with pytest.raises(StoreError):
            await reconcile("v1.example.com")
        with pytest.raises(NotFound):
            await h.get(API_SERVICES, "v1.example.com")
