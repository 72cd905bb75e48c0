"""The kinds the cainjector injects into, and the apply configuration that writes their CA bundles. Pure.

Follows cert-manager's ``pkg/controller/cainjector/injectables.go`` and ``setup.go``:

=====================================  ===============================================================
target (its ``--enable-...`` name)      field written
=====================================  ===============================================================
ValidatingWebhookConfiguration          ``webhooks[*].clientConfig.caBundle``, every webhook
MutatingWebhookConfiguration            ``webhooks[*].clientConfig.caBundle``, every webhook
APIService                              ``spec.caBundle``
CustomResourceDefinition                ``spec.conversion.webhook.clientConfig.caBundle``, only when
                                        ``spec.conversion.strategy`` is ``Webhook``
=====================================  ===============================================================

Each bundle is computed by ``bundle.inject_ca`` from the bundle the field holds now. The write is a
server-side apply configuration holding only those fields (and the webhooks' ``name``, their list map
key), applied with force as ``cert-manager-cainjector``, so fields other managers own are left alone.
Unlike cert-manager, the configuration also carries the ``metadata.resourceVersion`` the bundles were
computed from: a merge reads the old bundle, so a bundle changed meanwhile must be re-read (a Conflict,
retried) rather than overwritten, and a target deleted meanwhile is not re-created from the fragment.
When the target already holds exactly the computed bundles nothing is written.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final, Protocol

from certkeeper.cainjector.bundle import Bundle, inject_ca
from certkeeper.store.ports import RawObject, ResourceType

VALIDATING_WEBHOOK_CONFIGURATIONS: Final = ResourceType(
    group="admissionregistration.k8s.io",
    version="v1",
    kind="ValidatingWebhookConfiguration",
    plural="validatingwebhookconfigurations",
    namespaced=False,
)
MUTATING_WEBHOOK_CONFIGURATIONS: Final = ResourceType(
    group="admissionregistration.k8s.io",
    version="v1",
    kind="MutatingWebhookConfiguration",
    plural="mutatingwebhookconfigurations",
    namespaced=False,
)
API_SERVICES: Final = ResourceType(
    group="apiregistration.k8s.io",
    version="v1",
    kind="APIService",
    plural="apiservices",
    namespaced=False,
    status_subresource=True,
)
CUSTOM_RESOURCE_DEFINITIONS: Final = ResourceType(
    group="apiextensions.k8s.io",
    version="v1",
    kind="CustomResourceDefinition",
    plural="customresourcedefinitions",
    namespaced=False,
    status_subresource=True,
)

#: The server-side apply list keys of the target kinds (``webhooks`` is a map list keyed by ``name``),
#: for stores that must be told them (the local store's ``ListTypes.map_keys``).
LIST_MAP_KEYS: Final[Mapping[tuple[str, ...], str]] = {("webhooks",): "name"}

#: The conversion strategy under which a CRD has a webhook to inject into.
WEBHOOK_CONVERTER: Final = "Webhook"


@dataclass(frozen=True, slots=True, kw_only=True)
class Injection:
    """The result of injecting a CA into one target."""

    #: The server-side apply configuration: identity, resourceVersion and the caBundle fields only.
    apply: RawObject
    #: Whether the target holds exactly these bundles already (nothing to write).
    current: bool
    #: The earliest time a merged bundle will hold an expired certificate (None: never, or not merged).
    next_expiry: datetime | None


def decode_ca_bundle(value: object) -> bytes:
    """A ``caBundle`` as the API serialises it (base64 of the PEM bytes); b"" when absent or malformed."""
    if not isinstance(value, str):
        return b""
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        return b""


def encode_ca_bundle(pem: bytes) -> str:
    return base64.b64encode(pem).decode("ascii")


def _mapping(value: object) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _client_config(bundle: Bundle) -> dict[str, Any]:
    # cert-manager's apply configurations omit an empty caBundle (``omitempty``).
    return {"caBundle": encode_ca_bundle(bundle.pem)} if bundle.pem else {}


def _skeleton(resource: ResourceType, obj: Mapping[str, Any]) -> RawObject:
    meta = _mapping(obj.get("metadata"))
    identity: dict[str, Any] = {"name": meta.get("name", "")}
    if meta.get("resourceVersion"):
        identity["resourceVersion"] = meta["resourceVersion"]
    return {"apiVersion": resource.api_version, "kind": resource.kind, "metadata": identity}


def _earliest(bundles: list[Bundle]) -> datetime | None:
    return min((b.next_expiry for b in bundles if b.next_expiry is not None), default=None)


class InjectTarget(Protocol):
    """One kind of injectable: what it is called, where it lives, and how its bundles are written."""

    @property
    def name(self) -> str:
        """cert-manager's resource name of the kind (``validatingwebhookconfiguration``...), for flags and logs."""
        ...

    @property
    def resource(self) -> ResourceType: ...

    def inject(self, obj: Mapping[str, Any], ca: bytes, *, now: datetime, merge: bool) -> Injection | None:
        """The apply that injects ``ca`` into ``obj``; None when ``obj`` has nowhere to put it."""
        ...

    def transform(self, obj: RawObject) -> RawObject:
        """Reduce an object on its way into the cache to what injection reads (in place; returns it)."""
        ...


