"""Connection configuration: kubeconfig files, in-cluster files, TLS context, token sources."""

from __future__ import annotations

import base64
import datetime
import json
import ssl
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from certkeeper.runtime.clock import FakeClock
from certkeeper.store.kube.auth import ConfigError, ExecCredentials, StaticAuthorization, TokenFile
from certkeeper.store.kube.config import (
    ClusterConfig,
    kubeconfig_paths,
    load_in_cluster,
    load_kubeconfig,
    ssl_context,
)


@pytest.fixture(scope="module")
def pem_pair() -> tuple[bytes, bytes]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "admin")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(now - datetime.timedelta(minutes=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return cert.public_bytes(serialization.Encoding.PEM), key_pem


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def kubeconfig(
    *,
    clusters: list[dict[str, Any]] | None = None,
    users: list[dict[str, Any]] | None = None,
    contexts: list[dict[str, Any]] | None = None,
    current: str | None = "ctx",
) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": clusters if clusters is not None else [{"name": "c", "cluster": {"server": "https://h:6443/"}}],
        "users": users if users is not None else [{"name": "u", "user": {"token": "abc"}}],
        "contexts": contexts
        if contexts is not None
        else [{"name": "ctx", "context": {"cluster": "c", "user": "u", "namespace": "team"}}],
    }
    if current is not None:
        doc["current-context"] = current
    return doc


def write(path: Path, doc: object) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(doc))
    return path


async def test_kubeconfig_with_token_and_inline_ca(tmp_path: Path, pem_pair: tuple[bytes, bytes]) -> None:
    cert, _ = pem_pair
    doc = kubeconfig(
        clusters=[{"name": "c", "cluster": {"server": "https://h:6443/", "certificate-authority-data": b64(cert)}}]
    )
    config = load_kubeconfig(write(tmp_path / "config", doc))
    assert config.server == "https://h:6443"
    assert config.ca_data == cert
    assert config.namespace == "team"
    assert config.credentials is not None
    assert await config.credentials.authorization() == "Bearer abc"
    assert "abc" not in repr(config)


def test_kubeconfig_files_are_relative_to_the_kubeconfig(tmp_path: Path, pem_pair: tuple[bytes, bytes]) -> None:
    cert, key = pem_pair
    (tmp_path / "pki").mkdir()
    (tmp_path / "pki" / "ca.crt").write_bytes(cert)
    (tmp_path / "pki" / "me.crt").write_bytes(cert)
    (tmp_path / "pki" / "me.key").write_bytes(key)
    doc = kubeconfig(
        clusters=[{"name": "c", "cluster": {"server": "https://h", "certificate-authority": "pki/ca.crt"}}],
        users=[{"name": "u", "user": {"client-certificate": "pki/me.crt", "client-key": "pki/me.key"}}],
    )
    config = load_kubeconfig(write(tmp_path / "config", doc))
    assert (config.ca_data, config.client_cert_data, config.client_key_data) == (cert, cert, key)
    assert config.credentials is None
    assert "PRIVATE" not in repr(config)
    context = ssl_context(config)
    assert context.verify_mode is ssl.CERT_REQUIRED
    assert context.check_hostname


def test_a_named_context_and_other_settings(tmp_path: Path) -> None:
    doc = kubeconfig(
        clusters=[
            {"name": "c", "cluster": {"server": "https://h"}},
            {
                "name": "d",
                "cluster": {
                    "server": "https://other/prefix",
                    "insecure-skip-tls-verify": True,
                    "tls-server-name": "api.internal",
                    "proxy-url": "http://proxy:3128",
                },
            },
        ],
        users=[{"name": "u", "user": {"username": "me", "password": "pw"}}],
        contexts=[
            {"name": "ctx", "context": {"cluster": "c", "user": "u"}},
            {"name": "other", "context": {"cluster": "d", "user": "u"}},
        ],
    )
    config = load_kubeconfig(write(tmp_path / "config", doc), context="other")
    assert config.server == "https://other/prefix"
    assert config.insecure_skip_tls_verify
    assert config.tls_server_name == "api.internal"
    assert config.proxy_url == "http://proxy:3128"
    assert config.namespace == "default"
    assert isinstance(config.credentials, StaticAuthorization)
    assert ssl_context(config).verify_mode is ssl.CERT_NONE


def test_kubeconfig_env_merges_first_name_wins(tmp_path: Path) -> None:
    first = write(
        tmp_path / "a",
        kubeconfig(clusters=[{"name": "c", "cluster": {"server": "https://first"}}], users=[], contexts=[]),
    )
    second = write(
        tmp_path / "b",
        kubeconfig(
            clusters=[{"name": "c", "cluster": {"server": "https://second"}}],
            contexts=[{"name": "ctx", "context": {"cluster": "c", "user": "u"}}],
            current="ignored",
        ),
    )
    missing = tmp_path / "missing"
    env = {"KUBECONFIG": f"{missing}:{first}:{second}"}
    assert kubeconfig_paths(None, env) == [first, second]
    config = load_kubeconfig(env=env)
    assert config.server == "https://first"  # the first file's cluster, its current-context
    assert config.credentials is not None


