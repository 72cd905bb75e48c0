"""A bounded memo for parsers of PEM input that the controllers parse again and again. Pure.

Each reconcile of a Certificate parses the same Secret and CertificateRequest bytes again (tens of
times per issuance, across controllers); parsing is deterministic, and cryptography's certificate,
CSR and key objects are immutable, so the object parsed from the exact same bytes (and the same
arguments) can be shared. :func:`bytes_memo` keeps the most recently used results, bounded in
number and in input size (so the memo holds at most ``maxsize * max_input`` bytes of input, however
large the input it is offered); only successes are kept (an error is raised anew each time) and only
``bytes`` input is memoised (anything else, or anything larger, is parsed every time). Nothing here
logs or formats its keys or values. It is a memo, not state: a result is what the parser returns for
the same input.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Hashable
from typing import Concatenate, Final, Generic, ParamSpec, TypeVar

_P = ParamSpec("_P")
_R = TypeVar("_R")

#: Enough for the Secrets and requests of every Certificate a worker pool has in flight.
DEFAULT_MAXSIZE: Final = 512
#: A chain of a leaf and a few CA certificates; larger input (a big trust bundle) is not memoised.
DEFAULT_MAX_INPUT: Final = 16 * 1024


class BytesMemo(Generic[_P, _R]):
    """``parse(data, *args)`` memoised on ``(data, *args)`` for ``bytes`` data (thread-safe, LRU)."""

    def __init__(self, parse: Callable[Concatenate[bytes, _P], _R], maxsize: int, max_input: int) -> None:
        self._parse = parse
        self._max_input = max_input
        self._cached = functools.lru_cache(maxsize=maxsize, typed=True)(parse)
        functools.update_wrapper(self, parse)

    def __call__(self, data: bytes, /, *args: _P.args, **kwargs: _P.kwargs) -> _R:
        memoisable = type(data) is bytes and len(data) <= self._max_input and not kwargs
        if not memoisable or not all(isinstance(arg, Hashable) for arg in args):
            return self._parse(data, *args, **kwargs)
        return self._cached(data, *args)

    def cache_info(self) -> functools._CacheInfo:
        return self._cached.cache_info()

    def cache_clear(self) -> None:
        self._cached.cache_clear()


def bytes_memo(
    maxsize: int = DEFAULT_MAXSIZE, max_input: int = DEFAULT_MAX_INPUT
) -> Callable[[Callable[Concatenate[bytes, _P], _R]], BytesMemo[_P, _R]]:
    """Decorate a pure parser whose first argument is the input bytes; its result must be immutable."""

    def wrap(parse: Callable[Concatenate[bytes, _P], _R]) -> BytesMemo[_P, _R]:
        return BytesMemo(parse, maxsize, max_input)

    return wrap


__all__ = ["DEFAULT_MAXSIZE", "DEFAULT_MAX_INPUT", "BytesMemo", "bytes_memo"]
