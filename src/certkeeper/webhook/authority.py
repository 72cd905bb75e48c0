"""Dynamic serving certificates: a self-signed CA kept in a Secret, and short-lived leaves from it.

With ``--dynamic-serving-ca-secret-name``/``-namespace`` the webhook needs no certificate from
anyone. :class:`DynamicAuthority` keeps a CA in that Secret (``ca.crt``, ``tls.crt``, ``tls.key``;
label ``app.kubernetes.io/managed-by=cert-manager-webhook``; annotation
``cert-manager.io/allow-direct-injection: "true"`` so the cainjector may copy ``ca.crt`` into the
webhook configurations): ECDSA P-384, CN ``cert-manager-webhook-ca``, valid 365 days, regenerated
when the Secret is missing, incomplete, unparseable, not a CA, or two thirds through its life. It
re-reads the Secret every 10 s, so every replica follows a rotation made by another.
:class:`DynamicCertificateSource` signs a serving leaf (ECDSA P-384, the DNS names, serverAuth, 7 days
by default, never beyond the CA) and installs it into :class:`~certkeeper.webhook.tls.ServingTLS`;
it signs a new one two thirds through the leaf's life and whenever the CA changes.

A CA change is safe for clients that do not trust the new CA yet. The API server trusts the CA bundle
the cainjector copies from the Secret into the webhook configurations, and learns of a new CA only
after the webhook has started serving from it; every connection it opened in between would fail
(``x509: certificate signed by unknown authority``). So when the CA in use is replaced, the new CA's
certificate is also signed by the CA it replaces (a cross-signed intermediate, valid while both are)
and served after the leaf: a client that trusts the old CA verifies leaf -> cross-signed new CA -> old
CA, one that trusts the new CA stops at the new CA, whatever the cainjector has done so far. (Beyond
cert-manager, whose webhook has this window.)

The Secret is read and written through the Store protocol (the kube backend in a cluster). Creating
when another replica just did (AlreadyExists) or updating a stale copy (Conflict) is not an error:
the next read picks up the winner's CA. Follows cert-manager's ``pkg/server/tls/authority`` and
``pkg/server/tls/dynamic_source.go``.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Final, Protocol

from cryptography import x509
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from certkeeper.api.annotations import ALLOWS_INJECTION_FROM_SECRET_ANNOTATION
from certkeeper.api.constants import TLS_CA_KEY
from certkeeper.pki.errors import PkiError
from certkeeper.pki.keys import PrivateKey, encode_private_key_pkcs8, generate_ecdsa_private_key, load_pem_private_key
from certkeeper.pki.match import public_key_matches_certificate
from certkeeper.pki.pem import encode_pem_certificate, load_pem_certificate_chain
from certkeeper.pki.sign import CertificateParams, sign_certificate
from certkeeper.pki.usages import CERT_SIGN, DIGITAL_SIGNATURE, KEY_ENCIPHERMENT
from certkeeper.runtime.clock import Clock, SystemClock
from certkeeper.store.ports import AlreadyExists, Conflict, NotFound, RawObject, ResourceType, StoreError
from certkeeper.store.resources import SECRETS
from certkeeper.webhook.tls import ServingTLS, TLSError

log = logging.getLogger(__name__)

CA_COMMON_NAME: Final = "cert-manager-webhook-ca"
CA_DURATION: Final = timedelta(days=365)
LEAF_DURATION: Final = timedelta(days=7)
CA_KEY_SIZE: Final = 384
SECRET_LABELS: Final = {"app.kubernetes.io/managed-by": "cert-manager-webhook"}
TLS_CERT_KEY: Final = "tls.crt"
TLS_PRIVATE_KEY_KEY: Final = "tls.key"
POLL_INTERVAL_SECONDS: Final = 10.0
#: How often the leaf's renewal moment is re-checked against the wall clock (a suspended VM's
#: monotonic timers fall behind; cert-manager polls once a minute for the same reason).
RENEWAL_CHECK_SECONDS: Final = 60.0
RETRY_SECONDS: Final = 1.0


class SecretAccess(Protocol):
    """The three Store verbs the authority uses (a Store is one; so is anything narrower)."""

    async def get(self, resource: ResourceType, name: str, *, namespace: str | None = None) -> RawObject: ...

    async def create(self, resource: ResourceType, obj: RawObject) -> RawObject: ...

    async def update(self, resource: ResourceType, obj: RawObject) -> RawObject: ...


@dataclass(frozen=True, slots=True, kw_only=True)
class CA:
    """The CA currently signing leaves."""

    certificate: x509.Certificate
    key: PrivateKey
    cert_pem: bytes


def _decoded(data: Mapping[str, Any] | None) -> dict[str, bytes] | None:
    """A Secret's ``data`` as bytes; None when a value is not base64."""
    decoded: dict[str, bytes] = {}
    for key, value in (data or {}).items():
        if not isinstance(value, str):
            return None
        try:
            decoded[key] = base64.b64decode(value, validate=True)
        except (binascii.Error, ValueError):
            return None
    return decoded


