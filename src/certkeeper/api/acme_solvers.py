"""Typed models of the ACME challenge solvers of ``acme.cert-manager.io/v1`` (``issuer.spec.acme.solvers[]``).

A solver says how to prove control of a domain: HTTP-01 through an Ingress or a Gateway API HTTPRoute
(with overrides for the solver Pod), or DNS-01 through one DNS provider. Challenges carry a copy of
the solver that was chosen for them. Irregular wire names (``cloudDNS``, ``azureDNS``, ``acmeDNS``,
``gatewayHTTPRoute``, ``hostedZoneID``, ``accessKeyID``, ``clientID``...) are spelled out with
``msgspec.field(name=...)``; CRD enums are ``Literal``s and CRD patterns/limits ``msgspec.Meta``
constraints. Subtrees the CRD copies from core/v1 that certkeeper passes through unchanged (pod
``affinity``) and the DNS01 webhook ``config`` stay untyped JSON.

Follows the solver types of ``pkg/apis/acme/v1/types_issuer.go`` and the CRD
``cert-manager.io_issuers.yaml``. Pure.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

import msgspec

from certkeeper.api.cmmeta import SecretKeySelector, ServiceAccountRef
from certkeeper.api.meta import Model

#: ``solvers[].dns01.cnameStrategy``.
CNAMEStrategy = Literal["None", "Follow"]
#: ``azureDNS.environment``.
AzureDNSEnvironment = Literal["AzurePublicCloud", "AzureChinaCloud", "AzureGermanCloud", "AzureUSGovernmentCloud"]
#: ``azureDNS.zoneType`` (unset means AzurePublicZone).
AzureZoneType = Literal["AzurePublicZone", "AzurePrivateZone"]
#: ``rfc2136.protocol`` (unset means UDP).
RFC2136UpdateProtocol = Literal["TCP", "UDP"]

# Gateway API ParentReference constraints, as the CRD copies them from sigs.k8s.io/gateway-api.
_DNS_SUBDOMAIN = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$"
GatewayGroup = Annotated[str, msgspec.Meta(pattern=r"^$|" + _DNS_SUBDOMAIN, max_length=253)]
GatewayKind = Annotated[
    str, msgspec.Meta(pattern=r"^[a-zA-Z]([-a-zA-Z0-9]*[a-zA-Z0-9])?$", min_length=1, max_length=63)
]
GatewayObjectName = Annotated[str, msgspec.Meta(min_length=1, max_length=253)]
GatewayNamespace = Annotated[str, msgspec.Meta(pattern=r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$", min_length=1, max_length=63)]
GatewaySectionName = Annotated[str, msgspec.Meta(pattern=_DNS_SUBDOMAIN, min_length=1, max_length=253)]
PortNumber = Annotated[int, msgspec.Meta(ge=1, le=65535)]


class CertificateDNSNameSelector(Model, kw_only=True, frozen=True):
    """Which Orders and domains a solver applies to; an empty selector matches everything."""

    match_labels: dict[str, str] | None = None
    dns_names: list[str] | None = None
    dns_zones: list[str] | None = None


class ACMEChallengeSolverHTTP01IngressObjectMeta(Model, kw_only=True, frozen=True):
    """Labels and annotations added to a solver Pod, Ingress or HTTPRoute."""

    annotations: dict[str, str] | None = None
    labels: dict[str, str] | None = None


class Toleration(Model, kw_only=True, frozen=True):
    """core/v1 Toleration of the HTTP01 solver Pod."""

    key: str | None = None
    operator: str | None = None
    value: str | None = None
    effect: str | None = None
    toleration_seconds: int | None = None


class ImagePullSecret(Model, kw_only=True, frozen=True):
    """core/v1 LocalObjectReference as used for imagePullSecrets (``name`` defaults to "" in the CRD)."""

    name: str | None = None


class SELinuxOptions(Model, kw_only=True, frozen=True):
    level: str | None = None
    role: str | None = None
    type: str | None = None
    user: str | None = None


class Sysctl(Model, kw_only=True, frozen=True):
    name: str
    value: str


class SeccompProfile(Model, kw_only=True, frozen=True):
    type: str
    localhost_profile: str | None = None


class ACMEChallengeSolverHTTP01IngressPodSecurityContext(Model, kw_only=True, frozen=True):
    """The subset of core/v1 ACMEChallengeSolverHTTP01IngressPodSecurityContext that the solver Pod accepts."""

    se_linux_options: SELinuxOptions | None = None
    run_as_user: int | None = None
    run_as_group: int | None = None
    run_as_non_root: bool | None = None
    supplemental_groups: list[int] | None = None
    fs_group: int | None = None
    sysctls: list[Sysctl] | None = None
    fs_group_change_policy: str | None = None
    seccomp_profile: SeccompProfile | None = None


#: A resource.Quantity: a string such as ``100m`` / ``64Mi`` (the CRD's pattern), or a plain integer.
Quantity = (
    Annotated[
        str,
        msgspec.Meta(
            pattern=r"^(\+|-)?(([0-9]+(\.[0-9]*)?)|(\.[0-9]+))(([KMGTPE]i)|[numkMGTPE]|([eE](\+|-)?(([0-9]+(\.[0-9]*)?)|(\.[0-9]+))))?$"
        ),
    ]
    | int
)


class ACMEChallengeSolverHTTP01IngressPodResources(Model, kw_only=True, frozen=True):
    limits: dict[str, Quantity] | None = None
    requests: dict[str, Quantity] | None = None


class ACMEChallengeSolverHTTP01IngressPodSpec(Model, kw_only=True, frozen=True):
    """The part of the HTTP01 solver Pod's spec that an issuer may set."""

    node_selector: dict[str, str] | None = None
    #: core/v1 Affinity, passed through unchanged.
    affinity: dict[str, Any] | None = None
    tolerations: list[Toleration] | None = None
    priority_class_name: str | None = None
    service_account_name: str | None = None
    image_pull_secrets: list[ImagePullSecret] | None = None
    security_context: ACMEChallengeSolverHTTP01IngressPodSecurityContext | None = None
    resources: ACMEChallengeSolverHTTP01IngressPodResources | None = None


