"""The public half of a stored private key, memoised without holding key material. Pure.

The readiness and trigger checks ask of a Secret's ``tls.key`` only public questions: does it pair
with ``tls.crt`` or with the current CSR, and has it the algorithm and size ``spec.privateKey`` asks.
They ask them on every reconcile of every Certificate (tens of times per issuance), and parsing the
key is most of their cost. :func:`private_key_public_half` parses and checks the key exactly as
:func:`~certkeeper.pki.keys.load_pem_private_key` does (same errors), and returns only its public
key. Unlike :mod:`certkeeper.pki.cache`, which memoises on the input bytes, the memo here is keyed by
the SHA-256 digest of the input, so it holds public keys and digests, never private key bytes or
objects. Errors are not memoised: bad input is parsed, and refused, each time.
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from typing import Final

from certkeeper.pki.keys import PublicKey, load_pem_private_key
from certkeeper.pki.pem import DEFAULT_PEM_LIMITS, PemLimits

#: Enough for the Secrets of every Certificate a worker pool has in flight.
MAX_ENTRIES: Final = 512


class _DigestMemo:
    """An LRU map from (digest of the input, limits) to the public key parsed from that input."""

    def __init__(self, maxsize: int) -> None:
        self._maxsize = maxsize
        self._entries: OrderedDict[tuple[bytes, PemLimits], PublicKey] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: tuple[bytes, PemLimits]) -> PublicKey | None:
        with self._lock:
            found = self._entries.get(key)
            if found is not None:
                self._entries.move_to_end(key)
            return found

    def put(self, key: tuple[bytes, PemLimits], value: PublicKey) -> None:
        with self._lock:
            self._entries[key] = value
            self._entries.move_to_end(key)
            while len(self._entries) > self._maxsize:
                self._entries.popitem(last=False)

    def __len__(self) -> int:
        with self._lock:
            return len(self._entries)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()


_MEMO: Final = _DigestMemo(MAX_ENTRIES)


def private_key_public_half(data: bytes, *, limits: PemLimits = DEFAULT_PEM_LIMITS) -> PublicKey:
    """The public key of the private key PEM in ``data``; raises what ``load_pem_private_key`` raises."""
    if len(data) > limits.max_private_key_size:
        # Over the limit: let the parser refuse it, without hashing an arbitrarily large input first.
        return load_pem_private_key(data, limits=limits).public_key()
    key = (hashlib.sha256(data).digest(), limits)
    found = _MEMO.get(key)
    if found is not None:
        return found
    public = load_pem_private_key(data, limits=limits).public_key()
    _MEMO.put(key, public)
    return public


def memo_size() -> int:
    """How many public halves are memoised (for tests of the bound)."""
    return len(_MEMO)


def clear_memo() -> None:
    """Forget every memoised public half."""
    _MEMO.clear()


__all__ = ["MAX_ENTRIES", "clear_memo", "memo_size", "private_key_public_half"]
