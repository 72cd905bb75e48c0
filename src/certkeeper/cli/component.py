"""What the Kubernetes components' composition roots share: flag parsing in pflag's and Go's syntax, the
API connection, plain-HTTP endpoints for metrics and health, leader election around the work, signals.

Used by ``certkeeper controller`` and ``certkeeper cainjector``. Conventions, as in cert-manager's
components: booleans take ``--flag=false``; durations Go's syntax; lists repeat or comma-separate;
a listen address of ``0`` turns that server off. The HTTP servers answer GET only, on plain HTTP
(scraped and probed from inside the cluster), with at most 64 connections, headers within 32 s and no
request body worth reading.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import logging
import os
import signal
import socket
import uuid
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, Final

import click
from aiohttp import web
from prometheus_client import CollectorRegistry
from prometheus_client.exposition import CONTENT_TYPE_LATEST, generate_latest

from certkeeper.api.durations import DurationError, parse_duration
from certkeeper.store.kube import (
    ClientOptions,
    ClusterConfig,
    ConfigError,
    KubeStore,
    LeaderElectionConfig,
    LeaderElector,
    load_in_cluster,
    load_kubeconfig,
)
from certkeeper.store.ports import ResourceType
from certkeeper.webhook.listener import Listener

log = logging.getLogger(__name__)

#: pflag booleans: ``--flag`` alone is true, ``--flag=false`` false.
BOOL: Final[dict[str, Any]] = {"type": click.BOOL, "is_flag": False, "flag_value": True, "show_default": True}
MAX_CONNECTIONS: Final = 64
HEADER_TIMEOUT: Final = 32.0

#: What an endpoint answers: status, body, content type.
Answer = tuple[int, bytes, str]
TEXT: Final = "text/plain; charset=utf-8"


def split_list(values: Sequence[str]) -> tuple[str, ...]:
    """pflag's string slices: the flag may repeat, and each value may hold a comma-separated list."""
    return tuple(item.strip() for value in values for item in value.split(",") if item.strip())


def duration_seconds(value: str, flag: str, *, allow_zero: bool = False) -> float:
    """A Go duration flag in seconds; ``click.BadParameter`` naming ``flag`` when malformed or not positive."""
    try:
        seconds = parse_duration(value).total_seconds()
    except DurationError as exc:
        raise click.BadParameter(str(exc), param_hint=flag) from None
    if seconds < 0 or (seconds == 0 and not allow_zero):
        raise click.BadParameter("must be greater than 0", param_hint=flag)
    return seconds


def parse_listen_address(value: str, flag: str = "--metrics-listen-address") -> tuple[str, int] | None:
    """``host:port`` (``:port`` for every address, ``[v6]:port``); ``0`` means no server."""
    if value == "0":
        return None
    host, sep, port = value.rpartition(":")
    if not sep or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise click.BadParameter(f"{value!r} is not host:port", param_hint=flag)
    host = host.removeprefix("[").removesuffix("]")
    return (host or "0.0.0.0", int(port))  # noqa: S104 - an empty host means every address, as in Go


def check_leader_election(*, lease_duration: float, renew_deadline: float, retry_period: float) -> None:
    """Refuse timings the elector cannot work with (``click.UsageError``)."""
    try:
        LeaderElectionConfig(
            name="check",
            identity="check",
            lease_duration=lease_duration,
            renew_deadline=renew_deadline,
            retry_period=retry_period,
        )
    except ValueError as exc:
        raise click.UsageError(f"leader election: {exc}") from None


def default_identity() -> str:
    """A leader election identity unique to this process: ``<hostname>_<uuid>``, as client-go's tools do."""
    return f"{socket.gethostname()}_{uuid.uuid4()}"


def cluster_config(kubeconfig: Path | None, master: str = "") -> ClusterConfig:
    """The API connection, looked for as client-go's ``BuildConfigFromFlags`` does.

    ``--kubeconfig``, else ``$KUBECONFIG``, else the Pod's service account, else ``~/.kube/config``;
    ``master`` (``--master``) replaces the server of whichever is found, or stands alone when none is.
    Raises ``ConfigError``.
    """
    in_pod = bool(os.environ.get("KUBERNETES_SERVICE_HOST"))
    try:
        if kubeconfig is None and not os.environ.get("KUBECONFIG") and in_pod:
            config = load_in_cluster()
        else:
            config = load_kubeconfig(kubeconfig)
    except ConfigError:
        if not master or kubeconfig is not None:
            raise
        return ClusterConfig(server=master)
    return dataclasses.replace(config, server=master) if master else config


def open_store(
    kubeconfig: Path | None,
    *,
    master: str = "",
    options: ClientOptions | None = None,
    drop_managed_fields: Iterable[ResourceType] = (),
) -> KubeStore:
    """A ``KubeStore`` on the connection ``cluster_config`` finds (raises ``ConfigError``)."""
    return KubeStore.from_config(
        cluster_config(kubeconfig, master), options=options, drop_managed_fields=drop_managed_fields
    )


