"""Where the ``Authorization`` header comes from: a fixed token, a token file re-read periodically
(bound service-account tokens are rotated by the kubelet), or a kubeconfig ``exec`` plugin.

Follows client-go's ``transport.NewCachedFileTokenSource`` (re-read the file at most once a minute,
keep the last good token when a read fails) and ``plugin/pkg/client/auth/exec`` (run the plugin, keep its
token until ``expirationTimestamp`` or until the server answers 401). The exec plugin itself is run by
``kubernetes_asyncio``'s ``ExecProvider``. Tokens never appear in ``repr``, logs or error messages.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Protocol

from certkeeper.store.kube.clock import Clock, SystemClock

log = logging.getLogger(__name__)

#: How long a token read from a file is used before the file is read again (client-go: one minute).
TOKEN_FILE_REFRESH_SECONDS = 60.0
#: An exec token is renewed this long before it expires, so no request goes out with a dying one.
EXEC_EXPIRY_MARGIN = timedelta(seconds=10)


class ConfigError(Exception):
    """The connection configuration (kubeconfig, in-cluster files, credentials) is unusable."""


class Credentials(Protocol):
    async def authorization(self) -> str | None:
        """The ``Authorization`` header value for the next request, or None to send none."""
        ...

    def invalidate(self) -> None:
        """The server refused the last value (401): obtain a fresh one before the next request."""
        ...


class StaticAuthorization:
    """A fixed header value (``Bearer <token>`` or ``Basic <b64>``)."""

    def __init__(self, header: str) -> None:
        self._header = header

    def __repr__(self) -> str:
        return "StaticAuthorization(<redacted>)"

    async def authorization(self) -> str | None:
        return self._header

    def invalidate(self) -> None:
        """A fixed token cannot be renewed; the caller sees the 401."""


class TokenFile:
    """A bearer token read from ``path`` and re-read every ``refresh_seconds`` (or after a 401)."""

    def __init__(
        self, path: Path, *, refresh_seconds: float = TOKEN_FILE_REFRESH_SECONDS, clock: Clock | None = None
    ) -> None:
        self.path = path
        self._refresh = refresh_seconds
        self._clock = clock or SystemClock()
        self._token: str | None = None
        self._read_at = 0.0

    def __repr__(self) -> str:
        return f"TokenFile({str(self.path)!r})"

    def read(self) -> str:
        """Read the file now (ConfigError when it is missing or empty)."""
        try:
            token = self.path.read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise ConfigError(f"cannot read the token file {self.path}: {exc.strerror}") from None
        if not token:
            raise ConfigError(f"the token file {self.path} is empty")
        self._token, self._read_at = token, self._clock.monotonic()
        return token

    async def authorization(self) -> str | None:
        if self._token is None or self._clock.monotonic() - self._read_at >= self._refresh:
            try:
                self.read()
            except ConfigError:
                if self._token is None:
                    raise
                # A rotation in progress can leave the file briefly unreadable: the old token still works.
                log.warning("keeping the previous token: %s could not be read", self.path)
                self._read_at = self._clock.monotonic()
        return f"Bearer {self._token}"

    def invalidate(self) -> None:
        self._read_at = float("-inf")


class ExecCredentials:
    """A token from a kubeconfig ``exec`` plugin (``client.authentication.k8s.io``), cached until it expires."""

    def __init__(self, exec_config: dict[str, Any], *, clock: Clock | None = None) -> None:
        for key in ("command", "apiVersion"):
            if not exec_config.get(key):
                raise ConfigError(f"exec: the {key} field is required")
        self._config = exec_config
        self._clock = clock or SystemClock()
        self._token: str | None = None
        self._expiry: datetime | None = None
        self._lock = asyncio.Lock()

    def __repr__(self) -> str:
        return f"ExecCredentials({self._config.get('command')!r})"

    def _valid(self) -> bool:
        if self._token is None:
            return False
        return self._expiry is None or self._clock.now() + EXEC_EXPIRY_MARGIN < self._expiry

    async def authorization(self) -> str | None:
        async with self._lock:
            if not self._valid():
                await self._run()
        return f"Bearer {self._token}"

    async def _run(self) -> None:
        from kubernetes_asyncio.config.config_exception import ConfigException
        from kubernetes_asyncio.config.exec_provider import ExecProvider
        from kubernetes_asyncio.config.kube_config import ConfigNode

        try:
            status = await ExecProvider(ConfigNode("exec", self._config)).run()
        except (ConfigException, OSError) as exc:
            raise ConfigError(f"exec plugin {self._config.get('command')!r} failed: {exc}") from None
        token = status.get("token") if isinstance(status, dict) else None
        if not isinstance(token, str) or not token:
            raise ConfigError("exec plugin returned no token (client certificates from plugins are not supported)")
        self._token = token
        expiry = status.get("expirationTimestamp")
        self._expiry = None
        if isinstance(expiry, str) and expiry:
            try:
                parsed = datetime.fromisoformat(expiry.replace("Z", "+00:00"))
            except ValueError:
                raise ConfigError(f"exec plugin returned an unreadable expirationTimestamp {expiry!r}") from None
            self._expiry = parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)

    def invalidate(self) -> None:
        self._token = None
