"""The acmesolver: a small public HTTP server that answers ACME HTTP-01 validation requests.

Behaviour, exactly as cert-manager's acmesolver (``pkg/issuer/acme/http/solver/solver.go``,
``cmd/acmesolver/app/app.go``), for any method:

* ``/`` and ``/healthz``: 200, ``Cache-Control: no-cache, no-store, must-revalidate``, empty body;
* otherwise the directory of the escaped path (Go ``path.Dir``, which cleans it) must be
  ``/.well-known/acme-challenge``, the Host header with its port stripped (IPv6 brackets removed)
  must equal the challenge's domain, and the last path segment (Go ``path.Base``) must equal its
  token: then 200, the same Cache-Control, and the key authorisation as the body;
* anything else: 404 ``404 page not found``.

The same handler serves one ``(domain, token, key)`` triple (the standalone ``certkeeper acmesolver``
pod) or a changing set of them (the in-process solver of local mode, see
:class:`ChallengeResponder`). Domains and tokens compare as exact strings, as in Go.

Limits (DESIGN.md "every server has limits"):

* header read timeout: a connection must deliver complete request headers within
  ``header_timeout`` of being opened or of its previous response (aiohttp's keep-alive timer,
  which also closes connections whose headers are still incomplete); cert-manager uses 32 s;
* request line, header size and count are bounded by the HTTP parser settings;
* the server never reads request bodies; a declared body above ``max_body_bytes`` gets 413 and the
  connection is closed;
* at most ``max_connections`` open connections; further ones are closed on accept;
* graceful shutdown: stop accepting, let in-flight requests finish for ``shutdown_timeout``
  (cert-manager: 5 s), then close.

Nothing is logged at info level per request, and never the key.
"""

from __future__ import annotations

import asyncio
import logging
import socket
from collections.abc import Iterable
from dataclasses import dataclass
from types import TracebackType
from typing import Final

from aiohttp import hdrs, web
from aiohttp.web_protocol import RequestHandler

from certkeeper.acme.solvers.hostport import strip_port

logger = logging.getLogger(__name__)

#: The path prefix of HTTP-01 validation requests (RFC 8555 §8.3).
HTTP_CHALLENGE_PATH: Final = "/.well-known/acme-challenge"
#: The acmesolver's port in cert-manager's solver pods.
DEFAULT_LISTEN_PORT: Final = 8089
CACHE_CONTROL: Final = "no-cache, no-store, must-revalidate"
_NOT_FOUND_BODY: Final = b"404 page not found\n"


@dataclass(frozen=True, slots=True, kw_only=True)
class ServerLimits:
    """The acmesolver's resource limits; the defaults follow cert-manager's servers where it has one."""

    #: Seconds a connection may take to deliver complete request headers (cert-manager ReadHeaderTimeout 32 s).
    header_timeout: float = 32.0
    #: Largest request body accepted (the body is never read); larger ones get 413.
    max_body_bytes: int = 64 * 1024
    max_connections: int = 1024
    max_line_size: int = 8190
    max_field_size: int = 8190
    max_headers: int = 100
    #: Seconds in-flight requests get to finish on shutdown (cert-manager: 5 s).
    shutdown_timeout: float = 5.0


@dataclass(frozen=True, slots=True)
class ChallengeEntry:
    """One challenge the server answers."""

    domain: str
    token: str
    key: str

    def __repr__(self) -> str:  # the key authorisation stays out of logs and tracebacks
        return f"ChallengeEntry(domain={self.domain!r}, token={self.token!r})"


class ChallengeResponder:
    """The challenges a server answers, by (domain, token); safe to change while the server runs."""

    def __init__(self, entries: Iterable[ChallengeEntry] = ()) -> None:
        self._entries: dict[tuple[str, str], str] = {}
        for entry in entries:
            self.add(entry)

    def add(self, entry: ChallengeEntry) -> None:
        """Answer ``entry`` from now on (replacing the key of the same domain and token)."""
        self._entries[(entry.domain, entry.token)] = entry.key

    def remove(self, domain: str, token: str) -> None:
        """Stop answering (domain, token); removing an unknown entry is not an error."""
        self._entries.pop((domain, token), None)

    def lookup(self, domain: str, token: str) -> str | None:
        """The key authorisation for (domain, token), or None."""
        return self._entries.get((domain, token))

    def __len__(self) -> int:
        return len(self._entries)


def clean_path(path: str) -> str:
    """Go's ``path.Clean``: the shortest equivalent path, lexically (``//``, ``.`` and ``..`` resolved)."""
    if path == "":
        return "."
    rooted = path.startswith("/")
    parts: list[str] = []
    for segment in path.split("/"):
        if segment in ("", "."):
            continue
        if segment == "..":
            if parts and parts[-1] != "..":
                parts.pop()
            elif not rooted:
                parts.append("..")
            continue
        parts.append(segment)
    cleaned = "/".join(parts)
    if rooted:
        return "/" + cleaned
    return cleaned or "."


def path_dir(path: str) -> str:
    """Go's ``path.Dir``: everything up to the last ``/``, cleaned."""
    return clean_path(path[: path.rfind("/") + 1])


def path_base(path: str) -> str:
    """Go's ``path.Base``: the last element after trailing slashes are removed (``/`` for all slashes)."""
    if path == "":
        return "."
    path = path.rstrip("/")
    if path == "":
        return "/"
    return path[path.rfind("/") + 1 :]


