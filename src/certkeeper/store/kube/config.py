"""Where the API server is and how to authenticate: from a kubeconfig file or from inside a Pod.

Follows client-go's ``clientcmd`` (kubeconfig: ``KUBECONFIG`` path list merged first-name-wins, the
current or a named context, relative paths resolved against the file that names them, ``*-data`` fields
base64) and ``rest.InClusterConfig`` (``KUBERNETES_SERVICE_HOST``/``_PORT``, the service-account token,
CA and namespace files, the token re-read as the kubelet rotates it). ``ssl_context`` turns the result
into the TLS settings of the shared HTTP session. Reads files; no network. Key material is kept in
memory, never in ``repr`` or messages; the client key touches disk only in a private temporary
directory for the instant ``ssl`` needs a path to load it.
"""

from __future__ import annotations

import base64
import binascii
import os
import ssl
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

import yaml

from certkeeper.store.kube.auth import ConfigError, Credentials, ExecCredentials, StaticAuthorization, TokenFile
from certkeeper.store.kube.clock import Clock

SERVICE_ACCOUNT_DIR: Final = Path("/var/run/secrets/kubernetes.io/serviceaccount")
DEFAULT_KUBECONFIG: Final = Path("~/.kube/config")
_MAX_KUBECONFIG_BYTES: Final = 16 * 1024 * 1024


@dataclass(frozen=True, slots=True, kw_only=True)
class ClusterConfig:
    """Everything the HTTP session needs to reach and authenticate to one API server."""

    #: ``https://host:port`` plus an optional path prefix (a proxy in front of the API server).
    server: str
    #: PEM certificates trusted for the server; None uses the system's trust store.
    ca_data: bytes | None = None
    client_cert_data: bytes | None = field(default=None, repr=False)
    client_key_data: bytes | None = field(default=None, repr=False)
    credentials: Credentials | None = field(default=None, repr=False)
    insecure_skip_tls_verify: bool = False
    #: The name to verify the server certificate against, when it is not the host in ``server``.
    tls_server_name: str = ""
    proxy_url: str = ""
    #: The namespace of the context (or the Pod's), for callers that need a default.
    namespace: str = "default"


def _read(path: Path, what: str) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"cannot read {what} {path}: {exc.strerror}") from None


def _b64(value: object, what: str) -> bytes:
    if not isinstance(value, str):
        raise ConfigError(f"{what} must be a base64 string")
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise ConfigError(f"{what} is not valid base64") from None


def _data_or_file(section: Mapping[str, Any], key: str, base: Path, what: str) -> bytes | None:
    """``<key>-data`` (base64) or ``<key>`` (a path relative to the kubeconfig's directory)."""
    if section.get(f"{key}-data"):
        return _b64(section[f"{key}-data"], f"{what} ({key}-data)")
    if section.get(key):
        return _read(base / str(section[key]), what)
    return None


# -- kubeconfig ----------------------------------------------------------------------------------------


@dataclass(slots=True)
class _Merged:
    """The kubeconfig files merged: each named entry with the directory of the file it came from."""

    current_context: str = ""
    clusters: dict[str, tuple[dict[str, Any], Path]] = field(default_factory=dict)
    users: dict[str, tuple[dict[str, Any], Path]] = field(default_factory=dict)
    contexts: dict[str, dict[str, Any]] = field(default_factory=dict)


def _merge_file(merged: _Merged, path: Path) -> None:
    raw = _read(path, "the kubeconfig")
    if len(raw) > _MAX_KUBECONFIG_BYTES:
        raise ConfigError(f"the kubeconfig {path} is larger than {_MAX_KUBECONFIG_BYTES} bytes")
    try:
        doc = yaml.load(raw, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))  # noqa: S506 - a safe loader
    except yaml.YAMLError as exc:
        raise ConfigError(f"the kubeconfig {path} is not valid YAML: {exc}") from None
    if doc is None:
        return
    if not isinstance(doc, dict):
        raise ConfigError(f"the kubeconfig {path} is not a mapping")
    if not merged.current_context and isinstance(doc.get("current-context"), str):
        merged.current_context = doc["current-context"]
    base = path.parent
    for list_key, entry_key, target in (("clusters", "cluster", merged.clusters), ("users", "user", merged.users)):
        for entry in doc.get(list_key) or []:
            if isinstance(entry, dict) and isinstance(entry.get("name"), str) and entry["name"] not in target:
                target[entry["name"]] = (entry.get(entry_key) or {}, base)
    for entry in doc.get("contexts") or []:
        if isinstance(entry, dict) and isinstance(entry.get("name"), str) and entry["name"] not in merged.contexts:
            merged.contexts[entry["name"]] = entry.get("context") or {}


def kubeconfig_paths(path: str | os.PathLike[str] | None = None, env: Mapping[str, str] | None = None) -> list[Path]:
    """The files to merge: ``path``; else every entry of ``KUBECONFIG``; else ``~/.kube/config``."""
    env = os.environ if env is None else env
    if path is not None:
        return [Path(path).expanduser()]
    listed = [Path(p).expanduser() for p in env.get("KUBECONFIG", "").split(os.pathsep) if p]
    if listed:
        # Missing files in the list are skipped, as kubectl does; at least one must exist.
        existing = [p for p in listed if p.exists()]
        if not existing:
            raise ConfigError("none of the files in KUBECONFIG exists")
        return existing
    return [DEFAULT_KUBECONFIG.expanduser()]


