"""The certificate engine on the embedded local store: issuance throughput and idle cost.

1. ``--count N`` ECDSA P-256 Certificates (default 1,000) from one CA Issuer on a SQLite-backed
   local store with certkeeper's admission, as ``certkeeper local`` runs: time from creating them to
   all Ready, certificates per second, peak RSS. For comparison it prints the raw cryptography rate
   for the same crypto work per certificate (one P-256 key, one CSR, one certificate signed by a
   P-256 CA), measured in the same process on one core.
2. ``--idle N`` (optional, e.g. 10,000): after issuing N Certificates, the engine waits for renewals;
   RSS and CPU seconds per minute over ``--idle-seconds`` (default 60).

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
from datetime import UTC, datetime, timedelta
from pathlib import Path

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
from certkeeper.store.local import LocalStore
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


def ready_count(engine: Engine) -> int:
    return sum(1 for raw in engine.certificates.cache.items() if is_ready(raw))


async def wait_ready(engine: Engine, expected: int, timeout: float) -> None:
    deadline = time.perf_counter() + timeout
    while ready_count(engine) < expected:
        if time.perf_counter() > deadline:
            raise TimeoutError(f"only {ready_count(engine)} of {expected} Ready after {timeout}s")
        await asyncio.sleep(0.05)


async def wait_issuer_ready(engine: Engine, timeout: float) -> None:
    deadline = time.perf_counter() + timeout
    while not any(is_ready(raw) for raw in engine.issuers.cache.items()):
        if time.perf_counter() > deadline:
            raise TimeoutError(f"the CA Issuer was not Ready after {timeout}s")
        await asyncio.sleep(0.05)


async def create_certificates(store: LocalStore, indexes: range, concurrency: int) -> None:
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


async def run(
    count: int, idle: int, idle_seconds: float, state: Path, profile: Path | None, concurrency: int = 1
) -> None:
    clock = SystemClock()
    store = await LocalStore.open(state / "state.db", now=clock.now, admit=store_admission(DEFAULT_GATES))
    engine = Engine(
        store,
        clock=clock,
        options=EngineOptions(cluster_resource_namespace=NS),
        issuer_backends={"selfsigned": SelfSignedIssuer(), "ca": CAIssuer()},
    )
    await engine.start()
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
        await wait_ready(engine, 1, 60)
        await wait_issuer_ready(engine, 60)
        total = max(count, idle)
        profiler = cProfile.Profile() if profile is not None else None
        if profiler is not None:
            profiler.enable()
        cpu0, start = time.process_time(), time.perf_counter()
        await create_certificates(store, range(count), concurrency)
        await wait_ready(engine, count + 1, timeout=3600)
        elapsed, cpu = time.perf_counter() - start, time.process_time() - cpu0
        if profiler is not None and profile is not None:
            profiler.disable()
            profiler.dump_stats(profile)
        print(
            f"{count} ECDSA P-256 certificates: all Ready in {elapsed:.1f} s = {count / elapsed:.1f} certificates/s "
            f"(CPU {cpu:.1f} s, {cpu / count * 1000:.2f} ms CPU/certificate), peak RSS {peak_rss_mib():.0f} MiB"
        )
        if idle > count:
            await create_certificates(store, range(count, idle), concurrency)
            await wait_ready(engine, idle + 1, timeout=7200)
        if idle:
            await asyncio.sleep(5)  # let the last status writes and events settle
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
    args = parser.parse_args()
    if not args.no_raw:
        rate = raw_crypto_rate()
        print(
            f"raw cryptography, same crypto work per certificate, one core: {rate:.0f} certificates/s "
            f"(a third: {rate / 3:.0f}/s)"
        )
    with tempfile.TemporaryDirectory(prefix="certkeeper-bench-") as state:
        asyncio.run(run(args.count, args.idle, args.idle_seconds, Path(state), args.profile, args.create_concurrency))


if __name__ == "__main__":
    main()
