"""The ResourceType of every kind certkeeper stores, derived from the api models (one source of truth),
and typed decode/encode between raw objects and models."""

from __future__ import annotations

from typing import Final, TypeVar

import msgspec

from certkeeper.api.acme import Challenge, Order
from certkeeper.api.certmanager import Certificate, CertificateRequest, ClusterIssuer, Issuer
from certkeeper.api.core import Event, Secret
from certkeeper.api.meta import Resource
from certkeeper.store.ports import RawObject, ResourceType

R = TypeVar("R", bound=Resource)


def resource_type_of(model: type[Resource], *, status_subresource: bool = True) -> ResourceType:
    group, _, version = model.API_VERSION.rpartition("/")
    return ResourceType(
        group=group,
        version=version,
        kind=model.kind_name(),
        plural=model.PLURAL,
        namespaced=model.NAMESPACED,
        status_subresource=status_subresource,
    )


CERTIFICATES: Final = resource_type_of(Certificate)
CERTIFICATE_REQUESTS: Final = resource_type_of(CertificateRequest)
ISSUERS: Final = resource_type_of(Issuer)
CLUSTER_ISSUERS: Final = resource_type_of(ClusterIssuer)
ORDERS: Final = resource_type_of(Order)
CHALLENGES: Final = resource_type_of(Challenge)
SECRETS: Final = resource_type_of(Secret, status_subresource=False)
EVENTS: Final = resource_type_of(Event, status_subresource=False)

#: Every kind a manifest directory or the API may hold, by (apiVersion, kind).
BY_API_VERSION_KIND: Final[dict[tuple[str, str], ResourceType]] = {
    (rt.api_version, rt.kind): rt
    for rt in (CERTIFICATES, CERTIFICATE_REQUESTS, ISSUERS, CLUSTER_ISSUERS, ORDERS, CHALLENGES, SECRETS, EVENTS)
}


def decode(raw: RawObject, model: type[R]) -> R:
    """A typed view of a raw object (raises msgspec.ValidationError on a malformed one)."""
    return msgspec.convert(raw, model)


def encode(obj: Resource) -> RawObject:
    raw = msgspec.to_builtins(obj)
    assert isinstance(raw, dict)
    return raw
