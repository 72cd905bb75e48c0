"""Signed ACME requests over a :class:`~certkeeper.acme.transport.Transport`: nonces, JWS, errors.

:class:`AcmeNetwork` is what RFC 8555 §6 asks of every request, below the flows in
:mod:`certkeeper.acme.client` (certbot's ``ClientNetwork``):

* a pool of nonces filled from every response's ``Replay-Nonce``; when it is empty, a ``HEAD`` to
  ``newNonce`` (with a ``GET`` if that yields none) fetches one (§7.2);
* POSTs signed with the account key, ``kid`` once the account URL is known, ``jwk`` before (§6.2);
  POST-as-GET for reads (§6.3);
* ``badNonce`` answered by re-signing with a fresh nonce, a bounded number of times (§6.5); pebble
  rejects 5 % of nonces by default, so this path runs on every integration test;
* every non-2xx response raised as an :class:`~certkeeper.acme.errors.AcmeProblem` (decoded from
  ``application/problem+json``; other bodies become the detail, as golang.org/x/crypto/acme does),
  with the ``Retry-After`` header surfaced (§6.6 rate limits; RFC 9110 delta-seconds or HTTP-date).
"""

from __future__ import annotations

import re
from collections import deque
from collections.abc import Mapping
from datetime import datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Final, TypeVar

import msgspec

from certkeeper.acme.errors import AcmeProblem, BadNonce, InvalidResponse, make_problem
from certkeeper.acme.jws import AccountKey, sign_jws
from certkeeper.acme.messages import ProblemDocument
from certkeeper.acme.transport import Action, HttpRequest, HttpResponse, Transport
from certkeeper.runtime.clock import Clock, SystemClock

T = TypeVar("T")

JOSE_JSON: Final = "application/jose+json"
PROBLEM_JSON: Final = "application/problem+json"
#: How many times one request is re-signed after ``badNonce`` before the error is raised.
DEFAULT_BAD_NONCE_RETRIES: Final = 5
#: Nonces kept for later requests; older ones are dropped (servers expire them anyway).
NONCE_POOL_SIZE: Final = 16
#: RFC 8555 §6.5.1: a nonce is base64url without padding.
_NONCE: Final = re.compile(r"[A-Za-z0-9_-]{1,512}")
#: ``<url>; rel="alternate"`` members of a Link header (RFC 8288), the forms ACME servers send.
_LINK: Final = re.compile(r"<([^>]*)>\s*((?:;\s*[^;,]+)*)")
_LINK_PARAM: Final = re.compile(r';\s*([A-Za-z0-9_*-]+)\s*=\s*("([^"]*)"|[^;,\s]+)')
_MAX_NON_PROBLEM_DETAIL: Final = 1024
_DELTA_SECONDS: Final = re.compile(r"[0-9]{1,12}")
_MAX_RETRY_AFTER_SECONDS: Final = 366 * 24 * 3600


def parse_retry_after(value: str | None, *, now: datetime) -> timedelta | None:
    """A Retry-After header as a non-negative delay, or None when absent or unreadable."""
    if not value:
        return None
    text = value.strip()
    if _DELTA_SECONDS.fullmatch(text):
        # A delay of more than a year is nonsense from any ACME server; cap it rather than overflow.
        return timedelta(seconds=min(int(text), _MAX_RETRY_AFTER_SECONDS))
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if when.tzinfo is None:
        return None
    return max(when - now, timedelta(0))


def parse_links(values: list[str], relation: str) -> list[str]:
    """URLs of the Link header values whose ``rel`` includes ``relation`` (in order, deduplicated)."""
    found: list[str] = []
    for value in values:
        for match in _LINK.finditer(value):
            url, params = match.group(1), match.group(2) or ""
            for param in _LINK_PARAM.finditer(params):
                rel = param.group(3) if param.group(3) is not None else param.group(2)
                if param.group(1).lower() == "rel" and relation in rel.split() and url not in found:
                    found.append(url)
    return found


