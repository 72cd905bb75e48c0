"""Typed models of ``acme.cert-manager.io/v1``: the ACME issuer config, Order and Challenge.

The solvers (``solvers[]``, copied into each Challenge) live in :mod:`certkeeper.api.acme_solvers`.
Field names are the snake_case of the wire names; irregular wire names (``keyID``, ``skipTLSVerify``,
``finalizeURL``, ``authorizationURL``) are spelled out with ``msgspec.field(name=...)``. CRD enums are
``Literal``s, CRD length limits are ``msgspec.Meta`` constraints, and CRD-required fields have no
default.

Follows ``pkg/apis/acme/v1/types_issuer.go``, ``types_order.go`` and ``types_challenge.go`` and the
CRDs ``acme.cert-manager.io_{orders,challenges}.yaml`` / ``cert-manager.io_issuers.yaml``. Pure.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, ClassVar, Literal, get_args

import msgspec

from certkeeper.api.acme_solvers import ACMEChallengeSolver
from certkeeper.api.cmmeta import IssuerReference, SecretKeySelector
from certkeeper.api.meta import Model, Resource

#: ``externalAccountBinding.keyAlgorithm`` (deprecated and ignored: HS256 is always used).
HMACKeyAlgorithm = Literal["HS256", "HS384", "HS512"]
#: ``acme.renewalInformationSource`` (CRD default ARI).
RenewalInformationSource = Literal["ARI", "None"]
#: The state of an Order, an authorization or a Challenge, as the ACME server reports it.
State = Literal["valid", "ready", "pending", "processing", "invalid", "expired", "errored"]
#: ``Challenge.spec.type``.
ChallengeType = Literal["HTTP-01", "DNS-01"]

# --- ACME issuer ---------------------------------------------------------------------------------


class ACMEExternalAccountBinding(Model, kw_only=True, frozen=True):
    """External account binding (RFC 8555 §7.3.4): ties the ACME account to an account at the CA."""

    key_id: str = msgspec.field(name="keyID")
    #: The MAC key, unpadded base64url, in ``key`` of this Secret.
    key_secret_ref: SecretKeySelector
    key_algorithm: HMACKeyAlgorithm | None = None


class ACMEIssuer(Model, kw_only=True, frozen=True):
    """An ACME (RFC 8555) certificate authority, e.g. Let's Encrypt."""

    email: str | None = None
    #: The ACME directory URL.
    server: str
    preferred_chain: Annotated[str, msgspec.Meta(max_length=64)] | None = None
    ca_bundle: bytes | None = None
    skip_tls_verify: bool | None = msgspec.field(default=None, name="skipTLSVerify")
    external_account_binding: ACMEExternalAccountBinding | None = None
    #: The account key (key ``tls.key`` unless set).
    private_key_secret_ref: SecretKeySelector
    solvers: list[ACMEChallengeSolver] | None = None
    disable_account_key_generation: bool | None = None
    enable_duration_feature: bool | None = None
    profile: str | None = None
    renewal_information_source: RenewalInformationSource | None = None


class ACMEIssuerStatus(Model, kw_only=True, frozen=True):
    """The registered ACME account: its URI, and what it was registered with."""

    uri: str | None = None
    last_registered_email: str | None = None
    #: base64 of the SHA-256 of the account key's PKCS#1 DER.
    last_private_key_hash: str | None = None


# --- Order -----------------------------------------------------------------------------------------


class OrderSpec(Model, kw_only=True, frozen=True):
    #: The CertificateRequest's CSR (PEM, despite the Go comment saying DER).
    request: bytes
    issuer_ref: IssuerReference
    common_name: str | None = None
    dns_names: list[str] | None = None
    ip_addresses: list[str] | None = None
    duration: str | None = None
    profile: str | None = None
    #: ARI CertID of the certificate this order replaces: ``base64url(AKI).base64url(serial)``.
    replaces: str | None = None


class ACMEChallenge(Model, kw_only=True, frozen=True):
    """A challenge offered by the ACME server for one authorization."""

    url: str
    token: str
    #: The ACME challenge type, e.g. ``http-01`` or ``dns-01``.
    type: str


class ACMEAuthorization(Model, kw_only=True, frozen=True):
    url: str
    identifier: str | None = None
    wildcard: bool | None = None
    initial_state: State | None = None
    challenges: list[ACMEChallenge] | None = None


class OrderStatus(Model, kw_only=True, frozen=True):
    url: str | None = None
    finalize_url: str | None = msgspec.field(default=None, name="finalizeURL")
    authorizations: list[ACMEAuthorization] | None = None
    #: The issued chain, PEM.
    certificate: bytes | None = None
    state: State | None = None
    reason: str | None = None
    failure_time: datetime | None = None


class Order(Resource, tag="Order", kw_only=True, frozen=True):
    """An ACME order for one CertificateRequest."""

    API_VERSION: ClassVar[str] = "acme.cert-manager.io/v1"
    PLURAL: ClassVar[str] = "orders"

    spec: OrderSpec
    status: OrderStatus | None = None


# --- Challenge -------------------------------------------------------------------------------------


class ChallengeSpec(Model, kw_only=True, frozen=True):
    url: str
    authorization_url: str = msgspec.field(name="authorizationURL")
    #: The identifier without the ``*.`` of a wildcard.
    dns_name: str
    wildcard: bool | None = None
    type: ChallengeType
    token: str
    #: HTTP-01: the key authorization ``token.thumbprint``; DNS-01: base64url(SHA-256) of it.
    key: str
    solver: ACMEChallengeSolver
    issuer_ref: IssuerReference


class ChallengeStatus(Model, kw_only=True, frozen=True):
    processing: bool | None = None
    presented: bool | None = None
    presented_at: datetime | None = None
    reason: str | None = None
    state: State | None = None


class Challenge(Resource, tag="Challenge", kw_only=True, frozen=True):
    """One ACME challenge that a solver presents for one authorization."""

    API_VERSION: ClassVar[str] = "acme.cert-manager.io/v1"
    PLURAL: ClassVar[str] = "challenges"

    spec: ChallengeSpec
    status: ChallengeStatus | None = None


def as_state(value: str) -> State | None:
    """An ACME status as the API's State vocabulary; statuses it does not know become None."""
    return value if value in get_args(State) else None  # type: ignore[return-value]  # checked against State


#: States after which an Order is never processed again.
ORDER_FAILURE_STATES: frozenset[State] = frozenset({"invalid", "expired", "errored"})
#: States after which a Challenge is never processed again (valid is final for Challenges only).
CHALLENGE_FINAL_STATES: frozenset[State] = frozenset({"valid", "invalid", "expired", "errored"})

__all__ = [
    "CHALLENGE_FINAL_STATES",
    "ORDER_FAILURE_STATES",
    "ACMEAuthorization",
    "ACMEChallenge",
    "ACMEExternalAccountBinding",
    "ACMEIssuer",
    "ACMEIssuerStatus",
    "Challenge",
    "ChallengeSpec",
    "ChallengeStatus",
    "ChallengeType",
    "HMACKeyAlgorithm",
    "Order",
    "OrderSpec",
    "OrderStatus",
    "RenewalInformationSource",
    "State",
    "as_state",
]
