"""The one HTTP session every request to the API server goes through.

Raw JSON over a single shared ``aiohttp.ClientSession`` (one connection pool, one TLS context): each
request takes a token from the client-side rate limiter, carries the ``User-Agent``, ``Accept`` and a
fresh ``Authorization`` header, and is retried by ``retry.RetryPolicy`` only when that cannot apply it
twice. A 401 makes the credentials re-read once (a rotated service-account token) before the error
counts. Error answers become Store errors (``errors.error_from_status``).

Below this, aiohttp re-sends a PUT or DELETE once by itself when a reused keep-alive connection turns out
to be closed (RFC 9112 §9.3.1). Both are idempotent at the API server: a PUT carries the resourceVersion it
read (a replay after success is a Conflict) and a repeated DELETE answers NotFound. POST and PATCH never are.

Watches are streamed: ``stream_lines`` opens the request with the same retries, then yields complete
lines until the server ends the stream. A connection lost mid-stream ends the iteration like a normal
close (client-go's ``StreamWatcher`` does the same), so the caller re-watches from the last
resourceVersion it saw instead of relisting.
"""

from __future__ import annotations

import asyncio
import logging
import random
import ssl
from collections.abc import AsyncGenerator, Iterable
from dataclasses import dataclass, field
from typing import Any, Final

import aiohttp
import msgspec
import yarl

from certkeeper import __version__
from certkeeper.store.kube.auth import Credentials
from certkeeper.store.kube.clock import Clock, SystemClock
from certkeeper.store.kube.config import ClusterConfig, ssl_context
from certkeeper.store.kube.errors import Unauthorized, decode_status, error_from_status, parse_retry_after
from certkeeper.store.kube.paths import JSON, encode_query
from certkeeper.store.kube.ratelimit import DEFAULT_BURST, DEFAULT_QPS, TokenBucket
from certkeeper.store.kube.retry import Failure, RetryPolicy, classify_status
from certkeeper.store.kube.watchstream import DEFAULT_MAX_EVENT_BYTES, LineSplitter
from certkeeper.store.ports import RawObject, StoreError, TooManyRequests, Unavailable

log = logging.getLogger(__name__)

USER_AGENT: Final = f"certkeeper/{__version__}"
#: An error answer is read at most this far (a Status is small; a proxy's error page need not be).
_MAX_ERROR_BODY: Final = 1024 * 1024


@dataclass(frozen=True, slots=True, kw_only=True)
class ClientOptions:
    """How the session talks to the API server."""

    #: Requests a second after the burst (cert-manager's --kube-api-qps); None: unlimited.
    qps: float | None = DEFAULT_QPS
    #: Requests that may go at once (--kube-api-burst).
    burst: int = DEFAULT_BURST
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    user_agent: str = USER_AGENT
    #: Seconds one non-watch request may take in total.
    request_timeout: float = 60.0
    connect_timeout: float = 10.0
    #: Open connections at most (each open watch holds one).
    max_connections: int = 100
    max_event_bytes: int = DEFAULT_MAX_EVENT_BYTES


@dataclass(frozen=True, slots=True)
class Target:
    """What a request is about, for error messages (an Invalid needs the kind and name)."""

    qualified_kind: str = ""
    name: str = ""


