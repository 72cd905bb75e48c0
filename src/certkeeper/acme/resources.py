"""What the client returns: a server object together with its URL and the response's Retry-After.

RFC 8555 objects do not carry their own URLs; the URL comes from the Location header or from the
request (certbot's ``ResourceBody`` vs ``ResourceWithURI``). Pure values.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from certkeeper.acme.messages import Account, Authorization, Order


@dataclass(frozen=True, slots=True, kw_only=True)
class AccountResource:
    """An account and its URL (the ``kid`` of later requests); ``created`` is False for an existing one."""

    uri: str
    account: Account
    created: bool


@dataclass(frozen=True, slots=True, kw_only=True)
class OrderResource:
    """An order, its URL, and the Retry-After the server sent with it (a hint for the next poll)."""

    uri: str
    order: Order
    retry_after: timedelta | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class AuthorizationResource:
    """An authorization, its URL, and the response's Retry-After."""

    uri: str
    authorization: Authorization
    retry_after: timedelta | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class CertificateChainResource:
    """A downloaded chain (PEM, leaf first) and the URLs of the alternate chains it links to."""

    url: str
    pem: bytes
    alternates: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class PreferredChain:
    """The chain chosen by ``preferredChain``: ``matched`` is False when the default was kept for want of a match."""

    url: str
    pem: bytes
    matched: bool