@dataclass(frozen=True, slots=True)
class WebhookConfigurationTarget:
    """Validating or mutating webhook configurations: every webhook's ``clientConfig.caBundle``."""

    name: str
    resource: ResourceType

    def inject(self, obj: Mapping[str, Any], ca: bytes, *, now: datetime, merge: bool) -> Injection | None:
        applied: list[dict[str, Any]] = []
        bundles: list[Bundle] = []
        current = True
        webhooks = obj.get("webhooks")
        for webhook in webhooks if isinstance(webhooks, list) else ():
            if not isinstance(webhook, Mapping):
                continue
            existing = decode_ca_bundle(_mapping(webhook.get("clientConfig")).get("caBundle"))
            bundle = inject_ca(existing, ca, now=now, merge=merge)
            bundles.append(bundle)
            current = current and bundle.pem == existing
            applied.append({"name": webhook.get("name"), "clientConfig": _client_config(bundle)})
        config = _skeleton(self.resource, obj)
        if applied:
            config["webhooks"] = applied
        return Injection(apply=config, current=current, next_expiry=_earliest(bundles))

    def transform(self, obj: RawObject) -> RawObject:
        return obj


@dataclass(frozen=True, slots=True)
class APIServiceTarget:
    """APIServices: ``spec.caBundle``."""

    name: str = "apiservice"
    resource: ResourceType = API_SERVICES

    def inject(self, obj: Mapping[str, Any], ca: bytes, *, now: datetime, merge: bool) -> Injection | None:
        existing = decode_ca_bundle(_mapping(obj.get("spec")).get("caBundle"))
        bundle = inject_ca(existing, ca, now=now, merge=merge)
        config = _skeleton(self.resource, obj)
        config["spec"] = _client_config(bundle)
        return Injection(apply=config, current=bundle.pem == existing, next_expiry=bundle.next_expiry)

    def transform(self, obj: RawObject) -> RawObject:
        return obj


@dataclass(frozen=True, slots=True)
class CRDConversionTarget:
    """CustomResourceDefinitions converted by a webhook: ``spec.conversion.webhook.clientConfig.caBundle``."""

    name: str = "customresourcedefinition"
    resource: ResourceType = CUSTOM_RESOURCE_DEFINITIONS

    def inject(self, obj: Mapping[str, Any], ca: bytes, *, now: datetime, merge: bool) -> Injection | None:
        conversion = _mapping(_mapping(obj.get("spec")).get("conversion"))
        if conversion.get("strategy") != WEBHOOK_CONVERTER:
            return None
        client_config = _mapping(_mapping(conversion.get("webhook")).get("clientConfig"))
        existing = decode_ca_bundle(client_config.get("caBundle"))
        bundle = inject_ca(existing, ca, now=now, merge=merge)
        config = _skeleton(self.resource, obj)
        config["spec"] = {"conversion": {"webhook": {"clientConfig": _client_config(bundle)}}}
        return Injection(apply=config, current=bundle.pem == existing, next_expiry=bundle.next_expiry)

    def transform(self, obj: RawObject) -> RawObject:
        """Keep identity, metadata and ``spec.conversion``: a CRD's schemas can be large and are never read."""
        spec = obj.get("spec")
        if isinstance(spec, dict):
            obj["spec"] = {"conversion": spec["conversion"]} if "conversion" in spec else {}
        obj.pop("status", None)
        return obj


VALIDATING_WEBHOOK_TARGET: Final = WebhookConfigurationTarget(
    "validatingwebhookconfiguration", VALIDATING_WEBHOOK_CONFIGURATIONS
)
MUTATING_WEBHOOK_TARGET: Final = WebhookConfigurationTarget(
    "mutatingwebhookconfiguration", MUTATING_WEBHOOK_CONFIGURATIONS
)
API_SERVICE_TARGET: Final = APIServiceTarget()
CRD_TARGET: Final = CRDConversionTarget()

#: Every target kind, in cert-manager's registration order (``RegisterAllInjectors``).
ALL_TARGETS: Final[tuple[InjectTarget, ...]] = (
    MUTATING_WEBHOOK_TARGET,
    VALIDATING_WEBHOOK_TARGET,
    API_SERVICE_TARGET,
    CRD_TARGET,
)
TARGETS_BY_NAME: Final[Mapping[str, InjectTarget]] = {target.name: target for target in ALL_TARGETS}


__all__ = [
    "ALL_TARGETS",
    "API_SERVICES",
    "API_SERVICE_TARGET",
    "CRD_TARGET",
    "CUSTOM_RESOURCE_DEFINITIONS",
    "LIST_MAP_KEYS",
    "MUTATING_WEBHOOK_CONFIGURATIONS",
    "MUTATING_WEBHOOK_TARGET",
    "TARGETS_BY_NAME",
    "VALIDATING_WEBHOOK_CONFIGURATIONS",
    "VALIDATING_WEBHOOK_TARGET",
    "APIServiceTarget",
    "CRDConversionTarget",
    "InjectTarget",
    "Injection",
    "WebhookConfigurationTarget",
    "decode_ca_bundle",
    "encode_ca_bundle",
]
