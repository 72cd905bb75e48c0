from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from certkeeper.pki.keystores import (
    KEYSTORE_SECRET_KEYS,
    KeystoreError,
    KeystorePrivateKey,
    PKCS12Profile,
    encode_jks_truststore,
    encode_pkcs12_keystore,
    keystore_secret_data,
)

from .conftest import CREATED_AT, CountingRandom, Hierarchy
from .der_reader import parse

PASSWORD = b"changeit"


def _cert_bag_algorithm(p12: bytes) -> str:
    auth_safe = parse(parse(p12)[1][1][0].content)
    return auth_safe[0][1][0][1][1][0].oid()


@pytest.mark.parametrize(
    ("pkcs12", "jks", "with_ca", "keys"),
    [
        (False, False, True, set()),
        (True, False, False, {"keystore.p12"}),
        (True, False, True, {"keystore.p12", "truststore.p12"}),
        (False, True, False, {"keystore.jks"}),
        (False, True, True, {"keystore.jks", "truststore.jks"}),
        (True, True, False, {"keystore.p12", "keystore.jks"}),
        (True, True, True, {"keystore.p12", "truststore.p12", "keystore.jks", "truststore.jks"}),
    ],
    ids=["none", "p12", "p12+ca", "jks", "jks+ca", "both", "both+ca"],
)
def test_which_keys_are_written(
    pkcs12: bool, jks: bool, with_ca: bool, keys: set[str], ec_key: KeystorePrivateKey, hierarchy: Hierarchy
) -> None:
    data = keystore_secret_data(
        private_key=ec_key, chain=[hierarchy.ec_leaf], ca_certificates=[hierarchy.root] if with_ca else [],
        pkcs12_create=pkcs12, pkcs12_password=PASSWORD, jks_create=jks, jks_password=PASSWORD, created_at=CREATED_AT,
    )  # fmt: skip
    assert set(data) == keys
    assert set(data) <= KEYSTORE_SECRET_KEYS
    assert all(data.values())


def test_contents_are_the_encoders_output(ec_key: KeystorePrivateKey, hierarchy: Hierarchy) -> None:
    chain, cas = [hierarchy.ec_leaf, hierarchy.intermediate], [hierarchy.root]
    data = keystore_secret_data(
        private_key=ec_key, chain=chain, ca_certificates=cas, pkcs12_create=True, pkcs12_password=PASSWORD,
        pkcs12_profile="Modern2023", jks_create=True, jks_password=b"other", created_at=CREATED_AT,
        random_bytes=CountingRandom(),
    )  # fmt: skip
    # keystore.p12 is built first, so it sees the random source from its start.
    assert data["keystore.p12"] == encode_pkcs12_keystore(
        ec_key, chain, cas, PASSWORD, profile=PKCS12Profile.MODERN_2023, random_bytes=CountingRandom()
    )
    assert data["truststore.jks"] == encode_jks_truststore(cas, b"other", created_at=CREATED_AT)


@pytest.mark.parametrize(
    ("profile", "cert_algorithm"),
    [
        (None, "1.2.840.113549.1.12.1.6"),
        ("", "1.2.840.113549.1.12.1.6"),
        ("NotAProfile", "1.2.840.113549.1.12.1.6"),
        ("LegacyDES", "1.2.840.113549.1.12.1.3"),
        ("Modern2026", "1.2.840.113549.1.5.13"),
    ],
    ids=["unset-is-rc2", "empty-is-rc2", "unknown-is-rc2", "des", "modern2026"],
)
def test_profile_selection(
    profile: str | None, cert_algorithm: str, ec_key: KeystorePrivateKey, hierarchy: Hierarchy
) -> None:
    data = keystore_secret_data(
        private_key=ec_key, chain=[hierarchy.ec_leaf], ca_certificates=[hierarchy.root], pkcs12_create=True,
        pkcs12_password=PASSWORD, pkcs12_profile=profile, created_at=CREATED_AT,
    )  # fmt: skip
    assert _cert_bag_algorithm(data["keystore.p12"]) == cert_algorithm
    assert _cert_bag_algorithm(data["truststore.p12"]) == cert_algorithm


