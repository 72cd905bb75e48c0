"""The four target kinds: which fields get a bundle, what the apply configuration holds (only caBundle
fields plus identity), when a target is already current, and the reconcile decision."""

from __future__ import annotations

import copy
from datetime import timedelta
from typing import Any

import pytest
from cryptography import x509
from hypothesis import given
from hypothesis import strategies as st

from certkeeper.cainjector.reconciler import FIELD_MANAGER, decide
from certkeeper.cainjector.targets import (
    ALL_TARGETS,
    API_SERVICE_TARGET,
    CRD_TARGET,
    MUTATING_WEBHOOK_TARGET,
    VALIDATING_WEBHOOK_TARGET,
    WebhookConfigurationTarget,
)
from certkeeper.store.ports import RawObject
from tests.unit.cainjector.builders import (
    EPOCH,
    api_service,
    b64,
    ca_pem,
    crd,
    from_secret,
    unb64,
    webhook_configuration,
)

OLD = ca_pem("old-ca")
NEW = ca_pem("new-ca")
SHORT = ca_pem("short-lived", days=400)


def _with_rv(obj: RawObject, rv: str = "42") -> RawObject:
    obj["metadata"]["resourceVersion"] = rv
    return obj


@pytest.mark.parametrize(
    ("target", "kind"),
    [
        pytest.param(VALIDATING_WEBHOOK_TARGET, "ValidatingWebhookConfiguration", id="validating"),
        pytest.param(MUTATING_WEBHOOK_TARGET, "MutatingWebhookConfiguration", id="mutating"),
    ],
)
def test_webhook_configuration_every_webhook_merged_on_its_own(target: WebhookConfigurationTarget, kind: str) -> None:
    obj = _with_rv(webhook_configuration(kind, "hooks", from_secret("ns/s"), webhooks={"a.x": OLD, "b.x": None}))
    injection = target.inject(obj, NEW, now=EPOCH, merge=True)
    assert injection is not None
    assert not injection.current
    assert injection.apply == {
        "apiVersion": "admissionregistration.k8s.io/v1",
        "kind": kind,
        "metadata": {"name": "hooks", "resourceVersion": "42"},
        "webhooks": [
            {"name": "a.x", "clientConfig": {"caBundle": b64(OLD + NEW)}},
            {"name": "b.x", "clientConfig": {"caBundle": b64(NEW)}},
        ],
    }


def test_webhook_configuration_current_when_every_webhook_holds_the_bundle() -> None:
    obj = webhook_configuration("ValidatingWebhookConfiguration", "hooks", {}, webhooks={"a.x": NEW, "b.x": OLD + NEW})
    injection = VALIDATING_WEBHOOK_TARGET.inject(obj, NEW, now=EPOCH, merge=True)
    assert injection is not None
    assert injection.current
    partly = webhook_configuration("ValidatingWebhookConfiguration", "hooks", {}, webhooks={"a.x": NEW, "b.x": None})
    injection = VALIDATING_WEBHOOK_TARGET.inject(partly, NEW, now=EPOCH, merge=True)
    assert injection is not None
    assert not injection.current


def test_webhook_configuration_without_webhooks_needs_nothing() -> None:
    obj = webhook_configuration("ValidatingWebhookConfiguration", "empty", {}, webhooks={})
    injection = VALIDATING_WEBHOOK_TARGET.inject(obj, NEW, now=EPOCH, merge=True)
    assert injection is not None
    assert injection.current
    assert "webhooks" not in injection.apply


def test_empty_bundle_is_omitted_from_the_apply() -> None:
    obj = webhook_configuration("ValidatingWebhookConfiguration", "hooks", {}, webhooks={"a.x": None})
    injection = VALIDATING_WEBHOOK_TARGET.inject(obj, b"", now=EPOCH, merge=True)
    assert injection is not None
    assert injection.apply["webhooks"] == [{"name": "a.x", "clientConfig": {}}]
    assert injection.current


def test_api_service_spec_ca_bundle() -> None:
    obj = _with_rv(api_service("v1.example.com", {}, bundle=OLD))
    injection = API_SERVICE_TARGET.inject(obj, NEW, now=EPOCH, merge=True)
    assert injection is not None
    assert injection.apply == {
        "apiVersion": "apiregistration.k8s.io/v1",
        "kind": "APIService",
        "metadata": {"name": "v1.example.com", "resourceVersion": "42"},
        "spec": {"caBundle": b64(OLD + NEW)},
    }
    replaced = API_SERVICE_TARGET.inject(obj, NEW, now=EPOCH, merge=False)
    assert replaced is not None
    assert unb64(replaced.apply["spec"]["caBundle"]) == NEW


