"""The ACME issuer's set-up: the account key, account registration and the client registry.

Follows ``pkg/issuer/acme/setup.go`` and ``pkg/acme/accounts``: the account key lives in
``privateKeySecretRef`` (generated as RSA-2048 PKCS#1 when missing, unless
``disableAccountKeyGeneration``; never replaced, so a restart reuses the same account); the account is
registered (or found) with the email and External Account Binding; ``status.acme`` records the account
URI, the registered email and a hash of the key, so that later set-ups skip the round trip when nothing
changed. One client per issuer UID is kept in the :class:`AccountRegistry`, which the Order and
Challenge controllers use. Signing itself goes through Orders (``controllers/acme_requests.py``).
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final
from urllib.parse import urlsplit

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from certkeeper.acme.client import AcmeClient
from certkeeper.acme.errors import AcmeError, AcmeProblem
from certkeeper.acme.jws import AccountKey, ExternalAccountBinding, MacAlgorithm, decode_eab_key
from certkeeper.acme.transport import AiohttpTransport, TlsOptions, Transport
from certkeeper.api.acme import ACMEIssuer, ACMEIssuerStatus
from certkeeper.api.certmanager import CertificateRequest
from certkeeper.api.conditions import has_condition
from certkeeper.api.constants import TLS_PRIVATE_KEY_KEY, IssuerConditionType
from certkeeper.api.core import Secret
from certkeeper.api.meta import ObjectMeta
from certkeeper.issuers.base import (
    Failed,
    GenericIssuer,
    IssuerTypeName,
    SetupResult,
    SignContext,
    SignResult,
)
from certkeeper.pki.errors import PkiError
from certkeeper.pki.keys import encode_private_key_pkcs1, generate_rsa_private_key, load_pem_private_key

REGISTERED = "ACMEAccountRegistered"
ERR_REGISTER = "ErrRegisterACMEAccount"
ERR_VERIFY = "ErrVerifyACMEAccount"
ERR_UPDATE = "ErrUpdateACMEAccount"
INVALID_CONFIG = "InvalidConfig"
INVALID_URL = "InvalidURL"

REGISTERED_MESSAGE = "The ACME account was registered with the ACME server"
REGISTER_FAILED = "Failed to register ACME account: "
VERIFY_FAILED = "Failed to verify ACME account: "
UPDATE_FAILED = "Failed to update ACME account:"
NO_KEY_GENERATION = (
    "the ACME issuer config has 'disableAccountKeyGeneration' set to true, but the secret was not found: "
)

#: Let's Encrypt's retired ACME v1 endpoints and their v2 replacements.
V1_TO_V2: Final = {
    "https://acme-v01.api.letsencrypt.org/directory": "https://acme-v02.api.letsencrypt.org/directory",
    "https://acme-staging.api.letsencrypt.org/directory": "https://acme-staging-v02.api.letsencrypt.org/directory",
}
ACCOUNT_KEY_LABELS: Final = {"app.kubernetes.io/managed-by": "cert-manager"}

TransportFactory = Callable[[TlsOptions], Transport]


def private_key_hash(key: rsa.RSAPrivateKey) -> str:
    """cert-manager's ``lastPrivateKeyHash``: base64 of SHA-256 over the PKCS#1 DER of the key."""
    der = key.private_bytes(
        serialization.Encoding.DER, serialization.PrivateFormat.TraditionalOpenSSL, serialization.NoEncryption()
    )
    return base64.b64encode(hashlib.sha256(der).digest()).decode()


@dataclass(slots=True)
class _Entry:
    fingerprint: tuple[str, str, str, bool, bytes | None]
    client: AcmeClient


