"""The keystore entries of a Certificate's Secret, decided as cert-manager's issuing controller decides them.

Follows ``SecretsManager.setKeystores`` in cert-manager's pkg/controller/certificates/issuing/internal/secret.go,
minus the password lookup (the caller resolves ``passwordSecretRef`` or ``password`` to bytes first and reports
a missing Secret or key itself):

- ``spec.keystores.pkcs12.create``: ``keystore.p12`` always; ``truststore.p12`` only when the issuer returned
  CA certificates. The profile defaults to LegacyRC2.
- ``spec.keystores.jks.create``: ``keystore.jks`` always (with the CAs as extra entries); ``truststore.jks``
  only when CA certificates are known. The key alias defaults to ``certificate``.

Errors carry cert-manager's wording (``error encoding PKCS12 bundle: ...``) and never key material. Time
(``created_at``, for JKS entries) and randomness (``random_bytes``, for salts and IVs) are parameters. Pure.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from datetime import datetime
from typing import Final

from cryptography import x509

from certkeeper.pki.keystores.jks import DEFAULT_JKS_ALIAS, encode_jks_keystore, encode_jks_truststore
from certkeeper.pki.keystores.pbe import RandomBytes
from certkeeper.pki.keystores.pkcs8 import KeystorePrivateKey
from certkeeper.pki.keystores.pkcs12 import encode_pkcs12_keystore, encode_pkcs12_truststore, resolve_pkcs12_profile

#: Secret data keys (cert-manager pkg/apis/certmanager/v1/types.go).
PKCS12_KEYSTORE_KEY: Final = "keystore.p12"
PKCS12_TRUSTSTORE_KEY: Final = "truststore.p12"
JKS_KEYSTORE_KEY: Final = "keystore.jks"
JKS_TRUSTSTORE_KEY: Final = "truststore.jks"
KEYSTORE_SECRET_KEYS: Final = frozenset(
    {PKCS12_KEYSTORE_KEY, PKCS12_TRUSTSTORE_KEY, JKS_KEYSTORE_KEY, JKS_TRUSTSTORE_KEY}
)


class KeystoreError(ValueError):
    """A keystore could not be built; the message says which one and why, without secrets."""


def _password(password: bytes | None, kind: str, name: str) -> bytes:
    if password is None:
        raise KeystoreError(f"either passwordSecretRef or password must be set for {name} keystore")
    if not password:
        raise KeystoreError(f"{kind} keystore password cannot be empty")
    return password


def keystore_secret_data(
    *,
    private_key: KeystorePrivateKey,
    chain: Sequence[x509.Certificate],
    ca_certificates: Sequence[x509.Certificate],
    pkcs12_create: bool = False,
    pkcs12_password: bytes | None = None,
    pkcs12_profile: str | None = None,
    jks_create: bool = False,
    jks_password: bytes | None = None,
    jks_alias: str | None = None,
    created_at: datetime,
    random_bytes: RandomBytes = os.urandom,
) -> dict[str, bytes]:
    """The keystore data keys to write, mapped to their contents (empty when neither keystore is enabled).

    ``chain`` is tls.crt decoded (leaf first); ``ca_certificates`` is ca.crt decoded, empty when the issuer
    returned no CA. Passwords are the resolved bytes; None means neither source was set.
    """
    data: dict[str, bytes] = {}
    if pkcs12_create:
        password = _password(pkcs12_password, "PKCS12", "PKCS#12")
        profile = resolve_pkcs12_profile(pkcs12_profile)
        try:
            data[PKCS12_KEYSTORE_KEY] = encode_pkcs12_keystore(
                private_key, chain, ca_certificates, password, profile=profile, random_bytes=random_bytes
            )
        except (TypeError, ValueError) as exc:
            raise KeystoreError(f"error encoding PKCS12 bundle: {exc}") from exc
        if ca_certificates:
            try:
                data[PKCS12_TRUSTSTORE_KEY] = encode_pkcs12_truststore(
                    ca_certificates, password, profile=profile, random_bytes=random_bytes
                )
            except ValueError as exc:
                raise KeystoreError(f"error encoding PKCS12 trust store bundle: {exc}") from exc
    if jks_create:
        password = _password(jks_password, "JKS", "JKS")
        alias = DEFAULT_JKS_ALIAS if jks_alias is None else jks_alias
        try:
            data[JKS_KEYSTORE_KEY] = encode_jks_keystore(
                private_key,
                chain,
                ca_certificates,
                password,
                created_at=created_at,
                alias=alias,
                random_bytes=random_bytes,
            )
        except (TypeError, ValueError) as exc:
            raise KeystoreError(f"error encoding JKS bundle: {exc}") from exc
        if ca_certificates:
            try:
                data[JKS_TRUSTSTORE_KEY] = encode_jks_truststore(ca_certificates, password, created_at=created_at)
            except ValueError as exc:
                raise KeystoreError(f"error encoding JKS trust store bundle: {exc}") from exc
    return data
