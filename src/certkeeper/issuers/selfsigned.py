"""The SelfSigned issuer: signs a request with the very key it certifies.

The key is the Certificate's next private key, named by the request's
``cert-manager.io/private-key-secret-name`` annotation (``pkg/controller/certificaterequests/
selfsigned/selfsigned.go``, ``pkg/issuer/selfsigned/setup.go``).
"""

from __future__ import annotations

import dataclasses

from certkeeper.api.annotations import CERTIFICATE_REQUEST_PRIVATE_KEY_ANNOTATION
from certkeeper.api.certmanager import CertificateRequest
from certkeeper.api.constants import IssuerReason
from certkeeper.issuers.base import (
    Failed,
    GenericIssuer,
    InvalidSecretData,
    Issued,
    IssuerTypeName,
    IssuerWarning,
    Pending,
    SecretNotFound,
    SetupResult,
    SignContext,
    SignResult,
    read_secret,
    request_certificate_params,
    secret_tls_key,
)
from certkeeper.pki.errors import PkiError
from certkeeper.pki.keys import PrivateKey, public_keys_equal
from certkeeper.pki.sign import CertificateParams, sign_self_signed
from certkeeper.pki.subject import name_is_empty
from certkeeper.runtime.offload import compute, slow_key

#: Warning event on a request whose certificate would have an empty subject DN (cert-manager's text).
EMPTY_DN_MESSAGE = (
    "Certificate will be issued with an empty Issuer DN, which contravenes RFC 5280 and could break some strict clients"
)


class SelfSignedIssuer:
    type_name: IssuerTypeName = "selfsigned"

    async def setup(self, issuer: GenericIssuer, ctx: SignContext) -> SetupResult:
        return SetupResult(ready=True, reason=IssuerReason.IS_READY, message="")

    async def sign(self, request: CertificateRequest, issuer: GenericIssuer, ctx: SignContext) -> SignResult:
        annotations = request.metadata.annotations or {}
        secret_name = annotations.get(CERTIFICATE_REQUEST_PRIVATE_KEY_ANNOTATION, "")
        if not secret_name:
            return Failed(
                "MissingAnnotation",
                f'Annotation "{CERTIFICATE_REQUEST_PRIVATE_KEY_ANNOTATION}" missing or reference empty: '
                "secret name missing",
            )
        try:
            private_key = secret_tls_key(read_secret(ctx.secrets, request.namespace, secret_name), ctx.pem_limits)
        except SecretNotFound as exc:
            return Pending("MissingSecret", f"Referenced secret {request.namespace}/{secret_name} not found: {exc}")
        except InvalidSecretData as exc:
            return Pending(
                "ErrorParsingKey",
                f'Failed to get key "{secret_name}" referenced in annotation '
                f'"{CERTIFICATE_REQUEST_PRIVATE_KEY_ANNOTATION}": {exc}',
            )
        try:
            params = request_certificate_params(request, ctx)
        except PkiError as exc:
            return Failed("ErrorGenerating", f"Error generating certificate template: {exc}")
        crl = (issuer.spec.self_signed.crl_distribution_points if issuer.spec.self_signed else None) or []
        if crl:
            params = _with_crl(params, tuple(crl))
        if not public_keys_equal(private_key, params.public_key):
            return Failed(
                "ErrorKeyMatch", "Error generating certificate template: CSR not signed by referenced private key"
            )
        try:
            signed = await compute(_sign, params, private_key, slow=slow_key(private_key))
        except PkiError as exc:
            return Failed("ErrorSigning", f"Error signing certificate: {exc}")
        warnings = (IssuerWarning("BadConfig", EMPTY_DN_MESSAGE),) if name_is_empty(params.subject) else ()
        return Issued(certificate=signed, ca=signed, warnings=warnings)


def _with_crl(params: CertificateParams, crl: tuple[str, ...]) -> CertificateParams:
    return dataclasses.replace(params, crl_distribution_points=crl)


def _sign(params: CertificateParams, private_key: PrivateKey) -> bytes:
    return sign_self_signed(params, private_key).certificate_pem
