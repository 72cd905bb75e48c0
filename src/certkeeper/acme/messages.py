"""RFC 8555 objects as frozen, typed wire models: what an ACME server sends and what a client posts.

Python names are the snake_case of the wire names (``termsOfServiceAgreed`` -> ``terms_of_service_agreed``);
the few irregular ones (``explanationURL``) are mapped per field. Unknown members are ignored, so a
server that adds fields does not break parsing. Closed vocabularies (:class:`Status`) decode strictly,
as RFC 8555 §7.1.6 fixes them; open ones (identifier and challenge types) stay strings, so an
authorization offering a challenge type this client does not know still parses and keeps that
challenge (:attr:`Challenge.known_type` is then None). Includes RFC 9773 (ARI: ``renewalInfo``,
``replaces``) and the ACME profiles extension (``meta.profiles``, ``profile``). Follows
``third_party/forked/acme/types.go`` for what cert-manager reads. Pure.
"""

from __future__ import annotations

import enum
import ipaddress
from datetime import datetime, timedelta

import msgspec

from certkeeper.acme.errors import AcmeProblem, Subproblem, make_problem


class Message(msgspec.Struct, kw_only=True, frozen=True, omit_defaults=True, rename="camel"):
    """Base of every wire model: camelCase on the wire, unset (None) members omitted."""


class Status(enum.StrEnum):
    """Status values of accounts, orders, authorizations and challenges (RFC 8555 §7.1.6)."""

    PENDING = "pending"
    READY = "ready"
    PROCESSING = "processing"
    VALID = "valid"
    INVALID = "invalid"
    REVOKED = "revoked"
    DEACTIVATED = "deactivated"
    EXPIRED = "expired"


class IdentifierType(enum.StrEnum):
    """Identifier types this client orders: RFC 8555 ``dns`` and RFC 8738 ``ip``."""

    DNS = "dns"
    IP = "ip"


class ChallengeType(enum.StrEnum):
    """Challenge types RFC 8555 and RFC 8737 define."""

    HTTP_01 = "http-01"
    DNS_01 = "dns-01"
    TLS_ALPN_01 = "tls-alpn-01"


class Identifier(Message, kw_only=True, frozen=True):
    """An identifier: ``{"type": "dns", "value": "example.com"}``. ``type`` stays open on decode."""

    type: str
    value: str

    @classmethod
    def dns(cls, name: str) -> Identifier:
        """A DNS identifier; a wildcard keeps its ``*.`` prefix (RFC 8555 §7.1.3)."""
        return cls(type=IdentifierType.DNS, value=name)

    @classmethod
    def ip(cls, address: str) -> Identifier:
        """An IP identifier in the textual form RFC 8738 asks for (RFC 5952 for IPv6)."""
        return cls(type=IdentifierType.IP, value=str(ipaddress.ip_address(address)))


class SubproblemDocument(Message, kw_only=True, frozen=True):
    """A member of a problem document's ``subproblems``."""

    type: str = ""
    detail: str = ""
    identifier: Identifier | None = None


class ProblemDocument(Message, kw_only=True, frozen=True):
    """A problem document (RFC 7807) as the server sent it, e.g. an order's or a challenge's ``error``."""

    type: str = "about:blank"
    detail: str = ""
    title: str = ""
    status: int | None = None
    instance: str = ""
    subproblems: list[SubproblemDocument] | None = None

    def to_exception(self, *, http_status: int = 0, retry_after: timedelta | None = None) -> AcmeProblem:
        """This document as the :class:`AcmeProblem` subclass its type names.

        ``status`` is the document's own when present, else ``http_status`` (as golang.org/x/crypto/acme).
        """
        return make_problem(
            type=self.type,
            detail=self.detail,
            status=self.status if self.status is not None else http_status,
            title=self.title,
            instance=self.instance,
            subproblems=[
                Subproblem(
                    type=sub.type,
                    detail=sub.detail,
                    identifier_type=sub.identifier.type if sub.identifier else None,
                    identifier_value=sub.identifier.value if sub.identifier else None,
                )
                for sub in self.subproblems or ()
            ],
            retry_after=retry_after,
        )


class DirectoryMeta(Message, kw_only=True, frozen=True):
    """The directory's ``meta`` object; ``profiles`` maps profile names to descriptions."""

    terms_of_service: str | None = None
    website: str | None = None
    caa_identities: list[str] | None = None
    external_account_required: bool | None = None
    profiles: dict[str, str] | None = None