class ACMEChallengeSolverHTTP01IngressPodTemplate(Model, kw_only=True, frozen=True):
    """Overrides for the HTTP01 solver Pod (Go ``ACMEChallengeSolverHTTP01IngressPodTemplate``)."""

    metadata: ACMEChallengeSolverHTTP01IngressObjectMeta | None = None
    spec: ACMEChallengeSolverHTTP01IngressPodSpec | None = None


class ACMEChallengeSolverHTTP01IngressTemplate(Model, kw_only=True, frozen=True):
    """Overrides for the HTTP01 solver Ingress."""

    metadata: ACMEChallengeSolverHTTP01IngressObjectMeta | None = None


class ACMEChallengeSolverHTTP01Ingress(Model, kw_only=True, frozen=True):
    """Solve HTTP-01 by routing the challenge path through an Ingress."""

    service_type: str | None = None
    ingress_class_name: str | None = None
    #: Wire name ``class`` (the legacy ``kubernetes.io/ingress.class`` annotation value).
    class_: str | None = msgspec.field(default=None, name="class")
    #: Edit this existing Ingress instead of creating one.
    name: str | None = None
    pod_template: ACMEChallengeSolverHTTP01IngressPodTemplate | None = None
    ingress_template: ACMEChallengeSolverHTTP01IngressTemplate | None = None


class ParentReference(Model, kw_only=True, frozen=True):
    """Gateway API ParentReference: the Gateway (or listener) the solver HTTPRoute attaches to."""

    group: GatewayGroup | None = None
    kind: GatewayKind | None = None
    namespace: GatewayNamespace | None = None
    name: GatewayObjectName
    section_name: GatewaySectionName | None = None
    port: PortNumber | None = None


