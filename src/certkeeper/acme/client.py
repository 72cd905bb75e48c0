"""The RFC 8555 flows an ACME issuer needs, over :class:`~certkeeper.acme.network.AcmeNetwork`.

One :class:`AcmeClient` per account key and directory, as cert-manager keeps one client per issuer
(``pkg/acme/accounts``). It owns the cached directory and the account URL and offers:

* accounts: :meth:`~AcmeClient.new_account` (contact ``mailto:<lowercased email>``, External
  Account Binding), :meth:`~AcmeClient.lookup_account` (``onlyReturnExisting``),
  :meth:`~AcmeClient.get_account`, :meth:`~AcmeClient.update_account`;
* orders: :meth:`~AcmeClient.new_order` (DNS/IP identifiers, ``notBefore``/``notAfter``, ``profile``
  checked against ``meta.profiles``, ARI ``replaces``), :meth:`~AcmeClient.get_order`,
  :meth:`~AcmeClient.wait_order`, :meth:`~AcmeClient.finalize_order` (CSR DER);
* authorizations: get, wait (cert-manager's 2-minute default), deactivate; challenges: get, accept;
* certificates: :meth:`~AcmeClient.fetch_certificate` (PEM chain plus ``Link rel="alternate"``
  URLs) and :meth:`~AcmeClient.fetch_preferred_chain` (cert-manager's ``preferredChain`` rule);
* ARI: :meth:`~AcmeClient.renewal_info` (RFC 9773, ``Retry-After`` surfaced).

Polls sleep on the injected clock, honour ``Retry-After`` and stop at a deadline with
:class:`~certkeeper.acme.errors.PollTimeout`. Order/challenge state machines, for reference::

    order:  pending -> ready -> processing -> valid          authz: pending -> valid
               \\          \\           \\                           \\-> invalid | deactivated |
                `-> invalid (any step; expired when too late)           expired | revoked
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from types import TracebackType
from typing import Final, Self

import msgspec
from cryptography import x509

from certkeeper.acme.ari import InvalidCertId, RenewalInfoResource, certificate_id, check_window
from certkeeper.acme.chains import chain_matches
from certkeeper.acme.errors import (
    AcmeError,
    AuthorizationFailed,
    InvalidResponse,
    NotSupported,
    OrderFailed,
    PollTimeout,
)
from certkeeper.acme.jws import AccountKey, ExternalAccountBinding, b64url_encode, dns01_txt_value, key_authorization
from certkeeper.acme.messages import (
    Account,
    AccountUpdateRequest,
    Authorization,
    AuthorizationUpdateRequest,
    Challenge,
    Directory,
    FinalizeRequest,
    Identifier,
    NewAccountRequest,
    NewOrderRequest,
    Order,
    RenewalInfo,
    Status,
)
from certkeeper.acme.network import DEFAULT_BAD_NONCE_RETRIES, AcmeNetwork, decode_json, parse_links, parse_retry_after
from certkeeper.acme.resources import (
    AccountResource,
    AuthorizationResource,
    CertificateChainResource,
    OrderResource,
    PreferredChain,
)
from certkeeper.acme.transport import Action, HttpResponse, Transport
from certkeeper.pki.errors import PkiError
from certkeeper.pki.pem import load_pem_certificate_bundle
from certkeeper.runtime.clock import Clock, SystemClock

PEM_CHAIN: Final = "application/pem-certificate-chain"
#: cert-manager's WaitAuthorization timeout (``pkg/controller/acmechallenges/sync.go``).
DEFAULT_AUTHORIZATION_TIMEOUT: Final = timedelta(minutes=2)
DEFAULT_ORDER_TIMEOUT: Final = timedelta(minutes=2)
#: Pause between polls when the server sends no Retry-After.
DEFAULT_POLL_INTERVAL: Final = timedelta(seconds=1)
#: A Retry-After longer than this is cut, so one bad header cannot stall a poll for a day.
MAX_POLL_INTERVAL: Final = timedelta(minutes=1)
_FINAL_AUTHZ_FAILURES: Final = frozenset({Status.INVALID, Status.DEACTIVATED, Status.EXPIRED, Status.REVOKED})


def email_contact(email: str | None) -> list[str]:
    """An issuer's ``email`` as an account contact list: ``mailto:<lowercased email>``, or none."""
    return [f"mailto:{email.lower()}"] if email else []


@dataclass(frozen=True, slots=True, kw_only=True)
class PollSettings:
    """How long to wait between polls when the server gives no Retry-After, and the cap on it."""

    interval: timedelta = DEFAULT_POLL_INTERVAL
    max_interval: timedelta = MAX_POLL_INTERVAL