class Directory(Message, kw_only=True, frozen=True):
    """The directory object (RFC 8555 §7.1.1), plus ``renewalInfo`` (RFC 9773 §4)."""

    new_nonce: str
    new_account: str
    new_order: str
    new_authz: str | None = None
    revoke_cert: str | None = None
    key_change: str | None = None
    renewal_info: str | None = None
    meta: DirectoryMeta | None = None

    @property
    def profiles(self) -> dict[str, str]:
        """Profiles the server advertises (empty when it advertises none)."""
        return dict(self.meta.profiles or {}) if self.meta else {}

    @property
    def external_account_required(self) -> bool:
        """True when new accounts must carry an External Account Binding."""
        return bool(self.meta and self.meta.external_account_required)


class Account(Message, kw_only=True, frozen=True):
    """An account object (RFC 8555 §7.1.2)."""

    status: Status
    contact: list[str] | None = None
    terms_of_service_agreed: bool | None = None
    orders: str | None = None


class Order(Message, kw_only=True, frozen=True):
    """An order object (RFC 8555 §7.1.3), with ``profile`` and ``replaces``."""

    status: Status
    identifiers: list[Identifier]
    authorizations: list[str]
    finalize: str
    expires: datetime | None = None
    not_before: datetime | None = None
    not_after: datetime | None = None
    error: ProblemDocument | None = None
    certificate: str | None = None
    profile: str | None = None
    replaces: str | None = None


class Challenge(Message, kw_only=True, frozen=True):
    """A challenge object (RFC 8555 §7.1.5, §8). Any ``type`` decodes; ``token`` is absent for some."""

    type: str
    url: str
    status: Status
    token: str | None = None
    validated: datetime | None = None
    error: ProblemDocument | None = None

    @property
    def known_type(self) -> ChallengeType | None:
        """The type as :class:`ChallengeType`, or None for a type this client does not implement."""
        try:
            return ChallengeType(self.type)
        except ValueError:
            return None


class Authorization(Message, kw_only=True, frozen=True):
    """An authorization object (RFC 8555 §7.1.4)."""

    identifier: Identifier
    status: Status
    challenges: list[Challenge]
    expires: datetime | None = None
    wildcard: bool | None = None

    def challenge(self, challenge_type: ChallengeType | str) -> Challenge | None:
        """The first challenge of ``challenge_type``, if offered."""
        return next((c for c in self.challenges if c.type == challenge_type), None)


class SuggestedWindow(Message, kw_only=True, frozen=True):
    """ARI's suggested renewal window (RFC 9773 §4.2)."""

    start: datetime
    end: datetime


class RenewalInfo(Message, kw_only=True, frozen=True):
    """A renewalInfo response body (RFC 9773 §4.2)."""

    suggested_window: SuggestedWindow
    explanation_url: str | None = msgspec.field(default=None, name="explanationURL")


class JwsObject(Message, kw_only=True, frozen=True):
    """A JWS in flattened JSON serialisation (RFC 7515 §7.2.2), e.g. an External Account Binding."""

    protected: str
    payload: str
    signature: str


class NewAccountRequest(Message, kw_only=True, frozen=True):
    """The newAccount payload (RFC 8555 §7.3)."""

    contact: list[str] | None = None
    terms_of_service_agreed: bool | None = None
    only_return_existing: bool | None = None
    external_account_binding: JwsObject | None = None


class AccountUpdateRequest(Message, kw_only=True, frozen=True):
    """The payload that updates an account (RFC 8555 §7.3.2) or deactivates it (§7.3.6)."""

    contact: list[str] | None = None
    status: Status | None = None


class NewOrderRequest(Message, kw_only=True, frozen=True):
    """The newOrder payload (RFC 8555 §7.4, RFC 9773 §5, ACME profiles)."""

    identifiers: list[Identifier]
    not_before: datetime | None = None
    not_after: datetime | None = None
    profile: str | None = None
    replaces: str | None = None


class FinalizeRequest(Message, kw_only=True, frozen=True):
    """The finalize payload: the CSR, DER, base64url without padding (RFC 8555 §7.4)."""

    csr: str


class AuthorizationUpdateRequest(Message, kw_only=True, frozen=True):
    """The payload that deactivates an authorization (RFC 8555 §7.5.2)."""

    status: Status