def parse_ca(data: Mapping[str, bytes]) -> CA | str:
    """The CA in a Secret's (decoded) data, or why it must be regenerated (cert-manager's log reasons).

    Expiry is not judged here; see :func:`ca_needs_rotation`.
    """
    ca, key, cert = data.get(TLS_CA_KEY), data.get(TLS_PRIVATE_KEY_KEY), data.get(TLS_CERT_KEY)
    if not ca or not key or not cert:
        return "Missing data in CA secret."
    if ca != cert:
        return "Different data in ca.crt and tls.crt."
    try:
        chain = load_pem_certificate_chain(cert)
        private_key = load_pem_private_key(key)
    except PkiError:
        return "Failed to parse data in CA secret."
    if not chain or not public_key_matches_certificate(private_key, chain[0]):
        return "Failed to parse data in CA secret."
    try:
        is_ca = chain[0].extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    except (x509.ExtensionNotFound, ValueError):
        is_ca = False
    if not is_ca:
        return "Stored certificate is not marked as a CA."
    return CA(certificate=chain[0], key=private_key, cert_pem=cert)


def ca_needs_rotation(certificate: x509.Certificate, now: datetime) -> bool:
    """Whether the CA is two thirds through its life (less than a third left)."""
    not_before, not_after = certificate.not_valid_before_utc, certificate.not_valid_after_utc
    return not_after - now < (not_after - not_before) / 3


def generate_ca(now: datetime, *, common_name: str = CA_COMMON_NAME, duration: timedelta = CA_DURATION) -> CA:
    """A new self-signed CA (ECDSA P-384), valid from ``now`` for ``duration``."""
    key = generate_ecdsa_private_key(CA_KEY_SIZE)
    not_before = now.replace(microsecond=0)
    params = CertificateParams(
        subject=x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)]),
        public_key=key.public_key(),
        not_before=not_before,
        not_after=not_before + duration,
        is_ca=True,
        key_usage=DIGITAL_SIGNATURE | KEY_ENCIPHERMENT | CERT_SIGN,
    )
    certificate = sign_certificate(params, signer_key=key)
    return CA(certificate=certificate, key=key, cert_pem=encode_pem_certificate(certificate))


def sign_leaf(ca: CA, dns_names: Sequence[str], now: datetime, duration: timedelta) -> tuple[x509.Certificate, bytes]:
    """A serving leaf for ``dns_names`` signed by ``ca``: (certificate, PKCS#8 key PEM)."""
    not_before = now.replace(microsecond=0)
    not_after = not_before + duration
    if ca.certificate.not_valid_after_utc < not_before:
        raise TLSError("internal error: CA certificate has expired, try again later")
    # A leaf never outlives its CA.
    not_after = min(not_after, ca.certificate.not_valid_after_utc)
    key = generate_ecdsa_private_key(CA_KEY_SIZE)
    sans = x509.SubjectAlternativeName([x509.DNSName(name) for name in dns_names]) if dns_names else None
    params = CertificateParams(
        subject=x509.Name([]),
        public_key=key.public_key(),
        not_before=not_before,
        not_after=not_after,
        key_usage=DIGITAL_SIGNATURE | KEY_ENCIPHERMENT,
        ext_key_usages=(ExtendedKeyUsageOID.SERVER_AUTH,),
        subject_alternative_name=sans,
    )
    certificate = sign_certificate(params, signer_key=ca.key, issuer=ca.certificate)
    return certificate, encode_private_key_pkcs8(key)


