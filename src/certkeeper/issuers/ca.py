"""The CA issuer: signs requests with a CA key pair held in a Secret.

Setup checks that the Secret holds a CA certificate and the private key that matches it; signing
returns the leaf plus the CA chain and, as ``ca``, the root-most certificate of the issuer's chain
(``pkg/issuer/ca/setup.go``, ``pkg/controller/certificaterequests/ca/ca.go``).
"""

from __future__ import annotations

import dataclasses

from cryptography import x509

from certkeeper.api.certmanager import CertificateRequest
from certkeeper.api.constants import IssuerReason
from certkeeper.issuers.base import (
    Failed,
    GenericIssuer,
    InvalidSecretData,
    Issued,
    IssuerTypeName,
    Pending,
    SecretNotFound,
    SetupResult,
    SignContext,
    SignResult,
    read_secret,
    request_certificate_params,
    secret_tls_chain,
    secret_tls_key,
)
from certkeeper.pki.errors import PkiError
from certkeeper.pki.keys import PrivateKey, public_keys_equal, supported_public_key
from certkeeper.pki.sign import CertificateParams, sign_with_ca
from certkeeper.runtime.offload import compute, slow_key

KEY_PAIR_VERIFIED_MESSAGE = "Signing CA verified"
GET_KEY_PAIR_MESSAGE = "Error getting keypair for CA issuer: "


def _is_ca(certificate: x509.Certificate) -> bool:
    try:
        return bool(certificate.extensions.get_extension_for_class(x509.BasicConstraints).value.ca)
    except (x509.ExtensionNotFound, ValueError):
        return False


class CAIssuer:
    type_name: IssuerTypeName = "ca"

    async def setup(self, issuer: GenericIssuer, ctx: SignContext) -> SetupResult:
        assert issuer.spec.ca is not None
        name = issuer.spec.ca.secret_name
        try:
            secret = read_secret(ctx.secrets, ctx.resource_namespace, name)
            chain = secret_tls_chain(secret, ctx.pem_limits)
            key = secret_tls_key(secret, ctx.pem_limits)
        except (SecretNotFound, InvalidSecretData) as exc:
            message = GET_KEY_PAIR_MESSAGE + str(exc)
            return SetupResult(
                ready=False, reason=IssuerReason.ERR_GET_KEY_PAIR, message=message, event="Warning", retry=True
            )
        if not _is_ca(chain[0]):
            return SetupResult(
                ready=False,
                reason=IssuerReason.ERR_INVALID_KEY_PAIR,
                message=GET_KEY_PAIR_MESSAGE + "certificate is not a CA",
                event="Warning",
            )
        if not public_keys_equal(key, supported_public_key(chain[0].public_key())):
            return SetupResult(
                ready=False,
                reason=IssuerReason.ERR_INVALID_KEY_PAIR,
                message=GET_KEY_PAIR_MESSAGE + "private key does not match the CA certificate",
                event="Warning",
            )
        return SetupResult(
            ready=True, reason=IssuerReason.KEY_PAIR_VERIFIED, message=KEY_PAIR_VERIFIED_MESSAGE, event="Normal"
        )

    async def sign(self, request: CertificateRequest, issuer: GenericIssuer, ctx: SignContext) -> SignResult:
        ca = issuer.spec.ca
        assert ca is not None
        where = f"{ctx.resource_namespace}/{ca.secret_name}"
        try:
            secret = read_secret(ctx.secrets, ctx.resource_namespace, ca.secret_name)
            chain = secret_tls_chain(secret, ctx.pem_limits)
            key = secret_tls_key(secret, ctx.pem_limits)
        except SecretNotFound as exc:
            return Pending("SecretMissing", f"Referenced secret {where} not found: {exc}")
        except InvalidSecretData as exc:
            return Pending("SecretInvalidData", f"Failed to parse signing CA keypair from secret {where}: {exc}")
        try:
            params = request_certificate_params(request, ctx)
        except PkiError as exc:
            return Failed("SigningError", f"Error generating certificate template: {exc}")
        params = dataclasses.replace(
            params,
            crl_distribution_points=tuple(ca.crl_distribution_points or ()),
            ocsp_servers=tuple(ca.ocsp_servers or ()),
            issuing_certificate_urls=tuple(ca.issuing_certificate_urls or ()),
        )
        try:
            chain_pem, ca_pem = await compute(_sign, params, chain, key, slow=slow_key(key))
        except PkiError as exc:
            return Failed("SigningError", f"Error signing certificate: {exc}")
        return Issued(certificate=chain_pem, ca=ca_pem)


def _sign(params: CertificateParams, chain: list[x509.Certificate], key: PrivateKey) -> tuple[bytes, bytes]:
    signed = sign_with_ca(params, ca_certificates=chain, ca_key=key)
    return signed.chain_pem, signed.ca_pem