@pytest.mark.parametrize(
    ("bundle", "current"),
    [pytest.param(None, False, id="no-bundle-yet"), pytest.param(NEW, True, id="already-injected")],
)
def test_crd_conversion_webhook(bundle: bytes | None, current: bool) -> None:
    obj = crd("widgets", "example.com", {}, bundle=bundle)
    injection = CRD_TARGET.inject(obj, NEW, now=EPOCH, merge=True)
    assert injection is not None
    assert injection.current is current
    assert injection.apply == {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": "widgets.example.com"},
        "spec": {"conversion": {"webhook": {"clientConfig": {"caBundle": b64(NEW)}}}},
    }


@pytest.mark.parametrize(
    "conversion",
    [
        pytest.param({"strategy": "None"}, id="strategy-none"),
        pytest.param(None, id="no-conversion"),
    ],
)
def test_crd_without_webhook_conversion_is_not_injected(conversion: dict[str, str] | None) -> None:
    obj = crd("widgets", "example.com", {}, strategy="None")
    if conversion is None:
        del obj["spec"]["conversion"]
    assert CRD_TARGET.inject(obj, NEW, now=EPOCH, merge=True) is None
    assert decide(CRD_TARGET, obj, NEW, now=EPOCH).is_noop


def test_crd_webhook_strategy_without_client_config_gets_one() -> None:
    obj = crd("widgets", "example.com", {})
    del obj["spec"]["conversion"]["webhook"]
    injection = CRD_TARGET.inject(obj, NEW, now=EPOCH, merge=True)
    assert injection is not None
    assert injection.apply["spec"] == {"conversion": {"webhook": {"clientConfig": {"caBundle": b64(NEW)}}}}


def test_crd_cache_transform_keeps_only_conversion() -> None:
    obj = crd("widgets", "example.com", from_secret("ns/s"), bundle=OLD)
    obj["status"] = {"acceptedNames": {}}
    reduced = CRD_TARGET.transform(obj)
    assert set(reduced) == {"apiVersion", "kind", "metadata", "spec"}
    assert set(reduced["spec"]) == {"conversion"}
    assert reduced["metadata"]["annotations"] == from_secret("ns/s")


def test_decide_applies_as_the_cainjector_with_a_requeue_at_the_first_expiry() -> None:
    obj = api_service("v1.example.com", {}, bundle=SHORT)
    outcome = decide(API_SERVICE_TARGET, obj, NEW, now=EPOCH)
    (write,) = outcome.applies
    assert write.field_manager == FIELD_MANAGER == "cert-manager-cainjector"
    assert write.resource is API_SERVICE_TARGET.resource
    expiry = x509.load_pem_x509_certificate(SHORT).not_valid_after_utc
    assert outcome.requeue_after == (expiry - EPOCH).total_seconds() + 1.0


def test_decide_when_current_writes_nothing_but_still_watches_expiry() -> None:
    obj = api_service("v1.example.com", {}, bundle=NEW)
    outcome = decide(API_SERVICE_TARGET, obj, NEW, now=EPOCH)
    assert outcome.applies == ()
    assert outcome.requeue_after is not None


def test_decide_empties_a_bundle_whose_certificates_all_expired() -> None:
    obj = api_service("v1.example.com", {}, bundle=NEW)
    later = decide(API_SERVICE_TARGET, obj, NEW, now=EPOCH + timedelta(days=3650 * 2))
    (write,) = later.applies
    assert write.object["spec"] == {}  # the caBundle field is released, as cert-manager's omitempty apply does
    assert later.requeue_after is None


_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4),
    max_leaves=20,
)
_CLIENT_CONFIG = st.fixed_dictionaries({}, optional={"caBundle": st.text(max_size=40) | _JSON})


@given(
    webhooks=st.lists(
        st.fixed_dictionaries({}, optional={"name": _JSON, "clientConfig": _CLIENT_CONFIG | _JSON}) | _JSON,
        max_size=4,
    )
    | _JSON,
    spec=st.fixed_dictionaries(
        {},
        optional={
            "caBundle": _JSON,
            "conversion": st.fixed_dictionaries(
                {}, optional={"strategy": st.sampled_from(["Webhook", "None"]) | _JSON, "webhook": _JSON}
            )
            | _JSON,
        },
    )
    | _JSON,
)
def test_malformed_targets_never_crash(webhooks: Any, spec: Any) -> None:
    obj = {"metadata": {"name": "x"}, "webhooks": webhooks, "spec": spec}
    for target in ALL_TARGETS:
        injection = target.inject(obj, NEW, now=EPOCH, merge=True)
        assert injection is None or injection.apply["metadata"] == {"name": "x"}
        target.transform(copy.deepcopy(obj))
