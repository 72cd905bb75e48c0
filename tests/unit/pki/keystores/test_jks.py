from __future__ import annotations

import hashlib
import struct
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat, load_pem_private_key

from certkeeper.pki.keystores import (
    DEFAULT_JKS_ALIAS,
    KeystorePrivateKey,
    ca_alias,
    encode_jks_keystore,
    encode_jks_truststore,
)

from .conftest import (
    CREATED_AT,
    GOLDEN,
    GOLDEN_CREATED_AT,
    GOLDEN_PASSWORD,
    CountingRandom,
    GoldenVectors,
    Hierarchy,
    run,
)

PASSWORD = b"changeit-Zx9"


@dataclass(frozen=True, slots=True)
class Entry:
    tag: int
    alias: str
    created_ms: int
    certificates: list[bytes]


def _read_jks(data: bytes, password: bytes) -> list[Entry]:
    """An independent minimal JKS reader: checks magic, version and the keyed digest, returns the entries."""
    magic, version, count = struct.unpack_from(">III", data)
    assert (magic, version) == (0xFEEDFEED, 2)
    expected_digest = hashlib.sha1(
        b"".join(b"\x00" + bytes([b]) for b in password) + b"Mighty Aphrodite" + data[:-20], usedforsecurity=False
    ).digest()
    assert data[-20:] == expected_digest
    offset, entries = 12, []

    def utf() -> str:
        nonlocal offset
        (length,) = struct.unpack_from(">H", data, offset)
        offset += 2 + length
        return data[offset - length : offset].decode()

    def blob() -> bytes:
        nonlocal offset
        (length,) = struct.unpack_from(">I", data, offset)
        offset += 4 + length
        return data[offset - length : offset]

    def certificate() -> bytes:
        assert utf() == "X509"
        return blob()

    for _ in range(count):
        (tag,) = struct.unpack_from(">I", data, offset)
        offset += 4
        alias = utf()
        (created_ms,) = struct.unpack_from(">Q", data, offset)
        offset += 8
        if tag == 1:
            blob()  # the protected key; keytool proves it decrypts
            (chain_length,) = struct.unpack_from(">I", data, offset)
            offset += 4
            certificates = [certificate() for _ in range(chain_length)]
        else:
            certificates = [certificate()]
        entries.append(Entry(tag, alias, created_ms, certificates))
    assert offset == len(data) - 20
    return entries