def cross_sign(ca: CA, previous: CA, now: datetime) -> x509.Certificate | None:
    """``ca``'s certificate signed by ``previous``, valid while both are; None when that time is over.

    Served after a leaf of ``ca``, it lets clients that trust only ``previous`` verify the leaf.
    """
    not_before = max(ca.certificate.not_valid_before_utc, previous.certificate.not_valid_before_utc)
    not_after = min(ca.certificate.not_valid_after_utc, previous.certificate.not_valid_after_utc)
    if now > not_after or not_before >= not_after:
        return None
    params = CertificateParams(
        subject=ca.certificate.subject,
        public_key=ca.key.public_key(),
        not_before=not_before,
        not_after=not_after,
        is_ca=True,
        key_usage=DIGITAL_SIGNATURE | KEY_ENCIPHERMENT | CERT_SIGN,
    )
    return sign_certificate(params, signer_key=previous.key, issuer=previous.certificate)


def _secret_data(ca: CA) -> dict[str, str]:
    cert = base64.b64encode(ca.cert_pem).decode("ascii")
    key = base64.b64encode(encode_private_key_pkcs8(ca.key)).decode("ascii")
    return {TLS_CERT_KEY: cert, TLS_PRIVATE_KEY_KEY: key, TLS_CA_KEY: cert}


class DynamicAuthority:
    """Keeps the CA Secret ``namespace/name`` valid and knows the CA in it."""

    def __init__(
        self,
        store: SecretAccess,
        *,
        namespace: str,
        name: str,
        clock: Clock | None = None,
        common_name: str = CA_COMMON_NAME,
        ca_duration: timedelta = CA_DURATION,
        poll_interval: float = POLL_INTERVAL_SECONDS,
    ) -> None:
        if not namespace or not name:
            raise ValueError("the CA Secret needs a namespace and a name")
        self._store = store
        self.namespace = namespace
        self.name = name
        self._clock = clock or SystemClock()
        self._common_name = common_name
        self._ca_duration = ca_duration
        self._poll_interval = poll_interval
        self.current: CA | None = None
        #: The current CA cross-signed by the CA it replaced (None before any replacement, or when expired).
        self.cross_signed: x509.Certificate | None = None
        #: Increases every time the CA in use changes.
        self.generation = 0
        #: Set when the CA changes; the leaf source clears it.
        self.changed = asyncio.Event()

    def _use(self, ca: CA, now: datetime) -> None:
        if self.current is not None and self.current.cert_pem == ca.cert_pem:
            return
        previous, self.current = self.current, ca
        self.cross_signed = None
        if previous is not None:
            try:
                self.cross_signed = cross_sign(ca, previous, now)
            except PkiError as exc:  # the new CA is served without the bridge rather than not at all
                log.warning("cannot cross-sign the new serving CA with the previous one: %s", exc)
        self.generation += 1
        self.changed.set()
        log.info("serving CA from Secret %s/%s changed (generation %d)", self.namespace, self.name, self.generation)

    async def _write(self, secret: RawObject | None, ca: CA) -> RawObject | None:
        """Store ``ca``: create the Secret, or update ``secret``; None when another writer got there first."""
        try:
            if secret is None:
                body: RawObject = {
                    "apiVersion": "v1",
                    "kind": "Secret",
                    "metadata": {
                        "name": self.name,
                        "namespace": self.namespace,
                        "labels": dict(SECRET_LABELS),
                        "annotations": {ALLOWS_INJECTION_FROM_SECRET_ANNOTATION: "true"},
                    },
                    "data": _secret_data(ca),
                }
                return await self._store.create(SECRETS, body)
            updated = dict(secret)
            updated["data"] = {**(secret.get("data") or {}), **_secret_data(ca)}
            return await self._store.update(SECRETS, updated)
        except (AlreadyExists, Conflict):
            log.debug("CA Secret %s/%s was written by someone else; reading theirs", self.namespace, self.name)
            return None

    async def ensure(self) -> CA | None:
        """Read the Secret, regenerate the CA if it must be, and return the CA in use.

        Raises StoreError when the Secret cannot be read or written.
        """
        for _ in range(2):  # a lost create/update race is settled by reading the winner's Secret
            try:
                secret: RawObject | None = await self._store.get(SECRETS, self.name, namespace=self.namespace)
            except NotFound:
                secret = None
            now = self._clock.now()
            data = _decoded(secret.get("data")) if secret is not None else {}
            parsed: CA | str = "CA secret not found" if secret is None else parse_ca(data or {})
            if data is None:
                parsed = "Failed to parse data in CA secret."
            if isinstance(parsed, CA) and ca_needs_rotation(parsed.certificate, now):
                parsed = "CA certificate is nearing expiry."
            if isinstance(parsed, CA):
                self._use(parsed, now)
                return parsed
            log.info("will regenerate the serving CA in %s/%s: %s", self.namespace, self.name, parsed)
            ca = generate_ca(now, common_name=self._common_name, duration=self._ca_duration)
            if await self._write(secret, ca) is not None:
                self._use(ca, now)
                return ca
        return self.current

    async def run(self) -> None:
        """Ensure the CA now and every ``poll_interval`` seconds, until cancelled."""
        while True:
            try:
                await self.ensure()
            except StoreError as exc:
                log.error("cannot ensure the serving CA in %s/%s: %s", self.namespace, self.name, exc)
            await self._clock.sleep(self._poll_interval)


