"""``certkeeper local DIR``: the engine on the embedded store, fed by a directory of manifests.

Composition root of local mode: the SQLite-backed local store (with certkeeper's admission), the
engine with the SelfSigned and CA issuers, the Secret file sink, the manifest sync, the optional
post-issuance hook and the status view. ``certkeeper local status DIR`` prints the view once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.live import Live

from certkeeper.acme.solvers.dns01 import DNS01Solver
from certkeeper.acme.solvers.http01_check import HTTP01SelfCheck, NameserverResolver
from certkeeper.acme.solvers.rfc2136 import rfc2136_provider
from certkeeper.api import features
from certkeeper.api.features import FeatureGates
from certkeeper.cli import component
from certkeeper.controllers.context import EngineOptions
from certkeeper.controllers.engine import Engine
from certkeeper.issuers.acme import AccountRegistry, AcmeIssuerBackend
from certkeeper.issuers.ca import CAIssuer
from certkeeper.issuers.selfsigned import SelfSignedIssuer
from certkeeper.localmode.acme import LazyHTTP01Solver, parse_listen
from certkeeper.localmode.admission import store_admission
from certkeeper.localmode.hooks import HookRunner
from certkeeper.localmode.scan import DirectoryScanner
from certkeeper.localmode.status import CertificateRow, certificate_rows, read_snapshot, render_table, write_snapshot
from certkeeper.localmode.sync import ManifestSync
from certkeeper.localmode.yamlfiles import parse_manifest_bytes
from certkeeper.runtime.clock import SystemClock
from certkeeper.runtime.informer import Handler
from certkeeper.store.local import LocalStore
from certkeeper.store.local.secretfiles import SecretFileSink
from certkeeper.store.ports import RawObject, Unavailable
from certkeeper.store.resources import CERTIFICATE_REQUESTS, CERTIFICATES

log = logging.getLogger("certkeeper.local")

STATE_DB = "state.db"
STATUS_FILE = "status.json"
INDEX_FILE = "manifests.json"


@dataclass(frozen=True, slots=True, kw_only=True)
class LocalConfig:
    directory: Path
    state_dir: Path
    out_dir: Path
    hook: str | None
    once: bool
    timeout: float
    poll_interval: float
    gates: FeatureGates
    cluster_resource_namespace: str
    live: bool
    acme_http01_listen: str = "0.0.0.0:80"
    #: DNS servers for the HTTP-01 self check and DNS-01 propagation checks (empty: the system's).
    nameservers: tuple[str, ...] = ()
    dns01_nameservers_only: bool = False
    max_concurrent_challenges: int = 60
    max_challenges_per_issuer: int | None = None


def _state_dir(directory: Path, state_dir: Path | None) -> Path:
    return state_dir if state_dir is not None else directory / ".certkeeper"


class _Finished:
    """Decides when ``--once`` is done: every Certificate settled (Ready, failed, or stuck)."""

    def __init__(self, quiet_polls: int = 3) -> None:
        self._quiet_needed = quiet_polls
        self._quiet = 0
        self._last: list[CertificateRow] | None = None

    def __call__(self, rows: list[CertificateRow], engine_idle: bool) -> bool:
        if rows == self._last and engine_idle:
            self._quiet += 1
        else:
            self._quiet = 0
        self._last = rows
        if rows and all(r.state in ("Ready", "Failed", "Invalid") for r in rows) and engine_idle:
            return True
        # Nothing moves and nothing is being worked on: what is left waits for something external
        # (a missing issuer, an unapproved request) and will not settle by itself.
        return self._quiet >= self._quiet_needed


async def run_local(config: LocalConfig, console: Console) -> int:
    config.state_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    clock = SystemClock()
    try:
        store = await LocalStore.open(config.state_dir / STATE_DB, now=clock.now, admit=store_admission(config.gates))
    except Unavailable as exc:
        console.print(f"[red]error:[/] {exc}")
        return 2
    sink = SecretFileSink(config.out_dir)
    accounts = AccountRegistry()
    http01 = LazyHTTP01Solver(
        config.acme_http01_listen,
        self_check=HTTP01SelfCheck(
            port=parse_listen(config.acme_http01_listen)[1],
            resolver=NameserverResolver(list(config.nameservers)) if config.nameservers else None,
        ),
    )
    engine = Engine(
        store,
        clock=clock,
        options=EngineOptions(cluster_resource_namespace=config.cluster_resource_namespace, feature_gates=config.gates),
        issuer_backends={"selfsigned": SelfSignedIssuer(), "ca": CAIssuer(), "acme": AcmeIssuerBackend(accounts)},
        component="certkeeper-local",
        acme_accounts=accounts,
        max_concurrent_challenges=config.max_concurrent_challenges,
        max_challenges_per_issuer=config.max_challenges_per_issuer,
        solvers={
            "HTTP-01": http01,
            "DNS-01": DNS01Solver(
                providers={"rfc2136": rfc2136_provider},
                nameservers=list(config.nameservers) or None,
                check_authoritative=not config.dns01_nameservers_only,
            ),
        },
    )
    sync = ManifestSync(config.directory, store, parse=parse_manifest_bytes, index_path=config.state_dir / INDEX_FILE)
    scanner = DirectoryScanner(config.directory)
    background: list[asyncio.Task[None]] = [asyncio.create_task(sink.run(store), name="secret-files")]
    hooks = HookRunner(config.hook, store, sink) if config.hook else None
    stop = asyncio.Event()
    component.stop_on_signals(stop)
    try:
        scanner.scan()
        await sync.sync(scanner.files)
        await engine.start()
        if hooks is not None:
            _watch_revisions(engine, hooks)
            background.append(asyncio.create_task(hooks.run(), name="hooks"))
        return await _main_loop(config, console, engine, sync, scanner, stop, hooks)
    finally:
        await engine.stop()
        await http01.aclose()
        await accounts.aclose()
        for task in background:
            task.cancel()
        for task in background:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await store.close()


def _watch_revisions(engine: Engine, hooks: HookRunner) -> None:
    replaying = True

    def on_add(obj: RawObject) -> None:
        hooks.observe(obj, initial=replaying)

    engine.certificates.add_handler(
        Handler(on_add=on_add, on_update=lambda _, new: hooks.observe(new), on_delete=hooks.forget)
    )
    replaying = False


def _rows(engine: Engine, sync: ManifestSync) -> list[CertificateRow]:
    return certificate_rows(engine.certificates.cache.items(), engine.requests.cache.items(), sync.errors)


async def _main_loop(
    config: LocalConfig,
    console: Console,
    engine: Engine,
    sync: ManifestSync,
    scanner: DirectoryScanner,
    stop: asyncio.Event,
    hooks: HookRunner | None,
) -> int:
    finished = _Finished()
    deadline = asyncio.get_running_loop().time() + config.timeout
    spinner = "⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏"
    tick = 0
    rows = _rows(engine, sync)
    live = Live(render_table(rows), console=console, refresh_per_second=4, transient=False) if config.live else None
    with live if live is not None else contextlib.nullcontext():
        while not stop.is_set():
            changes = scanner.scan()
            if changes:
                await sync.sync(scanner.files)
            rows = _rows(engine, sync)
            write_snapshot(config.state_dir / STATUS_FILE, rows, written_at=engine.clock.now())
            tick += 1
            if live is not None:
                live.update(render_table(rows, now=engine.clock.now(), spinner=spinner[tick % len(spinner)]))
            if config.once and (finished(rows, engine.idle()) or asyncio.get_running_loop().time() > deadline):
                break
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), config.poll_interval)
    if hooks is not None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(hooks.drain(), 60)
    if live is None:
        console.print(render_table(rows, now=engine.clock.now()))
    if not config.once:
        return 0
    failed = [r for r in rows if r.state != "Ready"]
    for row in failed:
        console.print(f"[red]not ready:[/] {row.namespace}/{row.name}: {row.state}: {row.message}")
    return 1 if failed or not rows else 0


class _DefaultGroup(click.Group):
    """``certkeeper local DIR`` runs; ``certkeeper local status DIR`` prints the status once."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if args and args[0] not in self.commands and args[0] not in ("-h", "--help"):
            args = ["run", *args]
        return super().parse_args(ctx, args)