def escaped_path(raw_target: str) -> str:
    """The escaped path of a request target: an origin-form path without its query, or an absolute URI's path."""
    target = raw_target.split("?", 1)[0].split("#", 1)[0]
    if "://" in target and not target.startswith("/"):
        slash = target.find("/", target.index("://") + 3)
        return target[slash:] if slash >= 0 else "/"
    return target


def respond(responder: ChallengeResponder, *, raw_target: str, host_header: str) -> tuple[int, bytes]:
    """The status and body the acmesolver answers for a request target and Host header. Pure.

    200 with an empty body is a health check; 200 with a body is a key authorisation.
    """
    path = escaped_path(raw_target)
    if path in ("/", "/healthz"):
        return 200, b""
    if path_dir(path) != HTTP_CHALLENGE_PATH:
        return 404, _NOT_FOUND_BODY
    key = responder.lookup(strip_port(host_header), path_base(path))
    if key is None:
        return 404, _NOT_FOUND_BODY
    return 200, key.encode()


def _request_handler(responder: ChallengeResponder, limits: ServerLimits) -> web.Server:
    async def handle(request: web.BaseRequest) -> web.StreamResponse:
        if request.content_length is not None and request.content_length > limits.max_body_bytes:
            # Never read: answer before the body arrives, then close instead of draining it.
            too_large = web.Response(status=413, text="413 request body too large\n")
            too_large.force_close()
            return too_large
        status, body = respond(responder, raw_target=request.raw_path, host_header=request.headers.get(hdrs.HOST, ""))
        if status == 404:
            logger.debug("acmesolver: 404 for %s %s", request.method, request.raw_path)
            return web.Response(
                status=404,
                body=body,
                headers={hdrs.CONTENT_TYPE: "text/plain; charset=utf-8", "X-Content-Type-Options": "nosniff"},
            )
        headers = {hdrs.CACHE_CONTROL: CACHE_CONTROL}
        if body:
            headers[hdrs.CONTENT_TYPE] = "text/plain; charset=utf-8"
            logger.debug("acmesolver: answered challenge for %s", request.raw_path)
        return web.Response(status=200, body=body, headers=headers)

    return web.Server(
        handle,
        access_log=None,
        keepalive_timeout=limits.header_timeout,
        max_line_size=limits.max_line_size,
        max_field_size=limits.max_field_size,
        max_headers=limits.max_headers,
        lingering_time=0,
    )


class _Refuse(asyncio.Protocol):
    """Closes a connection accepted above the connection cap."""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        transport.close()


class HTTP01Server:
    """The acmesolver HTTP server on one address; use ``async with`` or ``start``/``stop``.

    ``port`` 0 picks a free port; ``bound_port`` tells which after ``start``.
    """

    def __init__(
        self,
        responder: ChallengeResponder,
        *,
        host: str | None = None,
        port: int = DEFAULT_LISTEN_PORT,
        limits: ServerLimits | None = None,
    ) -> None:
        self.responder = responder
        self.limits = limits or ServerLimits()
        self._host = host
        self._port = port
        self._handler: web.Server | None = None
        self._server: asyncio.Server | None = None

    @property
    def bound_port(self) -> int:
        """The port the server listens on (after ``start``)."""
        if self._server is None or not self._server.sockets:
            raise RuntimeError("the acmesolver server is not running")
        port: int = self._server.sockets[0].getsockname()[1]
        return port

    @property
    def connection_count(self) -> int:
        """Open connections, for tests and metrics."""
        return 0 if self._handler is None else len(self._handler.connections)

    async def start(self) -> None:
        """Bind and start accepting connections."""
        handler = _request_handler(self.responder, self.limits)
        cap = self.limits.max_connections

        def protocol_factory() -> asyncio.BaseProtocol:
            if len(handler.connections) >= cap:
                return _Refuse()
            protocol: RequestHandler = handler()
            return protocol

        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(
            protocol_factory,
            host=self._host,
            port=self._port,
            family=socket.AF_UNSPEC,
            reuse_address=True,
            backlog=128,
        )
        self._handler = handler
        logger.info("acmesolver listening on %s", ", ".join(str(s.getsockname()[:2]) for s in self._server.sockets))

    async def stop(self) -> None:
        """Stop accepting, give in-flight requests ``shutdown_timeout`` to finish, then close everything."""
        server, handler = self._server, self._handler
        self._server = self._handler = None
        if server is None or handler is None:
            return
        server.close()
        # pre_shutdown() closes idle keep-alive connections now and the busy ones after their current
        # response; shutdown() waits for those responses up to the timeout, then cancels them.
        handler.pre_shutdown()
        await handler.shutdown(self.limits.shutdown_timeout)
        await server.wait_closed()

    async def __aenter__(self) -> HTTP01Server:
        await self.start()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.stop()


__all__ = [
    "CACHE_CONTROL",
    "DEFAULT_LISTEN_PORT",
    "HTTP_CHALLENGE_PATH",
    "ChallengeEntry",
    "ChallengeResponder",
    "HTTP01Server",
    "ServerLimits",
    "clean_path",
    "escaped_path",
    "path_base",
    "path_dir",
    "respond",
]
