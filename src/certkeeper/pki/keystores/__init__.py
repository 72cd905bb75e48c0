"""PKCS#12 and JKS keystores and truststores for a Certificate's Secret, as cert-manager writes them.

Inputs are cryptography objects (private key, certificate chain leaf first, CA certificates) and password
bytes; outputs are file contents. Time and randomness are parameters. Pure.

- :func:`keystore_secret_data`: the Secret entries for ``spec.keystores`` (what to write, and when).
- :func:`encode_pkcs12_keystore`, :func:`encode_pkcs12_truststore`: keystore.p12 / truststore.p12.
- :func:`encode_jks_keystore`, :func:`encode_jks_truststore`: keystore.jks / truststore.jks.
"""

from certkeeper.pki.keystores.jks import DEFAULT_JKS_ALIAS, ca_alias, encode_jks_keystore, encode_jks_truststore
from certkeeper.pki.keystores.pbe import RandomBytes
from certkeeper.pki.keystores.pkcs8 import KeystorePrivateKey
from certkeeper.pki.keystores.pkcs12 import (
    DEFAULT_PKCS12_PROFILE,
    PKCS12Profile,
    encode_pkcs12_keystore,
    encode_pkcs12_truststore,
    resolve_pkcs12_profile,
)
from certkeeper.pki.keystores.secret_data import (
    JKS_KEYSTORE_KEY,
    JKS_TRUSTSTORE_KEY,
    KEYSTORE_SECRET_KEYS,
    PKCS12_KEYSTORE_KEY,
    PKCS12_TRUSTSTORE_KEY,
    KeystoreError,
    keystore_secret_data,
)

__all__ = [
    "DEFAULT_JKS_ALIAS",
    "DEFAULT_PKCS12_PROFILE",
    "JKS_KEYSTORE_KEY",
    "JKS_TRUSTSTORE_KEY",
    "KEYSTORE_SECRET_KEYS",
    "PKCS12_KEYSTORE_KEY",
    "PKCS12_TRUSTSTORE_KEY",
    "KeystoreError",
    "KeystorePrivateKey",
    "PKCS12Profile",
    "RandomBytes",
    "ca_alias",
    "encode_jks_keystore",
    "encode_jks_truststore",
    "encode_pkcs12_keystore",
    "encode_pkcs12_truststore",
    "keystore_secret_data",
    "resolve_pkcs12_profile",
]
