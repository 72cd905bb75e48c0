"""Typed models of ``cert-manager.io/v1``: Certificate, CertificateRequest, Issuer and ClusterIssuer.

Field names are the snake_case of the wire names; irregular wire names (``isCA``, ``tsgID``,
``issuingCertificateURLs``, ``explanationURL``) are spelled out with ``msgspec.field(name=...)``.
CRD enums are ``Literal``s (from :mod:`certkeeper.api.constants`), CRD patterns and lengths are
``msgspec.Meta`` constraints, CRD-required fields have no default and every optional field defaults
to ``None``, so a manifest loads and dumps back unchanged. Durations stay Go duration strings
(``2160h``); parse them with :mod:`certkeeper.api.durations`. Implicit defaults are applied by
:mod:`certkeeper.api.defaults`, never here.

Follows ``pkg/apis/certmanager/v1/types_certificate.go``, ``types_certificaterequest.go``,
``types_issuer.go`` and the CRDs ``cert-manager.io_*.yaml``. The CA, SelfSigned, Vault and Venafi
issuer configurations are defined in :mod:`certkeeper.api.issuer_configs` and re-exported here, so
every cert-manager.io/v1 type can be imported from this module. Pure.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, ClassVar

import msgspec

from certkeeper.api.acme import ACMEIssuer, ACMEIssuerStatus
from certkeeper.api.cmmeta import IssuerReference, SecretKeySelector
from certkeeper.api.constants import (
    ConditionStatus,
    KeyUsage,
    OutputFormatType,
    PKCS12Profile,
    PrivateKeyAlgorithm,
    PrivateKeyEncoding,
    PrivateKeyRotationPolicy,
    RenewalPolicy,
    SignatureAlgorithm,
)
from certkeeper.api.issuer_configs import (
    CAIssuer,
    SelfSignedIssuer,
    VaultAppRole,
    VaultAuth,
    VaultAWSAuth,
    VaultClientCertificateAuth,
    VaultIssuer,
    VaultKubernetesAuth,
    VenafiCloud,
    VenafiIssuer,
    VenafiNGTS,
    VenafiTPP,
)
from certkeeper.api.meta import Model, Resource

# --- Certificate spec ----------------------------------------------------------------------------


class X509Subject(Model, kw_only=True, frozen=True):
    """Subject attributes besides the common name. Not allowed together with ``literalSubject``."""

    organizations: list[str] | None = None
    countries: list[str] | None = None
    organizational_units: list[str] | None = None
    localities: list[str] | None = None
    provinces: list[str] | None = None
    street_addresses: list[str] | None = None
    postal_codes: list[str] | None = None
    serial_number: str | None = None


class OtherName(Model, kw_only=True, frozen=True):
    """An otherName SAN: a dotted OID and a UTF-8 string value."""

    oid: str | None = None
    utf8_value: str | None = None


class CertificateRenewalWindow(Model, kw_only=True, frozen=True):
    """A recurring window in which renewal may happen: ``windowDuration`` long from each cron fire time."""

    #: IANA time zone of ``cron``; UTC when unset.
    timezone: Annotated[str, msgspec.Meta(min_length=1)] | None = None
    window_duration: Annotated[str, msgspec.Meta(pattern=r"^([0-9]+(\.[0-9]+)?(s|m|h))+$")]
    #: Standard five-field cron expression.
    cron: Annotated[str, msgspec.Meta(min_length=1)]


class CertificateRenewal(Model, kw_only=True, frozen=True):
    """When renewal may happen (Go ``CertificateRenewal``)."""

    policy: RenewalPolicy | None = None
    windows: list[CertificateRenewalWindow] | None = None


class CertificateSecretTemplate(Model, kw_only=True, frozen=True):
    """Labels and annotations copied onto the Certificate's Secret."""

    annotations: dict[str, str] | None = None
    labels: dict[str, str] | None = None


class JKSKeystore(Model, kw_only=True, frozen=True):
    """Also write ``keystore.jks`` / ``truststore.jks`` into the Secret."""

    create: bool
    #: Alias of the key entry; ``certificate`` when unset.
    alias: str | None = None
    password_secret_ref: SecretKeySelector | None = None
    password: str | None = None


class PKCS12Keystore(Model, kw_only=True, frozen=True):
    """Also write ``keystore.p12`` / ``truststore.p12`` into the Secret."""

    create: bool
    profile: PKCS12Profile | None = None
    password_secret_ref: SecretKeySelector | None = None
    password: str | None = None


class CertificateKeystores(Model, kw_only=True, frozen=True):
    jks: JKSKeystore | None = None
    pkcs12: PKCS12Keystore | None = None


