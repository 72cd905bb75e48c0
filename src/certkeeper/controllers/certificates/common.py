"""Helpers the certificate controllers share: the Issuing condition, revisions, next-key Secrets."""

from __future__ import annotations

from dataclasses import dataclass

import msgspec

from certkeeper.api.annotations import CERTIFICATE_REQUEST_REVISION_ANNOTATION, IS_NEXT_PRIVATE_KEY_SECRET_LABEL
from certkeeper.api.certmanager import Certificate, CertificateRequest, CertificateStatus
from certkeeper.api.conditions import has_condition
from certkeeper.api.constants import TLS_PRIVATE_KEY_KEY, CertificateConditionType
from certkeeper.api.core import Secret
from certkeeper.controllers.context import Context
from certkeeper.pki.errors import PkiError
from certkeeper.pki.keys import PrivateKey, PublicKey, load_pem_private_key
from certkeeper.pki.pem import PemLimits
from certkeeper.pki.public_half import private_key_public_half
from certkeeper.policies.input import is_controlled_by

ISSUING = CertificateConditionType.ISSUING
READY = CertificateConditionType.READY


def status_of(cert: Certificate) -> CertificateStatus:
    return cert.status or CertificateStatus()


def with_status(cert: Certificate, status: CertificateStatus) -> Certificate:
    return msgspec.structs.replace(cert, status=status)


def is_issuing(cert: Certificate) -> bool:
    return has_condition(status_of(cert).conditions, ISSUING, "True")


def request_revision(request: CertificateRequest) -> int | None:
    """The request's ``cert-manager.io/certificate-revision`` (None when missing or not an integer)."""
    text = (request.metadata.annotations or {}).get(CERTIFICATE_REQUEST_REVISION_ANNOTATION, "")
    try:
        return int(text, 10)
    except ValueError:
        return None


def owned_requests(ctx: Context, cert: Certificate) -> list[CertificateRequest]:
    return [r for r in ctx.requests_owned_by(cert.metadata.uid or "") if is_controlled_by(r, cert)]


def next_key_secrets(ctx: Context, cert: Certificate) -> list[Secret]:
    """The owned Secrets labelled ``cert-manager.io/next-private-key: "true"``."""
    owned = [s for s in ctx.secrets_owned_by(cert.metadata.uid or "") if is_controlled_by(s, cert)]
    return [s for s in owned if (s.metadata.labels or {}).get(IS_NEXT_PRIVATE_KEY_SECRET_LABEL) == "true"]


@dataclass(frozen=True, slots=True)
class NextKey:
    """The next private key's Secret and its public key; the private key is parsed only when used.

    Most reconciles only compare the next key with the spec, a CSR or a certificate, which needs its
    public half (memoised by digest); building a CSR or writing the Secret needs the key itself.
    """

    secret: Secret
    public: PublicKey
    pem: bytes
    limits: PemLimits

    def private_key(self) -> PrivateKey:
        """The parsed private key (the same bytes parsed for ``public``, so it does not fail here)."""
        return load_pem_private_key(self.pem, limits=self.limits)


def next_private_key(ctx: Context, cert: Certificate) -> NextKey | None:
    """The next private key named by ``status.nextPrivateKeySecretName``, if present and parseable."""
    name = status_of(cert).next_private_key_secret_name
    if not name:
        return None
    secret = ctx.secret(cert.namespace, name)
    if secret is None:
        return None
    data = (secret.data or {}).get(TLS_PRIVATE_KEY_KEY)
    if not data:
        return None
    limits = ctx.options.pem_limits
    try:
        return NextKey(secret=secret, public=private_key_public_half(data, limits=limits), pem=data, limits=limits)
    except PkiError:
        return None