def _credentials(user: Mapping[str, Any], base: Path, clock: Clock | None) -> Credentials | None:
    if user.get("auth-provider"):
        raise ConfigError("kubeconfig auth-provider plugins are not supported; use an exec plugin")
    if isinstance(user.get("exec"), dict):
        exec_config = dict(user["exec"])
        if isinstance(exec_config.get("command"), str) and "/" in exec_config["command"]:
            exec_config["command"] = str(base / exec_config["command"])
        return ExecCredentials(exec_config, clock=clock)
    if isinstance(user.get("token"), str) and user["token"]:
        return StaticAuthorization(f"Bearer {user['token']}")
    if isinstance(user.get("tokenFile"), str) and user["tokenFile"]:
        token_file = TokenFile(base / user["tokenFile"], clock=clock)
        token_file.read()
        return token_file
    if user.get("username") and user.get("password"):
        basic = base64.b64encode(f"{user['username']}:{user['password']}".encode()).decode("ascii")
        return StaticAuthorization(f"Basic {basic}")
    return None


def load_kubeconfig(
    path: str | os.PathLike[str] | None = None,
    *,
    context: str | None = None,
    env: Mapping[str, str] | None = None,
    clock: Clock | None = None,
) -> ClusterConfig:
    """The ``ClusterConfig`` of ``context`` (default: the current context) in the kubeconfig at ``path``
    (default: ``$KUBECONFIG``, else ``~/.kube/config``)."""
    merged = _Merged()
    for file in kubeconfig_paths(path, env):
        _merge_file(merged, file)
    name = context or merged.current_context
    if not name:
        raise ConfigError("the kubeconfig has no current-context and none was given")
    ctx = merged.contexts.get(name)
    if ctx is None:
        raise ConfigError(f"context {name!r} is not in the kubeconfig")
    cluster_name = ctx.get("cluster")
    if not isinstance(cluster_name, str) or cluster_name not in merged.clusters:
        raise ConfigError(f"context {name!r} names cluster {cluster_name!r}, which is not in the kubeconfig")
    cluster, cluster_base = merged.clusters[cluster_name]
    server = cluster.get("server")
    if not isinstance(server, str) or not server.startswith(("https://", "http://")):
        raise ConfigError(f"cluster {cluster_name!r} needs a server URL (https://host:port)")
    user: Mapping[str, Any] = {}
    user_base = cluster_base
    user_name = ctx.get("user")
    if isinstance(user_name, str) and user_name:
        if user_name not in merged.users:
            raise ConfigError(f"context {name!r} names user {user_name!r}, which is not in the kubeconfig")
        user, user_base = merged.users[user_name]
    cert = _data_or_file(user, "client-certificate", user_base, "the client certificate")
    key = _data_or_file(user, "client-key", user_base, "the client key")
    if (cert is None) != (key is None):
        raise ConfigError(f"user {user_name!r} needs both a client certificate and a client key")
    return ClusterConfig(
        server=server.rstrip("/"),
        ca_data=_data_or_file(cluster, "certificate-authority", cluster_base, "the certificate authority"),
        client_cert_data=cert,
        client_key_data=key,
        credentials=_credentials(user, user_base, clock),
        insecure_skip_tls_verify=bool(cluster.get("insecure-skip-tls-verify")),
        tls_server_name=str(cluster.get("tls-server-name") or ""),
        proxy_url=str(cluster.get("proxy-url") or ""),
        namespace=str(ctx.get("namespace") or "default"),
    )


# -- in-cluster ----------------------------------------------------------------------------------------


def _join_host_port(host: str, port: str) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def load_in_cluster(
    *, env: Mapping[str, str] | None = None, directory: Path = SERVICE_ACCOUNT_DIR, clock: Clock | None = None
) -> ClusterConfig:
    """The Pod's own service account: ``KUBERNETES_SERVICE_HOST``/``_PORT`` and the files in ``directory``."""
    env = os.environ if env is None else env
    host, port = env.get("KUBERNETES_SERVICE_HOST", ""), env.get("KUBERNETES_SERVICE_PORT", "")
    if not host or not port:
        raise ConfigError("not running in a cluster: KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT must be set")
    token = TokenFile(directory / "token", clock=clock)
    token.read()
    ca = _read(directory / "ca.crt", "the service account CA")
    if not ca.strip():
        raise ConfigError(f"the service account CA {directory / 'ca.crt'} is empty")
    try:
        namespace = (directory / "namespace").read_text(encoding="utf-8").strip() or "default"
    except OSError:
        namespace = "default"
    return ClusterConfig(
        server=f"https://{_join_host_port(host, port)}", ca_data=ca, credentials=token, namespace=namespace
    )


# -- TLS -----------------------------------------------------------------------------------------------


def ssl_context(config: ClusterConfig) -> ssl.SSLContext:
    """TLS for the API server: the configured CA (else the system's), and the client certificate if any."""
    try:
        if config.ca_data:
            context = ssl.create_default_context(cadata=config.ca_data.decode("ascii"))
        else:
            context = ssl.create_default_context()
    except (ssl.SSLError, ValueError, UnicodeDecodeError):
        raise ConfigError("the certificate authority data is not a PEM certificate bundle") from None
    if config.insecure_skip_tls_verify:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    if config.client_cert_data and config.client_key_data:
        # ssl loads certificates only from files: a private directory, removed as soon as they are loaded.
        with tempfile.TemporaryDirectory(prefix="certkeeper-tls-") as directory:
            cert_path, key_path = Path(directory, "tls.crt"), Path(directory, "tls.key")
            for path, data in ((cert_path, config.client_cert_data), (key_path, config.client_key_data)):
                fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
                with os.fdopen(fd, "wb") as handle:
                    handle.write(data)
            try:
                context.load_cert_chain(cert_path, key_path)
            except ssl.SSLError:
                raise ConfigError("the client certificate and key are unusable or do not match") from None
    return context
