"""HTTP underneath the ACME client: a small :class:`Transport` protocol and its aiohttp implementation.

The protocol layer (:mod:`certkeeper.acme.network`, :mod:`certkeeper.acme.client`) only ever sees
:class:`HttpRequest` and :class:`HttpResponse`, so unit tests run it over an in-process fake server
and integration tests over :class:`AiohttpTransport` against pebble. Every request names its logical
ACME :class:`Action`, which becomes the ``action`` label of cert-manager's request metrics.

:class:`AiohttpTransport` keeps cert-manager's limits (``pkg/acme/accounts/client.go``,
``pkg/acme/client/http.go``): 90 s per request in total, 30 s to connect (TLS handshake included),
response bodies capped at 16 MiB (an oversized body is an error, never silently truncated), proxies
from the environment. TLS trusts the system roots, or only a given CA bundle, or (``skipTLSVerify``)
nothing. aiohttp and asyncio errors are translated to :class:`~certkeeper.acme.errors.TransportError`
in one place.
"""

from __future__ import annotations

import asyncio
import enum
import ssl
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import TracebackType
from typing import Final, Protocol, Self

import aiohttp

from certkeeper.acme.errors import ResponseTooLarge, TransportError

#: cert-manager's ``defaultACMEHTTPTimeout``: the whole request, body included.
TOTAL_TIMEOUT_SECONDS: Final = 90.0
#: cert-manager's dialer timeout (its separate 10 s TLS handshake limit falls inside this one here).
CONNECT_TIMEOUT_SECONDS: Final = 30.0
#: cert-manager's ``maxACMEResponseBodyBytes``.
MAX_RESPONSE_BYTES: Final = 16 << 20
DEFAULT_USER_AGENT: Final = "certkeeper"


class Action(enum.StrEnum):
    """The logical ACME operation a request belongs to: cert-manager's metric ``action`` label values."""

    DISCOVER = "discover"
    REGISTER_ACCOUNT = "register_account"
    GET_REGISTRATION = "get_registration"
    UPDATE_REGISTRATION = "update_registration"
    AUTHORIZE_ORDER = "authorize_order"
    GET_ORDER = "get_order"
    WAIT_ORDER = "wait_order"
    CREATE_ORDER_CERT = "create_order_cert"
    FETCH_CERT = "fetch_cert"
    LIST_CERT_ALTERNATES = "list_cert_alternates"
    ACCEPT_CHALLENGE = "accept_challenge"
    GET_CHALLENGE = "get_challenge"
    GET_AUTHORIZATION = "get_authorization"
    WAIT_AUTHORIZATION = "wait_authorization"
    #: Not in cert-manager's client (it never deactivates); named in the same style.
    DEACTIVATE_AUTHORIZATION = "deactivate_authorization"
    GET_RENEWAL_INFO = "get_renewal_info"
    UNNAMED = "unnamed_action"


@dataclass(frozen=True, slots=True, kw_only=True)
class HttpRequest:
    """One HTTP request the client wants sent."""

    method: str
    url: str
    action: Action
    headers: Mapping[str, str] = field(default_factory=dict)
    body: bytes | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class HttpResponse:
    """A complete response: status, every header (repeated ones kept, in order), the whole body."""

    status: int
    headers: tuple[tuple[str, str], ...] = ()
    body: bytes = b""

    def header(self, name: str) -> str | None:
        """The first value of header ``name`` (case-insensitive), or None."""
        wanted = name.lower()
        return next((value for key, value in self.headers if key.lower() == wanted), None)

    def header_values(self, name: str) -> list[str]:
        """Every value of header ``name`` (case-insensitive), in order."""
        wanted = name.lower()
        return [value for key, value in self.headers if key.lower() == wanted]

    @property
    def content_type(self) -> str:
        """The media type without parameters, lower-case (``application/problem+json``)."""
        return (self.header("Content-Type") or "").split(";", 1)[0].strip().lower()


class Transport(Protocol):
    """Sends one request and returns the whole response; raises TransportError when there is none."""

    async def send(self, request: HttpRequest) -> HttpResponse:
        """Send ``request``; non-2xx statuses are returned, not raised."""
        ...

    async def aclose(self) -> None:
        """Release connections."""
        ...


