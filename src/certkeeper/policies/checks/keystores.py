"""Post-issuance check of the keystore entries of the Secret against ``spec.keystores``. Pure.

Follows ``SecretKeystoreFormatMismatch`` in cert-manager's
``internal/controller/certificates/policies/checks.go``: a keystore that is asked for must be there
(and its truststore too, when the issuer provided a ``ca.crt``); one that is not asked for, or has
``create: false``, must be absent. Like the other post-issuance checks it says what to rewrite, not
that anything must be reissued; without a Secret it returns None.
"""

from __future__ import annotations

from datetime import datetime

from certkeeper.api.certmanager import JKSKeystore, PKCS12Keystore
from certkeeper.api.constants import (
    JKS_KEYSTORE_KEY,
    JKS_TRUSTSTORE_KEY,
    PKCS12_KEYSTORE_KEY,
    PKCS12_TRUSTSTORE_KEY,
    TLS_CA_KEY,
)
from certkeeper.policies.input import PolicyInput
from certkeeper.policies.reasons import Reason, Violation


def _mismatch(message: str) -> Violation:
    return Violation(reason=Reason.SECRET_MISMATCH, message=message)


def _keystore_violation(
    name: str, store: JKSKeystore | PKCS12Keystore | None, data: dict[str, bytes], keys: tuple[str, str]
) -> Violation | None:
    keystore, truststore = (bool(data.get(key)) for key in keys)
    if store is None:
        return _mismatch(f"{name} Keystore not defined") if keystore or truststore else None
    if not store.create:
        return _mismatch(f"{name} Keystore create disabled") if keystore or truststore else None
    # A truststore is only written when the issuer returned a CA (a ca.crt key, even empty).
    if not keystore or (not truststore and TLS_CA_KEY in data):
        return _mismatch(f"{name} Keystore key does not contain data")
    return None


def secret_keystore_format_mismatch(policy_input: PolicyInput, now: datetime) -> Violation | None:
    """SecretMismatch when the Secret's keystores and truststores do not follow ``spec.keystores``."""
    secret = policy_input.secret
    if secret is None:
        return None
    data = secret.data or {}
    keystores = policy_input.certificate.spec.keystores
    if keystores is None:
        stores = (PKCS12_KEYSTORE_KEY, PKCS12_TRUSTSTORE_KEY, JKS_KEYSTORE_KEY, JKS_TRUSTSTORE_KEY)
        return _mismatch("Keystore is not defined") if any(data.get(key) for key in stores) else None
    return _keystore_violation("JKS", keystores.jks, data, (JKS_KEYSTORE_KEY, JKS_TRUSTSTORE_KEY)) or (
        _keystore_violation("PKCS12", keystores.pkcs12, data, (PKCS12_KEYSTORE_KEY, PKCS12_TRUSTSTORE_KEY))
    )


__all__ = ["secret_keystore_format_mismatch"]