class AccountRegistry:
    """ACME clients by issuer UID (cert-manager's account registry)."""

    def __init__(self, transport_factory: TransportFactory | None = None) -> None:
        self._transport_factory = transport_factory or (lambda tls: AiohttpTransport(tls=tls))
        self._clients: dict[str, _Entry] = {}
        self._closing: set[asyncio.Task[None]] = set()

    def client_for(self, issuer: GenericIssuer, key: rsa.RSAPrivateKey, account_uri: str | None) -> AcmeClient:
        acme = issuer.spec.acme
        assert acme is not None
        fingerprint = (
            acme.server,
            private_key_hash(key),
            issuer.metadata.uid or "",
            bool(acme.skip_tls_verify),
            acme.ca_bundle,
        )
        uid = issuer.metadata.uid or issuer.name
        entry = self._clients.get(uid)
        if entry is None or entry.fingerprint != fingerprint:
            tls = TlsOptions(ca_bundle=acme.ca_bundle, skip_verify=bool(acme.skip_tls_verify))
            client = AcmeClient(
                directory_url=acme.server,
                key=AccountKey(key),
                transport=self._transport_factory(tls),
                account_uri=account_uri,
            )
            if entry is not None:
                self._retire(entry.client)
            entry = _Entry(fingerprint, client)
            self._clients[uid] = entry
        elif account_uri and not entry.client.account_uri:
            entry.client.account_uri = account_uri
        return entry.client

    def get(self, issuer: GenericIssuer) -> AcmeClient | None:
        entry = self._clients.get(issuer.metadata.uid or issuer.name)
        return entry.client if entry is not None and entry.client.account_uri else None

    def _retire(self, client: AcmeClient) -> None:
        """Close a client replaced by one for the issuer's new server, key or TLS settings.

        Its connections would otherwise stay open until shutdown (and its session be reported unclosed
        when collected). A reconcile still holding it gets a TransportError and retries with the new one.
        """
        task = asyncio.get_running_loop().create_task(client.aclose(), name="acme-client-close")
        self._closing.add(task)
        task.add_done_callback(self._closing.discard)

    async def aclose(self) -> None:
        for entry in self._clients.values():
            await entry.client.aclose()
        self._clients.clear()
        if self._closing:
            await asyncio.gather(*self._closing, return_exceptions=True)


def _fail(reason: str, message: str, *, retry: bool, event: bool = False) -> SetupResult:
    return SetupResult(ready=False, reason=reason, message=message, retry=retry, event="Warning" if event else None)


