"""cert-manager's shared reference types: issuer references, Secret key selectors, ServiceAccount refs.

These small structs appear in every cert-manager kind (``issuerRef``, ``privateKeySecretRef``,
``credentialsRef``...). They follow ``pkg/apis/meta/v1/types.go`` (and the ``ServiceAccountRef`` that
``pkg/apis/certmanager/v1`` and ``pkg/apis/acme/v1`` each declare with the same shape). Pure.
"""

from __future__ import annotations

from certkeeper.api.meta import Model


class LocalObjectReference(Model, kw_only=True, frozen=True):
    """A reference to an object (usually a Secret) in the same namespace as the referrer."""

    name: str


class SecretKeySelector(Model, kw_only=True, frozen=True):
    """A key of a Secret in the referrer's namespace.

    ``key`` is optional on the wire; what an unset key means depends on the field (``tls.key`` for an
    ACME account key, ``token`` for Vault token auth, ``ca.crt`` for a CA bundle...).
    """

    name: str
    key: str | None = None


class IssuerReference(Model, kw_only=True, frozen=True):
    """The issuer that signs a Certificate, CertificateRequest, Order or Challenge.

    ``kind`` and ``group`` default to ``Issuer`` and ``cert-manager.io`` (see
    :func:`certkeeper.api.defaults.default_issuer_ref`); unset and default compare equal.
    """

    name: str
    kind: str | None = None
    group: str | None = None


class ServiceAccountRef(Model, kw_only=True, frozen=True):
    """A ServiceAccount whose bound token authenticates to Vault or AWS.

    ``audiences`` are extra token audiences (Go field ``TokenAudiences``).
    """

    name: str
    audiences: list[str] | None = None


__all__ = ["IssuerReference", "LocalObjectReference", "SecretKeySelector", "ServiceAccountRef"]