class AcmeClient:
    """An ACME account's client; use as an async context manager (closes the transport)."""

    def __init__(
        self,
        *,
        directory_url: str,
        key: AccountKey,
        transport: Transport,
        account_uri: str | None = None,
        clock: Clock | None = None,
        bad_nonce_retries: int = DEFAULT_BAD_NONCE_RETRIES,
        poll: PollSettings | None = None,
    ) -> None:
        self.directory_url = directory_url
        self.key = key
        self.account_uri = account_uri
        self._clock = clock or SystemClock()
        self.network = AcmeNetwork(transport=transport, key=key, clock=self._clock, bad_nonce_retries=bad_nonce_retries)
        self._poll = poll or PollSettings()
        self._directory: Directory | None = None
        self._directory_lock = asyncio.Lock()

    # -- plumbing -------------------------------------------------------------------------------------

    async def directory(self) -> Directory:
        """The server's directory, fetched once and cached."""
        async with self._directory_lock:
            if self._directory is None:
                response = await self.network.get(self.directory_url, action=Action.DISCOVER)
                self._directory = decode_json(response, Directory)
            return self._directory

    def _account_url(self) -> str:
        if self.account_uri is None:
            raise AcmeError("the client has no account URL yet: register or look up the account first")
        return self.account_uri

    async def _post(
        self, url: str, payload: msgspec.Struct | bytes | None, action: Action, *, jwk: bool = False, accept: str = ""
    ) -> HttpResponse:
        directory = await self.directory()
        kid = None if jwk else self._account_url()
        body = msgspec.json.encode(payload) if isinstance(payload, msgspec.Struct) else payload
        return await self.network.post(
            url,
            body,
            action=action,
            new_nonce_url=directory.new_nonce,
            kid=kid,
            accept=accept or None,
        )

    def _retry_after(self, response: HttpResponse) -> timedelta | None:
        return parse_retry_after(response.header("Retry-After"), now=self._clock.now())

    @staticmethod
    def _location(response: HttpResponse) -> str:
        location = response.header("Location")
        if not location:
            raise InvalidResponse(f"the server answered {response.status} without a Location header")
        return location

    async def aclose(self) -> None:
        """Close the transport."""
        await self.network.transport.aclose()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()

    # -- accounts -------------------------------------------------------------------------------------

    async def new_account(
        self,
        *,
        email: str | None = None,
        external_account_binding: ExternalAccountBinding | None = None,
        terms_of_service_agreed: bool = True,
    ) -> AccountResource:
        """Register the key (or find its existing account: then ``created`` is False) and keep its URL."""
        directory = await self.directory()
        eab = None
        if external_account_binding is not None:
            eab = external_account_binding.sign(account_key=self.key, url=directory.new_account)
        request = NewAccountRequest(
            contact=email_contact(email) or None,
            terms_of_service_agreed=terms_of_service_agreed,
            external_account_binding=eab,
        )
        response = await self._post(directory.new_account, request, Action.REGISTER_ACCOUNT, jwk=True)
        return self._account_resource(response)

    async def lookup_account(self) -> AccountResource:
        """The key's existing account (``onlyReturnExisting``); raises AccountDoesNotExist when there is none."""
        directory = await self.directory()
        request = NewAccountRequest(only_return_existing=True)
        response = await self._post(directory.new_account, request, Action.GET_REGISTRATION, jwk=True)
        return self._account_resource(response)

    def _account_resource(self, response: HttpResponse) -> AccountResource:
        uri = self._location(response)
        account = decode_json(response, Account)
        self.account_uri = uri
        return AccountResource(uri=uri, account=account, created=response.status == 201)

    async def get_account(self) -> AccountResource:
        """The account object at the account URL (POST-as-GET)."""
        url = self._account_url()
        response = await self._post(url, None, Action.GET_REGISTRATION)
        return AccountResource(uri=url, account=decode_json(response, Account), created=False)

    async def update_account(self, *, email: str | None) -> AccountResource:
        """Replace the account's contacts with ``mailto:<lowercased email>`` (none when ``email`` is empty)."""
        request = AccountUpdateRequest(contact=email_contact(email))
        url = self._account_url()
        response = await self._post(url, request, Action.UPDATE_REGISTRATION)
        return AccountResource(uri=url, account=decode_json(response, Account), created=False)

    # -- orders ---------------------------------------------------------------------------------------

    async def new_order(
        self,
        identifiers: Sequence[Identifier],
        *,
        not_before: datetime | None = None,
        not_after: datetime | None = None,
        profile: str | None = None,
        replaces: str | None = None,
    ) -> OrderResource:
        """Create an order; ``profile`` must be one the directory advertises (as cert-manager checks)."""
        if not identifiers:
            raise ValueError("an order needs at least one identifier")
        directory = await self.directory()
        if profile:
            if not directory.profiles:
                raise NotSupported("acme: certificate authority does not support profiles")
            if profile not in directory.profiles:
                raise NotSupported(f"acme: certificate authority does not advertise a profile with name {profile}")
        request = NewOrderRequest(
            identifiers=list(identifiers),
            not_before=not_before,
            not_after=not_after,
            profile=profile or None,
            replaces=replaces or None,
        )
        response = await self._post(directory.new_order, request, Action.AUTHORIZE_ORDER)
        return self._order_resource(self._location(response), response)

    def _order_resource(self, url: str, response: HttpResponse) -> OrderResource:
        return OrderResource(uri=url, order=decode_json(response, Order), retry_after=self._retry_after(response))

    async def get_order(self, url: str, *, action: Action = Action.GET_ORDER) -> OrderResource:
        """The order at ``url`` (POST-as-GET)."""
        return self._order_resource(url, await self._post(url, None, action))

    async def wait_order(self, url: str, *, timeout: timedelta = DEFAULT_ORDER_TIMEOUT) -> OrderResource:
        """Poll until the order is neither pending nor processing; raise OrderFailed when it is invalid."""
        deadline = self._clock.monotonic() + timeout.total_seconds()
        while True:
            resource = await self.get_order(url, action=Action.WAIT_ORDER)
            status = resource.order.status
            if status not in (Status.PENDING, Status.PROCESSING):
                return self._order_outcome(resource)
            await self._pause(deadline, resource.retry_after, url=url, status=status)

    @staticmethod
    def _order_outcome(resource: OrderResource) -> OrderResource:
        order = resource.order
        if order.status in (Status.READY, Status.VALID):
            return resource
        problem = order.error.to_exception() if order.error is not None else None
        raise OrderFailed(url=resource.uri, status=str(order.status), problem=problem)

    async def finalize_order(
        self, order: OrderResource, csr_der: bytes, *, timeout: timedelta = DEFAULT_ORDER_TIMEOUT
    ) -> OrderResource:
        """Send the CSR (DER) to the order's finalize URL and poll until it is valid (RFC 8555 §7.4)."""
        request = FinalizeRequest(csr=b64url_encode(csr_der))
        response = await self._post(order.order.finalize, request, Action.CREATE_ORDER_CERT)
        resource = self._order_resource(order.uri, response)
        deadline = self._clock.monotonic() + timeout.total_seconds()
        while resource.order.status in (Status.PENDING, Status.READY, Status.PROCESSING):
            await self._pause(deadline, resource.retry_after, url=order.uri, status=resource.order.status)
            resource = await self.get_order(order.uri, action=Action.WAIT_ORDER)
        if resource.order.status is not Status.VALID:
            return self._order_outcome(resource)
        return resource

    # -- authorizations and challenges ----------------------------------------------------------------

    async def get_authorization(self, url: str, *, action: Action = Action.GET_AUTHORIZATION) -> AuthorizationResource:
        """The authorization at ``url`` (POST-as-GET)."""
        response = await self._post(url, None, action)
        return AuthorizationResource(
            uri=url, authorization=decode_json(response, Authorization), retry_after=self._retry_after(response)
        )

    async def wait_authorization(
        self, url: str, *, timeout: timedelta = DEFAULT_AUTHORIZATION_TIMEOUT
    ) -> AuthorizationResource:
        """Poll until the authorization is valid; raise AuthorizationFailed when it ends otherwise."""
        deadline = self._clock.monotonic() + timeout.total_seconds()
        while True:
            resource = await self.get_authorization(url, action=Action.WAIT_AUTHORIZATION)
            authz = resource.authorization
            if authz.status is Status.VALID:
                return resource
            if authz.status in _FINAL_AUTHZ_FAILURES:
                errors = [c.error.to_exception() for c in authz.challenges if c.error is not None]
                identifier = authz.identifier.value
                raise AuthorizationFailed(url=url, identifier=identifier, status=authz.status, errors=errors)
            await self._pause(deadline, resource.retry_after, url=url, status=authz.status)

    async def deactivate_authorization(self, url: str) -> AuthorizationResource:
        """Deactivate the authorization at ``url`` (RFC 8555 §7.5.2)."""
        request = AuthorizationUpdateRequest(status=Status.DEACTIVATED)
        response = await self._post(url, request, Action.DEACTIVATE_AUTHORIZATION)
        return AuthorizationResource(uri=url, authorization=decode_json(response, Authorization), retry_after=None)

    async def get_challenge(self, url: str) -> Challenge:
        """The challenge at ``url`` (POST-as-GET)."""
        return decode_json(await self._post(url, None, Action.GET_CHALLENGE), Challenge)

    async def accept_challenge(self, url: str) -> Challenge:
        """Tell the server the challenge is ready to be validated: POST ``{}`` (RFC 8555 §7.5.1)."""
        return decode_json(await self._post(url, b"{}", Action.ACCEPT_CHALLENGE), Challenge)

    def key_authorization(self, token: str) -> str:
        """The key authorization for ``token`` (what HTTP-01 serves)."""
        return key_authorization(token, self.key)

    def dns01_txt_value(self, token: str) -> str:
        """The TXT record value DNS-01 publishes for ``token``."""
        return dns01_txt_value(key_authorization(token, self.key))

    async def _pause(self, deadline: float, retry_after: timedelta | None, *, url: str, status: str) -> None:
        remaining = deadline - self._clock.monotonic()
        if remaining <= 0:
            raise PollTimeout(f"{url} is still {status} after the deadline", url=url, last_status=str(status))
        wait = min(retry_after or self._poll.interval, self._poll.max_interval).total_seconds()
        await self._clock.sleep(min(wait, remaining))

    # -- certificates ---------------------------------------------------------------------------------

    async def fetch_certificate(self, url: str, *, action: Action = Action.FETCH_CERT) -> CertificateChainResource:
        """The PEM chain at ``url`` and the URLs of its alternate chains (``Link: rel="alternate"``)."""
        response = await self._post(url, None, action, accept=PEM_CHAIN)
        try:
            load_pem_certificate_bundle(response.body)
        except PkiError as exc:
            raise InvalidResponse(f"the certificate at {url} is not a PEM chain: {exc}") from exc
        alternates = parse_links(response.header_values("Link"), "alternate")
        return CertificateChainResource(url=url, pem=response.body, alternates=tuple(alternates))

    async def list_alternate_chains(self, url: str) -> list[str]:
        """The alternate chain URLs the certificate at ``url`` links to."""
        return list((await self.fetch_certificate(url, action=Action.LIST_CERT_ALTERNATES)).alternates)

    async def fetch_preferred_chain(self, url: str, preferred_chain: str) -> PreferredChain:
        """cert-manager's rule: the first chain, default then alternates, whose top-most issuer CN matches.

        Without ``preferred_chain``, or with no match, the default chain is returned (``matched`` False).
        """
        default = await self.fetch_certificate(url)
        if not preferred_chain:
            return PreferredChain(url=url, pem=default.pem, matched=False)
        if self._matches(default.pem, preferred_chain):
            return PreferredChain(url=url, pem=default.pem, matched=True)
        for alternate_url in default.alternates:
            alternate = await self.fetch_certificate(alternate_url)
            if self._matches(alternate.pem, preferred_chain):
                return PreferredChain(url=alternate_url, pem=alternate.pem, matched=True)
        return PreferredChain(url=url, pem=default.pem, matched=False)

    @staticmethod
    def _matches(chain_pem: bytes, preferred_chain: str) -> bool:
        try:
            return chain_matches(chain_pem, preferred_chain)
        except PkiError as exc:
            raise InvalidResponse(f"error parsing certificate chain: {exc}") from exc

    # -- ARI ------------------------------------------------------------------------------------------

    async def renewal_info(self, certificate: x509.Certificate | str) -> RenewalInfoResource:
        """The server's suggested renewal window for a certificate (or its CertID), and Retry-After."""
        directory = await self.directory()
        if not directory.renewal_info:
            raise NotSupported("acme: certificate authority does not support ARI (renewalInfo)")
        try:
            cert_id = certificate if isinstance(certificate, str) else certificate_id(certificate)
        except InvalidCertId as exc:
            raise AcmeError(str(exc)) from exc
        url = f"{directory.renewal_info.rstrip('/')}/{cert_id.lstrip('/')}"
        response = await self.network.get(url, action=Action.GET_RENEWAL_INFO)
        info = decode_json(response, RenewalInfo)
        try:
            check_window(info)
        except ValueError as exc:
            raise InvalidResponse(f"acme: {exc}") from exc
        return RenewalInfoResource(cert_id=cert_id, renewal_info=info, retry_after=self._retry_after(response))
