"""One identity's way into the test API server: URL, CA, client certificate and key, kubeconfig.

Test support (see ``tests.harness.kube``): ``ControlPlane.client_for`` and ``service_account`` mint these.
"""

from __future__ import annotations

import os
import ssl
from dataclasses import dataclass
from pathlib import Path

import yaml


@dataclass(frozen=True, slots=True, kw_only=True)
class Identity:
    """How one user reaches the API server: URL, CA, and a client certificate naming the user and groups.

    ``kubeconfig`` is a ready kubeconfig file (files referenced by path) for clients that want one, such
    as ``kubernetes_asyncio.config.load_kube_config(config_file=str(identity.kubeconfig))``.
    """

    user: str
    groups: tuple[str, ...]
    server: str
    ca_file: Path
    cert_file: Path
    key_file: Path
    kubeconfig: Path

    def ssl_context(self) -> ssl.SSLContext:
        """A client TLS context that trusts only the harness CA and presents this identity's certificate."""
        context = ssl.create_default_context(cafile=str(self.ca_file))
        context.load_cert_chain(str(self.cert_file), str(self.key_file))
        return context

    def write_kubeconfig(self, path: Path, *, namespace: str | None = None) -> Path:
        """Write a kubeconfig for this identity to ``path`` (0600), optionally with a default namespace."""
        context: dict[str, str] = {"cluster": "certkeeper-test", "user": self.user}
        if namespace is not None:
            context["namespace"] = namespace
        document = {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [
                {
                    "name": "certkeeper-test",
                    "cluster": {"server": self.server, "certificate-authority": str(self.ca_file)},
                }
            ],
            "users": [
                {
                    "name": self.user,
                    "user": {"client-certificate": str(self.cert_file), "client-key": str(self.key_file)},
                }
            ],
            "contexts": [{"name": "certkeeper-test", "context": context}],
            "current-context": "certkeeper-test",
        }
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            yaml.safe_dump(document, f, sort_keys=False)
        return path