class KubeTransport:
    """Requests to one API server. Create inside or outside the event loop; ``await close()`` when done."""

    def __init__(
        self,
        config: ClusterConfig,
        options: ClientOptions | None = None,
        *,
        clock: Clock | None = None,
        rng: random.Random | None = None,
    ) -> None:
        self.config = config
        self.options = options or ClientOptions()
        self._clock = clock or SystemClock()
        self._rng = rng or random.Random()  # noqa: S311 - jitter, not a secret
        self._limiter = TokenBucket(self.options.qps, self.options.burst, clock=self._clock)
        self._base = config.server.rstrip("/")
        self._ssl: ssl.SSLContext | None = ssl_context(config) if self._base.startswith("https://") else None
        self._credentials: Credentials | None = config.credentials
        self._session: aiohttp.ClientSession | None = None
        self._closed = False

    def _session_or_raise(self) -> aiohttp.ClientSession:
        if self._closed:
            raise Unavailable("the Kubernetes client is closed")
        if self._session is None:
            connector = aiohttp.TCPConnector(
                ssl=self._ssl if self._ssl is not None else True, limit=self.options.max_connections
            )
            self._session = aiohttp.ClientSession(
                connector=connector,
                headers={"User-Agent": self.options.user_agent},
                # Objects are bounded by the line splitter and by etcd, not by aiohttp's defaults.
                read_bufsize=2**18,
            )
        return self._session

    async def close(self) -> None:
        """Close the session (open watches end)."""
        self._closed = True
        if self._session is not None:
            await self._session.close()
            self._session = None

    def url(self, path: str, query: Iterable[tuple[str, str]] = ()) -> yarl.URL:
        """The absolute URL of an API path (already percent-encoded by ``paths``)."""
        encoded = encode_query(query)
        return yarl.URL(f"{self._base}{path}" + (f"?{encoded}" if encoded else ""), encoded=True)

    async def _headers(self, accept: str, content_type: str | None) -> dict[str, str]:
        headers = {"Accept": accept}
        if content_type:
            headers["Content-Type"] = content_type
        if self._credentials is not None:
            value = await self._credentials.authorization()
            if value:
                headers["Authorization"] = value
        return headers

    async def _open(
        self,
        method: str,
        path: str,
        *,
        query: Iterable[tuple[str, str]],
        body: bytes | None,
        content_type: str | None,
        accept: str,
        idempotent: bool,
        timeout: aiohttp.ClientTimeout,
        target: Target,
    ) -> aiohttp.ClientResponse:
        """A successful (2xx) response, not yet read; the caller releases it. Retries as the policy allows."""
        session = self._session_or_raise()
        url = self.url(path, query)
        policy = self.options.retry
        attempt, reauthenticated = 0, False
        while True:
            attempt += 1
            await self._limiter.acquire()
            headers = await self._headers(accept, content_type)
            retry_after: float | None = None
            try:
                response = await session.request(
                    method,
                    url,
                    data=body,
                    headers=headers,
                    timeout=timeout,
                    proxy=self.config.proxy_url or None,
                    server_hostname=self.config.tls_server_name or None,
                )
            except aiohttp.ClientSSLError as exc:
                # A TLS failure (untrusted server, bad client certificate) will not heal by retrying.
                raise Unavailable(f"TLS handshake with {url.host} failed: {exc}") from None
            except (aiohttp.ClientConnectorError, aiohttp.ConnectionTimeoutError) as exc:
                error: StoreError = Unavailable(f"cannot connect to the API server at {url.host}:{url.port}: {exc}")
                failure = Failure.NOT_SENT
            except (aiohttp.ClientError, TimeoutError) as exc:
                error = Unavailable(f"{method} {url.path} failed: {type(exc).__name__}: {exc}")
                failure = Failure.MAYBE_APPLIED
            else:
                if response.status < 300:
                    return response
                error, failure, retry_after = await self._read_error(response, target)
                if isinstance(error, Unauthorized) and not reauthenticated and self._credentials is not None:
                    # The token may have been rotated since it was read: read it again, once.
                    reauthenticated = True
                    self._credentials.invalidate()
                    attempt -= 1
                    continue
            if not policy.should_retry(failure, idempotent=idempotent, attempt=attempt):
                raise error
            delay = policy.delay(attempt, self._rng, retry_after=retry_after)
            log.debug("%s %s: %s; attempt %d, retrying in %.2fs", method, url.path, error, attempt, delay)
            await self._clock.sleep(delay)

    async def _read_error(
        self, response: aiohttp.ClientResponse, target: Target
    ) -> tuple[StoreError, Failure, float | None]:
        try:
            body = await response.content.read(_MAX_ERROR_BODY)
        except (aiohttp.ClientError, TimeoutError):
            body = b""
        finally:
            response.release()
        error = error_from_status(
            response.status,
            decode_status(body),
            body=body,
            retry_after=response.headers.get("Retry-After"),
            qualified_kind=target.qualified_kind,
            name=target.name,
        )
        retry_after = error.retry_after_seconds if isinstance(error, TooManyRequests) else None
        if response.status >= 500 and retry_after is None:
            retry_after = parse_retry_after(response.headers.get("Retry-After"))
        return error, classify_status(response.status), retry_after

    async def request(
        self,
        method: str,
        path: str,
        *,
        query: Iterable[tuple[str, str]] = (),
        body: object = None,
        content_type: str = JSON,
        accept: str = JSON,
        idempotent: bool,
        target: Target = Target(),
    ) -> RawObject:
        """Send one request and return the JSON object it answered with."""
        data = msgspec.json.encode(body) if body is not None else None
        timeout = aiohttp.ClientTimeout(total=self.options.request_timeout, connect=self.options.connect_timeout)
        query = list(query)
        policy = self.options.retry
        attempt = 0
        while True:
            attempt += 1
            response = await self._open(
                method,
                path,
                query=query,
                body=data,
                content_type=content_type if data is not None else None,
                accept=accept,
                idempotent=idempotent,
                timeout=timeout,
                target=target,
            )
            try:
                raw = await response.read()
            except (aiohttp.ClientError, TimeoutError) as exc:
                # The answer was lost on the way: the request was processed, so only a read may ask again.
                if not policy.should_retry(Failure.MAYBE_APPLIED, idempotent=idempotent, attempt=attempt):
                    raise Unavailable(f"{method} {path}: reading the response failed: {exc}") from None
                await self._clock.sleep(policy.delay(attempt, self._rng))
                continue
            finally:
                response.release()
            try:
                result: Any = msgspec.json.decode(raw) if raw else {}
            except msgspec.DecodeError:
                raise StoreError(f"{method} {path}: the server's answer is not JSON") from None
            if not isinstance(result, dict):
                raise StoreError(f"{method} {path}: the server's answer is not a JSON object")
            return result

    async def stream_lines(
        self,
        path: str,
        *,
        query: Iterable[tuple[str, str]],
        accept: str = JSON,
        read_timeout: float,
        target: Target = Target(),
    ) -> AsyncGenerator[bytes, None]:
        """Open a streaming GET (a watch) and yield its lines until the server or the connection ends it."""
        timeout = aiohttp.ClientTimeout(total=None, connect=self.options.connect_timeout, sock_read=read_timeout)
        response = await self._open(
            "GET",
            path,
            query=query,
            body=None,
            content_type=None,
            accept=accept,
            idempotent=True,
            timeout=timeout,
            target=target,
        )
        splitter = LineSplitter(self.options.max_event_bytes)
        complete = False
        try:
            try:
                async for chunk in response.content.iter_any():
                    for line in splitter.feed(chunk):
                        yield line
            except (aiohttp.ClientError, TimeoutError, asyncio.IncompleteReadError) as exc:
                log.debug("watch %s ended by %s: %s", path, type(exc).__name__, exc)
                return
            complete = True
            last = splitter.finish()
            if last is not None:
                yield last
        finally:
            # A stream the server finished frees its connection for reuse; an abandoned one is cut off at
            # once: a graceful TLS close would wait for the server's reply, and a loop that stops first
            # leaves the socket open.
            if complete:
                response.release()
            else:
                connection = response.connection
                if connection is not None and connection.transport is not None:
                    connection.transport.abort()
                response.close()
