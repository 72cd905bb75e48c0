"""The webhook's HTTP servers: admission over HTTPS, health over plain HTTP, each with hard limits.

``POST /validate`` and ``POST /mutate`` take an AdmissionReview and answer one (HTTP 200 whatever the
verdict, as the API server expects); ``GET /healthz`` (500 until a serving certificate is loaded) and
``GET /livez`` live on the separate plain-HTTP health port, as in cert-manager.

Limits (:class:`ServerLimits`), so no client can hold the server or its memory:

* request body: 7 MiB, controller-runtime's limit, which cert-manager's webhook runs on today. Its
  older hand-written server allowed 3 MiB (GHSA-vgf6-pvf4-34rq), but a review of an UPDATE carries
  both the new and the stored object, each up to the API server's 3 MiB request limit, so 3 MiB
  could refuse a legitimate write of a large object. A declared or streamed body over the limit is
  answered 413 and the connection closed, without reading the rest;
* headers: a request's headers must arrive within 32 s of the connection opening or of the previous
  response (Go's ``ReadHeaderTimeout`` in cert-manager; aiohttp's keep-alive timer enforces it, and
  also closes connections idle that long); the TLS handshake within 10 s;
* body: within 30 s of the headers (408 and close otherwise);
* handling: within the request's ``?timeout=`` (the API server sends the webhook's
  ``timeoutSeconds``), at most 30 s; validation runs in a small thread pool so the event loop, and
  with it the timeout and the health port, stays responsive (503 when exceeded);
* connections: at most 1024 open on the webhook port (64 on the health port); further clients
  wait in the backlog.

Bodies that are not a review get 400 with a ``Status``; an unexpected exception gets 500 with a
generic message and is logged with the request's identity (operation, resource, namespace/name,
uid) and traceback, never the object or the exception text, which may quote it.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import traceback
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Final, TypeVar

from aiohttp import web

from certkeeper.api.durations import DurationError, parse_duration
from certkeeper.webhook.admission import AdmissionHandlers
from certkeeper.webhook.listener import Listener
from certkeeper.webhook.review import (
    AdmissionRequest,
    AdmissionResponse,
    BadReview,
    decode_review,
    encode_response,
    encode_status,
)
from certkeeper.webhook.tls import ServingTLS

log = logging.getLogger(__name__)

_T = TypeVar("_T")
JSON: Final = "application/json"
MIB: Final = 1024 * 1024


@dataclass(frozen=True, slots=True, kw_only=True)
class ServerLimits:
    """The bounds every connection and request is held to (see the module docstring for the why)."""

    max_body_bytes: int = 7 * MIB
    header_timeout: float = 32.0
    handshake_timeout: float = 10.0
    body_timeout: float = 30.0
    handler_timeout: float = 30.0
    max_connections: int = 1024
    max_health_connections: int = 64
    #: Threads running validation (CPU-bound; more would only share the same cores).
    workers: int = 2

    def __post_init__(self) -> None:
        for name in ("max_body_bytes", "max_connections", "max_health_connections", "workers"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1")
        for name in ("header_timeout", "handshake_timeout", "body_timeout", "handler_timeout"):
            if getattr(self, name) <= 0:
                raise ValueError(f"{name} must be positive")


class _Refused(Exception):
    """A request answered with an HTTP error and a Status; ``close`` drops the connection after."""

    def __init__(self, code: int, reason: str, message: str, *, close: bool = False) -> None:
        super().__init__(message)
        self.code = code
        self.reason = reason
        self.message = message
        self.close = close


def _status_response(refused: _Refused) -> web.Response:
    response = web.Response(
        status=refused.code, body=encode_status(refused.code, refused.reason, refused.message), content_type=JSON
    )
    if refused.close:
        response.force_close()
    return response


def _peer_names(request: web.Request) -> tuple[str, ...]:
    """The common name and DNS names of the verified client certificate, if any."""
    ssl_object = request.transport.get_extra_info("ssl_object") if request.transport is not None else None
    peer = ssl_object.getpeercert() if ssl_object is not None else None
    if not peer:
        return ()
    names = [value for rdn in peer.get("subject", ()) for key, value in rdn if key == "commonName"]
    names += [value for kind, value in peer.get("subjectAltName", ()) if kind == "DNS"]
    return tuple(names)


class WebhookServer:
    """Serves ``handlers`` on ``host:port`` over ``tls`` and health on ``healthz_host:healthz_port``.

    Ports 0 pick free ones (read :attr:`port` and :attr:`healthz_port` after :meth:`start`); a
    ``healthz_port`` of None serves no health port. ``client_subjects``: with client verification
    on, the client certificate's CN or a DNS name must be one of these (empty: any verified client).
    """

    def __init__(
        self,
        handlers: AdmissionHandlers,
        tls: ServingTLS,
        *,
        host: str = "0.0.0.0",  # noqa: S104 - a webhook is called from outside the Pod
        port: int = 6443,
        healthz_host: str = "0.0.0.0",  # noqa: S104
        healthz_port: int | None = 6080,
        limits: ServerLimits | None = None,
        client_subjects: Sequence[str] = (),
    ) -> None:
        self.handlers = handlers
        self.tls = tls
        self.limits = limits or ServerLimits()
        self._host, self._port = host, port
        self._healthz_host, self._healthz_port = healthz_host, healthz_port
        self._client_subjects = frozenset(client_subjects)
        self._executor: concurrent.futures.ThreadPoolExecutor | None = None
        self._runners: list[web.AppRunner] = []
        self._listeners: list[Listener] = []
        self.listener: Listener | None = None
        self.health_listener: Listener | None = None

    # -- lifecycle -----------------------------------------------------------------------------------

    @property
    def port(self) -> int:
        if self.listener is None:
            raise RuntimeError("the server is not started")
        return self.listener.port

    @property
    def healthz_port(self) -> int:
        if self.health_listener is None:
            raise RuntimeError("the health server is not started")
        return self.health_listener.port

    async def _serve(self, app: web.Application, *, host: str, port: int, max_connections: int, tls: bool) -> Listener:
        runner = web.AppRunner(
            app,
            access_log=None,
            keepalive_timeout=self.limits.header_timeout,
            # A request answered before its body was read (413, 408) closes the connection at once
            # instead of reading and discarding the rest for aiohttp's default 10 s.
            lingering_time=0,
            shutdown_timeout=5.0,
        )
        await runner.setup()
        self._runners.append(runner)
        assert runner.server is not None
        listener = Listener(
            runner.server,
            host=host,
            port=port,
            max_connections=max_connections,
            tls=self.tls.context if tls else None,
            handshake_timeout=self.limits.handshake_timeout,
        )
        await listener.start()
        self._listeners.append(listener)
        return listener

    async def start(self) -> None:
        """Listen on both ports. The webhook port refuses handshakes until a certificate is installed."""
        self._executor = concurrent.futures.ThreadPoolExecutor(
            max_workers=self.limits.workers, thread_name_prefix="certkeeper-admission"
        )
        self.handlers.set_runner(self._run_blocking)
        try:
            if self._healthz_port is not None:
                health = web.Application()
                health.router.add_get("/healthz", self._healthz)
                health.router.add_get("/livez", self._livez)
                self.health_listener = await self._serve(
                    health,
                    host=self._healthz_host,
                    port=self._healthz_port,
                    max_connections=self.limits.max_health_connections,
                    tls=False,
                )
            app = web.Application()
            app.router.add_post("/validate", self._validate)
            app.router.add_post("/mutate", self._mutate)
            self.listener = await self._serve(
                app, host=self._host, port=self._port, max_connections=self.limits.max_connections, tls=True
            )
        except BaseException:
            await self.stop()
            raise

    async def stop(self) -> None:
        """Stop accepting, finish or drop open connections (5 s grace), release the threads."""
        for listener in self._listeners:
            await listener.stop()
        self._listeners.clear()
        for runner in self._runners:
            await runner.cleanup()
        self._runners.clear()
        if self._executor is not None:
            self._executor.shutdown(wait=False, cancel_futures=True)
            self._executor = None

    async def _run_blocking(self, function: Callable[[], _T]) -> _T:
        if self._executor is None:
            return function()
        return await asyncio.get_running_loop().run_in_executor(self._executor, function)

    # -- health --------------------------------------------------------------------------------------

    async def _healthz(self, request: web.Request) -> web.Response:
        if not self.tls.ready:
            return web.Response(status=500, text="no serving certificate yet\n")
        return web.Response(text="ok\n")

    async def _livez(self, request: web.Request) -> web.Response:
        return web.Response(text="ok\n")

    # -- admission -----------------------------------------------------------------------------------

    async def _validate(self, request: web.Request) -> web.Response:
        return await self._review(request, self.handlers.validate)

    async def _mutate(self, request: web.Request) -> web.Response:
        return await self._review(request, self.handlers.mutate)

    def _budget(self, request: web.Request) -> float:
        """Seconds this request may take: ``?timeout=`` when it is shorter than the server's bound."""
        limit = self.limits.handler_timeout
        given = request.query.get("timeout")
        if given:
            try:
                seconds = parse_duration(given).total_seconds()
            except DurationError:
                return limit
            if seconds > 0:
                return min(seconds, limit)
        return limit

    async def _read_body(self, request: web.Request) -> bytes:
        cap = self.limits.max_body_bytes
        too_large = _Refused(
            413, "RequestEntityTooLarge", f"request entity is too large; limit is {cap} bytes", close=True
        )
        if request.content_length is not None and request.content_length > cap:
            raise too_large
        chunks: list[bytes] = []
        total = 0
        try:
            async with asyncio.timeout(self.limits.body_timeout):
                while True:
                    chunk = await request.content.readany()
                    if not chunk:
                        break
                    total += len(chunk)
                    if total > cap:
                        raise too_large
                    chunks.append(chunk)
        except TimeoutError:
            raise _Refused(408, "Timeout", "the request body was not received in time", close=True) from None
        return b"".join(chunks)

    def _check_client(self, request: web.Request) -> None:
        if self._client_subjects and not self._client_subjects.intersection(_peer_names(request)):
            raise _Refused(403, "Forbidden", "the client certificate names no allowed subject", close=True)

    async def _review(
        self, request: web.Request, handle: Callable[[AdmissionRequest], Awaitable[AdmissionResponse]]
    ) -> web.Response:
        admission: AdmissionRequest | None = None
        budget = self._budget(request)
        try:
            self._check_client(request)
            async with asyncio.timeout(budget):
                body = await self._read_body(request)
                if request.content_type != JSON:
                    raise _Refused(400, "BadRequest", f"contentType={request.content_type}, expected {JSON}")
                try:
                    admission = decode_review(body)
                except BadReview as exc:
                    raise _Refused(400, "BadRequest", str(exc)) from None
                answer = await handle(admission)
        except _Refused as refused:
            return _status_response(refused)
        except TimeoutError:
            what = admission.describe() if admission is not None else request.path
            log.warning("admission request %s not answered within %.1fs", what, budget)
            message = f"the admission request was not answered within {budget:g}s"
            return _status_response(_Refused(503, "Timeout", message))
        except Exception as exc:  # noqa: BLE001 - any failure is a 500, never a dropped connection
            # The exception text may quote the object; log where it happened, not what it says.
            what = admission.describe() if admission is not None else request.path
            frames = "".join(traceback.format_tb(exc.__traceback__))
            log.error("admission request %s failed with %s:\n%s", what, type(exc).__name__, frames)
            return _status_response(_Refused(500, "InternalError", "internal error while handling the request"))
        return web.Response(body=encode_response(admission.uid, answer), content_type=JSON)


__all__ = ["ServerLimits", "WebhookServer"]
