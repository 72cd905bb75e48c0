"""``certkeeper controller`` on a real kube-apiserver: issuance at scale, API requests, and memory.

Starts its own etcd + kube-apiserver (``tests.harness.kube.ControlPlane``, used as a library), applies
deploy/crds and deploy/'s RBAC, and runs ``python -m certkeeper controller`` as a child process with the
identity of its ServiceAccount, so its RSS is its own. Two phases:

1. Issuance: a SelfSigned Issuer roots an ECDSA CA Certificate and a CA Issuer; then ``--count``
   ECDSA P-256 Certificates (default 1,000) are created at once. Printed: time from the first create
   to all Ready, API requests per certificate (the API server's ``apiserver_request_total`` before and
   after, less the benchmark's own requests, by verb and resource), the controller's peak RSS.
2. Unrelated Secrets (``--secrets 0,30000,90000``): that many Opaque Secrets of ``--secret-size``
   bytes, which no Certificate names, are put into the cluster (by the admin, concurrently); for each
   count a fresh controller starts, and once its caches have synced (every Certificate reconciled once)
   and it has settled, its RSS is read. certkeeper caches only the Secrets it owns in full and every
   other one as compact metadata (cert-manager's SecretsFilteredCaching), so the figure should stay
   nearly flat; ``--compare-unfiltered`` repeats the largest count with the gate turned off.

Prints figures; never asserts. Usage (the binaries come from ``tools/envtest/build.sh``)::

    PYTHONPATH=src:. python bench/kube.py --count 1000 --secrets 0,30000,90000
    PYTHONPATH=src:. python bench/kube.py --count 200 --secrets 0,10000,30000 --kube-api-qps 200
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import os
import re
import secrets
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import Any

from tests.harness.kube import REPO_ROOT, ControlPlane, Identity, free_port
from tests.harness.kubeclient import KubeClient, load_manifests
from tests.harness.processes import Process

import certkeeper

NS = "bench"
CM = "cert-manager.io/v1"
RBAC_KINDS = {"Namespace", "ServiceAccount", "ClusterRole", "ClusterRoleBinding", "Role", "RoleBinding"}
_SAMPLE = re.compile(r"^apiserver_request_total\{(?P<labels>[^}]*)\} (?P<value>\S+)$")
_LABEL = re.compile(r'(\w+)="([^"]*)"')


class CountingClient(KubeClient):
    """The admin client, counting the requests it sends (to take them out of the API server's totals)."""

    sent = 0

    async def _send(self, method: str, path: str, **kwargs: Any) -> tuple[int, object]:
        self.sent += 1
        return await super()._send(method, path, **kwargs)


async def request_totals(kube: KubeClient) -> Counter[tuple[str, str]]:
    """``apiserver_request_total`` summed by (verb, resource); conflicts (409) also under ("409", resource)."""
    text = await kube.request("GET", "/metrics")
    totals: Counter[tuple[str, str]] = Counter()
    for line in str(text).splitlines():
        match = _SAMPLE.match(line)
        if match is None:
            continue
        labels = dict(_LABEL.findall(match["labels"]))
        key = (labels.get("verb", ""), labels.get("resource", "") or labels.get("subresource", ""))
        if labels.get("subresource"):
            key = (labels.get("verb", ""), f"{labels.get('resource', '')}/{labels['subresource']}")
        totals[key] += int(float(match["value"]))
        if labels.get("code") == "409":
            totals[("409", key[1])] += int(float(match["value"]))
    return totals


def rss_mib(pid: int) -> tuple[float, float]:
    """(current, peak) resident set size of ``pid`` in MiB."""
    fields = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        fields[key] = value.strip()
    return int(fields["VmRSS"].split()[0]) / 1024, int(fields["VmHWM"].split()[0]) / 1024


class Controller:
    """``certkeeper controller`` as a child process."""

    def __init__(self, workdir: Path, identity: Identity, args: argparse.Namespace, *extra: str) -> None:
        self.metrics_port = free_port()
        self.log_file = workdir / f"controller-{secrets.token_hex(3)}.log"
        self.process = Process(
            "certkeeper-controller",
            [
                sys.executable,
                "-m",
                "certkeeper",
                "controller",
                f"--kubeconfig={identity.kubeconfig}",
                f"--metrics-listen-address=127.0.0.1:{self.metrics_port}",
                "--internal-healthz-listen-address=0",
                "--leader-election-namespace=certkeeper",
                f"--cluster-resource-namespace={NS}",
                f"--kube-api-qps={args.kube_api_qps}",
                f"--kube-api-burst={args.kube_api_burst}",
                *extra,
            ],
            self.log_file,
        )

    def start(self) -> None:
        self.process.spawn()

    @property
    def pid(self) -> int:
        assert self.process.popen is not None
        return self.process.popen.pid

    def stop(self) -> tuple[float, int | None]:
        """SIGTERM (SIGKILL after 30 s, as a kubelet would): seconds until it exited, and its exit status."""
        popen = self.process.popen
        started = time.monotonic()
        self.process.stop(grace=30)
        return time.monotonic() - started, popen.returncode if popen is not None else None

    async def metric(self, kube: KubeClient, name: str) -> float:
        """The sum of one family's samples on the controller's /metrics (0 while it is not serving)."""
        del kube
        try:
            reader, writer = await asyncio.open_connection("127.0.0.1", self.metrics_port)
        except OSError:
            return 0.0
        writer.write(b"GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        body = (await reader.read()).decode(errors="replace")
        writer.close()
        total = 0.0
        for line in body.splitlines():
            if line.startswith((name + "{", name + " ")):
                total += float(line.rsplit(" ", 1)[1])
        return total


async def ready_count(kube: KubeClient) -> int:
    ready = 0
    token = ""
    while True:
        params = {"limit": "500"}
        if token:
            params["continue"] = token
        page = await kube.request("GET", f"/apis/{CM}/namespaces/{NS}/certificates", params=params)
        for cert in page["items"]:
            conditions = (cert.get("status") or {}).get("conditions") or []
            ready += any(c["type"] == "Ready" and c["status"] == "True" for c in conditions)
        token = page["metadata"].get("continue", "")
        if not token:
            return ready


def certificate(name: str, issuer: dict[str, str], **spec: Any) -> dict[str, Any]:
    body = {"secretName": name, "issuerRef": issuer, "privateKey": {"algorithm": "ECDSA", "size": 256}, **spec}
    return {"apiVersion": CM, "kind": "Certificate", "metadata": {"name": name, "namespace": NS}, "spec": body}


async def in_parallel(jobs: Sequence[Any], limit: int) -> None:
    """Await the coroutines ``jobs`` with at most ``limit`` running at once."""
    gate = asyncio.Semaphore(limit)

    async def one(job: Any) -> None:
        async with gate:
            await job

    await asyncio.gather(*(one(job) for job in jobs))


async def wait_until(check: Callable[[], Awaitable[bool]], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not await check():
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what} not reached within {timeout:.0f}s")
        await asyncio.sleep(1.0)


async def issuance(cp: ControlPlane, kube: CountingClient, workdir: Path, args: argparse.Namespace) -> None:
    identity = cp.service_account("certkeeper", "certkeeper-controller")
    controller = Controller(workdir, identity, args)
    controller.start()
    try:
        selfsigned = {"apiVersion": CM, "kind": "Issuer", "spec": {"selfSigned": {}}}
        await kube.create({**selfsigned, "metadata": {"name": "selfsigned", "namespace": NS}})
        await kube.create(certificate("bench-ca", {"name": "selfsigned"}, isCA=True, commonName="bench CA"))
        ca = {"apiVersion": CM, "kind": "Issuer", "spec": {"ca": {"secretName": "bench-ca"}}}
        await kube.create({**ca, "metadata": {"name": "ca", "namespace": NS}})

        async def ca_ready() -> bool:
            issuer = await kube.get(CM, "Issuer", "ca", namespace=NS)
            conditions = (issuer.get("status") or {}).get("conditions") or []
            return any(bool(c["type"] == "Ready" and c["status"] == "True") for c in conditions)

        await wait_until(ca_ready, 120, "the CA Issuer Ready")
        before = await request_totals(kube)
        sent_before = kube.sent
        started = time.monotonic()
        jobs = [
            kube.create(certificate(f"svc-{i:05d}", {"name": "ca"}, dnsNames=[f"svc-{i}.{NS}.svc"]))
            for i in range(args.count)
        ]
        await in_parallel(jobs, 16)
        created = time.monotonic() - started
        peak_seen = 0.0

        async def all_ready() -> bool:
            nonlocal peak_seen
            peak_seen = max(peak_seen, rss_mib(controller.pid)[1])
            return await ready_count(kube) >= int(args.count) + 1  # and the CA

        await wait_until(all_ready, args.timeout, f"{args.count} Certificates Ready")
        elapsed = time.monotonic() - started
        own = kube.sent - sent_before + 1  # this scrape
        after = await request_totals(kube)
        delta = after - before
        total = sum(value for (verb, _), value in delta.items() if verb != "409") - own
        current, peak = rss_mib(controller.pid)
        print(f"\n== issuance: {args.count} ECDSA P-256 Certificates from one CA Issuer")
        print(f"created in {created:.1f}s; all Ready after {elapsed:.1f}s ({args.count / elapsed:.1f} certificates/s)")
        print(f"kube-api-qps {args.kube_api_qps}, burst {args.kube_api_burst}")
        print(f"API requests by the controller: {total} ({total / args.count:.1f} per certificate)")
        print("  by verb and resource (per certificate; verb 409: those answered Conflict), the benchmark's own")
        print("  creates and lists included:")
        for (verb, resource), value in sorted(delta.items(), key=lambda kv: -kv[1]):
            if value >= args.count / 10:
                print(f"    {verb:7} {resource:40} {value:8} {value / args.count:6.2f}")
        print(f"  (the benchmark sent {own}: {args.count} creates, readiness lists and scrapes)")
        print(f"controller RSS now {current:.0f} MiB, peak {peak:.0f} MiB")
        took, status = controller.stop()
        print(f"SIGTERM: exited {status} after {took:.1f}s")
    finally:
        controller.stop()


async def create_secrets(kube: KubeClient, have: int, want: int, size: int) -> None:
    payload = base64.b64encode(os.urandom(size)).decode()
    namespaces = [f"noise-{i}" for i in range(10)]
    for ns in namespaces:
        await kube.request(
            "PATCH",
            f"/api/v1/namespaces/{ns}",
            params={"fieldManager": "bench"},
            body={"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}},
            content_type="application/apply-patch+yaml",
        )

    def secret(i: int) -> dict[str, Any]:
        return {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": f"unrelated-{i:06d}", "namespace": namespaces[i % len(namespaces)]},
            "type": "Opaque",
            "data": {"blob": payload},
        }

    jobs = [
        kube.request("POST", f"/api/v1/namespaces/{namespaces[i % 10]}/secrets", body=secret(i))
        for i in range(have, want)
    ]
    started = time.monotonic()
    await in_parallel(jobs, 32)
    if want > have:
        print(f"  ({want - have} Secrets of {size} bytes created in {time.monotonic() - started:.0f}s)")


async def settled_rss(
    cp: ControlPlane, kube: KubeClient, workdir: Path, args: argparse.Namespace, *extra: str
) -> tuple[float, float, float]:
    """(seconds to synced, RSS once settled, peak RSS) of a fresh controller."""
    controller = Controller(workdir, cp.service_account("certkeeper", "certkeeper-controller"), args, *extra)
    started = time.monotonic()
    controller.start()
    try:

        async def synced() -> bool:
            # Controllers start only after every informer has listed; each Certificate is then reconciled.
            calls = await controller.metric(kube, "certmanager_controller_sync_call_count_total")
            return calls >= int(args.count)

        await wait_until(synced, args.timeout, "the controller's caches synced")
        took = time.monotonic() - started
        await asyncio.sleep(args.settle)
        current, peak = rss_mib(controller.pid)
        return took, current, peak
    finally:
        controller.stop()


async def unrelated_secrets(cp: ControlPlane, kube: KubeClient, workdir: Path, args: argparse.Namespace) -> None:
    print(f"\n== controller RSS with unrelated Secrets in the cluster ({args.count + 1} Certificates issued)")
    print(f"{'Secrets':>9} {'synced after':>13} {'RSS settled':>12} {'RSS peak':>9}")
    have = 0
    counts = sorted(int(c) for c in args.secrets.split(",") if c.strip())
    for want in counts:
        await create_secrets(kube, have, want, args.secret_size)
        have = max(have, want)
        took, current, peak = await settled_rss(cp, kube, workdir, args)
        print(f"{want:>9} {took:>12.1f}s {current:>9.0f} MiB {peak:>5.0f} MiB")
    if args.compare_unfiltered and counts:
        took, current, peak = await settled_rss(cp, kube, workdir, args, "--feature-gates=SecretsFilteredCaching=false")
        print(f"{have:>9} {took:>12.1f}s {current:>9.0f} MiB {peak:>5.0f} MiB   (SecretsFilteredCaching=false)")


async def main(args: argparse.Namespace) -> None:
    # The controller child imports the certkeeper this process imports.
    source = str(Path(certkeeper.__file__).resolve().parents[1])
    os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [source, os.environ.get("PYTHONPATH")]))
    workdir = Path(tempfile.mkdtemp(prefix="certkeeper-bench-kube-"))
    started = time.monotonic()
    async with ControlPlane(workdir=workdir / "kube") as cp:
        kube = CountingClient(cp.admin, timeout=120)
        try:
            await kube.apply_manifests(REPO_ROOT / "deploy" / "crds")
            rbac = [o for o in load_manifests(REPO_ROOT / "deploy" / "manifests") if o["kind"] in RBAC_KINDS]
            await kube.apply(rbac)
            namespace = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NS}}
            await kube.request("POST", "/api/v1/namespaces", body=namespace)
            print(f"control plane up in {time.monotonic() - started:.0f}s")
            await issuance(cp, kube, workdir, args)
            await unrelated_secrets(cp, kube, workdir, args)
        finally:
            await kube.close()
    print(f"\nlogs: {workdir}")


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--count", type=int, default=1000, help="Certificates to issue (default 1000)")
    parser.add_argument("--secrets", default="0,30000,90000", help="unrelated Secret counts to measure RSS at")
    parser.add_argument("--secret-size", type=int, default=2048, help="bytes of data per unrelated Secret")
    parser.add_argument("--kube-api-qps", type=float, default=20.0, help="the controller's flag (cert-manager: 20)")
    parser.add_argument("--kube-api-burst", type=int, default=50, help="the controller's flag (cert-manager: 50)")
    parser.add_argument("--timeout", type=float, default=3600.0, help="seconds to wait for any one phase")
    parser.add_argument("--settle", type=float, default=10.0, help="seconds after the caches synced before RSS is read")
    parser.add_argument("--compare-unfiltered", action="store_true", help="also the largest count with full caching")
    return parser.parse_args(argv)


if __name__ == "__main__":
    asyncio.run(main(parse_args()))
