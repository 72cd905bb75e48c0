"""The certificate engine on the embedded local store: issuance throughput and idle cost.

1. ``--count N`` ECDSA P-256 Certificates (default 1,000) from one CA Issuer on a SQLite-backed
   local store with certkeeper's admission, as ``certkeeper local`` runs: time from creating them to
   all Ready, certificates per second, peak RSS. For comparison it prints the raw cryptography rate
   for the same crypto work per certificate (one P-256 key, one CSR, one certificate signed by a
   P-256 CA), measured in the same process on one core.
   It also prints when the engine has settled: Certificates turn Ready before the key manager has
   deleted their next private key Secrets, and that clean-up is part of each issuance's cost.
2. ``--idle N`` (optional, e.g. 10,000): after issuing N Certificates, and once the engine has settled,
   it waits for renewals; RSS and CPU seconds per minute over ``--idle-seconds`` (default 60).

The clock starts once the CA Issuer is Ready (its first setup may fail and back off while the CA's
Secret is being issued), so the figure is the engine's issuance rate, not the issuer's retry delay.
``--profile FILE`` writes a cProfile of the timed phase alone (read it with ``pstats``); ``--no-raw``
skips the raw cryptography figure.

By default the Certificates are created one after the other, each create awaited (it returns once its
write is durable), as a client applying manifests one by one would; ``--create-concurrency N`` has N
creates in flight, as ``certkeeper local`` loading a directory or many clients would.

Prints figures; never asserts. Usage: ``python bench/engine.py [--count 1000] [--idle 10000]``.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import resource
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, cast

import msgspec
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from certkeeper.api.features import DEFAULT_GATES
from certkeeper.controllers.context import EngineOptions
from certkeeper.controllers.engine import Engine
from certkeeper.issuers.ca import CAIssuer
from certkeeper.issuers.selfsigned import SelfSignedIssuer
from certkeeper.localmode.admission import store_admission
from certkeeper.runtime.clock import SystemClock
from certkeeper.runtime.informer import Handler
from certkeeper.store.local import Admit, LocalStore
from certkeeper.store.ports import PatchType, RawObject, ResourceType, Store
from certkeeper.store.resources import CERTIFICATES, CLUSTER_ISSUERS, ISSUERS

NS = "bench"


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def current_rss_mib() -> float:
    with open("/proc/self/statm") as handle:
        pages = int(handle.read().split()[1])
    return pages * resource.getpagesize() / (1024 * 1024)


def raw_crypto_rate(seconds: float = 3.0) -> float:
    """Certificates/s for the crypto alone: P-256 key, CSR, certificate signed by a P-256 CA."""
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "bench CA")])
    now = datetime.now(UTC)
    count = 0
    deadline = time.perf_counter() + seconds
    while time.perf_counter() < deadline:
        key = ec.generate_private_key(ec.SECP256R1())
        csr = (
            x509.CertificateSigningRequestBuilder()
            .subject_name(x509.Name([]))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(f"svc{count}.bench")]), critical=False)
            .sign(key, hashes.SHA256())
        )
        (
            x509.CertificateBuilder()
            .subject_name(csr.subject)
            .issuer_name(ca_name)
            .public_key(csr.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now)
            .not_valid_after(now + timedelta(days=90))
            .add_extension(csr.extensions.get_extension_for_class(x509.SubjectAlternativeName).value, critical=True)
            .sign(ca_key, hashes.SHA256())
        )
        count += 1
    return count / seconds


def certificate(name: str, issuer: dict[str, str], **spec: object) -> dict[str, object]:
    return {
        "apiVersion": "cert-manager.io/v1",
        "kind": "Certificate",
        "metadata": {"name": name, "namespace": NS},
        "spec": {"secretName": f"{name}-tls", "issuerRef": issuer, **spec},
    }


def is_ready(raw: dict[str, object]) -> bool:
    status = raw.get("status")
    conditions = status.get("conditions") if isinstance(status, dict) else None
    return any(
        isinstance(condition, dict) and condition.get("type") == "Ready" and condition.get("status") == "True"
        for condition in conditions or ()
    )


class ReadyCounter:
    """Counts the Certificates seen Ready, from the engine's informer events (no polling of the cache).

    Registered as one more informer handler, so the bench's own CPU per certificate is a dict lookup
    per Certificate event, small next to the engine's.
    """

    def __init__(self, engine: Engine) -> None:
        self.ready: set[str] = set()
        engine.certificates.add_handler(Handler(on_add=self._seen, on_update=lambda _, new: self._seen(new)))

    def _seen(self, raw: dict[str, object]) -> None:
        if is_ready(raw):
            meta = raw.get("metadata")
            if isinstance(meta, dict):
                self.ready.add(f"{meta.get('namespace')}/{meta.get('name')}")

    async def wait(self, expected: int, timeout: float) -> None:
        deadline = time.perf_counter() + timeout
        while len(self.ready) < expected:
            if time.perf_counter() > deadline:
                raise TimeoutError(f"only {len(self.ready)} of {expected} Ready after {timeout}s")
            await asyncio.sleep(0.05)


async def wait_settled(engine: Engine, timeout: float) -> None:
    """Wait until no controller has work queued or in hand (three polls in a row, 50 ms apart).

    Certificates are Ready before the key manager has deleted their next private key Secrets and
    cleared ``status.nextPrivateKeySecretName``; that clean-up is part of each issuance's cost.
    Delayed keys (renewals, due in weeks) do not count as work.
    """
    deadline = time.perf_counter() + timeout
    quiet = 0
    while quiet < 3:
        if time.perf_counter() > deadline:
            raise TimeoutError(f"the engine had not settled after {timeout}s")
        await asyncio.sleep(0.05)
        idle = all(len(controller.queue) == 0 and controller.busy == 0 for controller in engine.controllers.values())
        quiet = quiet + 1 if idle else 0


async def wait_issuer_ready(engine: Engine, timeout: float) -> None:
    deadline = time.perf_counter() + timeout
    while not any(is_ready(raw) for raw in engine.issuers.cache.items()):
        if time.perf_counter() > deadline:
            raise TimeoutError(f"the CA Issuer was not Ready after {timeout}s")
        await asyncio.sleep(0.05)


async def create_certificates(store: Store, indexes: range, concurrency: int) -> None:
    """Create the Certificates ``svc<i>``, ``concurrency`` requests at a time (1: one after the other)."""
    pending = iter(indexes)

    async def client() -> None:
        for i in pending:
            await store.create(
                CERTIFICATES,
                certificate(
                    f"svc{i}",
                    {"name": "ca"},
                    dnsNames=[f"svc{i}.bench.example"],
                    privateKey={"algorithm": "ECDSA", "size": 256},
                ),
            )

    await asyncio.gather(*(client() for _ in range(max(1, concurrency))))


@dataclass(frozen=True, slots=True, kw_only=True)
class RecordedWrite:
    """One successful write the engine (or the bench's client) made, as it was asked of the store."""

    op: str  # create, update, update_status, patch or delete
    resource: ResourceType
    namespace: str | None
    name: str
    body: RawObject | list[RawObject] | None = None
    uid: str | None = None  # a create's new uid, or a delete's uid precondition
    patch_type: PatchType = PatchType.MERGE
    field_manager: str = "certkeeper"
    subresource: str = ""


def _copy(obj: object) -> Any:
    return msgspec.json.decode(msgspec.json.encode(obj))


class RecordingStore:
    """The local store, keeping a copy of every successful write made while ``recording`` is set."""

    def __init__(self, inner: LocalStore) -> None:
        self.inner = inner
        self.recording = False
        self.log: list[RecordedWrite] = []

    def __getattr__(self, name: str) -> object:
        return getattr(self.inner, name)

    def _record(self, op: str, resource: ResourceType, sent: RawObject, stored: RawObject) -> None:
        if self.recording:
            meta = stored["metadata"]
            body = _copy(sent)
            body["metadata"]["name"] = meta["name"]
            body["metadata"].pop("generateName", None)
            uid = meta.get("uid") if op == "create" else None
            self.log.append(
                RecordedWrite(
                    op=op, resource=resource, namespace=meta.get("namespace"), name=meta["name"], body=body, uid=uid
                )
            )

    async def create(self, resource: ResourceType, obj: RawObject) -> RawObject:
        stored = await self.inner.create(resource, obj)
        self._record("create", resource, obj, stored)
        return stored

    async def update(self, resource: ResourceType, obj: RawObject) -> RawObject:
        stored = await self.inner.update(resource, obj)
        self._record("update", resource, obj, stored)
        return stored

    async def update_status(self, resource: ResourceType, obj: RawObject) -> RawObject:
        stored = await self.inner.update_status(resource, obj)
        self._record("update_status", resource, obj, stored)
        return stored

    async def patch(
        self,
        resource: ResourceType,
        name: str,
        patch: RawObject | Sequence[RawObject],
        *,
        namespace: str | None = None,
        patch_type: PatchType = PatchType.MERGE,
        field_manager: str = "certkeeper",
        force: bool = False,
        subresource: str = "",
    ) -> RawObject:
        stored = await self.inner.patch(
            resource,
            name,
            patch,
            namespace=namespace,
            patch_type=patch_type,
            field_manager=field_manager,
            force=force,
            subresource=subresource,
        )
        if self.recording:
            self.log.append(
                RecordedWrite(
                    op="patch",
                    resource=resource,
                    namespace=namespace,
                    name=name,
                    body=_copy(patch),
                    patch_type=patch_type,
                    field_manager=field_manager,
                    subresource=subresource,
                )
            )
        return stored

    async def delete(
        self, resource: ResourceType, name: str, *, namespace: str | None = None, uid: str | None = None
    ) -> None:
        await self.inner.delete(resource, name, namespace=namespace, uid=uid)
        if self.recording:
            self.log.append(RecordedWrite(op="delete", resource=resource, namespace=namespace, name=name, uid=uid))


def _uids_referenced(write: RecordedWrite) -> set[str]:
    """The recorded uids ``write`` names: its own (updates), its owners', a delete's precondition."""
    found = {write.uid} if write.op == "delete" and write.uid else set()
    if isinstance(write.body, dict):
        meta = write.body.get("metadata") or {}
        if write.op != "create" and meta.get("uid"):
            found.add(meta["uid"])
        found.update(ref["uid"] for ref in meta.get("ownerReferences") or () if ref.get("uid"))
    return found


def _with_uids(body: RawObject, uids: dict[str, str], resource_version: str | None) -> RawObject:
    """``body`` with recorded uids replaced by the replay's (and the replayed resourceVersion, if any)."""
    meta = dict(body.get("metadata") or {})
    if meta.get("uid") in uids:
        meta["uid"] = uids[meta["uid"]]
    if meta.get("ownerReferences"):
        meta["ownerReferences"] = [
            {**ref, "uid": uids.get(ref.get("uid"), ref.get("uid"))} for ref in meta["ownerReferences"]
        ]
    if resource_version is not None:
        meta["resourceVersion"] = resource_version
    return {**body, "metadata": meta}


async def replay(log: list[RecordedWrite], path: Path | None, admit: Admit | None) -> float:
    """Apply ``log``'s writes to a fresh store, nothing else running; CPU seconds taken.

    Writes to different objects go to the store together (up to 64 at a time), so they share commits
    as the engine's do; a write that names an object or uid written earlier in the same group waits
    for the next group. Recorded uids (owner references, update bodies, delete preconditions) are
    mapped to the replayed objects' uids, and an update carries the replayed resourceVersion. Writes
    to objects made before the log began (the CA's Events) are left out.
    """
    made = {(str(w.resource), w.namespace, w.name) for w in log if w.op == "create" or w.patch_type == PatchType.APPLY}
    log = [w for w in log if (str(w.resource), w.namespace, w.name) in made]
    clock = SystemClock()
    store = await LocalStore.open(path, now=clock.now, admit=admit)
    versions: dict[tuple[str, str | None, str], str] = {}
    uids: dict[str, str] = {}

    async def apply(write: RecordedWrite) -> None:
        key = (str(write.resource), write.namespace, write.name)
        stored: RawObject | None = None
        if write.op == "create":
            assert isinstance(write.body, dict)
            stored = await store.create(write.resource, _with_uids(write.body, uids, None))
            if write.uid is not None:
                uids[write.uid] = stored["metadata"]["uid"]
        elif write.op in ("update", "update_status"):
            assert isinstance(write.body, dict)
            update = store.update if write.op == "update" else store.update_status
            stored = await update(write.resource, _with_uids(write.body, uids, versions[key]))
        elif write.op == "patch":
            assert write.body is not None
            body = _with_uids(write.body, uids, None) if isinstance(write.body, dict) else write.body
            stored = await store.patch(
                write.resource,
                write.name,
                body,
                namespace=write.namespace,
                patch_type=write.patch_type,
                field_manager=write.field_manager,
                subresource=write.subresource,
            )
        else:
            precondition = uids.get(write.uid, write.uid) if write.uid else None
            await store.delete(write.resource, write.name, namespace=write.namespace, uid=precondition)
        if stored is not None:
            versions[key] = stored["metadata"]["resourceVersion"]

    try:
        cpu0 = time.process_time()
        window: list[RecordedWrite] = []
        touched: set[tuple[str, str | None, str]] = set()
        created: set[str] = set()
        for write in log:
            key = (str(write.resource), write.namespace, write.name)
            if key in touched or len(window) == 64 or not created.isdisjoint(_uids_referenced(write)):
                await asyncio.gather(*(apply(w) for w in window))
                window, touched, created = [], set(), set()
            window.append(write)
            touched.add(key)
            if write.op == "create" and write.uid is not None:
                created.add(write.uid)
        await asyncio.gather(*(apply(w) for w in window))
        return time.process_time() - cpu0
    finally:
        await store.close()


async def report_floor(log: list[RecordedWrite], count: int, state: Path) -> None:
    """Print the timed phase's writes per certificate and what replaying them alone costs."""
    ops: dict[str, int] = {}
    for write in log:
        label = f"{write.op} {write.resource.kind}"
        ops[label] = ops.get(label, 0) + 1
    print(f"store writes in the timed phase: {len(log) / count:.1f} per certificate")
    for label, n in sorted(ops.items(), key=lambda item: -item[1]):
        print(f"  {n / count:5.2f}/certificate  {label}")
    budget_ms = 0.0
    for title, path, admit in (
        (
            "SQLite store with admission (as the engine runs)",
            state / "floor-admission.db",
            store_admission(DEFAULT_GATES),
        ),
        ("SQLite store, no admission", state / "floor-plain.db", None),
        ("in-memory store, no admission", None, None),
    ):
        cpu = await replay(log, path, admit)
        print(
            f"replaying those writes alone, {title}: {cpu / count * 1000:.2f} ms CPU/certificate "
            f"({cpu / len(log) * 1e6:.0f} us/write), at most {count / cpu:.0f} certificates/s"
        )
        budget_ms = budget_ms or cpu / count * 1000
    print(f"(the engine's full CPU per certificate is above; the first replay's {budget_ms:.2f} ms is its write floor)")


async def run(
    count: int,
    idle: int,
    idle_seconds: float,
    state: Path,
    profile: Path | None,
    concurrency: int = 1,
    floor: bool = False,
) -> None:
    clock = SystemClock()
    store = await LocalStore.open(state / "state.db", now=clock.now, admit=store_admission(DEFAULT_GATES))
    recorder = RecordingStore(store)
    engine = Engine(
        cast(Store, recorder),
        clock=clock,
        options=EngineOptions(cluster_resource_namespace=NS),
        issuer_backends={"selfsigned": SelfSignedIssuer(), "ca": CAIssuer()},
    )
    await engine.start()
    counter = ReadyCounter(engine)
    try:
        await store.create(
            CLUSTER_ISSUERS,
            {
                "apiVersion": "cert-manager.io/v1",
                "kind": "ClusterIssuer",
                "metadata": {"name": "selfsigned"},
                "spec": {"selfSigned": {}},
            },
        )
        await store.create(
            CERTIFICATES,
            certificate(
                "ca",
                {"name": "selfsigned", "kind": "ClusterIssuer"},
                isCA=True,
                commonName="bench CA",
                privateKey={"algorithm": "ECDSA", "size": 256},
            ),
        )
        await store.create(
            ISSUERS,
            {
                "apiVersion": "cert-manager.io/v1",
                "kind": "Issuer",
                "metadata": {"name": "ca", "namespace": NS},
                "spec": {"ca": {"secretName": "ca-tls"}},
            },
        )
        await counter.wait(1, 60)
        await wait_issuer_ready(engine, 60)
        total = max(count, idle)
        profiler = cProfile.Profile() if profile is not None else None
        if profiler is not None:
            profiler.enable()
        cpu0, start = time.process_time(), time.perf_counter()
        recorder.recording = floor
        await create_certificates(cast(Store, recorder), range(count), concurrency)
        await counter.wait(count + 1, timeout=3600)
        elapsed, cpu = time.perf_counter() - start, time.process_time() - cpu0
        await wait_settled(engine, timeout=3600)
        settled, settled_cpu = time.perf_counter() - start, time.process_time() - cpu0
        recorder.recording = False
        if profiler is not None and profile is not None:
            profiler.disable()
            profiler.dump_stats(profile)
        print(
            f"{count} ECDSA P-256 certificates: all Ready in {elapsed:.1f} s = {count / elapsed:.1f} certificates/s "
            f"(CPU {cpu:.1f} s, {cpu / count * 1000:.2f} ms CPU/certificate), peak RSS {peak_rss_mib():.0f} MiB"
        )
        print(
            f"  settled (next private key Secrets deleted, every queue empty) after {settled:.1f} s = "
            f"{count / settled:.1f} certificates/s (CPU {settled_cpu:.1f} s, "
            f"{settled_cpu / count * 1000:.2f} ms CPU/certificate)"
        )
        if idle > count:
            await create_certificates(store, range(count, idle), concurrency)
            await counter.wait(idle + 1, timeout=7200)
        if idle:
            await wait_settled(engine, timeout=3600)
            await asyncio.sleep(5)  # and let the last watch events and commits land
            cpu0, rss0 = time.process_time(), current_rss_mib()
            await asyncio.sleep(idle_seconds)
            cpu = time.process_time() - cpu0
            print(
                f"{total} Ready certificates idle for {idle_seconds:.0f} s: RSS {current_rss_mib():.0f} MiB "
                f"(at start of idle {rss0:.0f} MiB), CPU {cpu / idle_seconds * 60:.2f} s per minute"
            )
    finally:
        await engine.stop()
        await store.close()
    if floor:
        await report_floor(recorder.log, count, state)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--count", type=int, default=1000)
    parser.add_argument("--idle", type=int, default=0, help="certificates to hold while idle (0: skip)")
    parser.add_argument("--idle-seconds", type=float, default=60.0)
    parser.add_argument("--profile", type=Path, default=None, help="write a cProfile of the timed phase here")
    parser.add_argument("--no-raw", action="store_true", help="skip the raw cryptography figure")
    parser.add_argument(
        "--create-concurrency",
        type=int,
        default=1,
        help="Certificates created at once (1: one after the other, each awaited, as before)",
    )
    parser.add_argument(
        "--floor",
        action="store_true",
        help="also replay the timed phase's store writes alone on fresh stores (the pipeline's write floor)",
    )
    args = parser.parse_args()
    if not args.no_raw:
        rate = raw_crypto_rate()
        print(
            f"raw cryptography, same crypto work per certificate, one core: {rate:.0f} certificates/s "
            f"(a third: {rate / 3:.0f}/s)"
        )
    with tempfile.TemporaryDirectory(prefix="certkeeper-bench-") as state:
        asyncio.run(
            run(
                args.count,
                args.idle,
                args.idle_seconds,
                Path(state),
                args.profile,
                args.create_concurrency,
                floor=args.floor,
            )
        )


if __name__ == "__main__":
    main()
