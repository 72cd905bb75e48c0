"""Admission traffic through the API server, each request's outcome recorded.

:class:`AdmissionLoad` runs a few workers that send, in turn, one of six requests to the API server as
``admin`` (a valid and an invalid Certificate, Issuer and CertificateRequest), all labelled so that the
test's webhook configurations select them. Each request has an expected answer: valid objects are
admitted (CertificateRequests are created for real and must carry the identity the mutating webhook
stamped on them; the rest are dry runs, which the API server still sends to admission webhooks), invalid
ones are denied by the webhook with their exact field errors. Anything else, such as a failed call to
the webhook (``failed calling webhook ...: x509: certificate signed by unknown authority``) or a timeout,
is a failure. Every outcome is kept with its start time and latency so a test can look at any window.
"""

from __future__ import annotations

import asyncio
import base64
import itertools
import secrets
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Final

from tests.harness.kubeclient import ApiError, KubeClient
from tests.integration.webhook_cainjector.conftest import DENIED
from tests.unit.validation.test_certificaterequest import DEFAULT_CSR

GROUP_PATH: Final = "/apis/cert-manager.io/v1"
NO_NAMES: Final = (
    'spec: Invalid value: "": at least one of commonName (from the commonName field or from a literalSubject), '
    "dnsNames, emailSANs, ipAddresses, otherNames, or uriSANs must be set"
)
NO_ISSUER: Final = "spec: Required value: at least one issuer must be configured"
BAD_CSR_PREFIX: Final = "spec.request: Invalid value: "
GARBAGE_CSR: Final = base64.b64encode(
    b"-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n-----END CERTIFICATE REQUEST-----\n"
).decode()


@dataclass(frozen=True, slots=True)
class Outcome:
    """One request: what it was, when it started (monotonic), how long it took, and whether it went as expected."""

    case: str
    started: float
    latency: float
    ok: bool
    detail: str = ""


