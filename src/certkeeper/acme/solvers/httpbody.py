"""Reading an HTTP response body up to a limit, as Go's ``io.ReadAll(io.LimitReader(body, n))`` does.

The rest of the body is never read, so a hostile or broken server cannot make the caller buffer more
than ``limit`` bytes.
"""

from __future__ import annotations

from typing import Final

import aiohttp

_CHUNK: Final = 16 * 1024


async def read_at_most(stream: aiohttp.StreamReader, limit: int) -> bytes:
    """Up to ``limit`` bytes of ``stream``: fewer only if it ends first."""
    chunks: list[bytes] = []
    remaining = limit
    while remaining > 0:
        chunk = await stream.read(min(_CHUNK, remaining))
        if not chunk:
            break
        chunks.append(chunk)
        remaining -= len(chunk)
    return b"".join(chunks)


__all__ = ["read_at_most"]