class ACMEChallengeSolverHTTP01GatewayHTTPRoute(Model, kw_only=True, frozen=True):
    """Solve HTTP-01 with a Gateway API HTTPRoute."""

    service_type: str | None = None
    labels: dict[str, str] | None = None
    parent_refs: list[ParentReference] | None = None
    pod_template: ACMEChallengeSolverHTTP01IngressPodTemplate | None = None


class ACMEChallengeSolverHTTP01(Model, kw_only=True, frozen=True):
    """HTTP-01 solver: exactly one of ``ingress`` and ``gatewayHTTPRoute``."""

    ingress: ACMEChallengeSolverHTTP01Ingress | None = None
    gateway_http_route: ACMEChallengeSolverHTTP01GatewayHTTPRoute | None = msgspec.field(
        default=None, name="gatewayHTTPRoute"
    )


class ACMEIssuerDNS01ProviderAkamai(Model, kw_only=True, frozen=True):
    service_consumer_domain: str
    client_token_secret_ref: SecretKeySelector
    client_secret_secret_ref: SecretKeySelector
    access_token_secret_ref: SecretKeySelector


class ACMEIssuerDNS01ProviderCloudDNS(Model, kw_only=True, frozen=True):
    service_account_secret_ref: SecretKeySelector | None = None
    project: str
    hosted_zone_name: str | None = None


class ACMEIssuerDNS01ProviderCloudflare(Model, kw_only=True, frozen=True):
    """Cloudflare: an API token, or a global API key together with the account email."""

    email: str | None = None
    api_key_secret_ref: SecretKeySelector | None = None
    api_token_secret_ref: SecretKeySelector | None = None


class Route53KubernetesAuth(Model, kw_only=True, frozen=True):
    service_account_ref: ServiceAccountRef


class Route53Auth(Model, kw_only=True, frozen=True):
    kubernetes: Route53KubernetesAuth


class ACMEIssuerDNS01ProviderRoute53(Model, kw_only=True, frozen=True):
    """AWS Route53: static keys, ambient credentials, or a ServiceAccount token (IRSA-like)."""

    auth: Route53Auth | None = None
    access_key_id: str | None = msgspec.field(default=None, name="accessKeyID")
    access_key_id_secret_ref: SecretKeySelector | None = msgspec.field(default=None, name="accessKeyIDSecretRef")
    secret_access_key_secret_ref: SecretKeySelector | None = None
    role: str | None = None
    hosted_zone_id: str | None = msgspec.field(default=None, name="hostedZoneID")
    region: str | None = None


class AzureManagedIdentity(Model, kw_only=True, frozen=True):
    client_id: str | None = msgspec.field(default=None, name="clientID")
    resource_id: str | None = msgspec.field(default=None, name="resourceID")
    tenant_id: str | None = msgspec.field(default=None, name="tenantID")


class ACMEIssuerDNS01ProviderAzureDNS(Model, kw_only=True, frozen=True):
    """Azure DNS: a service principal (clientID/secret/tenantID) or a managed identity."""

    client_id: str | None = msgspec.field(default=None, name="clientID")
    client_secret_secret_ref: SecretKeySelector | None = None
    subscription_id: str = msgspec.field(name="subscriptionID")
    tenant_id: str | None = msgspec.field(default=None, name="tenantID")
    resource_group_name: str
    hosted_zone_name: str | None = None
    environment: AzureDNSEnvironment | None = None
    managed_identity: AzureManagedIdentity | None = None
    zone_type: AzureZoneType | None = None


class ACMEIssuerDNS01ProviderDigitalOcean(Model, kw_only=True, frozen=True):
    token_secret_ref: SecretKeySelector


class ACMEIssuerDNS01ProviderAcmeDNS(Model, kw_only=True, frozen=True):
    host: str
    account_secret_ref: SecretKeySelector


class ACMEIssuerDNS01ProviderRFC2136(Model, kw_only=True, frozen=True):
    """RFC 2136 dynamic update, optionally signed with TSIG."""

    #: ``host[:port]`` (port 53 when absent; IPv6 in brackets).
    nameserver: str
    tsig_secret_secret_ref: SecretKeySelector | None = None
    tsig_key_name: str | None = None
    #: HMACMD5 (default), HMACSHA1, HMACSHA256 or HMACSHA512, case-insensitive (no CRD enum).
    tsig_algorithm: str | None = None
    protocol: RFC2136UpdateProtocol | None = None


