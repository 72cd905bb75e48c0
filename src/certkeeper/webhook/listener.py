"""A TCP listener with a connection cap and per-connection TLS, feeding an aiohttp server.

aiohttp's sites accept without limit and fix one ``SSLContext`` for the life of the listening
socket. This listener accepts only while fewer than ``max_connections`` connections are open
(further clients wait in the kernel's backlog, as behind Go's ``netutil.LimitListener``), and wraps
each accepted socket in TLS with the context current *at that moment*. That makes certificate
rotation a swap of a reference: connections already open keep the context they shook hands with,
new ones get the new one, and none fails. (Calling ``load_cert_chain`` again on a live context is
not equivalent: OpenSSL keeps one certificate per key type, so replacing an RSA certificate with
an ECDSA one would leave the old one served to clients that prefer RSA, and a load that fails half
way leaves the context mismatched.)

The TLS handshake has its own timeout; the HTTP layer (aiohttp's keep-alive timer, which also runs
while a request's headers are still arriving) bounds the rest.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import ssl
from collections.abc import Callable

log = logging.getLogger(__name__)

ProtocolFactory = Callable[[], asyncio.Protocol]
ContextSource = Callable[[], ssl.SSLContext | None]


class _Slot(asyncio.Protocol):
    """Forwards everything to the real protocol and gives the connection slot back when it closes."""

    def __init__(self, inner: asyncio.Protocol, release: Callable[[], None]) -> None:
        self._inner = inner
        self._release = release

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._inner.connection_made(transport)

    def connection_lost(self, exc: Exception | None) -> None:
        try:
            self._inner.connection_lost(exc)
        finally:
            self._release()

    def data_received(self, data: bytes) -> None:
        self._inner.data_received(data)

    def eof_received(self) -> bool | None:
        return self._inner.eof_received()

    def pause_writing(self) -> None:
        self._inner.pause_writing()

    def resume_writing(self) -> None:
        self._inner.resume_writing()


class Listener:
    """Serves ``protocol_factory`` on ``host:port`` (port 0 picks a free one; see :attr:`port`).

    ``tls`` gives the context for each new connection; None serves plain TCP. While it returns None
    (no certificate yet) connections are closed straight away.
    """

    def __init__(
        self,
        protocol_factory: ProtocolFactory,
        *,
        host: str,
        port: int,
        max_connections: int,
        tls: ContextSource | None = None,
        handshake_timeout: float = 10.0,
        backlog: int = 128,
    ) -> None:
        if max_connections < 1:
            raise ValueError("max_connections must be at least 1")
        self._factory = protocol_factory
        self._host = host
        self._requested_port = port
        self._tls = tls
        self._handshake_timeout = handshake_timeout
        self._backlog = backlog
        self._slots = asyncio.Semaphore(max_connections)
        self._open = 0
        self._sock: socket.socket | None = None
        self._accepting: asyncio.Task[None] | None = None
        self._handshakes: set[asyncio.Task[None]] = set()

    @property
    def port(self) -> int:
        """The port listened on (after :meth:`start`)."""
        if self._sock is None:
            raise RuntimeError("the listener is not started")
        port: int = self._sock.getsockname()[1]
        return port

    @property
    def open_connections(self) -> int:
        """Connections accepted and not yet closed (including those still shaking hands)."""
        return self._open

    async def start(self) -> None:
        """Bind, listen and start accepting."""
        infos = await asyncio.get_running_loop().getaddrinfo(
            self._host, self._requested_port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        )
        family, kind, proto, _, address = infos[0]
        sock = socket.socket(family, kind, proto)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind(address)
            sock.listen(self._backlog)
            sock.setblocking(False)
        except BaseException:
            sock.close()
            raise
        self._sock = sock
        self._accepting = asyncio.create_task(self._accept_loop(sock), name=f"listener-{self.port}")

    async def stop(self) -> None:
        """Stop accepting and close the listening socket; open connections are the server's to close."""
        if self._accepting is not None:
            self._accepting.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._accepting
            self._accepting = None
        for task in list(self._handshakes):
            task.cancel()
        if self._handshakes:
            await asyncio.gather(*self._handshakes, return_exceptions=True)
        if self._sock is not None:
            self._sock.close()
            self._sock = None

    async def _accept_loop(self, sock: socket.socket) -> None:
        loop = asyncio.get_running_loop()
        while True:
            await self._slots.acquire()
            try:
                conn, _ = await loop.sock_accept(sock)
            except asyncio.CancelledError:
                self._slots.release()
                raise
            except OSError as exc:
                # EMFILE and friends: back off a little instead of spinning.
                self._slots.release()
                log.warning("accepting a connection failed: %s", exc)
                await asyncio.sleep(0.1)
                continue
            self._open += 1
            task = asyncio.create_task(self._connect(conn))
            self._handshakes.add(task)
            task.add_done_callback(self._handshakes.discard)

    async def _connect(self, conn: socket.socket) -> None:
        released = False

        def release() -> None:
            nonlocal released
            if not released:
                released = True
                self._open -= 1
                self._slots.release()

        context = self._tls() if self._tls is not None else None
        if self._tls is not None and context is None:
            conn.close()
            release()
            return
        loop = asyncio.get_running_loop()
        try:
            await loop.connect_accepted_socket(
                lambda: _Slot(self._factory(), release),
                sock=conn,
                ssl=context,
                ssl_handshake_timeout=self._handshake_timeout if context is not None else None,
            )
        except (OSError, ssl.SSLError, TimeoutError, ConnectionError) as exc:
            log.debug("connection closed before it was served: %s", exc)
            conn.close()
            release()
        except BaseException:
            conn.close()
            release()
            raise


__all__ = ["ContextSource", "Listener", "ProtocolFactory"]
