"""Where CPU-bound crypto runs: on the event loop when it is cheap, in a worker thread when it is not.

ECDSA and Ed25519 key generation and signing take well under a millisecond, less than the hop to a
worker thread and back (and the lock hand-over that follows), so they run inline; RSA key generation
(tens of milliseconds to seconds) and RSA signing go to a thread so the loop keeps serving.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import TypeVar

from cryptography.hazmat.primitives.asymmetric import rsa

from certkeeper.pki.keys import KeyAlgorithm, PrivateKey

T = TypeVar("T")


def slow_key(key: PrivateKey | KeyAlgorithm) -> bool:
    """Whether work with this key (or a new key of this algorithm) belongs in a worker thread."""
    if isinstance(key, KeyAlgorithm):
        return key is KeyAlgorithm.RSA
    return isinstance(key, rsa.RSAPrivateKey)


async def compute(fn: Callable[..., T], /, *args: object, slow: bool) -> T:
    """``fn(*args)``, in a worker thread when ``slow``."""
    if slow:
        return await asyncio.to_thread(fn, *args)
    return fn(*args)


__all__ = ["compute", "slow_key"]
