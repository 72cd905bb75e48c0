"""What a check needs from the Secret, or the violation that says why it is not there. Pure.

Every check is total: it never assumes an earlier check of the chain has passed. A check that needs
the Secret, its data, the private key or the certificate asks for them here and, when they are
missing or do not parse, returns the violation the earlier check would have returned (the same
reason and message as ``SecretDoesNotExist``, ``SecretIsMissingData`` and the parse errors of
``SecretPublicKeysDiffer`` in cert-manager's ``checks.go``). So a chain gives the same answer in any
order of its secret checks, and a check run alone never reports "fine" for a Secret it cannot read.
"""

from __future__ import annotations

from cryptography import x509

from certkeeper.api.constants import TLS_CERT_KEY, TLS_PRIVATE_KEY_KEY
from certkeeper.api.core import Secret
from certkeeper.pki.errors import PkiError
from certkeeper.pki.keys import PublicKey
from certkeeper.pki.pem import load_pem_certificate
from certkeeper.pki.public_half import private_key_public_half
from certkeeper.policies.input import PolicyInput
from certkeeper.policies.reasons import Reason, Violation

SECRET_DOES_NOT_EXIST = Violation(reason=Reason.DOES_NOT_EXIST, message="Issuing certificate as Secret does not exist")
SECRET_HAS_NO_DATA = Violation(
    reason=Reason.MISSING_DATA, message="Issuing certificate as Secret does not contain any data"
)
SECRET_HAS_NO_PRIVATE_KEY = Violation(
    reason=Reason.MISSING_DATA, message="Issuing certificate as Secret does not contain a private key"
)
SECRET_HAS_NO_CERTIFICATE = Violation(
    reason=Reason.MISSING_DATA, message="Issuing certificate as Secret does not contain a certificate"
)


def invalid_private_key(error: Exception) -> Violation:
    """``tls.key`` does not parse."""
    return Violation(
        reason=Reason.INVALID_KEY_PAIR,
        message=f"Issuing certificate as Secret contains invalid private key data: {error}",
    )


def invalid_certificate(error: Exception) -> Violation:
    """``tls.crt`` does not parse."""
    return Violation(
        reason=Reason.INVALID_CERTIFICATE,
        message=f"Issuing certificate as Secret contains an invalid certificate: {error}",
    )


def require_secret(policy_input: PolicyInput) -> Secret | Violation:
    """The Secret, or DoesNotExist."""
    return SECRET_DOES_NOT_EXIST if policy_input.secret is None else policy_input.secret


def require_data(
    policy_input: PolicyInput, *, key: bool = True, certificate: bool = True
) -> dict[str, bytes] | Violation:
    """The Secret's data with non-empty ``tls.key`` and/or ``tls.crt`` as asked, or the MissingData violation.

    An empty data map counts as no data (Kubernetes does not tell a nil map from an empty one on the wire).
    """
    secret = require_secret(policy_input)
    if isinstance(secret, Violation):
        return secret
    if not secret.data:
        return SECRET_HAS_NO_DATA
    if key and not secret.data.get(TLS_PRIVATE_KEY_KEY):
        return SECRET_HAS_NO_PRIVATE_KEY
    if certificate and not secret.data.get(TLS_CERT_KEY):
        return SECRET_HAS_NO_CERTIFICATE
    return secret.data


def require_private_key_public_half(policy_input: PolicyInput) -> PublicKey | Violation:
    """The public key of the parsed ``tls.key``, or the violation explaining why there is none.

    The checks only ask public questions of the key (does it pair, which algorithm and size), so they
    get its public half, memoised by digest (``pki.public_half``) instead of parsing it every reconcile.
    """
    data = require_data(policy_input, certificate=False)
    if isinstance(data, Violation):
        return data
    try:
        return private_key_public_half(data[TLS_PRIVATE_KEY_KEY])
    except PkiError as exc:
        return invalid_private_key(exc)


def require_certificate(policy_input: PolicyInput) -> x509.Certificate | Violation:
    """The first certificate of ``tls.crt``, or the violation explaining why there is none."""
    data = require_data(policy_input, key=False)
    if isinstance(data, Violation):
        return data
    try:
        return load_pem_certificate(data[TLS_CERT_KEY])
    except PkiError as exc:
        return invalid_certificate(exc)


__all__ = [
    "SECRET_DOES_NOT_EXIST",
    "SECRET_HAS_NO_CERTIFICATE",
    "SECRET_HAS_NO_DATA",
    "SECRET_HAS_NO_PRIVATE_KEY",
    "invalid_certificate",
    "invalid_private_key",
    "require_certificate",
    "require_data",
    "require_private_key_public_half",
    "require_secret",
]