@pytest.mark.parametrize(("alias", "stored"), [(None, b"certificate"), ("Server", b"server")], ids=["default", "given"])
def test_jks_alias(alias: str | None, stored: bytes, ec_key: KeystorePrivateKey, hierarchy: Hierarchy) -> None:
    data = keystore_secret_data(
        private_key=ec_key, chain=[hierarchy.ec_leaf], ca_certificates=[], jks_create=True, jks_password=PASSWORD,
        jks_alias=alias, created_at=CREATED_AT,
    )  # fmt: skip
    # First entry: tag (4 bytes) after the 12-byte header, then the alias as u16 length + bytes.
    assert data["keystore.jks"][16 : 18 + len(stored)] == len(stored).to_bytes(2, "big") + stored


@pytest.mark.parametrize(
    ("pkcs12_password", "jks_password", "message"),
    [
        (None, PASSWORD, "either passwordSecretRef or password must be set for PKCS#12 keystore"),
        (b"", PASSWORD, "PKCS12 keystore password cannot be empty"),
        (PASSWORD, None, "either passwordSecretRef or password must be set for JKS keystore"),
        (PASSWORD, b"", "JKS keystore password cannot be empty"),
        ("\U0001f511".encode(), PASSWORD, "error encoding PKCS12 bundle: string contains characters that cannot be"),
    ],
    ids=["p12-unset", "p12-empty", "jks-unset", "jks-empty", "p12-unencodable"],
)
def test_password_errors(
    pkcs12_password: bytes | None, jks_password: bytes | None, message: str, ec_key: KeystorePrivateKey,
    hierarchy: Hierarchy,
) -> None:  # fmt: skip
    with pytest.raises(KeystoreError, match=message):
        keystore_secret_data(
            private_key=ec_key, chain=[hierarchy.ec_leaf], ca_certificates=[], pkcs12_create=True,
            pkcs12_password=pkcs12_password, jks_create=True, jks_password=jks_password, created_at=CREATED_AT,
        )  # fmt: skip


def test_passwords_are_only_needed_for_enabled_keystores(ec_key: KeystorePrivateKey, hierarchy: Hierarchy) -> None:
    data = keystore_secret_data(
        private_key=ec_key, chain=[hierarchy.ec_leaf], ca_certificates=[], jks_create=True, jks_password=PASSWORD,
        pkcs12_create=False, pkcs12_password=None, created_at=CREATED_AT,
    )  # fmt: skip
    assert set(data) == {"keystore.jks"}


@pytest.mark.parametrize(
    ("pkcs12", "message"),
    [(True, "error encoding PKCS12 bundle: "), (False, "error encoding JKS bundle: ")],
    ids=["pkcs12", "jks"],
)
def test_encoding_errors_say_which_keystore(pkcs12: bool, message: str, ec_key: KeystorePrivateKey) -> None:
    with pytest.raises(KeystoreError, match=message):
        keystore_secret_data(
            private_key=ec_key, chain=[], ca_certificates=[], pkcs12_create=pkcs12, pkcs12_password=PASSWORD,
            jks_create=not pkcs12, jks_password=PASSWORD, created_at=CREATED_AT,
        )  # fmt: skip


def test_truststore_errors_say_truststore(ec_key: KeystorePrivateKey, hierarchy: Hierarchy) -> None:
    # A CA subject outside the BMP cannot become a PKCS#12 friendly name; the keystore itself is fine.
    ca_key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "CA \U0001f511")])
    start = datetime(2026, 1, 1, tzinfo=UTC)
    ca = (
        x509.CertificateBuilder().subject_name(subject).issuer_name(subject).public_key(ca_key.public_key())
        .serial_number(7).not_valid_before(start).not_valid_after(start + timedelta(days=1))
        .sign(ca_key, hashes.SHA256())
    )  # fmt: skip
    with pytest.raises(KeystoreError, match="error encoding PKCS12 trust store bundle: "):
        keystore_secret_data(
            private_key=ec_key, chain=[hierarchy.ec_leaf], ca_certificates=[ca], pkcs12_create=True,
            pkcs12_password=PASSWORD, created_at=CREATED_AT,
        )  # fmt: skip