def problem_from_response(response: HttpResponse, *, now: datetime) -> AcmeProblem:
    """The error a non-2xx response stands for: its problem document, or its body as the detail."""
    retry_after = parse_retry_after(response.header("Retry-After"), now=now)
    if response.content_type in (PROBLEM_JSON, "application/json") and response.body:
        try:
            document = msgspec.json.decode(response.body, type=ProblemDocument)
        except msgspec.DecodeError:
            pass
        else:
            return document.to_exception(http_status=response.status, retry_after=retry_after)
    detail = response.body[:_MAX_NON_PROBLEM_DETAIL].decode("utf-8", "replace").strip() or f"HTTP {response.status}"
    return make_problem(type="", detail=detail, status=response.status, retry_after=retry_after)


def decode_json(response: HttpResponse, kind: type[T]) -> T:
    """The response body decoded as ``kind``; InvalidResponse when it is not that JSON."""
    try:
        return msgspec.json.decode(response.body, type=kind)
    except msgspec.DecodeError as exc:
        raise InvalidResponse(f"the server's response is not a valid {kind.__name__}: {exc}") from exc


class AcmeNetwork:
    """Nonce pool, JWS signing and error decoding for one account key over one transport."""

    def __init__(
        self,
        *,
        transport: Transport,
        key: AccountKey,
        clock: Clock | None = None,
        bad_nonce_retries: int = DEFAULT_BAD_NONCE_RETRIES,
    ) -> None:
        self.transport = transport
        self.key = key
        self.clock = clock or SystemClock()
        self._bad_nonce_retries = bad_nonce_retries
        self._nonces: deque[str] = deque(maxlen=NONCE_POOL_SIZE)
        #: How many requests were re-signed after a badNonce (for tests and debugging).
        self.bad_nonce_count = 0

    async def send(self, request: HttpRequest) -> HttpResponse:
        """Send ``request``, keep its nonce, and raise the problem a non-2xx status stands for."""
        response = await self.transport.send(request)
        self._keep_nonce(response)
        if response.status >= 400:
            raise problem_from_response(response, now=self.clock.now())
        return response

    async def get(self, url: str, *, action: Action, accept: str | None = None) -> HttpResponse:
        """An unauthenticated GET (the directory, renewalInfo)."""
        headers = {"Accept": accept} if accept else {}
        return await self.send(HttpRequest(method="GET", url=url, action=action, headers=headers))

    def _keep_nonce(self, response: HttpResponse) -> None:
        nonce = response.header("Replay-Nonce")
        if nonce is not None and _NONCE.fullmatch(nonce):
            self._nonces.append(nonce)

    async def _nonce(self, new_nonce_url: str, action: Action) -> str:
        if self._nonces:
            return self._nonces.pop()
        for method in ("HEAD", "GET"):
            await self.send(HttpRequest(method=method, url=new_nonce_url, action=action))
            if self._nonces:
                return self._nonces.pop()
        raise InvalidResponse(f"{new_nonce_url} returned no usable Replay-Nonce")

    async def post(
        self,
        url: str,
        payload: bytes | None,
        *,
        action: Action,
        new_nonce_url: str,
        kid: str | None,
        accept: str | None = None,
    ) -> HttpResponse:
        """A signed POST (``payload`` None: POST-as-GET), re-signed with a fresh nonce on ``badNonce``."""
        headers: Mapping[str, str] = {"Content-Type": JOSE_JSON, **({"Accept": accept} if accept else {})}
        attempt = 0
        while True:
            nonce = await self._nonce(new_nonce_url, action)
            body = sign_jws(self.key, url=url, nonce=nonce, payload=payload, kid=kid)
            try:
                return await self.send(HttpRequest(method="POST", url=url, action=action, headers=headers, body=body))
            except BadNonce:
                # The error response carried a fresh nonce (kept by send); retry with it, boundedly.
                if attempt >= self._bad_nonce_retries:
                    raise
                attempt += 1
                self.bad_nonce_count += 1