@dataclass(frozen=True, slots=True, kw_only=True)
class TlsOptions:
    """How to check the ACME server's certificate (an issuer's ``caBundle`` / ``skipTLSVerify``)."""

    ca_bundle: bytes | None = None
    skip_verify: bool = False

    def __post_init__(self) -> None:
        if self.ca_bundle and self.skip_verify:
            raise ValueError("caBundle and skipTLSVerify are mutually exclusive")

    def ssl_context(self) -> ssl.SSLContext:
        """An SSL context: system roots, only ``ca_bundle``, or no verification at all."""
        if self.skip_verify:
            context = ssl.create_default_context()
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
            return context
        if not self.ca_bundle:
            return ssl.create_default_context()
        try:
            # cadata given: the default roots are not loaded, so only the bundle is trusted (as Go's RootCAs).
            return ssl.create_default_context(cadata=self.ca_bundle.decode("ascii"))
        except (ssl.SSLError, UnicodeDecodeError, ValueError) as exc:
            raise ValueError(f"the CA bundle holds no usable PEM certificate: {exc}") from exc


class AiohttpTransport:
    """:class:`Transport` over one ``aiohttp.ClientSession``; use it as an async context manager."""

    def __init__(
        self,
        *,
        tls: TlsOptions | None = None,
        user_agent: str = DEFAULT_USER_AGENT,
        total_timeout: float = TOTAL_TIMEOUT_SECONDS,
        connect_timeout: float = CONNECT_TIMEOUT_SECONDS,
        max_response_bytes: int = MAX_RESPONSE_BYTES,
        trust_env: bool = True,
    ) -> None:
        self._ssl = (tls or TlsOptions()).ssl_context()
        self._user_agent = user_agent
        self._timeout = aiohttp.ClientTimeout(total=total_timeout, connect=connect_timeout)
        self._max_response_bytes = max_response_bytes
        self._trust_env = trust_env
        self._session: aiohttp.ClientSession | None = None
        self._closed = False

    def _client(self) -> aiohttp.ClientSession:
        if self._closed:
            # A request racing aclose() must not open a new session that nobody would close.
            raise TransportError("the ACME transport is closed")
        if self._session is None:
            # Created lazily so the session belongs to the loop that first uses it.
            self._session = aiohttp.ClientSession(
                timeout=self._timeout,
                connector=aiohttp.TCPConnector(ssl=self._ssl),
                trust_env=self._trust_env,
                headers={"User-Agent": self._user_agent},
            )
        return self._session

    async def send(self, request: HttpRequest) -> HttpResponse:
        try:
            async with self._client().request(
                request.method, request.url, headers=dict(request.headers), data=request.body, allow_redirects=False
            ) as response:
                body = await self._read_capped(response)
                headers = tuple((key, value) for key, value in response.headers.items())
                return HttpResponse(status=response.status, headers=headers, body=body)
        except ResponseTooLarge:
            raise
        except TimeoutError as exc:
            raise TransportError(f"{request.method} {request.url}: timed out") from exc
        except aiohttp.ClientError as exc:
            raise TransportError(f"{request.method} {request.url}: {exc}") from exc

    async def _read_capped(self, response: aiohttp.ClientResponse) -> bytes:
        limit = self._max_response_bytes
        declared = response.content_length
        if declared is not None and declared > limit:
            raise ResponseTooLarge(f"response body of {declared} bytes exceeds the {limit}-byte limit")
        chunks: list[bytes] = []
        size = 0
        async for chunk in response.content.iter_chunked(64 * 1024):
            size += len(chunk)
            if size > limit:
                raise ResponseTooLarge(f"response body exceeds the {limit}-byte limit")
            chunks.append(chunk)
        return b"".join(chunks)

    async def aclose(self) -> None:
        """Close the session; the transport refuses requests from then on."""
        self._closed = True
        if self._session is not None:
            session, self._session = self._session, None
            await session.close()
            # Let the connector's SSL transports finish closing before the loop may end.
            await asyncio.sleep(0)

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()
