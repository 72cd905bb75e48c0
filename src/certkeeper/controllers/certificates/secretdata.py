"""The Secret a Certificate's issuance writes, as a server-side-apply configuration.

Follows ``pkg/controller/certificates/issuing/internal/secret.go``: data ``tls.crt``, ``tls.key``,
``ca.crt`` (when the issuer returned a CA), the additional output formats and keystores; labels
``controller.cert-manager.io/fao`` and the secretTemplate's; annotations: the secretTemplate's, the
certificate details, ``certificate-name`` and the issuer's name/kind/group; an existing Secret's type
is kept (it is immutable). Applied with cert-manager's field manager so that fields it (or
cert-manager before it) applied and no longer applies are removed, and other writers' fields stay.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from datetime import datetime

from cryptography import x509

from certkeeper.api.annotations import (
    CERTIFICATE_NAME_KEY,
    ISSUER_GROUP_ANNOTATION,
    ISSUER_KIND_ANNOTATION,
    ISSUER_NAME_ANNOTATION,
    PART_OF_CERT_MANAGER_CONTROLLER_LABEL,
)
from certkeeper.api.certmanager import Certificate
from certkeeper.api.cmmeta import IssuerReference
from certkeeper.api.constants import TLS_CA_KEY, TLS_CERT_KEY, TLS_PRIVATE_KEY_KEY
from certkeeper.api.core import SECRET_TYPE_TLS, Secret
from certkeeper.api.defaults import jks_alias
from certkeeper.controllers.writes import controller_ref
from certkeeper.pki.errors import PkiError
from certkeeper.pki.from_spec import key_encoding
from certkeeper.pki.keys import PrivateKey, encode_private_key_pem
from certkeeper.pki.keystores.secret_data import KeystoreError, keystore_secret_data
from certkeeper.pki.outputs import additional_output_data
from certkeeper.pki.pem import PemLimits, load_pem_certificate_bundle, load_pem_certificate_chain
from certkeeper.policies.certificate_annotations import annotations_for_certificate
from certkeeper.store.ports import RawObject

#: cert-manager's field manager for the issuing controller (user agent prefix + controller name).
ISSUING_FIELD_MANAGER = "cert-manager-certificates-issuing"


class SecretDataError(Exception):
    """The Secret cannot be built (a keystore password is missing, ...); retried with backoff."""

    def __init__(self, message: str, *, event_reason: str | None = None) -> None:
        super().__init__(message)
        self.event_reason = event_reason


@dataclass(frozen=True, slots=True, kw_only=True)
class IssuedData:
    private_key: PrivateKey
    certificate: bytes
    ca: bytes | None
    issuer_ref: IssuerReference | None


def _password(
    kind: str, literal: str | None, ref_name: str | None, ref_key: str | None, existing: dict[str, Secret]
) -> bytes | None:
    if ref_name:
        secret = existing.get(ref_name)
        if secret is None:
            raise SecretDataError(
                f'{kind} keystore password Secret "{ref_name}" not found', event_reason="KeystorePasswordSecretNotFound"
            )
        value = (secret.data or {}).get(ref_key or "")
        if not value:
            raise SecretDataError(f'{kind} keystore password Secret contains no data for key "{ref_key or ""}"')
        return value
    if literal is not None:
        return literal.encode()
    return None


def secret_apply(
    cert: Certificate,
    issued: IssuedData,
    *,
    existing_type: str | None,
    password_secrets: dict[str, Secret],
    limits: PemLimits,
    owner_ref: bool,
    created_at: datetime,
) -> RawObject:
    """The apply configuration for ``cert``'s Secret holding ``issued``."""
    key_pem = encode_private_key_pem(issued.private_key, key_encoding(cert.spec.private_key))
    data: dict[str, bytes] = {}
    try:
        chain = load_pem_certificate_chain(issued.certificate, limits=limits)
        cas = load_pem_certificate_bundle(issued.ca, limits=limits) if issued.ca else []
    except PkiError as exc:
        raise SecretDataError(f"failed to decode the issued certificate: {exc}") from exc
    data.update(_keystores(cert, issued, chain, cas, password_secrets, created_at))
    formats = [f.type for f in cert.spec.additional_output_formats or ()]
    data.update(
        additional_output_data(
            formats,
            private_key=issued.private_key,
            key_encoding=key_encoding(cert.spec.private_key),
            key_pem=key_pem,
            chain_pem=issued.certificate,
        )
    )
    data[TLS_PRIVATE_KEY_KEY] = key_pem
    data[TLS_CERT_KEY] = issued.certificate
    if issued.ca:
        data[TLS_CA_KEY] = issued.ca
    template = cert.spec.secret_template
    labels = dict(template.labels or {}) if template else {}
    annotations = dict(template.annotations or {}) if template else {}
    annotations.update(annotations_for_certificate(chain[0] if chain else None))
    annotations[CERTIFICATE_NAME_KEY] = cert.name
    ref = issued.issuer_ref
    if ref is not None and (ref.name or ref.kind or ref.group):
        annotations[ISSUER_NAME_ANNOTATION] = ref.name
        annotations[ISSUER_KIND_ANNOTATION] = ref.kind or ""
        annotations[ISSUER_GROUP_ANNOTATION] = ref.group or ""
    labels[PART_OF_CERT_MANAGER_CONTROLLER_LABEL] = "true"
    metadata: RawObject = {
        "name": cert.spec.secret_name,
        "namespace": cert.namespace,
        "labels": labels,
        "annotations": annotations,
    }
    if owner_ref:
        ref_obj = controller_ref(cert)
        metadata["ownerReferences"] = [
            {
                "apiVersion": ref_obj.api_version,
                "kind": ref_obj.kind,
                "name": ref_obj.name,
                "uid": ref_obj.uid,
                "controller": True,
                "blockOwnerDeletion": True,
            }
        ]
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": metadata,
        "type": existing_type or SECRET_TYPE_TLS,
        "data": {k: base64.b64encode(v).decode() for k, v in data.items()},
    }


def _keystores(
    cert: Certificate,
    issued: IssuedData,
    chain: list[x509.Certificate],
    cas: list[x509.Certificate],
    password_secrets: dict[str, Secret],
    created_at: datetime,
) -> dict[str, bytes]:
    stores = cert.spec.keystores
    if stores is None:
        return {}
    pkcs12, jks = stores.pkcs12, stores.jks
    pkcs12_password = jks_password = None
    if pkcs12 is not None and pkcs12.create:
        ref = pkcs12.password_secret_ref
        pkcs12_password = _password(
            "PKCS12", pkcs12.password, ref.name if ref else None, ref.key if ref else None, password_secrets
        )
    if jks is not None and jks.create:
        ref = jks.password_secret_ref
        jks_password = _password(
            "JKS", jks.password, ref.name if ref else None, ref.key if ref else None, password_secrets
        )
    try:
        return keystore_secret_data(
            private_key=issued.private_key,
            chain=chain,
            ca_certificates=cas,
            pkcs12_create=bool(pkcs12 and pkcs12.create),
            pkcs12_password=pkcs12_password,
            pkcs12_profile=pkcs12.profile if pkcs12 else None,
            jks_create=bool(jks and jks.create),
            jks_password=jks_password,
            jks_alias=jks_alias(jks) if jks else None,
            created_at=created_at,
        )
    except KeystoreError as exc:
        raise SecretDataError(f"failed to add keystores to Secret: {exc}") from exc
