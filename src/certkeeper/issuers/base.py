"""The issuer plug-in interface, its results, and the Secret reads issuers share.

Results are tagged unions, never "None means pending":

* ``sign``  -> ``Issued(certificate, ca)`` | ``Pending(reason, message)`` | ``Failed(reason, message)``
* ``setup`` -> ``SetupResult(ready, reason, message)`` (the issuer's Ready condition and its event)
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal, Protocol

from cryptography import x509

from certkeeper.api.acme import ACMEIssuerStatus
from certkeeper.api.certmanager import CertificateRequest, ClusterIssuer, Issuer, IssuerSpec
from certkeeper.api.constants import TLS_CERT_KEY, TLS_PRIVATE_KEY_KEY
from certkeeper.api.core import Secret
from certkeeper.api.defaults import effective_duration
from certkeeper.pki.errors import PkiError
from certkeeper.pki.keys import PrivateKey, load_pem_private_key
from certkeeper.pki.pem import PemLimits, load_pem_certificate_chain, load_pem_certificate_request
from certkeeper.pki.sign import CertificateParams, certificate_params_from_csr

GenericIssuer = Issuer | ClusterIssuer

#: cert-manager's issuer type names (``apiutil.NameForIssuer``), the suffix of its controller names.
IssuerTypeName = Literal["acme", "ca", "vault", "selfsigned", "venafi"]


def issuer_type(spec: IssuerSpec) -> IssuerTypeName | None:
    """Which issuer type a spec configures; None when it sets none (``IssuerTypeMissing``)."""
    if spec.acme is not None:
        return "acme"
    if spec.ca is not None:
        return "ca"
    if spec.vault is not None:
        return "vault"
    if spec.self_signed is not None:
        return "selfsigned"
    if spec.venafi is not None:
        return "venafi"
    return None


@dataclass(frozen=True, slots=True)
class IssuerWarning:
    """Something the user should fix that does not stop signing (a Warning event on the request)."""

    reason: str
    message: str


@dataclass(frozen=True, slots=True)
class Issued:
    certificate: bytes
    ca: bytes | None = None
    warnings: tuple[IssuerWarning, ...] = ()


@dataclass(frozen=True, slots=True)
class Pending:
    reason: str
    message: str


@dataclass(frozen=True, slots=True)
class Failed:
    reason: str
    message: str


SignResult = Issued | Pending | Failed


@dataclass(frozen=True, slots=True)
class SetupResult:
    """The Ready condition an issuer wants, whether to record it as an event, and whether setup failed
    in a way worth retrying (cert-manager then also records ``ErrInitIssuer`` and backs off)."""

    ready: bool
    reason: str
    message: str
    event: Literal["Normal", "Warning"] | None = None
    retry: bool = False
    #: ACME: the account status to record in ``status.acme`` (None leaves it as it is).
    acme_status: ACMEIssuerStatus | None = None
    #: Secrets the issuer needs created (an ACME account key it generated).
    create_secrets: tuple[Secret, ...] = ()


class SecretReader(Protocol):
    def get_secret(self, namespace: str, name: str) -> Secret | None: ...


@dataclass(frozen=True, slots=True, kw_only=True)
class SignContext:
    """What a signer may read besides the request and its issuer."""

    #: Namespace the issuer's Secrets live in: the Issuer's, or the cluster resource namespace.
    resource_namespace: str
    secrets: SecretReader
    now: datetime
    pem_limits: PemLimits


class IssuerBackend(Protocol):
    type_name: IssuerTypeName

    async def setup(self, issuer: GenericIssuer, ctx: SignContext) -> SetupResult: ...

    async def sign(self, request: CertificateRequest, issuer: GenericIssuer, ctx: SignContext) -> SignResult: ...


class SecretNotFound(Exception):
    """The Secret does not exist. The message is the API server's (``secret "x" not found``)."""

    def __init__(self, name: str) -> None:
        super().__init__(f'secret "{name}" not found')


class InvalidSecretData(Exception):
    """The Secret exists but its data cannot be used (cert-manager's ``errors.IsInvalidData``)."""


def _data(secret: Secret, key: str) -> bytes:
    value = (secret.data or {}).get(key)
    if not value:
        raise InvalidSecretData(f"no data for {key!r} in secret '{secret.namespace}/{secret.name}'")
    return value


def read_secret(secrets: SecretReader, namespace: str, name: str) -> Secret:
    secret = secrets.get_secret(namespace, name)
    if secret is None:
        raise SecretNotFound(name)
    return secret


def request_certificate_params(request: CertificateRequest, ctx: SignContext) -> CertificateParams:
    """The certificate a request asks for (``CertificateTemplateFromCertificateRequest``); raises PkiError."""
    return certificate_params_from_csr(
        load_pem_certificate_request(request.spec.request, limits=ctx.pem_limits),
        now=ctx.now,
        duration=effective_duration(request.spec.duration),
        is_ca=bool(request.spec.is_ca),
        usages=list(request.spec.usages or ()),
    )


def secret_tls_key(secret: Secret, limits: PemLimits) -> PrivateKey:
    """The parsed ``tls.key`` of a Secret (``kube.SecretTLSKey``)."""
    try:
        return load_pem_private_key(_data(secret, TLS_PRIVATE_KEY_KEY), limits=limits)
    except PkiError as exc:
        raise InvalidSecretData(str(exc)) from exc


def secret_tls_chain(secret: Secret, limits: PemLimits) -> list[x509.Certificate]:
    """The parsed ``tls.crt`` chain of a Secret, leaf first as stored (``kube.SecretTLSCertChain``)."""
    try:
        return load_pem_certificate_chain(_data(secret, TLS_CERT_KEY), limits=limits)
    except PkiError as exc:
        raise InvalidSecretData(str(exc)) from exc
