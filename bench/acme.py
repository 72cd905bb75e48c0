"""ACME issuance in local mode: N Certificates through pebble with HTTP-01.

The engine runs on the SQLite-backed local store with certkeeper's admission, the ACME issuer and the
in-process HTTP-01 solver, as ``certkeeper local`` runs; Debian's pebble signs (real HTTP-01
validation, 5 % of nonces rejected, no validation sleep) and BIND resolves the names for pebble.
Prints the time from creating the Certificates to all Ready, ACME requests per certificate (every
HTTP request the client sent, nonce fetches and badNonce retries included) and peak RSS.
Never asserts. Usage: ``python bench/acme.py [--count 100]``.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import resource
import tempfile
import time
from collections import Counter
from pathlib import Path

from tests.harness.bind import Bind, Zone
from tests.harness.pebble import Pebble, PebbleConfig

from certkeeper.acme.metrics import InstrumentedTransport
from certkeeper.acme.solvers.http01 import InProcessHTTP01Solver
from certkeeper.acme.solvers.http01_check import HTTP01SelfCheck, NameserverResolver
from certkeeper.acme.solvers.http01_server import ChallengeResponder, HTTP01Server
from certkeeper.acme.transport import AiohttpTransport, TlsOptions, Transport
from certkeeper.api.features import DEFAULT_GATES
from certkeeper.controllers.context import EngineOptions
from certkeeper.controllers.engine import Engine
from certkeeper.issuers.acme import AccountRegistry, AcmeIssuerBackend
from certkeeper.localmode.admission import store_admission
from certkeeper.runtime.clock import SystemClock
from certkeeper.store.local import LocalStore
from certkeeper.store.resources import CERTIFICATES, CLUSTER_ISSUERS

NS = "bench"
ZONE = "bench.test"


class RequestCounter:
    def __init__(self) -> None:
        self.by_action: Counter[str] = Counter()

    def observe(self, *, scheme: str, host: str, action: str, method: str, status: str, seconds: float) -> None:
        self.by_action[f"{action} {status}"] += 1


def ready_count(engine: Engine) -> int:
    count = 0
    for raw in engine.certificates.cache.items():
        for condition in raw.get("status", {}).get("conditions") or ():
            if condition.get("type") == "Ready" and condition.get("status") == "True":
                count += 1
    return count


async def run(count: int, workdir: Path) -> None:
    responder = ChallengeResponder()
    server = HTTP01Server(responder, host="127.0.0.1", port=0)
    await server.start()
    bind = Bind(workdir / "bind", zones=(Zone(name=ZONE),))
    (workdir / "bind").mkdir()
    (workdir / "pebble").mkdir()
    bind.start()
    counter = RequestCounter()

    def transport(tls: TlsOptions) -> Transport:
        return InstrumentedTransport(AiohttpTransport(tls=tls), counter)

    try:
        with Pebble(
            workdir / "pebble",
            PebbleConfig(http_port=server.bound_port, dns_server=bind.nameserver, always_valid=False),
        ) as pebble:
            clock = SystemClock()
            store = await LocalStore.open(workdir / "state.db", now=clock.now, admit=store_admission(DEFAULT_GATES))
            accounts = AccountRegistry(transport)
            self_check = HTTP01SelfCheck(
                required_passes=1,
                pass_interval=0.0,
                port=server.bound_port,
                resolver=NameserverResolver([bind.nameserver]),
            )
            engine = Engine(
                store,
                clock=clock,
                options=EngineOptions(cluster_resource_namespace=NS),
                issuer_backends={"acme": AcmeIssuerBackend(accounts)},
                acme_accounts=accounts,
                solvers={"HTTP-01": InProcessHTTP01Solver(responder, self_check=self_check)},
            )
            await engine.start()
            try:
                await store.create(
                    CLUSTER_ISSUERS,
                    {
                        "apiVersion": "cert-manager.io/v1",
                        "kind": "ClusterIssuer",
                        "metadata": {"name": "pebble"},
                        "spec": {
                            "acme": {
                                "server": pebble.directory_url,
                                "caBundle": base64.b64encode(pebble.ca_bundle).decode(),
                                "privateKeySecretRef": {"name": "account"},
                                "solvers": [{"http01": {"ingress": {}}}],
                            }
                        },
                    },
                )
                start = time.perf_counter()
                for i in range(count):
                    await store.create(
                        CERTIFICATES,
                        {
                            "apiVersion": "cert-manager.io/v1",
                            "kind": "Certificate",
                            "metadata": {"name": f"svc{i}", "namespace": NS},
                            "spec": {
                                "secretName": f"svc{i}-tls",
                                "dnsNames": [f"svc{i}.{ZONE}"],
                                "privateKey": {"algorithm": "ECDSA"},
                                "issuerRef": {"name": "pebble", "kind": "ClusterIssuer"},
                            },
                        },
                    )
                while ready_count(engine) < count:
                    if time.perf_counter() - start > 1800:
                        raise TimeoutError(f"only {ready_count(engine)} of {count} Ready after 30 minutes")
                    await asyncio.sleep(0.1)
                elapsed = time.perf_counter() - start
            finally:
                await engine.stop()
                await accounts.aclose()
                await store.close()
    finally:
        bind.stop()
        await server.stop()
    total = sum(counter.by_action.values())
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        f"{count} certificates through pebble (HTTP-01): all Ready in {elapsed:.1f} s "
        f"({count / elapsed:.1f}/s); {total} ACME requests = {total / count:.1f} per certificate; "
        f"peak RSS {peak:.0f} MiB"
    )
    for action, n in sorted(counter.by_action.items()):
        print(f"  {action:45} {n:6d}  ({n / count:.2f}/certificate)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--count", type=int, default=100)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="certkeeper-bench-acme-") as workdir:
        asyncio.run(run(args.count, Path(workdir)))


if __name__ == "__main__":
    main()
