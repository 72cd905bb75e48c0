"""Typed configurations of the CA, SelfSigned, Vault and Venafi issuers (``Issuer.spec.<type>``).

Re-exported by :mod:`certkeeper.api.certmanager`; the ACME configuration is in
:mod:`certkeeper.api.acme`. Field names are the snake_case of the wire names; ``tsgID`` and
``issuingCertificateURLs`` are spelled out with ``msgspec.field(name=...)``, CRD-required fields
have no default.

Follows the issuer types of ``pkg/apis/certmanager/v1/types_issuer.go`` and the CRD
``cert-manager.io_issuers.yaml``. Pure.
"""

from __future__ import annotations

from typing import Annotated

import msgspec

from certkeeper.api.cmmeta import LocalObjectReference, SecretKeySelector, ServiceAccountRef
from certkeeper.api.meta import Model


class CAIssuer(Model, kw_only=True, frozen=True):
    """Sign with the CA key pair in a Secret (``tls.crt``, ``tls.key``)."""

    secret_name: str
    crl_distribution_points: list[str] | None = None
    ocsp_servers: list[str] | None = None
    issuing_certificate_urls: list[str] | None = msgspec.field(default=None, name="issuingCertificateURLs")


class SelfSignedIssuer(Model, kw_only=True, frozen=True):
    """Sign each certificate with its own private key."""

    crl_distribution_points: list[str] | None = None


class VaultAppRole(Model, kw_only=True, frozen=True):
    path: str
    role_id: str
    secret_ref: SecretKeySelector


class VaultClientCertificateAuth(Model, kw_only=True, frozen=True):
    #: Go field ``Path``; ``/v1/auth/cert`` when unset.
    mount_path: str | None = None
    #: A kubernetes.io/tls Secret with the client certificate and key.
    secret_name: str | None = None
    #: The Vault cert-auth role.
    name: str | None = None


class VaultKubernetesAuth(Model, kw_only=True, frozen=True):
    #: Go field ``Path``; ``/v1/auth/kubernetes`` when unset.
    mount_path: str | None = None
    secret_ref: SecretKeySelector | None = None
    service_account_ref: ServiceAccountRef | None = None
    role: str


class VaultAWSAuth(Model, kw_only=True, frozen=True):
    mount_path: str | None = None
    role: Annotated[str, msgspec.Meta(min_length=1)]
    region: str | None = None
    service_account_ref: ServiceAccountRef | None = None
    iam_role_arn: str | None = None
    vault_header_value: str | None = None


class VaultAuth(Model, kw_only=True, frozen=True):
    """How to log in to Vault: exactly one method."""

    token_secret_ref: SecretKeySelector | None = None
    app_role: VaultAppRole | None = None
    client_certificate: VaultClientCertificateAuth | None = None
    kubernetes: VaultKubernetesAuth | None = None
    aws: VaultAWSAuth | None = None


class VaultIssuer(Model, kw_only=True, frozen=True):
    """Sign with a HashiCorp Vault PKI role (``path`` such as ``pki/sign/<role>``)."""

    auth: VaultAuth
    server: str
    server_name: str | None = None
    path: str
    namespace: str | None = None
    ca_bundle: bytes | None = None
    ca_bundle_secret_ref: SecretKeySelector | None = None
    client_cert_secret_ref: SecretKeySelector | None = None
    client_key_secret_ref: SecretKeySelector | None = None


class VenafiTPP(Model, kw_only=True, frozen=True):
    url: str
    credentials_ref: LocalObjectReference
    ca_bundle: bytes | None = None
    ca_bundle_secret_ref: SecretKeySelector | None = None


class VenafiCloud(Model, kw_only=True, frozen=True):
    url: str | None = None
    api_token_secret_ref: SecretKeySelector


class VenafiNGTS(Model, kw_only=True, frozen=True):
    url: str | None = None
    token_endpoint: str | None = None
    tsg_id: str = msgspec.field(name="tsgID")
    credentials_ref: LocalObjectReference


class VenafiIssuer(Model, kw_only=True, frozen=True):
    """CyberArk Certificate Manager (formerly Venafi): exactly one of ``tpp``, ``cloud``, ``ngts``."""

    zone: str
    tpp: VenafiTPP | None = None
    cloud: VenafiCloud | None = None
    ngts: VenafiNGTS | None = None


__all__ = [
    "CAIssuer",
    "SelfSignedIssuer",
    "VaultAWSAuth",
    "VaultAppRole",
    "VaultAuth",
    "VaultClientCertificateAuth",
    "VaultIssuer",
    "VaultKubernetesAuth",
    "VenafiCloud",
    "VenafiIssuer",
    "VenafiNGTS",
    "VenafiTPP",
]
