"""Builders for the policy tests: Certificates, Secrets and CertificateRequests with real (ECDSA) crypto.

Everything defaults to a healthy state: a Certificate for ``example.com`` asking for an ECDSA P-256
key from Issuer ``ca``, whose Secret holds a matching key pair issued by that issuer, and whose
current CertificateRequest (revision 1) matches the spec. Tests change one thing at a time.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Final

from msgspec.structs import replace

from certkeeper.api.annotations import (
    CERTIFICATE_NAME_KEY,
    CERTIFICATE_REQUEST_REVISION_ANNOTATION,
    ISSUER_GROUP_ANNOTATION,
    ISSUER_KIND_ANNOTATION,
    ISSUER_NAME_ANNOTATION,
)
from certkeeper.api.certmanager import (
    Certificate,
    CertificatePrivateKey,
    CertificateRequest,
    CertificateRequestSpec,
    CertificateSpec,
    CertificateStatus,
)
from certkeeper.api.cmmeta import IssuerReference
from certkeeper.api.constants import TLS_CERT_KEY, TLS_PRIVATE_KEY_KEY
from certkeeper.api.core import Secret
from certkeeper.api.meta import ObjectMeta, OwnerReference
from certkeeper.pki.csr import build_csr
from certkeeper.pki.from_spec import certificate_template
from certkeeper.pki.keys import PrivateKey, encode_private_key_pem, generate_ecdsa_private_key
from certkeeper.pki.pem import encode_pem_certificate_request
from certkeeper.pki.sign import certificate_params_from_template, sign_self_signed
from certkeeper.pki.template import CertificateTemplate

#: The fixed "now" of every policy test.
NOW: Final = datetime(2030, 1, 1, 12, 0, 0, tzinfo=UTC)
CERT_UID: Final = "cert-uid-1"
NAMESPACE: Final = "ns"
SECRET_NAME: Final = "tls"
ECDSA: Final = CertificatePrivateKey(algorithm="ECDSA")
DEFAULT_ISSUER: Final = IssuerReference(name="ca")

#: Keys are generated once per test session (ECDSA is fast, but there is no need to repeat it).
KEY: Final = generate_ecdsa_private_key(256)
OTHER_KEY: Final = generate_ecdsa_private_key(256)


def key_pem(key: PrivateKey = KEY) -> bytes:
    """``tls.key`` for ``key`` (SEC 1 for ECDSA, the default encoding)."""
    return encode_private_key_pem(key)


def certificate_pem(
    key: PrivateKey = KEY,
    *,
    common_name: str = "example.com",
    dns_names: Sequence[str] = ("example.com",),
    ip_addresses: Sequence[str] = (),
    not_before: datetime = NOW - timedelta(days=1),
    not_after: datetime | None = None,
) -> bytes:
    """A self-signed certificate for ``key`` (``tls.crt``); 90 days from ``not_before`` by default."""
    lifetime = (not_after - not_before) if not_after is not None else timedelta(days=90)
    template = CertificateTemplate(
        common_name=common_name, dns_names=tuple(dns_names), ip_addresses=tuple(ip_addresses), duration=lifetime
    )
    params = certificate_params_from_template(template, key.public_key(), now=not_before)
    return sign_self_signed(params, key).certificate_pem


#: The default ``tls.crt``: :data:`KEY`'s certificate for example.com, built once so that tests can compare bytes.
CERT_PEM: Final = certificate_pem()


def make_certificate(
    name: str = "test",
    *,
    uid: str = CERT_UID,
    secret_name: str = SECRET_NAME,
    common_name: str | None = "example.com",
    dns_names: Sequence[str] | None = ("example.com",),
    issuer_ref: IssuerReference = DEFAULT_ISSUER,
    private_key: CertificatePrivateKey | None = ECDSA,
    status: CertificateStatus | None = None,
    **spec: object,
) -> Certificate:
    """A Certificate; extra keyword arguments are CertificateSpec fields."""
    base = CertificateSpec(
        secret_name=secret_name,
        common_name=common_name,
        dns_names=None if dns_names is None else list(dns_names),
        issuer_ref=issuer_ref,
        private_key=private_key,
    )
    return Certificate(
        api_version=Certificate.API_VERSION,
        metadata=ObjectMeta(name=name, namespace=NAMESPACE, uid=uid),
        spec=replace(base, **spec),
        status=status,
    )


def issuer_annotations(ref: IssuerReference = DEFAULT_ISSUER, *, certificate_name: str = "test") -> dict[str, str]:
    """The annotations the issuing controller writes for ``ref`` (kind and group defaulted)."""
    return {
        CERTIFICATE_NAME_KEY: certificate_name,
        ISSUER_NAME_ANNOTATION: ref.name,
        ISSUER_KIND_ANNOTATION: ref.kind or "Issuer",
        ISSUER_GROUP_ANNOTATION: ref.group or "cert-manager.io",
    }


def make_secret(
    *,
    data: Mapping[str, bytes] | None = None,
    annotations: Mapping[str, str] | None = None,
    labels: Mapping[str, str] | None = None,
    owner_references: Sequence[OwnerReference] | None = None,
) -> Secret:
    """A Secret named ``tls``; by default it holds :data:`KEY` and a matching certificate, with issuer annotations."""
    if data is None:
        data = {TLS_PRIVATE_KEY_KEY: key_pem(), TLS_CERT_KEY: CERT_PEM}
    return Secret(
        api_version=Secret.API_VERSION,
        metadata=ObjectMeta(
            name=SECRET_NAME,
            namespace=NAMESPACE,
            annotations=dict(issuer_annotations() if annotations is None else annotations),
            labels=None if labels is None else dict(labels),
            owner_references=None if owner_references is None else list(owner_references),
        ),
        type="kubernetes.io/tls",
        data=dict(data),
    )


def owned_by(uid: str = CERT_UID, *, name: str = "test") -> OwnerReference:
    """A controller owner reference to the Certificate with ``uid``."""
    return OwnerReference(api_version=Certificate.API_VERSION, kind="Certificate", name=name, uid=uid, controller=True)


def make_request(
    certificate: Certificate,
    *,
    revision: int | str | None = 1,
    key: PrivateKey = KEY,
    csr_spec: CertificateSpec | None = None,
    request_pem: bytes | None = None,
    owner: OwnerReference | None = None,
    name: str | None = None,
) -> CertificateRequest:
    """A CertificateRequest owned by ``certificate`` with a CSR for ``csr_spec`` (default: its spec)."""
    spec = csr_spec or certificate.spec
    if request_pem is None:
        request_pem = encode_pem_certificate_request(build_csr(certificate_template(spec), key))
    annotations = {} if revision is None else {CERTIFICATE_REQUEST_REVISION_ANNOTATION: str(revision)}
    return CertificateRequest(
        api_version=CertificateRequest.API_VERSION,
        metadata=ObjectMeta(
            name=name or f"{certificate.name}-{revision}",
            namespace=NAMESPACE,
            annotations=annotations,
            owner_references=[owner or owned_by(certificate.metadata.uid or "", name=certificate.name)],
        ),
        spec=CertificateRequestSpec(
            issuer_ref=spec.issuer_ref,
            request=request_pem,
            is_ca=spec.is_ca,
            usages=spec.usages,
            duration=spec.duration,
        ),
    )