def test_token_file_user(tmp_path: Path) -> None:
    (tmp_path / "tok").write_text("s3cret\n")
    doc = kubeconfig(users=[{"name": "u", "user": {"tokenFile": "tok"}}])
    config = load_kubeconfig(write(tmp_path / "config", doc))
    assert isinstance(config.credentials, TokenFile)
    assert config.credentials.path == tmp_path / "tok"


@pytest.mark.parametrize(
    ("doc", "message"),
    [
        (kubeconfig(current=None), "no current-context"),
        (kubeconfig(current="nope"), "context 'nope' is not in"),
        (kubeconfig(contexts=[{"name": "ctx", "context": {"cluster": "zz"}}]), "names cluster 'zz'"),
        (kubeconfig(contexts=[{"name": "ctx", "context": {"cluster": "c", "user": "zz"}}]), "names user 'zz'"),
        (kubeconfig(clusters=[{"name": "c", "cluster": {"server": "h:6443"}}]), "needs a server URL"),
        (kubeconfig(users=[{"name": "u", "user": {"auth-provider": {"name": "gcp"}}}]), "auth-provider"),
        (kubeconfig(users=[{"name": "u", "user": {"client-certificate-data": "QQ=="}}]), "both a client certificate"),
        (
            kubeconfig(clusters=[{"name": "c", "cluster": {"server": "https://h", "certificate-authority-data": "!"}}]),
            "not valid base64",
        ),
        (kubeconfig(users=[{"name": "u", "user": {"tokenFile": "absent"}}]), "cannot read the token file"),
        ([1, 2], "not a mapping"),
    ],
    ids=[
        "no-current",
        "unknown-context",
        "unknown-cluster",
        "unknown-user",
        "no-scheme",
        "auth-provider",
        "half-a-keypair",
        "bad-base64",
        "missing-token-file",
        "not-a-mapping",
    ],
)
def test_kubeconfig_errors(tmp_path: Path, doc: object, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        load_kubeconfig(write(tmp_path / "config", doc))


def test_unreadable_kubeconfig(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read the kubeconfig"):
        load_kubeconfig(tmp_path / "absent")
    (tmp_path / "bad").write_text("a: [")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_kubeconfig(tmp_path / "bad")
    with pytest.raises(ConfigError, match="none of the files in KUBECONFIG"):
        kubeconfig_paths(None, {"KUBECONFIG": str(tmp_path / "absent")})


def sa_dir(tmp_path: Path, cert: bytes, *, namespace: str | None = "cert-manager") -> Path:
    directory = tmp_path / "sa"
    directory.mkdir()
    (directory / "token").write_text("tok-1")
    (directory / "ca.crt").write_bytes(cert)
    if namespace is not None:
        (directory / "namespace").write_text(namespace)
    return directory


async def test_in_cluster(tmp_path: Path, pem_pair: tuple[bytes, bytes]) -> None:
    cert, _ = pem_pair
    directory = sa_dir(tmp_path, cert)
    env = {"KUBERNETES_SERVICE_HOST": "10.0.0.1", "KUBERNETES_SERVICE_PORT": "443"}
    config = load_in_cluster(env=env, directory=directory)
    assert config.server == "https://10.0.0.1:443"
    assert config.ca_data == cert
    assert config.namespace == "cert-manager"
    assert config.credentials is not None
    assert await config.credentials.authorization() == "Bearer tok-1"
    ipv6 = load_in_cluster(env={**env, "KUBERNETES_SERVICE_HOST": "fd00::1"}, directory=directory)
    assert ipv6.server == "https://[fd00::1]:443"


@pytest.mark.parametrize(
    ("env", "remove", "message"),
    [
        ({}, None, "KUBERNETES_SERVICE_HOST"),
        ({"KUBERNETES_SERVICE_HOST": "h", "KUBERNETES_SERVICE_PORT": "1"}, "token", "token file"),
        ({"KUBERNETES_SERVICE_HOST": "h", "KUBERNETES_SERVICE_PORT": "1"}, "ca.crt", "service account CA"),
    ],
    ids=["no-env", "no-token", "no-ca"],
)
def test_in_cluster_errors(
    tmp_path: Path, pem_pair: tuple[bytes, bytes], env: dict[str, str], remove: str | None, message: str
) -> None:
    directory = sa_dir(tmp_path, pem_pair[0], namespace=None)
    if remove:
        (directory / remove).unlink()
    with pytest.raises(ConfigError, match=message):
        load_in_cluster(env=env, directory=directory)


def test_in_cluster_namespace_defaults(tmp_path: Path, pem_pair: tuple[bytes, bytes]) -> None:
    env = {"KUBERNETES_SERVICE_HOST": "h", "KUBERNETES_SERVICE_PORT": "1"}
    assert load_in_cluster(env=env, directory=sa_dir(tmp_path, pem_pair[0], namespace=None)).namespace == "default"


def test_ssl_context_refuses_bad_material(pem_pair: tuple[bytes, bytes]) -> None:
    cert, key = pem_pair
    with pytest.raises(ConfigError, match="certificate authority data"):
        ssl_context(ClusterConfig(server="https://h", ca_data=b"not pem"))
    with pytest.raises(ConfigError, match="unusable") as caught:
        ssl_context(ClusterConfig(server="https://h", client_cert_data=cert, client_key_data=b"garbage"))
    assert "garbage" not in str(caught.value)
    other_key = ec.generate_private_key(ec.SECP256R1()).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    with pytest.raises(ConfigError, match="do not match"):
        ssl_context(ClusterConfig(server="https://h", client_cert_data=cert, client_key_data=other_key))
    assert ssl_context(ClusterConfig(server="https://h", client_cert_data=cert, client_key_data=key))


async def test_token_file_is_reread_after_the_refresh_period(tmp_path: Path) -> None:
    clock = FakeClock()
    path = tmp_path / "token"
    path.write_text("one")
    source = TokenFile(path, refresh_seconds=60, clock=clock)
    assert await source.authorization() == "Bearer one"
    path.write_text("two")
    clock.advance(59)
    assert await source.authorization() == "Bearer one"
    clock.advance(1)
    assert await source.authorization() == "Bearer two"
    path.write_text("three")
    source.invalidate()  # a 401: read at once
    assert await source.authorization() == "Bearer three"
    path.unlink()  # mid-rotation: keep the last good token
    clock.advance(60)
    assert await source.authorization() == "Bearer three"
    assert "three" not in repr(source)


async def test_token_file_must_exist_at_first(tmp_path: Path) -> None:
    (tmp_path / "empty").write_text("  \n")
    with pytest.raises(ConfigError, match="empty"):
        await TokenFile(tmp_path / "empty").authorization()


def exec_plugin(tmp_path: Path, outputs: list[dict[str, Any]]) -> Path:
    """A plugin printing the next of ``outputs`` on each run (the run count kept in a file)."""
    script = tmp_path / "plugin.py"
    counter = tmp_path / "runs"
    script.write_text(
        f"#!{sys.executable}\n"
        "import json, pathlib\n"
        f"counter = pathlib.Path({str(counter)!r})\n"
        "n = int(counter.read_text()) if counter.exists() else 0\n"
        "counter.write_text(str(n + 1))\n"
        f"outputs = json.loads({json.dumps(json.dumps(outputs))})\n"
        "print(json.dumps(outputs[min(n, len(outputs) - 1)]))\n"
    )
    script.chmod(0o700)
    return script


def credential(token: str, expiry: str | None = None) -> dict[str, Any]:
    status: dict[str, Any] = {"token": token}
    if expiry:
        status["expirationTimestamp"] = expiry
    return {"apiVersion": "client.authentication.k8s.io/v1", "kind": "ExecCredential", "status": status}


async def test_exec_plugin_token_is_cached_until_it_expires(tmp_path: Path) -> None:
    clock = FakeClock(datetime.datetime(2025, 1, 1, tzinfo=datetime.UTC))
    plugin = exec_plugin(tmp_path, [credential("t1", "2025-01-01T00:01:00Z"), credential("t2")])
    doc = kubeconfig(
        users=[
            {
                "name": "u",
                "user": {"exec": {"apiVersion": "client.authentication.k8s.io/v1", "command": f"./{plugin.name}"}},
            }
        ]
    )
    config = load_kubeconfig(write(tmp_path / "config", doc), clock=clock)
    assert isinstance(config.credentials, ExecCredentials)
    assert await config.credentials.authorization() == "Bearer t1"
    clock.advance(45)
    assert await config.credentials.authorization() == "Bearer t1"
    clock.advance(10)  # within the margin before expiry: renewed
    assert await config.credentials.authorization() == "Bearer t2"
    assert await config.credentials.authorization() == "Bearer t2"  # no expiry: cached
    assert (tmp_path / "runs").read_text() == "2"


async def test_exec_plugin_failures(tmp_path: Path) -> None:
    failing = tmp_path / "fail.sh"
    failing.write_text("#!/bin/sh\necho nope >&2\nexit 3\n")
    failing.chmod(0o700)
    with pytest.raises(ConfigError, match="failed"):
        await ExecCredentials(
            {"apiVersion": "client.authentication.k8s.io/v1", "command": str(failing)}
        ).authorization()
    no_token = exec_plugin(
        tmp_path, [{"apiVersion": "client.authentication.k8s.io/v1", "kind": "ExecCredential", "status": {}}]
    )
    with pytest.raises(ConfigError, match="no token"):
        await ExecCredentials(
            {"apiVersion": "client.authentication.k8s.io/v1", "command": str(no_token)}
        ).authorization()
    with pytest.raises(ConfigError, match="command field is required"):
        ExecCredentials({"apiVersion": "v1"})