class DynamicCertificateSource:
    """Serves leaves from a :class:`DynamicAuthority`, renewing them in time and on CA rotation."""

    def __init__(
        self,
        tls: ServingTLS,
        authority: DynamicAuthority,
        *,
        dns_names: Sequence[str],
        leaf_duration: timedelta = LEAF_DURATION,
        clock: Clock | None = None,
        retry_seconds: float = RETRY_SECONDS,
        check_seconds: float = RENEWAL_CHECK_SECONDS,
    ) -> None:
        if leaf_duration <= timedelta(0):
            raise ValueError("the leaf duration must be positive")
        self._tls = tls
        self._authority = authority
        self.dns_names = tuple(dns_names)
        self._leaf_duration = leaf_duration
        self._clock = clock or SystemClock()
        self._retry = retry_seconds
        self._check = check_seconds

    def issue(self) -> x509.Certificate:
        """Sign and serve a new leaf from the current CA; raises TLSError when there is none yet."""
        ca = self._authority.current
        if ca is None:
            raise TLSError("certificate not available: the serving CA is not loaded yet")
        now = self._clock.now()
        certificate, key_pem = sign_leaf(ca, self.dns_names, now, self._leaf_duration)
        chain = encode_pem_certificate(certificate)
        cross = self._authority.cross_signed
        if cross is not None and now <= cross.not_valid_after_utc:
            chain += encode_pem_certificate(cross)
        return self._tls.install(chain, key_pem)

    async def _until(self, moment: datetime, generation: int) -> None:
        """Sleep until ``moment`` (wall clock, re-checked regularly) or until the CA changes."""
        while self._authority.generation == generation:
            remaining = (moment - self._clock.now()).total_seconds()
            if remaining <= 0:
                return
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._authority.changed.wait(), min(remaining, self._check))

    async def run(self) -> None:
        """Keep a valid leaf served until cancelled."""
        while True:
            self._authority.changed.clear()
            generation = self._authority.generation
            try:
                leaf = self.issue()
            except (TLSError, PkiError) as exc:
                log.info("cannot issue the serving certificate yet (%s); retrying in %.0fs", exc, self._retry)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._authority.changed.wait(), self._retry)
                continue
            lifetime = leaf.not_valid_after_utc - leaf.not_valid_before_utc
            renew_at = leaf.not_valid_after_utc - lifetime / 3
            log.info("serving a new certificate for %s until %s", ", ".join(self.dns_names), leaf.not_valid_after_utc)
            await self._until(renew_at, generation)


__all__ = [
    "CA",
    "CA_COMMON_NAME",
    "CA_DURATION",
    "LEAF_DURATION",
    "SECRET_LABELS",
    "DynamicAuthority",
    "DynamicCertificateSource",
    "SecretAccess",
    "ca_needs_rotation",
    "cross_sign",
    "generate_ca",
    "parse_ca",
    "sign_leaf",
]
