"""``certkeeper webhook``: flag checks, and a run with certificate files and no API server."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import aiohttp
import pytest
from click.testing import CliRunner

from certkeeper.cli.main import cli
from certkeeper.cli.webhook import NO_API_REASON, WebhookConfig, make_config, run_webhook
from certkeeper.store.kube import ConfigError
from tests.unit.webhook.support import APPROVED, CERTIFICATE, Pki, certificate_request, make_pki, review

REPO = Path(__file__).resolve().parents[3]


@pytest.fixture(scope="module")
def pki() -> Pki:
    return make_pki()


@pytest.fixture
def pair(pki: Pki, tmp_path: Path) -> tuple[Path, Path]:
    cert, key = tmp_path / "tls.crt", tmp_path / "tls.key"
    cert.write_bytes(pki.cert_pem)
    key.write_bytes(pki.key_pem)
    return cert, key


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--tls-cert-file", "c"], "--tls-cert-file and --tls-private-key-file must be given together"),
        ([], "a serving certificate is needed"),
        (
            ["--tls-cert-file", "c", "--tls-private-key-file", "k", "--dynamic-serving-ca-secret-name", "x"],
            "give either --tls-cert-file/--tls-private-key-file or the --dynamic-serving-* flags",
        ),
        (
            ["--dynamic-serving-ca-secret-name", "ca", "--dynamic-serving-ca-secret-namespace", "ns"],
            "--dynamic-serving-dns-names is required",
        ),
        (
            ["--tls-cert-file", "c", "--tls-private-key-file", "k", "--dynamic-serving-leaf-duration", "7 days"],
            "--dynamic-serving-leaf-duration",
        ),
        (["--tls-cert-file", "c", "--tls-private-key-file", "k", "--feature-gates", "Nope=true"], "Nope"),
        (["--tls-cert-file", "c", "--tls-private-key-file", "k", "--tls-min-version", "VersionTLS10"], "TLS10"),
        (
            ["--tls-cert-file", "c", "--tls-private-key-file", "k", "--enable-client-verification"],
            "you must also provide --client-ca-path",
        ),
        (["--tls-cert-file", "c", "--tls-private-key-file", "k", "--secure-port", "70000"], "--secure-port"),
    ],
    ids=[
        "cert-without-key",
        "no-certificate",
        "files-and-dynamic",
        "dynamic-without-names",
        "bad-leaf-duration",
        "unknown-gate",
        "old-tls",
        "client-verification-without-ca",
        "bad-port",
    ],
)
def test_bad_flags_are_refused_before_anything_starts(args: list[str], message: str) -> None:
    result = CliRunner().invoke(cli, ["webhook", *args])
    assert result.exit_code == 2
    assert message in result.output


def test_flags_become_a_config(tmp_path: Path, pki: Pki) -> None:
    client_ca = tmp_path / "client-ca.crt"
    client_ca.write_bytes(pki.ca.cert_pem)
    config = make_config(
        bind_address="127.0.0.1",
        secure_port=10250,
        healthz_port=6080,
        tls_cert_file=None,
        tls_private_key_file=None,
        dynamic_serving_ca_secret_name="certkeeper-webhook-ca",
        dynamic_serving_ca_secret_namespace="certkeeper",
        dynamic_serving_dns_names=["certkeeper-webhook", "a.svc,b.svc"],
        dynamic_serving_leaf_duration="24h",
        kubeconfig=None,
        feature_gates="LiteralCertificateSubject=false",
        tls_min_version="VersionTLS13",
        enable_client_verification=True,
        client_ca_path=client_ca,
        client_subject_names=["kube-apiserver,front-proxy"],
    )
    assert config.dynamic
    assert config.dns_names == ("certkeeper-webhook", "a.svc", "b.svc")
    assert config.leaf_duration == timedelta(hours=24)
    assert config.gates.literal_certificate_subject is False
    assert config.tls.min_version.name == "TLSv1_3"
    assert config.tls.client_ca_pem == pki.ca.cert_pem
    assert config.client_subjects == ("kube-apiserver", "front-proxy")


async def test_dynamic_serving_needs_the_api_server(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    config = WebhookConfig(ca_secret_name="ca", ca_secret_namespace="ns", dns_names=("x",))
    with pytest.raises(ConfigError, match="need the API server"):
        await run_webhook(config, asyncio.Event())


async def test_files_without_an_api_server_validate_and_refuse_approvals_with_the_reason(
    pki: Pki, pair: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    port, health = _free_port(), _free_port()
    config = WebhookConfig(
        bind_address="127.0.0.1", secure_port=port, healthz_port=health, tls_cert_file=pair[0], tls_key_file=pair[1]
    )
    stop = asyncio.Event()
    serving = asyncio.create_task(run_webhook(config, stop))
    try:
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(ssl=pki.client_context())) as session:
            async with asyncio.timeout(5):
                while True:
                    try:
                        async with session.get(f"http://127.0.0.1:{health}/healthz") as response:
                            if response.status == 200:
                                break
                    except aiohttp.ClientConnectionError:
                        pass
                    await asyncio.sleep(0.05)
            url = f"https://127.0.0.1:{port}/validate"
            async with session.post(url, json=review("certificates", CERTIFICATE), server_hostname="localhost") as r:
                assert (await r.json())["response"]["allowed"] is True
            approval = review(
                "certificaterequests",
                certificate_request(conditions=[APPROVED]),
                operation="UPDATE",
                old=certificate_request(),
                sub_resource="status",
            )
            async with session.post(url, json=approval, server_hostname="localhost") as r:
                answer = (await r.json())["response"]
        assert answer["allowed"] is False
        assert answer["status"]["message"].endswith(NO_API_REASON)
    finally:
        stop.set()
        await asyncio.wait_for(serving, 10)


def test_the_command_serves_until_sigterm(pair: tuple[Path, Path]) -> None:
    port, health = _free_port(), _free_port()
    env = {k: v for k, v in os.environ.items() if k != "KUBERNETES_SERVICE_HOST"}
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "certkeeper",
            "webhook",
            "--bind-address=127.0.0.1",
            f"--secure-port={port}",
            f"--healthz-port={health}",
            f"--tls-cert-file={pair[0]}",
            f"--tls-private-key-file={pair[1]}",
        ],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            with socket.socket() as probe:
                if probe.connect_ex(("127.0.0.1", health)) == 0:
                    break
            time.sleep(0.1)
        else:
            pytest.fail("the webhook did not open its health port")
        process.send_signal(signal.SIGTERM)
        output, _ = process.communicate(timeout=15)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == 0, output.decode()
    assert f"serving admission on 127.0.0.1:{port} (HTTPS)".encode() in output