class CertificatePrivateKey(Model, kw_only=True, frozen=True):
    """How the private key is generated, encoded and rotated (defaults: RSA 2048, PKCS1, Always)."""

    rotation_policy: PrivateKeyRotationPolicy | None = None
    encoding: PrivateKeyEncoding | None = None
    algorithm: PrivateKeyAlgorithm | None = None
    size: int | None = None


class CertificateAdditionalOutputFormat(Model, kw_only=True, frozen=True):
    """An extra Secret entry: ``key.der`` (DER) or ``tls-combined.pem`` (CombinedPEM)."""

    type: OutputFormatType


class NameConstraintItem(Model, kw_only=True, frozen=True):
    dns_domains: list[str] | None = None
    #: CIDRs.
    ip_ranges: list[str] | None = None
    email_addresses: list[str] | None = None
    uri_domains: list[str] | None = None


class NameConstraints(Model, kw_only=True, frozen=True):
    """X.509 name constraints of a CA certificate (``isCA`` must be true)."""

    critical: bool | None = None
    permitted: NameConstraintItem | None = None
    excluded: NameConstraintItem | None = None


class CertificateSpec(Model, kw_only=True, frozen=True):
    """The desired certificate and where to store it."""

    subject: X509Subject | None = None
    #: RFC 4514 DN, order preserved; excludes ``subject`` and ``commonName``.
    literal_subject: str | None = None
    common_name: str | None = None
    #: Go duration; 2160h when unset.
    duration: str | None = None
    renew_before: str | None = None
    renew_before_percentage: int | None = None
    renewal: CertificateRenewal | None = None
    dns_names: list[str] | None = None
    ip_addresses: list[str] | None = None
    uris: list[str] | None = None
    other_names: list[OtherName] | None = None
    email_addresses: list[str] | None = None
    secret_name: str
    secret_template: CertificateSecretTemplate | None = None
    keystores: CertificateKeystores | None = None
    issuer_ref: IssuerReference
    is_ca: bool | None = msgspec.field(default=None, name="isCA")
    usages: list[KeyUsage] | None = None
    private_key: CertificatePrivateKey | None = None
    signature_algorithm: SignatureAlgorithm | None = None
    #: Put KeyUsage/ExtendedKeyUsage into the CSR; true when unset.
    encode_usages_in_request: bool | None = None
    revision_history_limit: int | None = None
    additional_output_formats: list[CertificateAdditionalOutputFormat] | None = None
    name_constraints: NameConstraints | None = None


# --- Certificate status --------------------------------------------------------------------------


class CertificateCondition(Model, kw_only=True, frozen=True):
    """A condition of a Certificate (types ``Ready``, ``Issuing``)."""

    type: str
    status: ConditionStatus
    last_transition_time: datetime | None = None
    reason: str | None = None
    message: str | None = None
    observed_generation: int | None = None


class ACMERenewalWindow(Model, kw_only=True, frozen=True):
    """The renewal window an ACME server suggested through ARI (RFC 9773)."""

    start: datetime
    end: datetime


class CertificateACMEARIStatus(Model, kw_only=True, frozen=True):
    suggested_window: ACMERenewalWindow | None = None
    explanation_url: str | None = msgspec.field(default=None, name="explanationURL")
    last_checked: datetime | None = None
    next_check: datetime | None = None
    last_error: str | None = None


class CertificateACMEStatus(Model, kw_only=True, frozen=True):
    ari: CertificateACMEARIStatus | None = None


class CertificateStatus(Model, kw_only=True, frozen=True):
    conditions: list[CertificateCondition] | None = None
    last_failure_time: datetime | None = None
    not_before: datetime | None = None
    not_after: datetime | None = None
    renewal_time: datetime | None = None
    revision: int | None = None
    next_private_key_secret_name: str | None = None
    failed_issuance_attempts: int | None = None
    acme: CertificateACMEStatus | None = None


class Certificate(Resource, tag="Certificate", kw_only=True, frozen=True):
    """A certificate to keep issued and renewed in a Secret."""

    API_VERSION: ClassVar[str] = "cert-manager.io/v1"
    PLURAL: ClassVar[str] = "certificates"

    spec: CertificateSpec
    status: CertificateStatus | None = None


# --- CertificateRequest --------------------------------------------------------------------------


