"""``certkeeper local`` end to end, as a user runs it: a subprocess on a directory of manifests."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = REPO / "examples" / "local"
ENV = {**os.environ, "COLUMNS": "200"}


def certkeeper(*args: str, cwd: Path, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "certkeeper", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
        env=ENV,
    )


def start(*args: str, cwd: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "certkeeper", *args],
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=ENV,
    )


def wait_for(condition: Callable[[], bool], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.1)
    raise AssertionError("condition not reached in time")


def openssl_verify(ca: Path, *certs: Path) -> None:
    result = subprocess.run(
        ["openssl", "verify", "-CAfile", str(ca), *map(str, certs)], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr


def key_matches_cert(key: Path, cert: Path) -> bool:
    def pub(*cmd: str) -> str:
        return subprocess.run(["openssl", *cmd], capture_output=True, text=True, check=True).stdout

    return pub("pkey", "-in", str(key), "-pubout") == pub("x509", "-in", str(cert), "-noout", "-pubkey")


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    shutil.copytree(EXAMPLES, tmp_path / "manifests")
    return tmp_path


def test_examples_issue_once_verify_with_openssl_and_do_not_reissue_on_restart(workdir: Path) -> None:
    manifests = workdir / "manifests"
    hook_log = workdir / "hooks.log"
    fields = "$CERTKEEPER_NAMESPACE/$CERTKEEPER_CERTIFICATE $CERTKEEPER_REVISION $CERTKEEPER_CERT_FILE"
    hook = f'echo "{fields}" >> {hook_log}'
    first = certkeeper("local", str(manifests), "--once", "--plain", "--hook", hook, cwd=workdir)
    assert first.returncode == 0, first.stdout + first.stderr
    out = manifests / ".certkeeper" / "secrets" / "default"
    openssl_verify(out / "example-ca" / "ca.crt", out / "www-tls" / "tls.crt", out / "api-tls" / "tls.crt")
    for name in ("www-tls", "api-tls", "example-ca"):
        assert key_matches_cert(out / name / "tls.key", out / name / "tls.crt")
        assert (out / name / "tls.key").stat().st_mode & 0o777 == 0o600
    san = subprocess.run(
        ["openssl", "x509", "-in", str(out / "www-tls" / "tls.crt"), "-noout", "-ext", "subjectAltName"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert "DNS:www.example.internal" in san
    assert "IP Address:127.0.0.1" in san
    assert (out / "api-tls" / "tls-combined.pem").read_bytes().startswith(b"-----BEGIN PRIVATE KEY-----")
    runs = sorted(hook_log.read_text().splitlines())
    assert [line.split()[0] for line in runs] == ["default/api", "default/example-ca", "default/www"]
    assert all(line.split()[1] == "1" for line in runs)
    assert Path(runs[-1].split()[2]).exists()

    before = (out / "www-tls" / "tls.crt").read_bytes()
    second = certkeeper("local", str(manifests), "--once", "--plain", "--hook", hook, cwd=workdir)
    assert second.returncode == 0, second.stdout + second.stderr
    assert (out / "www-tls" / "tls.crt").read_bytes() == before
    assert len(hook_log.read_text().splitlines()) == 3  # no re-issuance, no hook

    status = certkeeper("local", "status", str(manifests), cwd=workdir)
    assert status.returncode == 0, status.stderr
    assert status.stdout.count("Ready") == 3


def test_watches_the_directory_and_reissues_on_edit(workdir: Path) -> None:
    manifests = workdir / "manifests"
    proc = start("local", str(manifests), "--plain", "--poll-interval", "0.2", cwd=workdir)
    try:
        crt = manifests / ".certkeeper" / "secrets" / "default" / "www-tls" / "tls.crt"
        wait_for(crt.exists)
        leaf = manifests / "03-leaf-certificates.yaml"
        added = "- example.internal\n    - new.example.internal"
        leaf.write_text(leaf.read_text().replace("- example.internal", added))

        def has_new_name() -> bool:
            text = subprocess.run(
                ["openssl", "x509", "-in", str(crt), "-noout", "-ext", "subjectAltName"],
                capture_output=True,
                text=True,
                check=False,
            ).stdout
            return "new.example.internal" in text

        wait_for(has_new_name)
        status = certkeeper("local", "status", str(manifests), cwd=workdir)  # reads the runner's snapshot
        assert "default/www" in status.stdout
    finally:
        proc.send_signal(signal.SIGTERM)
        output, _ = proc.communicate(timeout=30)
    assert proc.returncode == 0, output


BROKEN = {
    "bad-yaml.yaml": "kind: [unclosed\n",
    "unknown-kind.yaml": "apiVersion: example.com/v1\nkind: Widget\nmetadata: {name: w}\n",
    "bad-spec.yaml": (
        "apiVersion: cert-manager.io/v1\nkind: Certificate\nmetadata: {name: bad, namespace: default}\n"
        "spec:\n  secretName: bad-tls\n  issuerRef: {name: example-ca}\n  dnsNames: ['not a name!']\n"
        "  privateKey: {algorithm: RSA, size: 1024}\n"
    ),
    "missing-issuer.yaml": (
        "apiVersion: cert-manager.io/v1\nkind: Certificate\nmetadata: {name: orphan, namespace: default}\n"
        "spec:\n  secretName: orphan-tls\n  commonName: orphan.example\n  issuerRef: {name: nowhere}\n"
    ),
}


def test_bad_input_is_reported_with_file_and_field_and_everything_else_runs(workdir: Path) -> None:
    manifests = workdir / "manifests"
    for name, text in BROKEN.items():
        (manifests / name).write_text(text)
    result = certkeeper("local", str(manifests), "--once", "--plain", "--timeout", "60", cwd=workdir)
    assert result.returncode == 1
    output = " ".join(result.stdout.split())  # the table may wrap
    assert "bad-yaml.yaml" in output
    assert "invalid YAML" in output
    assert 'no matches for kind "Widget"' in output
    assert "bad-spec.yaml" in output
    assert "spec.privateKey.size" in output
    assert "orphan" in output
    assert 'Referenced "Issuer" not found' in output
    out = manifests / ".certkeeper" / "secrets" / "default"
    openssl_verify(out / "example-ca" / "ca.crt", out / "www-tls" / "tls.crt", out / "api-tls" / "tls.crt")
    assert not (out / "bad-tls").exists()


def test_sigkill_during_issuance_then_restart_loses_and_corrupts_nothing(workdir: Path) -> None:
    manifests = workdir / "manifests"
    many = "".join(
        f"---\napiVersion: cert-manager.io/v1\nkind: Certificate\nmetadata: {{name: svc{i}, namespace: default}}\n"
        f"spec:\n  secretName: svc{i}-tls\n  dnsNames: [svc{i}.example.internal]\n"
        "  privateKey: {algorithm: RSA, size: 4096}\n  issuerRef: {name: example-ca}\n"
        for i in range(12)
    )
    (manifests / "04-many.yaml").write_text(many)
    out = manifests / ".certkeeper" / "secrets" / "default"
    proc = start("local", str(manifests), "--plain", cwd=workdir)
    wait_for(lambda: (out / "example-ca").exists() and any(out.glob("svc*-tls")), timeout=60)
    proc.send_signal(signal.SIGKILL)
    proc.communicate(timeout=30)
    done_before = {p.name for p in out.glob("svc*-tls")}
    assert len(done_before) < 12, "the kill should land while issuance is still going on"

    result = certkeeper("local", str(manifests), "--once", "--plain", cwd=workdir)
    assert result.returncode == 0, result.stdout + result.stderr
    for i in range(12):
        crt, key = out / f"svc{i}-tls" / "tls.crt", out / f"svc{i}-tls" / "tls.key"
        openssl_verify(out / "example-ca" / "ca.crt", crt)
        assert key_matches_cert(key, crt)