@dataclass
class AdmissionLoad:
    """Workers sending the six requests round-robin until stopped; ``outcomes`` grows as they finish."""

    kube: KubeClient
    namespace: str
    labels: dict[str, str]
    workers: int = 3
    #: Seconds each worker waits between two requests (keeps the load modest on a shared 2-core machine).
    pause: float = 0.05
    #: Per-request bound: a request the API server has not answered by then is a failure.
    timeout: float = 35.0
    #: Never more than this many requests in all (bounds the run whatever happens).
    max_requests: int = 20_000
    outcomes: list[Outcome] = field(default_factory=list)
    _names: itertools.count[int] = field(default_factory=itertools.count)
    #: Two loads may share a namespace (a steady one and a burst): their objects' names must not collide.
    _prefix: str = field(default_factory=lambda: secrets.token_hex(3))
    _stop: asyncio.Event = field(default_factory=asyncio.Event)
    _tasks: list[asyncio.Task[None]] = field(default_factory=list)

    # -- the requests -------------------------------------------------------------------------------

    def _object(self, kind: str, spec: dict[str, Any]) -> dict[str, Any]:
        name = f"{kind.lower()}-{self._prefix}-{next(self._names)}"
        metadata = {"name": name, "namespace": self.namespace, "labels": dict(self.labels)}
        return {"apiVersion": "cert-manager.io/v1", "kind": kind, "metadata": metadata, "spec": spec}

    async def _post(self, plural: str, obj: dict[str, Any], *, dry_run: bool) -> Any:
        path = f"{GROUP_PATH}/namespaces/{self.namespace}/{plural}"
        params = {"dryRun": "All"} if dry_run else None
        return await self.kube.request("POST", path, params=params, body=obj)

    async def _admitted(self, plural: str, obj: dict[str, Any], *, dry_run: bool = True) -> str:
        stored = await self._post(plural, obj, dry_run=dry_run)
        if stored.get("metadata", {}).get("name") != obj["metadata"]["name"]:
            return f"unexpected answer: {stored!r:.200}"
        return ""

    async def _denied(self, plural: str, obj: dict[str, Any], expected: Callable[[str], bool]) -> str:
        try:
            await self._post(plural, obj, dry_run=True)
        except ApiError as error:
            if error.status == 403 and error.message.startswith(DENIED) and expected(error.message[len(DENIED) :]):
                return ""
            return f"{error.status} {error.reason}: {error.message}"
        return "admitted, expected a denial"

    async def certificate_valid(self) -> str:
        spec = {"secretName": "web-tls", "dnsNames": ["a.example"], "issuerRef": {"name": "ca"}}
        return await self._admitted("certificates", self._object("Certificate", spec))

    async def certificate_invalid(self) -> str:
        spec = {"secretName": "web-tls", "issuerRef": {"name": "ca"}}
        return await self._denied("certificates", self._object("Certificate", spec), lambda m: m == NO_NAMES)

    async def issuer_valid(self) -> str:
        return await self._admitted("issuers", self._object("Issuer", {"selfSigned": {}}))

    async def issuer_invalid(self) -> str:
        return await self._denied("issuers", self._object("Issuer", {}), lambda m: m == NO_ISSUER)

    async def request_valid(self) -> str:
        spec = {"issuerRef": {"name": "ca"}, "request": base64.b64encode(DEFAULT_CSR).decode(), "username": "root"}
        stored = await self._post("certificaterequests", self._object("CertificateRequest", spec), dry_run=False)
        if stored["spec"].get("username") != "admin":  # the mutating webhook replaced the claimed identity
            return f"identity not stamped: {stored['spec'].get('username')!r}"
        return ""

    async def request_invalid(self) -> str:
        spec = {"issuerRef": {"name": "ca"}, "request": GARBAGE_CSR}
        obj = self._object("CertificateRequest", spec)
        return await self._denied("certificaterequests", obj, lambda m: m.startswith(BAD_CSR_PREFIX))

    @property
    def cases(self) -> list[Callable[[], Awaitable[str]]]:
        return [
            self.certificate_valid,
            self.certificate_invalid,
            self.issuer_valid,
            self.issuer_invalid,
            self.request_valid,
            self.request_invalid,
        ]

    # -- running ------------------------------------------------------------------------------------

    async def once(self, case: Callable[[], Awaitable[str]]) -> Outcome:
        """Send one request and record its outcome."""
        started = time.monotonic()
        try:
            async with asyncio.timeout(self.timeout):
                detail = await case()
        except TimeoutError:
            detail = f"no answer within {self.timeout}s"
        except ApiError as error:
            detail = f"{error.status} {error.reason}: {error.message}"
        outcome = Outcome(
            case=case.__name__, started=started, latency=time.monotonic() - started, ok=not detail, detail=detail
        )
        self.outcomes.append(outcome)
        return outcome

    async def _work(self, offset: int) -> None:
        cases = self.cases
        for turn in itertools.count(offset):
            if self._stop.is_set() or len(self.outcomes) >= self.max_requests:
                return
            await self.once(cases[turn % len(cases)])
            await asyncio.sleep(self.pause)

    def start(self) -> None:
        """Start the workers (each begins with a different request)."""
        self._tasks = [asyncio.create_task(self._work(i), name=f"admission-load-{i}") for i in range(self.workers)]

    async def stop(self) -> list[Outcome]:
        """Let every worker finish the request in hand, then return every outcome."""
        self._stop.set()
        await asyncio.gather(*self._tasks)
        return self.outcomes

    def between(self, start: float, end: float) -> list[Outcome]:
        """Outcomes of requests started in ``[start, end)`` (monotonic seconds)."""
        return [o for o in self.outcomes if start <= o.started < end]

    @staticmethod
    def failures(outcomes: list[Outcome]) -> list[Outcome]:
        return [o for o in outcomes if not o.ok]