class CertificateRequestSpec(Model, kw_only=True, frozen=True):
    """A CSR for an issuer to sign; immutable after creation."""

    duration: str | None = None
    issuer_ref: IssuerReference
    #: PEM-encoded CSR.
    request: bytes
    is_ca: bool | None = msgspec.field(default=None, name="isCA")
    usages: list[KeyUsage] | None = None
    #: Identity of the creator, set by the webhook.
    username: str | None = None
    uid: str | None = None
    groups: list[str] | None = None
    extra: dict[str, list[str]] | None = None


class CertificateRequestCondition(Model, kw_only=True, frozen=True):
    """A condition of a CertificateRequest (types ``Ready``, ``InvalidRequest``, ``Approved``, ``Denied``).

    Unlike Certificate and Issuer conditions it has no ``observedGeneration``.
    """

    type: str
    status: ConditionStatus
    last_transition_time: datetime | None = None
    reason: str | None = None
    message: str | None = None


class CertificateRequestStatus(Model, kw_only=True, frozen=True):
    conditions: list[CertificateRequestCondition] | None = None
    #: The signed certificate chain, PEM.
    certificate: bytes | None = None
    #: The issuing CA, PEM, best effort.
    ca: bytes | None = None
    failure_time: datetime | None = None


class CertificateRequest(Resource, tag="CertificateRequest", kw_only=True, frozen=True):
    """One request to an issuer to sign one CSR."""

    API_VERSION: ClassVar[str] = "cert-manager.io/v1"
    PLURAL: ClassVar[str] = "certificaterequests"

    spec: CertificateRequestSpec
    status: CertificateRequestStatus | None = None


# --- Issuer ------------------------------------------------------------------------------------


class IssuerSpec(Model, kw_only=True, frozen=True):
    """The issuer configuration (Go ``IssuerConfig``, inlined): exactly one issuer type."""

    acme: ACMEIssuer | None = None
    ca: CAIssuer | None = None
    vault: VaultIssuer | None = None
    self_signed: SelfSignedIssuer | None = None
    venafi: VenafiIssuer | None = None


#: Go names the inlined type IssuerConfig; both names denote the same struct.
IssuerConfig = IssuerSpec


class IssuerCondition(Model, kw_only=True, frozen=True):
    """A condition of an Issuer or ClusterIssuer (type ``Ready``)."""

    type: str
    status: ConditionStatus
    last_transition_time: datetime | None = None
    reason: str | None = None
    message: str | None = None
    observed_generation: int | None = None


class IssuerStatus(Model, kw_only=True, frozen=True):
    conditions: list[IssuerCondition] | None = None
    acme: ACMEIssuerStatus | None = None


class Issuer(Resource, tag="Issuer", kw_only=True, frozen=True):
    """An issuer that signs for Certificates in its own namespace."""

    API_VERSION: ClassVar[str] = "cert-manager.io/v1"
    PLURAL: ClassVar[str] = "issuers"

    spec: IssuerSpec
    status: IssuerStatus | None = None


class ClusterIssuer(Resource, tag="ClusterIssuer", kw_only=True, frozen=True):
    """An issuer for every namespace; its Secrets live in the cluster resource namespace."""

    API_VERSION: ClassVar[str] = "cert-manager.io/v1"
    PLURAL: ClassVar[str] = "clusterissuers"
    NAMESPACED: ClassVar[bool] = False

    spec: IssuerSpec
    status: IssuerStatus | None = None


#: Either issuer kind; they share spec and status.
AnyIssuer = Issuer | ClusterIssuer

__all__ = [
    "ACMERenewalWindow",
    "AnyIssuer",
    "CAIssuer",
    "Certificate",
    "CertificateACMEARIStatus",
    "CertificateACMEStatus",
    "CertificateAdditionalOutputFormat",
    "CertificateCondition",
    "CertificateKeystores",
    "CertificatePrivateKey",
    "CertificateRenewal",
    "CertificateRenewalWindow",
    "CertificateRequest",
    "CertificateRequestCondition",
    "CertificateRequestSpec",
    "CertificateRequestStatus",
    "CertificateSecretTemplate",
    "CertificateSpec",
    "CertificateStatus",
    "ClusterIssuer",
    "Issuer",
    "IssuerCondition",
    "IssuerConfig",
    "IssuerSpec",
    "IssuerStatus",
    "JKSKeystore",
    "NameConstraintItem",
    "NameConstraints",
    "OtherName",
    "PKCS12Keystore",
    "SelfSignedIssuer",
    "VaultAWSAuth",
    "VaultAppRole",
    "VaultAuth",
    "VaultClientCertificateAuth",
    "VaultIssuer",
    "VaultKubernetesAuth",
    "VenafiCloud",
    "VenafiIssuer",
    "VenafiNGTS",
    "VenafiTPP",
    "X509Subject",
]