def _der(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(Encoding.DER)


def _keytool_list(path: Path, password: bytes = PASSWORD) -> dict[str, str]:
    result = run(["keytool", "-list", "-keystore", str(path), "-storepass", password.decode(), "-storetype", "JKS"])
    assert result.returncode == 0, result.stdout + result.stderr
    entries = {}
    for line in result.stdout.decode().splitlines():
        fields = [field.strip() for field in line.split(",")]
        if len(fields) >= 4 and fields[-2] in ("PrivateKeyEntry", "trustedCertEntry"):
            entries[fields[0]] = fields[-2]
    return entries


def test_keystore_is_byte_identical_to_keystore_go(golden_vectors: GoldenVectors) -> None:
    encoded = encode_jks_keystore(
        golden_vectors.key, golden_vectors.chain, [], GOLDEN_PASSWORD, created_at=GOLDEN_CREATED_AT,
        alias="Certificate", random_bytes=CountingRandom(),
    )  # fmt: skip
    assert encoded == (GOLDEN / "keystore.jks").read_bytes()


def test_truststore_is_byte_identical_to_keystore_go(golden_vectors: GoldenVectors) -> None:
    encoded = encode_jks_truststore(golden_vectors.cas[:1], GOLDEN_PASSWORD, created_at=GOLDEN_CREATED_AT)
    assert encoded == (GOLDEN / "truststore.jks").read_bytes()


def test_keytool_lists_key_entry_and_cas(ec_key: KeystorePrivateKey, hierarchy: Hierarchy, tmp_path: Path) -> None:
    path = tmp_path / "keystore.jks"
    cas = [hierarchy.root, hierarchy.other_ca, hierarchy.intermediate]
    path.write_bytes(
        encode_jks_keystore(ec_key, [hierarchy.ec_leaf, hierarchy.intermediate], cas, PASSWORD, created_at=CREATED_AT)
    )
    assert _keytool_list(path) == {
        "certificate": "PrivateKeyEntry",
        "ca": "trustedCertEntry",
        "ca-1": "trustedCertEntry",
        "ca-2": "trustedCertEntry",
    }
    entries = _read_jks(path.read_bytes(), PASSWORD)
    assert [(e.alias, e.certificates) for e in entries] == [
        ("certificate", [_der(hierarchy.ec_leaf), _der(hierarchy.intermediate)]),
        *[(ca_alias(i), [_der(ca)]) for i, ca in enumerate(cas)],
    ]


def test_keytool_lists_truststore(hierarchy: Hierarchy, tmp_path: Path) -> None:
    path = tmp_path / "truststore.jks"
    path.write_bytes(encode_jks_truststore([hierarchy.root, hierarchy.other_ca], PASSWORD, created_at=CREATED_AT))
    assert _keytool_list(path) == {"ca": "trustedCertEntry", "ca-1": "trustedCertEntry"}
    result = run(
        ["keytool", "-exportcert", "-rfc", "-alias", "ca-1", "-keystore", str(path), "-storepass", PASSWORD.decode()]
    )
    assert result.returncode == 0, result.stderr
    assert x509.load_pem_x509_certificate(result.stdout) == hierarchy.other_ca


@pytest.mark.parametrize("key_type", ["rsa", "ec", "ed25519"])
def test_key_entry_decrypts_in_java(
    key_type: str, request: pytest.FixtureRequest, hierarchy: Hierarchy, tmp_path: Path
) -> None:
    key = request.getfixturevalue(f"{key_type}_key")
    leaf = getattr(hierarchy, f"{key_type}_leaf")
    jks, p12 = tmp_path / "keystore.jks", tmp_path / "converted.p12"
    jks.write_bytes(
        encode_jks_keystore(key, [leaf, hierarchy.intermediate], [hierarchy.root], PASSWORD, created_at=CREATED_AT)
    )
    password = PASSWORD.decode()

    exported = run(
        ["keytool", "-exportcert", "-rfc", "-alias", "certificate", "-keystore", str(jks), "-storepass", password]
    )
    assert exported.returncode == 0, exported.stderr
    assert x509.load_pem_x509_certificate(exported.stdout) == leaf

    # Java must unprotect the key to copy it into a PKCS#12 store; openssl then hands it back.
    converted = run(
        [
            "keytool", "-importkeystore", "-noprompt", "-srckeystore", str(jks), "-srcstoretype", "JKS",
            "-srcstorepass", password, "-srcalias", "certificate", "-destkeystore", str(p12),
            "-deststoretype", "PKCS12", "-deststorepass", password, "-destkeypass", password,
        ]
    )  # fmt: skip
    assert converted.returncode == 0, converted.stdout + converted.stderr
    extracted = run(["openssl", "pkcs12", "-in", str(p12), "-passin", f"pass:{password}", "-nocerts", "-nodes"])
    assert extracted.returncode == 0, extracted.stderr
    pkcs8 = (Encoding.DER, PrivateFormat.PKCS8, NoEncryption())
    assert load_pem_private_key(extracted.stdout, None).private_bytes(*pkcs8) == key.private_bytes(*pkcs8)


def test_wrong_password_is_rejected(ec_key: KeystorePrivateKey, hierarchy: Hierarchy, tmp_path: Path) -> None:
    path = tmp_path / "keystore.jks"
    path.write_bytes(encode_jks_keystore(ec_key, [hierarchy.ec_leaf], [], PASSWORD, created_at=CREATED_AT))
    result = run(["keytool", "-list", "-keystore", str(path), "-storepass", "wrong-password", "-storetype", "JKS"])
    assert result.returncode != 0
    assert b"password was incorrect" in result.stdout + result.stderr


def test_timestamps_come_from_the_parameter(ec_key: KeystorePrivateKey, hierarchy: Hierarchy, tmp_path: Path) -> None:
    created = datetime.fromisoformat("2024-02-29T23:59:59.999+00:00")
    encoded = encode_jks_keystore(ec_key, [hierarchy.ec_leaf], [hierarchy.root], PASSWORD, created_at=created)
    assert [e.created_ms for e in _read_jks(encoded, PASSWORD)] == [1709251199999, 1709251199999]
    path = tmp_path / "keystore.jks"
    path.write_bytes(encoded)
    listing = run(["keytool", "-list", "-v", "-keystore", str(path), "-storepass", PASSWORD.decode()])
    assert b"Creation date: Feb 29, 2024" in listing.stdout


@pytest.mark.parametrize(
    ("alias", "stored"),
    [
        (None, "certificate"),
        ("MyApp", "myapp"),
        ("\u0130STANBUL", "istanbul"),  # Go's simple case mapping: U+0130 becomes a plain "i"
        ("\u039f\u03a3", "\u03bf\u03c3"),  # and no final-sigma rule
    ],
    ids=["default", "lowercased", "dotted-capital-i", "sigma"],
)
def test_alias_is_lowercased_like_keystore_go(
    alias: str | None, stored: str, ec_key: KeystorePrivateKey, hierarchy: Hierarchy
) -> None:
    chain, created = [hierarchy.ec_leaf], CREATED_AT
    if alias is None:
        encoded = encode_jks_keystore(ec_key, chain, [], PASSWORD, created_at=created)
    else:
        encoded = encode_jks_keystore(ec_key, chain, [], PASSWORD, created_at=created, alias=alias)
    assert [e.alias for e in _read_jks(encoded, PASSWORD)] == [stored]


def test_key_alias_clashing_with_ca_alias_is_replaced_like_keystore_go(
    ec_key: KeystorePrivateKey, hierarchy: Hierarchy
) -> None:
    # keystore-go keeps entries in a map, so the CA entry "ca" overwrites a key entry aliased "CA".
    encoded = encode_jks_keystore(
        ec_key, [hierarchy.ec_leaf], [hierarchy.root], PASSWORD, created_at=CREATED_AT, alias="CA"
    )
    assert [(e.tag, e.alias) for e in _read_jks(encoded, PASSWORD)] == [(2, "ca")]


def test_default_alias_and_ca_aliases() -> None:
    assert DEFAULT_JKS_ALIAS == "certificate"
    assert [ca_alias(i) for i in range(4)] == ["ca", "ca-1", "ca-2", "ca-3"]


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda k, h: encode_jks_keystore(k, [], [], PASSWORD, created_at=CREATED_AT), "leaf certificate"),
        (lambda k, h: encode_jks_truststore([], PASSWORD, created_at=CREATED_AT), "at least one CA"),
        (
            lambda k, h: encode_jks_keystore(k, [h.ec_leaf], [], PASSWORD, created_at=CREATED_AT, alias="a" * 65536),
            "65535",
        ),
        (lambda k, h: encode_jks_truststore([h.root], PASSWORD, created_at=datetime(2026, 1, 1)), "timezone"),
    ],
    ids=["empty-chain", "no-cas", "long-alias", "naive-time"],
)
def test_rejects_bad_input(call: object, message: str, ec_key: KeystorePrivateKey, hierarchy: Hierarchy) -> None:
    assert callable(call)
    with pytest.raises(ValueError, match=message):
        call(ec_key, hierarchy)
