"""Admission latency of ``certkeeper webhook`` for Certificate validation, over TLS on loopback.

The webhook runs as its own process (``python -m certkeeper webhook`` with static TLS files: an ECDSA P-256
CA and serving certificate for ``127.0.0.1`` made with ``certkeeper.pki``, no API server), so the load
generator does not share its event loop. The load generator POSTs AdmissionReviews of a valid Certificate
CREATE to ``/validate`` with aiohttp, at a fixed rate, open loop: request *i* is due at ``start + i/rate``
and its latency runs from that moment to the end of the response, so time spent queueing (in the client,
the kernel or the webhook) counts. Connections are pooled (at most ``--connections``), as the API server
pools its connections to a webhook, and each phase is preceded by ``--warmup-seconds`` (default 3) at the
same rate, unmeasured, so the figures are steady-state ones rather than the pool's growth (new TLS
handshakes). Every answer is checked (HTTP 200, same uid, allowed); anything else counts as an error.
Latency is also reported timed from the moment each request was actually sent, which leaves out the
generator's own lateness (its timer wakes up to about 1 ms late, and other work on the machine can stall it).

1. ``--rate`` (default 200/s) for ``--seconds`` (default 20): p50, p99, max, errors.
2. Steps of ``--step-seconds`` (default 10) at 100, 200, 400, 800, ... requests/s until p99 reaches
   ``--target-ms`` (default 10 ms) or an error occurs; the highest rate whose p99 stayed under the target
   is the sustained rate (``worst send lag`` shows when the generator itself fell behind its schedule).

Each phase also reports the CPU the webhook process used (its share of one core). The load generator and
the webhook share the machine's cores (2 where certkeeper is developed), so the figures at the top rates
include the generator's own CPU competing with the webhook.

Prints figures; never asserts. Usage: ``PYTHONPATH=src python bench/webhook.py [--seconds 20] [--rate 200]``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import socket
import ssl
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from ipaddress import IPv4Address
from pathlib import Path

import aiohttp
from cryptography import x509
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from certkeeper.pki.keys import encode_private_key_pkcs8, generate_ecdsa_private_key
from certkeeper.pki.pem import encode_pem_certificate
from certkeeper.pki.sign import CertificateParams, sign_certificate
from certkeeper.pki.usages import CERT_SIGN, DIGITAL_SIGNATURE, KEY_ENCIPHERMENT

REPO_ROOT = Path(__file__).resolve().parents[1]
CERTIFICATE = {
    "apiVersion": "cert-manager.io/v1",
    "kind": "Certificate",
    "metadata": {"name": "web", "namespace": "bench", "labels": {"app": "web"}},
    "spec": {
        "secretName": "web-tls",
        "commonName": "web.example.com",
        "dnsNames": ["web.example.com", "www.example.com"],
        "duration": "2160h",
        "renewBefore": "360h",
        "privateKey": {"algorithm": "ECDSA", "size": 256, "rotationPolicy": "Always"},
        "usages": ["digital signature", "key encipherment", "server auth"],
        "issuerRef": {"name": "ca", "kind": "ClusterIssuer", "group": "cert-manager.io"},
    },
}


def write_tls_files(directory: Path) -> tuple[Path, Path, bytes]:
    """A CA and a serving certificate for 127.0.0.1/localhost: (cert file, key file, CA PEM)."""
    now = datetime.now(UTC).replace(microsecond=0)
    ca_key = generate_ecdsa_private_key(256)
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "bench-webhook-ca")])
    ca = sign_certificate(
        CertificateParams(
            subject=ca_name,
            public_key=ca_key.public_key(),
            not_before=now,
            not_after=now + timedelta(days=1),
            is_ca=True,
            key_usage=DIGITAL_SIGNATURE | CERT_SIGN,
        ),
        signer_key=ca_key,
    )
    key = generate_ecdsa_private_key(256)
    leaf = sign_certificate(
        CertificateParams(
            subject=x509.Name([]),
            public_key=key.public_key(),
            not_before=now,
            not_after=now + timedelta(days=1),
            key_usage=DIGITAL_SIGNATURE | KEY_ENCIPHERMENT,
            ext_key_usages=(ExtendedKeyUsageOID.SERVER_AUTH,),
            subject_alternative_name=x509.SubjectAlternativeName(
                [x509.IPAddress(IPv4Address("127.0.0.1")), x509.DNSName("localhost")]
            ),
        ),
        signer_key=ca_key,
        issuer=ca,
    )
    cert_file, key_file = directory / "tls.crt", directory / "tls.key"
    cert_file.write_bytes(encode_pem_certificate(leaf))
    key_file.write_bytes(encode_private_key_pkcs8(key))
    key_file.chmod(0o600)
    return cert_file, key_file, encode_pem_certificate(ca)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def start_webhook(cert_file: Path, key_file: Path, port: int, healthz_port: int, log: Path) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if k not in ("KUBERNETES_SERVICE_HOST", "KUBECONFIG")}
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO_ROOT / "src"), env.get("PYTHONPATH", "")) if p)
    argv = [
        sys.executable,
        "-m",
        "certkeeper",
        "webhook",
        "--bind-address=127.0.0.1",
        f"--secure-port={port}",
        f"--healthz-port={healthz_port}",
        f"--tls-cert-file={cert_file}",
        f"--tls-private-key-file={key_file}",
    ]
    with log.open("wb") as out:
        return subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT, env=env)


async def wait_healthy(session: aiohttp.ClientSession, healthz_port: int, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the webhook exited with {process.returncode}")
        try:
            async with session.get(f"http://127.0.0.1:{healthz_port}/healthz") as response:
                if response.status == 200:
                    return
        except aiohttp.ClientError:
            pass
        await asyncio.sleep(0.1)
    raise RuntimeError("the webhook did not become healthy within 60 s")


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a process so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


#: Replaced by each request's uid in the encoded body (cheaper for the generator than encoding every time).
UID_PLACEHOLDER = "00000000-0000-0000-0000-000000000000"


def review_body() -> bytes:
    """The AdmissionReview the API server sends for a Certificate CREATE, with :data:`UID_PLACEHOLDER` as uid."""
    request = {
        "uid": UID_PLACEHOLDER,
        "kind": {"group": "cert-manager.io", "version": "v1", "kind": "Certificate"},
        "resource": {"group": "cert-manager.io", "version": "v1", "resource": "certificates"},
        "requestKind": {"group": "cert-manager.io", "version": "v1", "kind": "Certificate"},
        "requestResource": {"group": "cert-manager.io", "version": "v1", "resource": "certificates"},
        "name": "web",
        "namespace": "bench",
        "operation": "CREATE",
        "userInfo": {"username": "admin", "groups": ["system:masters", "system:authenticated"]},
        "object": CERTIFICATE,
        "oldObject": None,
        "dryRun": False,
        "options": {"apiVersion": "meta.k8s.io/v1", "kind": "CreateOptions"},
    }
    return json.dumps({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": request}).encode()


@dataclass(frozen=True)
class Phase:
    rate: float
    seconds: float
    latencies: list[float]
    #: The same requests timed from the moment the generator actually sent them (its own stalls excluded).
    service: list[float]
    errors: int
    #: How late, at worst, the generator sent a request after its due time (seconds).
    worst_send_lag: float
    webhook_cpu: float
    #: The machine's 1-minute load average at the end of the phase (other work competes for the cores).
    load: float

    def percentile(self, q: float, *, service: bool = False) -> float:
        values = sorted(self.service if service else self.latencies)
        return values[max(0, math.ceil(q * len(values)) - 1)] if values else math.nan

    def line(self) -> str:
        ms = 1000.0
        return (
            f"{self.rate:7.0f}/s {len(self.latencies) + self.errors:6d} requests  "
            f"p50 {self.percentile(0.5) * ms:6.2f} ms  "
            f"p99 {self.percentile(0.99) * ms:7.2f} ms  max {max(self.latencies, default=math.nan) * ms:7.1f} ms  "
            f"errors {self.errors}  (from send: p50 {self.percentile(0.5, service=True) * ms:5.2f} ms, "
            f"p99 {self.percentile(0.99, service=True) * ms:6.2f} ms; "
            f"worst send lag {self.worst_send_lag * ms:5.1f} ms)  "
            f"webhook CPU {self.webhook_cpu / self.seconds * 100:5.1f}% of a core  load {self.load:.1f}"
        )


async def run_phase(session: aiohttp.ClientSession, url: str, rate: float, seconds: float, pid: int) -> Phase:
    """Send ``rate`` requests per second for ``seconds``, open loop; wait for every answer."""
    latencies: list[float] = []
    service: list[float] = []
    errors = 0
    loop = asyncio.get_running_loop()
    headers = {"Content-Type": "application/json"}
    template = review_body()

    async def one(due: float) -> None:
        nonlocal errors
        uid = str(uuid.uuid4())
        sent_at = loop.time()
        try:
            body = template.replace(UID_PLACEHOLDER.encode(), uid.encode(), 1)
            async with session.post(url, data=body, headers=headers) as response:
                answer_body = await response.read()
            answer = json.loads(answer_body)["response"] if response.status == 200 else {}
            if answer.get("uid") != uid or answer.get("allowed") is not True:
                errors += 1
                return
        except (aiohttp.ClientError, ValueError, KeyError, TimeoutError):
            errors += 1
            return
        done = loop.time()
        latencies.append(done - due)
        service.append(done - sent_at)

    total = int(rate * seconds)
    tasks: list[asyncio.Task[None]] = []
    worst_lag = 0.0
    cpu_before = cpu_seconds(pid)
    start = loop.time() + 0.05
    sent = 0
    while sent < total:
        now = loop.time()
        # Launch every request already due (the loop may wake late); then sleep until the next one.
        while sent < total and start + sent / rate <= now:
            due = start + sent / rate
            worst_lag = max(worst_lag, now - due)
            tasks.append(asyncio.create_task(one(due)))
            sent += 1
        if sent < total:
            await asyncio.sleep(max(0.0, start + sent / rate - loop.time()))
    await asyncio.gather(*tasks)
    cpu = cpu_seconds(pid) - cpu_before
    return Phase(rate, seconds, latencies, service, errors, worst_lag, cpu, os.getloadavg()[0])


async def bench(args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory(prefix="certkeeper-bench-webhook-") as directory:
        cert_file, key_file, ca_pem = write_tls_files(Path(directory))
        port, healthz_port = free_port(), free_port()
        log = Path(directory) / "webhook.log"
        process = start_webhook(cert_file, key_file, port, healthz_port, log)
        try:
            context = ssl.create_default_context(cadata=ca_pem.decode())
            connector = aiohttp.TCPConnector(ssl=context, limit=args.connections)
            timeout = aiohttp.ClientTimeout(total=30)
            async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
                await wait_healthy(session, healthz_port, process)
                url = f"https://127.0.0.1:{port}/validate?timeout=10s"
                print(
                    f"certkeeper webhook pid {process.pid} on 127.0.0.1:{port}; {os.cpu_count()} CPUs; "
                    f"up to {args.connections} pooled connections; open-loop schedule"
                )

                async def measure(rate: float, seconds: float) -> Phase:
                    # Unmeasured first: the pool grows to the connections this rate needs (TLS handshakes).
                    await run_phase(session, url, rate, args.warmup_seconds, process.pid)
                    return await run_phase(session, url, rate, seconds, process.pid)

                print(f"\n1. Certificate validation at {args.rate:.0f}/s for {args.seconds:.0f} s")
                phase = await measure(args.rate, args.seconds)
                print(phase.line())
                print(f"\n2. Steps of {args.step_seconds:.0f} s until p99 >= {args.target_ms:g} ms or errors")
                rate, sustained = 100.0, 0.0
                while rate <= args.max_rate:
                    step = await measure(rate, args.step_seconds)
                    print(step.line())
                    ok = step.errors == 0 and step.percentile(0.99) * 1000 < args.target_ms
                    if not ok:
                        break
                    sustained = rate
                    rate *= 2
                print(f"\nhighest rate sustained with p99 < {args.target_ms:g} ms: {sustained:.0f}/s")
        finally:
            process.terminate()
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rate", type=float, default=200.0, help="requests per second of phase 1")
    parser.add_argument("--seconds", type=float, default=20.0, help="length of phase 1")
    parser.add_argument("--step-seconds", type=float, default=10.0, help="length of each step of phase 2")
    parser.add_argument("--target-ms", type=float, default=10.0, help="p99 bound for the sustained rate")
    parser.add_argument("--max-rate", type=float, default=12800.0, help="stop stepping above this rate")
    parser.add_argument("--warmup-seconds", type=float, default=3.0, help="unmeasured run before each phase")
    parser.add_argument("--connections", type=int, default=64, help="pooled TLS connections to the webhook")
    asyncio.run(bench(parser.parse_args()))


if __name__ == "__main__":
    main()