class HttpEndpoints:
    """GET-only plain-HTTP endpoints (``path -> answer``) with a connection cap; port 0 picks a free one."""

    def __init__(self, routes: Mapping[str, Callable[[], Answer]], *, host: str, port: int) -> None:
        self._routes = dict(routes)
        self._host = host
        self._port = port
        self._runner: web.AppRunner | None = None
        self.listener: Listener | None = None

    async def start(self) -> None:
        # GET requests have no body worth reading: anything larger than a small one is refused.
        app = web.Application(client_max_size=64 * 1024)
        for path, answer in self._routes.items():
            app.router.add_get(path, self._handler(answer))
        runner = web.AppRunner(app, access_log=None, keepalive_timeout=HEADER_TIMEOUT, shutdown_timeout=5.0)
        await runner.setup()
        self._runner = runner
        assert runner.server is not None
        self.listener = Listener(runner.server, host=self._host, port=self._port, max_connections=MAX_CONNECTIONS)
        try:
            await self.listener.start()
        except BaseException:
            await self.stop()
            raise

    @staticmethod
    def _handler(answer: Callable[[], Answer]) -> Callable[[web.Request], Awaitable[web.Response]]:
        async def handle(request: web.Request) -> web.Response:
            status, body, content_type = answer()
            return web.Response(status=status, body=body, headers={"Content-Type": content_type})

        return handle

    async def stop(self) -> None:
        if self.listener is not None:
            await self.listener.stop()
            self.listener = None
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None


def metrics_answer(registry: CollectorRegistry) -> Callable[[], Answer]:
    """``/metrics``: the registry in Prometheus' text format."""
    return lambda: (200, generate_latest(registry), CONTENT_TYPE_LATEST)


def ok_answer() -> Answer:
    return 200, b"ok\n", TEXT


class MetricsServer(HttpEndpoints):
    """``/metrics`` and (for the cainjector's probe) ``/livez``."""

    def __init__(self, registry: CollectorRegistry, *, host: str, port: int, livez: bool = True) -> None:
        routes: dict[str, Callable[[], Answer]] = {"/metrics": metrics_answer(registry)}
        if livez:
            routes["/livez"] = ok_answer
        super().__init__(routes, host=host, port=port)


def health_answer(checks: Mapping[str, Callable[[], bool]]) -> Callable[[], Answer]:
    """``/livez`` and ``/healthz``: 200 when every named check passes, else 500 listing each, as Kubernetes does."""

    def answer() -> Answer:
        results = [(name, check()) for name, check in checks.items()]
        if all(passed for _, passed in results):
            return ok_answer()
        lines = [f"[{'+' if passed else '-'}]{name} {'ok' if passed else 'failed'}" for name, passed in results]
        return 500, ("\n".join(lines) + "\nhealthz check failed\n").encode(), TEXT

    return answer


async def unless_stopped(work: Awaitable[None], stop: asyncio.Event) -> bool:
    """Run ``work`` until it finishes (True) or ``stop`` is set first (False, ``work`` cancelled)."""
    task = asyncio.ensure_future(work)
    stopper = asyncio.ensure_future(stop.wait())
    try:
        await asyncio.wait((task, stopper), return_when=asyncio.FIRST_COMPLETED)
    finally:
        stopper.cancel()
        if not task.done():
            task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await stopper
    # Let the cancellation land (asyncio.wait, unlike await, does not raise what the task raised).
    await asyncio.wait((task,))
    if task.cancelled():
        return False
    task.result()
    return True


async def lead(
    elector: LeaderElector,
    stop: asyncio.Event,
    *,
    start: Callable[[], Awaitable[None]],
    finish: Callable[[], Awaitable[None]],
) -> None:
    """While leading and until ``stop``: ``start()`` the work, then ``finish()`` it before the Lease is released.

    Leadership lost cancels the waiting and raises ``LeadershipLost`` (after ``finish()``); ``stop`` while
    still waiting for the Lease starts nothing.
    """
    leading = asyncio.Event()

    async def body() -> None:
        async with elector.leading():
            leading.set()
            try:
                # Starting can take long (informers listing a big cluster) or not end at all (a list the
                # API server refuses): a stop meanwhile cancels it.
                if await unless_stopped(start(), stop):
                    await stop.wait()
            finally:
                await finish()

    task = asyncio.ensure_future(body())
    stopper = asyncio.ensure_future(stop.wait())
    try:
        await asyncio.wait((task, stopper), return_when=asyncio.FIRST_COMPLETED)
        if not task.done() and not leading.is_set():
            task.cancel()  # stopped while still waiting for the Lease
        with contextlib.suppress(asyncio.CancelledError):
            await task
    finally:
        stopper.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await stopper
        if not task.done():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task


def stop_on_signals(stop: asyncio.Event) -> None:
    """SIGTERM and SIGINT set ``stop`` (Python as PID 1 gets no default SIGTERM action).

    Skipped where the loop cannot take signal handlers (no support, or not the main thread).
    """
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(signum, stop.set)


class JsonFormatter(logging.Formatter):
    """One JSON object per line (``--logging-format=json``): ts, level, logger, msg, and the error if any."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, object] = {
            "ts": round(record.created, 6),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        if record.exc_info and record.exc_info[0] is not None:
            entry["error"] = f"{record.exc_info[0].__name__}: {record.exc_info[1]}"
        return json.dumps(entry, ensure_ascii=False)


LOGGING_FORMATS: Final = ("text", "json")


def configure_logging(verbosity: int, logging_format: str = "text") -> None:
    """Logs on stderr, as text or JSON lines; ``-v 4`` and above: debug."""
    handler = logging.StreamHandler()
    if logging_format == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    logging.basicConfig(level=logging.DEBUG if verbosity >= 4 else logging.INFO, handlers=[handler])


__all__ = [
    "BOOL",
    "LOGGING_FORMATS",
    "HttpEndpoints",
    "JsonFormatter",
    "MetricsServer",
    "check_leader_election",
    "cluster_config",
    "configure_logging",
    "default_identity",
    "duration_seconds",
    "health_answer",
    "lead",
    "metrics_answer",
    "open_store",
    "parse_listen_address",
    "split_list",
    "stop_on_signals",
    "unless_stopped",
]
