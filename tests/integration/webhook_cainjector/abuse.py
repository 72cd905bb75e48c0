"""Abusive clients of the webhook port, on loopback, bounded in number and time.

* :class:`Slowloris`: many TLS connections that each send a request's headers one byte at a time and never
  finish them, holding a connection slot each (the webhook's header timeout, 32 s, is longer than a test
  keeps them).
* :class:`OversizedSender`: requests whose body is over the webhook's 7 MiB limit, either declared in
  ``Content-Length`` (the webhook answers 413 without reading it) or streamed chunked (cut off with 413 once
  the limit is passed; the connection may be reset while the client is still writing).
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
import time
from dataclasses import dataclass, field
from typing import Final

MIB: Final = 1024 * 1024
#: Over the webhook's 7 MiB request limit.
OVERSIZED: Final = 8 * MIB
_HEADERS: Final = b"POST /validate HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nX-Slow: "


def client_context(ca_pem: bytes) -> ssl.SSLContext:
    """A TLS client context trusting only the webhook's CA."""
    return ssl.create_default_context(cadata=ca_pem.decode("ascii"))


async def _connect(port: int, context: ssl.SSLContext) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    return await asyncio.open_connection("127.0.0.1", port, ssl=context, server_hostname="localhost")


async def _close(writer: asyncio.StreamWriter) -> None:
    writer.close()
    with contextlib.suppress(OSError, ssl.SSLError, TimeoutError):
        async with asyncio.timeout(2):
            await writer.wait_closed()


@dataclass
class Slowloris:
    """``count`` connections dripping header bytes every ``interval`` seconds until stopped."""

    port: int
    context: ssl.SSLContext
    count: int
    interval: float = 1.0
    #: Connections that were closed (by the server, or a failed write) before :meth:`stop`.
    dropped: int = 0
    opened: int = 0
    _writers: list[asyncio.StreamWriter] = field(default_factory=list)
    _tasks: list[asyncio.Task[None]] = field(default_factory=list)

    async def start(self) -> None:
        """Open every connection (handshakes in batches of 50) and start dripping."""
        for first in range(0, self.count, 50):
            batch = await asyncio.gather(
                *(_connect(self.port, self.context) for _ in range(first, min(first + 50, self.count)))
            )
            for index, (reader, writer) in enumerate(batch, start=first):
                self._writers.append(writer)
                self._tasks.append(asyncio.create_task(self._drip(reader, writer, index), name=f"slowloris-{index}"))
        self.opened = len(self._writers)

    async def _drip(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, index: int) -> None:
        # Spread the connections' writes over the interval rather than all at once.
        await asyncio.sleep(self.interval * (index % 50) / 50)
        position = 0
        while True:
            if reader.at_eof() or writer.is_closing():
                self.dropped += 1
                return
            byte = _HEADERS[position : position + 1] or b"a"  # past the header name, an endless value
            position += 1
            try:
                writer.write(byte)
                await writer.drain()
            except (OSError, ssl.SSLError):
                self.dropped += 1
                return
            await asyncio.sleep(self.interval)

    async def stop(self) -> None:
        """Stop dripping and close every connection."""
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await asyncio.gather(*(_close(writer) for writer in self._writers))
        self._tasks.clear()
        self._writers.clear()


@dataclass(frozen=True, slots=True)
class Refusal:
    """How the webhook answered one oversized request: its status line (b"" if reset first) and how fast."""

    declared: bool
    status: bytes
    seconds: float


async def oversized_request(port: int, context: ssl.SSLContext, *, declared: bool) -> Refusal:
    """Send one request with an 8 MiB body; return the webhook's answer (status line) and the time it took."""
    started = time.monotonic()
    reader, writer = await _connect(port, context)
    status = b""
    try:
        if declared:
            writer.write(_HEADERS[: _HEADERS.index(b"X-Slow")] + f"Content-Length: {OVERSIZED}\r\n\r\n".encode())
            writer.write(b"{" * 65536)  # a start of the body; the rest never comes
            await writer.drain()
        else:
            writer.write(_HEADERS[: _HEADERS.index(b"X-Slow")] + b"Transfer-Encoding: chunked\r\n\r\n")
            chunk = b"%x\r\n%s\r\n" % (65536, b"[" * 65536)
            with contextlib.suppress(OSError, ssl.SSLError):
                for _ in range(OVERSIZED // 65536):
                    writer.write(chunk)
                    await writer.drain()
        with contextlib.suppress(OSError, ssl.SSLError):
            async with asyncio.timeout(15):
                status = (await reader.readline()).strip()
    finally:
        await _close(writer)
    return Refusal(declared=declared, status=status, seconds=time.monotonic() - started)


@dataclass
class OversizedSender:
    """Sends oversized requests, declared and streamed in turn, ``pause`` apart, until stopped or ``rounds``."""

    port: int
    context: ssl.SSLContext
    rounds: int = 200
    pause: float = 0.2
    refusals: list[Refusal] = field(default_factory=list)
    _task: asyncio.Task[None] | None = None
    _stop: asyncio.Event = field(default_factory=asyncio.Event)

    async def _run(self) -> None:
        for turn in range(self.rounds):
            if self._stop.is_set():
                return
            self.refusals.append(await oversized_request(self.port, self.context, declared=turn % 2 == 0))
            await asyncio.sleep(self.pause)

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="oversized-sender")

    async def stop(self) -> list[Refusal]:
        """Finish the request in hand and return every answer."""
        self._stop.set()
        if self._task is not None:
            await self._task
        return self.refusals