@click.group(cls=_DefaultGroup)
def local() -> None:
    """Run certkeeper on this host: manifests from a directory, certificates written as files."""


@local.command("run")
@click.argument("directory", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option(
    "--state-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Where state is kept (default: DIRECTORY/.certkeeper).",
)
@click.option(
    "--out",
    "out_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Where Secrets are written as files (default: STATE_DIR/secrets).",
)
@click.option("--hook", default=None, help="Shell command run after each (re)issuance.")
@click.option("--once", is_flag=True, help="Exit when every Certificate is Ready (0) or has failed (1).")
@click.option("--timeout", default=300.0, show_default=True, help="With --once: give up after this many seconds.")
@click.option("--poll-interval", default=1.0, show_default=True, help="Seconds between directory scans.")
@click.option("--feature-gates", default="", help="Feature gates, e.g. 'LiteralCertificateSubject=false'.")
@click.option(
    "--cluster-resource-namespace",
    default="kube-system",
    show_default=True,
    help="Namespace whose Secrets ClusterIssuers use.",
)
@click.option("--live/--plain", default=None, help="Live terminal view (default: when stdout is a terminal).")
@click.option(
    "--acme-http01-listen",
    default="0.0.0.0:80",
    show_default=True,
    help="Where to answer ACME HTTP-01 challenges (bound when the first one is presented).",
)
@click.option(
    "--nameservers",
    "--dns01-recursive-nameservers",
    "nameservers",
    default="",
    help="Comma-separated DNS servers (host:port) for HTTP-01 self checks and DNS-01 propagation checks.",
)
@click.option(
    "--max-concurrent-challenges",
    default=60,
    show_default=True,
    type=click.IntRange(min=1),
    help="ACME challenges processed at once.",
)
@click.option(
    "--max-challenges-per-issuer",
    default=None,
    type=click.IntRange(min=1),
    help="ACME challenges processed at once per issuer (default: no separate cap).",
)
@click.option(
    "--dns01-recursive-nameservers-only",
    is_flag=True,
    help="Check DNS-01 propagation only at --nameservers, not at the zone's authoritative servers.",
)
def run_command(
    directory: Path,
    state_dir: Path | None,
    out_dir: Path | None,
    hook: str | None,
    once: bool,
    timeout: float,
    poll_interval: float,
    feature_gates: str,
    cluster_resource_namespace: str,
    live: bool | None,
    acme_http01_listen: str,
    nameservers: str,
    dns01_recursive_nameservers_only: bool,
    max_concurrent_challenges: int,
    max_challenges_per_issuer: int | None,
) -> None:
    """Issue and renew the certificates declared in DIRECTORY, watching it for changes."""
    try:
        gates = features.parse(feature_gates)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--feature-gates") from exc
    state = _state_dir(directory, state_dir)
    console = Console()
    config = LocalConfig(
        directory=directory.resolve(),
        state_dir=state.resolve(),
        out_dir=(out_dir or state / "secrets").resolve(),
        hook=hook,
        once=once,
        timeout=timeout,
        poll_interval=poll_interval,
        gates=gates,
        cluster_resource_namespace=cluster_resource_namespace,
        live=console.is_terminal if live is None else live,
        acme_http01_listen=acme_http01_listen,
        nameservers=tuple(n.strip() for n in nameservers.split(",") if n.strip()),
        dns01_nameservers_only=dns01_recursive_nameservers_only,
        max_concurrent_challenges=max_concurrent_challenges,
        max_challenges_per_issuer=max_challenges_per_issuer,
    )
    try:
        parse_listen(acme_http01_listen)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--acme-http01-listen") from exc
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    sys.exit(asyncio.run(run_local(config, console)))


@local.command("status")
@click.argument("directory", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--state-dir", type=click.Path(file_okay=False, path_type=Path), default=None)
def status_command(directory: Path, state_dir: Path | None) -> None:
    """Print the status of the certificates of DIRECTORY once."""
    console = Console()
    state = _state_dir(directory, state_dir)
    rows = asyncio.run(_status_rows(state))
    if rows is None:
        console.print(f"no state in {state}: run `certkeeper local {directory}` first")
        sys.exit(1)
    console.print(render_table(rows))


async def _status_rows(state: Path) -> list[CertificateRow] | None:
    if not (state / STATE_DB).exists():
        return None
    try:
        store = await LocalStore.open(state / STATE_DB, now=SystemClock().now)
    except Unavailable:
        # A running `certkeeper local` holds the database; it keeps status.json current.
        return read_snapshot(state / STATUS_FILE)[1] if (state / STATUS_FILE).exists() else []
    try:
        certificates: list[dict[str, Any]] = (await store.list(CERTIFICATES)).items
        requests: list[dict[str, Any]] = (await store.list(CERTIFICATE_REQUESTS)).items
    finally:
        await store.close()
    return certificate_rows(certificates, requests)