class ACMEIssuerDNS01ProviderWebhook(Model, kw_only=True, frozen=True):
    """An out-of-tree DNS01 provider reached through an API service."""

    group_name: str
    solver_name: str
    #: Arbitrary JSON handed to the webhook solver unchanged.
    config: Any = None


class ACMEChallengeSolverDNS01(Model, kw_only=True, frozen=True):
    """DNS-01 solver: exactly one provider."""

    cname_strategy: CNAMEStrategy | None = None
    #: ``host:port`` or ``https://`` DNS-over-HTTPS resolvers for the propagation check.
    nameservers: list[str] | None = None
    akamai: ACMEIssuerDNS01ProviderAkamai | None = None
    cloud_dns: ACMEIssuerDNS01ProviderCloudDNS | None = msgspec.field(default=None, name="cloudDNS")
    cloudflare: ACMEIssuerDNS01ProviderCloudflare | None = None
    route53: ACMEIssuerDNS01ProviderRoute53 | None = None
    azure_dns: ACMEIssuerDNS01ProviderAzureDNS | None = msgspec.field(default=None, name="azureDNS")
    digitalocean: ACMEIssuerDNS01ProviderDigitalOcean | None = None
    acme_dns: ACMEIssuerDNS01ProviderAcmeDNS | None = msgspec.field(default=None, name="acmeDNS")
    rfc2136: ACMEIssuerDNS01ProviderRFC2136 | None = None
    webhook: ACMEIssuerDNS01ProviderWebhook | None = None


class ACMEChallengeSolver(Model, kw_only=True, frozen=True):
    """One way to solve challenges, for the domains its selector matches."""

    selector: CertificateDNSNameSelector | None = None
    http01: ACMEChallengeSolverHTTP01 | None = None
    dns01: ACMEChallengeSolverDNS01 | None = None
    #: A Go duration to wait instead of running the self check.
    wait_instead_of_self_check: str | None = None


__all__ = [
    "ACMEChallengeSolver",
    "ACMEChallengeSolverDNS01",
    "ACMEChallengeSolverHTTP01",
    "ACMEChallengeSolverHTTP01GatewayHTTPRoute",
    "ACMEChallengeSolverHTTP01Ingress",
    "ACMEChallengeSolverHTTP01IngressObjectMeta",
    "ACMEChallengeSolverHTTP01IngressPodResources",
    "ACMEChallengeSolverHTTP01IngressPodSecurityContext",
    "ACMEChallengeSolverHTTP01IngressPodSpec",
    "ACMEChallengeSolverHTTP01IngressPodTemplate",
    "ACMEChallengeSolverHTTP01IngressTemplate",
    "ACMEIssuerDNS01ProviderAcmeDNS",
    "ACMEIssuerDNS01ProviderAkamai",
    "ACMEIssuerDNS01ProviderAzureDNS",
    "ACMEIssuerDNS01ProviderCloudDNS",
    "ACMEIssuerDNS01ProviderCloudflare",
    "ACMEIssuerDNS01ProviderDigitalOcean",
    "ACMEIssuerDNS01ProviderRFC2136",
    "ACMEIssuerDNS01ProviderRoute53",
    "ACMEIssuerDNS01ProviderWebhook",
    "AzureDNSEnvironment",
    "AzureManagedIdentity",
    "AzureZoneType",
    "CNAMEStrategy",
    "CertificateDNSNameSelector",
    "GatewayGroup",
    "GatewayKind",
    "GatewayNamespace",
    "GatewayObjectName",
    "GatewaySectionName",
    "ImagePullSecret",
    "ParentReference",
    "PortNumber",
    "Quantity",
    "RFC2136UpdateProtocol",
    "Route53Auth",
    "Route53KubernetesAuth",
    "SELinuxOptions",
    "SeccompProfile",
    "Sysctl",
    "Toleration",
]
