"""The keystore check: Secret entries against ``spec.keystores`` (SecretKeystoreFormatMismatch)."""

import pytest

from certkeeper.api.certmanager import CertificateKeystores, JKSKeystore, PKCS12Keystore
from certkeeper.api.constants import TLS_CA_KEY, TLS_CERT_KEY, TLS_PRIVATE_KEY_KEY
from certkeeper.policies.checks.keystores import secret_keystore_format_mismatch
from certkeeper.policies.input import PolicyInput
from certkeeper.policies.reasons import Reason, Violation

from .builders import CERT_PEM, NOW, key_pem, make_certificate, make_secret

STORE = b"store"
JKS_ON = JKSKeystore(create=True, password="x")
P12_ON = PKCS12Keystore(create=True, password="x")


@pytest.mark.parametrize(
    ("keystores", "extra", "message"),
    [
        (None, {}, None),
        (None, {"keystore.p12": b""}, None),
        (None, {"truststore.jks": STORE}, "Keystore is not defined"),
        (CertificateKeystores(jks=JKS_ON), {"keystore.jks": STORE}, None),
        (CertificateKeystores(jks=JKS_ON), {"keystore.jks": STORE, TLS_CA_KEY: b"", "truststore.jks": STORE}, None),
        (CertificateKeystores(jks=JKS_ON), {}, "JKS Keystore key does not contain data"),
        (
            CertificateKeystores(jks=JKS_ON),
            {"keystore.jks": STORE, TLS_CA_KEY: b""},
            "JKS Keystore key does not contain data",
        ),
        (CertificateKeystores(jks=JKSKeystore(create=False)), {"keystore.jks": STORE}, "JKS Keystore create disabled"),
        (
            CertificateKeystores(pkcs12=P12_ON),
            {"keystore.p12": STORE, "keystore.jks": STORE},
            "JKS Keystore not defined",
        ),
        (
            CertificateKeystores(jks=JKS_ON),
            {"keystore.jks": STORE, "keystore.p12": STORE},
            "PKCS12 Keystore not defined",
        ),
        (
            CertificateKeystores(pkcs12=P12_ON),
            {"keystore.p12": STORE, TLS_CA_KEY: b"ca"},
            "PKCS12 Keystore key does not contain data",
        ),
        (
            CertificateKeystores(pkcs12=PKCS12Keystore(create=False)),
            {"truststore.p12": STORE},
            "PKCS12 Keystore create disabled",
        ),
        (CertificateKeystores(jks=JKS_ON, pkcs12=P12_ON), {"keystore.jks": STORE, "keystore.p12": STORE}, None),
    ],
    ids=[
        "none",
        "none-empty-entry",
        "none-but-present",
        "jks",
        "jks-with-ca",
        "jks-missing",
        "jks-truststore-missing",
        "jks-disabled",
        "jks-undefined",
        "pkcs12-undefined",
        "pkcs12-truststore-missing",
        "pkcs12-disabled",
        "both",
    ],
)
def test_keystore_format(keystores: CertificateKeystores | None, extra: dict[str, bytes], message: str | None) -> None:
    certificate = make_certificate(keystores=keystores)
    secret = make_secret(data={TLS_PRIVATE_KEY_KEY: key_pem(), TLS_CERT_KEY: CERT_PEM, **extra})
    violation = secret_keystore_format_mismatch(PolicyInput(certificate=certificate, secret=secret), NOW)
    assert violation == (None if message is None else Violation(reason=Reason.SECRET_MISMATCH, message=message))