class AcmeIssuerBackend:
    type_name: IssuerTypeName = "acme"

    def __init__(self, registry: AccountRegistry) -> None:
        self.registry = registry

    async def sign(self, request: CertificateRequest, issuer: GenericIssuer, ctx: SignContext) -> SignResult:
        # ACME requests are signed through Orders by the request controller, never here.
        return Failed("OrderBuildingError", "ACME requests are handled by the Order controller")

    async def setup(self, issuer: GenericIssuer, ctx: SignContext) -> SetupResult:
        acme = issuer.spec.acme
        assert acme is not None
        if acme.server in V1_TO_V2:
            return _fail(
                INVALID_CONFIG,
                f"Your ACME server URL is set to a v1 endpoint ({acme.server}). You should "
                f'update the spec.acme.server field to "{V1_TO_V2[acme.server]}"',
                retry=False,
            )
        server = urlsplit(acme.server)
        if server.scheme not in ("https", "http") or not server.hostname:
            return _fail(
                INVALID_URL, f'Failed to parse existing ACME server URI "{acme.server}": invalid URL', retry=False
            )
        key_name = acme.private_key_secret_ref.name
        key_key = acme.private_key_secret_ref.key or TLS_PRIVATE_KEY_KEY
        secret = ctx.secrets.get_secret(ctx.resource_namespace, key_name)
        create: tuple[Secret, ...] = ()
        if secret is None or not (secret.data or {}).get(key_key):
            if acme.disable_account_key_generation:
                message = VERIFY_FAILED + NO_KEY_GENERATION + f'secret "{key_name}" not found'
                return _fail(ERR_VERIFY, message, retry=True)
            if secret is not None:
                message = REGISTER_FAILED + f'secret "{key_name}" exists but holds no key "{key_key}"'
                return _fail(ERR_REGISTER, message, retry=False)
            key = await asyncio.to_thread(generate_rsa_private_key, 2048)
            create = (_account_key_secret(ctx.resource_namespace, key_name, key_key, key),)
        else:
            try:
                parsed = load_pem_private_key((secret.data or {})[key_key], limits=ctx.pem_limits)
            except PkiError as exc:
                return _fail(ERR_VERIFY, f"Account private key is invalid: {exc}", retry=False)
            if not isinstance(parsed, rsa.RSAPrivateKey):
                return _fail(ERR_VERIFY, f'ACME private key in "{key_name}" is not of type RSA', retry=False)
            key = parsed
        key_hash = private_key_hash(key)
        status = issuer.status.acme if issuer.status and issuer.status.acme else ACMEIssuerStatus()
        ready = has_condition(issuer.status.conditions if issuer.status else None, IssuerConditionType.READY, "True")
        same_server = bool(status.uri) and urlsplit(status.uri or "").hostname == server.hostname
        client = self.registry.client_for(issuer, key, status.uri if same_server else None)
        if (
            not create
            and ready
            and same_server
            and (status.last_registered_email or "") == (acme.email or "")
            and status.last_private_key_hash == key_hash
        ):
            return SetupResult(ready=True, reason=REGISTERED, message=REGISTERED_MESSAGE)
        try:
            binding = _external_account_binding(acme, ctx)
        except ValueError as exc:
            return _fail(ERR_REGISTER, REGISTER_FAILED + str(exc), retry=False, event=True)
        try:
            account = await client.new_account(email=acme.email, external_account_binding=binding)
        except AcmeProblem as exc:
            client_error = 400 <= exc.status < 500
            return _fail(ERR_REGISTER, REGISTER_FAILED + str(exc), retry=not client_error)
        except AcmeError as exc:
            return _fail(ERR_REGISTER, REGISTER_FAILED + str(exc), retry=True)
        wanted = [f"mailto:{acme.email.lower()}"] if acme.email else []
        if list(account.account.contact or []) != wanted:
            try:
                await client.update_account(email=acme.email)
            except AcmeError as exc:
                return _fail(ERR_UPDATE, f"{UPDATE_FAILED}{exc}", retry=True, event=True)
        return SetupResult(
            ready=True,
            reason=REGISTERED,
            message=REGISTERED_MESSAGE,
            acme_status=ACMEIssuerStatus(
                uri=account.uri, last_registered_email=acme.email or "", last_private_key_hash=key_hash
            ),
            create_secrets=create,
        )


def _external_account_binding(acme: ACMEIssuer, ctx: SignContext) -> ExternalAccountBinding | None:
    eab = acme.external_account_binding
    if eab is None:
        return None
    ref = eab.key_secret_ref
    secret = ctx.secrets.get_secret(ctx.resource_namespace, ref.name)
    if secret is None:
        raise ValueError(f'failed to get External Account Binding key from secret: secret "{ref.name}" not found')
    raw = (secret.data or {}).get(ref.key or "")
    if not raw:
        raise ValueError(f'failed to get External Account Binding key from secret: no key "{ref.key}"')
    try:
        mac = decode_eab_key(raw)
    except ValueError as exc:
        raise ValueError(f"failed to get External Account Binding key from secret: {exc}") from exc
    # cert-manager ignores keyAlgorithm (deprecated) and always uses HS256.
    return ExternalAccountBinding(key_id=eab.key_id, mac_key=mac, algorithm=MacAlgorithm.HS256)


def _account_key_secret(namespace: str, name: str, key_name: str, key: rsa.RSAPrivateKey) -> Secret:
    return Secret(
        api_version="v1",
        metadata=ObjectMeta(name=name, namespace=namespace, labels=dict(ACCOUNT_KEY_LABELS)),
        data={key_name: encode_private_key_pkcs1(key)},
    )
