"""A TCP relay between the controller and kube-apiserver, to cut and hold its connections on cue.

TLS passes through untouched (the API server's certificate names 127.0.0.1, the client certificate
authenticates as before). ``drop()`` closes every open connection, so each watch ends as if the server
had ended it and is re-opened from its last resourceVersion; ``hold()`` makes new connections wait
until ``release()``, which lets a test change the world (compact etcd) before those watches arrive.
"""

from __future__ import annotations

import asyncio
import contextlib
from types import TracebackType


class TcpProxy:
    def __init__(self, upstream_port: int, *, host: str = "127.0.0.1") -> None:
        self._upstream = (host, upstream_port)
        self._host = host
        self._server: asyncio.Server | None = None
        self._open: set[asyncio.StreamWriter] = set()
        self._released = asyncio.Event()
        self._released.set()
        self.port = 0
        self.connections = 0

    @property
    def url(self) -> str:
        return f"https://{self._host}:{self.port}"

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._serve, self._host, 0)
        self.port = self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            self.drop()
            await self._server.wait_closed()
            self._server = None

    def hold(self) -> None:
        """New connections wait (accepted, not yet relayed) until ``release()``."""
        self._released.clear()

    def release(self) -> None:
        self._released.set()

    def drop(self) -> None:
        """Close every open connection at once."""
        for writer in list(self._open):
            writer.close()
        self._open.clear()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        self._open.add(writer)
        try:
            await self._released.wait()
            if writer.is_closing():
                return
            up_reader, up_writer = await asyncio.open_connection(*self._upstream)
        except OSError:
            writer.close()
            return
        self._open.add(up_writer)
        try:
            await asyncio.gather(self._pipe(reader, up_writer), self._pipe(up_reader, writer))
        finally:
            for side in (writer, up_writer):
                self._open.discard(side)
                side.close()

    @staticmethod
    async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(OSError, asyncio.IncompleteReadError):
            while chunk := await reader.read(65536):
                writer.write(chunk)
                await writer.drain()
        with contextlib.suppress(OSError, RuntimeError):
            writer.close()

    async def __aenter__(self) -> TcpProxy:
        await self.start()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.stop()
