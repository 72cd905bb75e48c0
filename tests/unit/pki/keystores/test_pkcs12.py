from __future__ import annotations

import os
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric.types import PrivateKeyTypes
from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat, load_pem_private_key
from cryptography.hazmat.primitives.serialization.pkcs12 import load_pkcs12

from certkeeper.pki.keystores import (
    DEFAULT_PKCS12_PROFILE,
    KeystorePrivateKey,
    PKCS12Profile,
    encode_pkcs12_keystore,
    encode_pkcs12_truststore,
    resolve_pkcs12_profile,
)
from certkeeper.pki.keystores.names import go_name_string

from .conftest import GOLDEN, GOLDEN_PASSWORD, CountingRandom, GoldenVectors, Hierarchy, openssl_version, run
from .der_reader import Node, parse

PASSWORD = b"changeit-Zx9"
PBE_RC2_40, PBE_3DES = "1.2.840.113549.1.12.1.6", "1.2.840.113549.1.12.1.3"
PBES2, PBMAC1 = "1.2.840.113549.1.5.13", "1.2.840.113549.1.5.14"
SHA1, SHA256 = "1.3.14.3.2.26", "2.16.840.1.101.3.4.2.1"
PROFILES = list(PKCS12Profile)
# Java 17 (the keytool on this image) reads everything but PBMAC1, which arrived in Java 26.
JAVA17_PROFILES = [PKCS12Profile.LEGACY_RC2, PKCS12Profile.LEGACY_DES, PKCS12Profile.MODERN_2023]


def _key_der(key: PrivateKeyTypes) -> bytes:
    return key.private_bytes(Encoding.DER, PrivateFormat.PKCS8, NoEncryption())


def _openssl_pkcs12(profile: PKCS12Profile, path: Path, password: bytes, *extra: str) -> tuple[int, bytes, bytes]:
    """Run `openssl pkcs12` the way a user of this profile has to on the installed OpenSSL."""
    args = ["openssl", "pkcs12", "-in", str(path), "-passin", f"pass:{password.decode()}", *extra]
    version = openssl_version()
    if profile is PKCS12Profile.LEGACY_RC2 and version >= (3, 0):
        args.append("-legacy")  # OpenSSL 3 moved RC2 to the legacy provider
    if profile is PKCS12Profile.MODERN_2026 and version < (3, 4):
        args.append("-nomacver")  # PBMAC1 needs OpenSSL 3.4; the MAC is checked via cryptography instead
    result = run(args)
    return result.returncode, result.stdout, result.stderr


@pytest.mark.parametrize("profile", PROFILES, ids=[p.value for p in PROFILES])
def test_keystore_is_byte_identical_to_go_pkcs12(profile: PKCS12Profile, golden_vectors: GoldenVectors) -> None:
    encoded = encode_pkcs12_keystore(
        golden_vectors.key, golden_vectors.chain, golden_vectors.cas, GOLDEN_PASSWORD, profile=profile,
        random_bytes=CountingRandom(),
    )  # fmt: skip
    assert encoded == (GOLDEN / f"keystore-{profile.value}.p12").read_bytes()


@pytest.mark.parametrize("profile", PROFILES, ids=[p.value for p in PROFILES])
def test_truststore_is_byte_identical_to_go_pkcs12(profile: PKCS12Profile, golden_vectors: GoldenVectors) -> None:
    encoded = encode_pkcs12_truststore(
        golden_vectors.cas, GOLDEN_PASSWORD, profile=profile, random_bytes=CountingRandom()
    )
    assert encoded == (GOLDEN / f"truststore-{profile.value}.p12").read_bytes()


@pytest.mark.parametrize("profile", PROFILES, ids=[p.value for p in PROFILES])
@pytest.mark.parametrize("key_type", ["rsa", "ec", "ed25519"])
def test_openssl_opens_keystore_and_returns_the_key(
    profile: PKCS12Profile,
    key_type: str,
    request: pytest.FixtureRequest,
    hierarchy: Hierarchy,
    tmp_path: Path,
) -> None:
    key = request.getfixturevalue(f"{key_type}_key")
    leaf = getattr(hierarchy, f"{key_type}_leaf")
    path = tmp_path / "keystore.p12"
    path.write_bytes(
        encode_pkcs12_keystore(key, [leaf, hierarchy.intermediate], [hierarchy.root], PASSWORD, profile=profile)
    )

    code, out, err = _openssl_pkcs12(profile, path, PASSWORD, "-info", "-nokeys")
    assert code == 0, err
    certificates = x509.load_pem_x509_certificates(out)
    assert certificates == [leaf, hierarchy.intermediate, hierarchy.root]

    code, out, err = _openssl_pkcs12(profile, path, PASSWORD, "-nocerts", "-nodes")
    assert code == 0, err
    extracted = load_pem_private_key(out, None)
    assert _key_der(extracted) == _key_der(key)


@pytest.mark.parametrize("profile", PROFILES, ids=[p.value for p in PROFILES])
def test_cryptography_verifies_mac_and_reads_everything_in_order(
    profile: PKCS12Profile, rsa_key: KeystorePrivateKey, hierarchy: Hierarchy
) -> None:
    # cryptography 50 bundles OpenSSL 4, which also verifies PBMAC1 (Modern2026).
    chain, cas = [hierarchy.rsa_leaf, hierarchy.intermediate], [hierarchy.root, hierarchy.other_ca]
    loaded = load_pkcs12(encode_pkcs12_keystore(rsa_key, chain, cas, PASSWORD, profile=profile), PASSWORD)
    assert loaded.key is not None
    assert _key_der(loaded.key) == _key_der(rsa_key)
    assert loaded.cert is not None
    assert loaded.cert.certificate == hierarchy.rsa_leaf
    assert loaded.cert.friendly_name is None
    assert [c.certificate for c in loaded.additional_certs] == [hierarchy.intermediate, *cas]


@pytest.mark.parametrize("profile", PROFILES, ids=[p.value for p in PROFILES])
def test_truststore_names_each_ca_after_its_subject(
    profile: PKCS12Profile, hierarchy: Hierarchy, tmp_path: Path
) -> None:
    cas = [hierarchy.root, hierarchy.other_ca]
    encoded = encode_pkcs12_truststore(cas, PASSWORD, profile=profile)
    loaded = load_pkcs12(encoded, PASSWORD)
    assert loaded.key is None
    assert loaded.cert is None
    assert [(c.certificate, c.friendly_name) for c in loaded.additional_certs] == [
        (ca, go_name_string(ca.subject).encode()) for ca in cas
    ]
    path = tmp_path / "truststore.p12"
    path.write_bytes(encoded)
    code, out, err = _openssl_pkcs12(profile, path, PASSWORD, "-info", "-nokeys")
    assert code == 0, err
    assert x509.load_pem_x509_certificates(out) == cas


@pytest.mark.parametrize("profile", JAVA17_PROFILES, ids=[p.value for p in JAVA17_PROFILES])
def test_keytool_sees_a_private_key_and_trusted_certificates(
    profile: PKCS12Profile, ec_key: KeystorePrivateKey, hierarchy: Hierarchy, tmp_path: Path
) -> None:
    keystore, truststore = tmp_path / "keystore.p12", tmp_path / "truststore.p12"
    keystore.write_bytes(
        encode_pkcs12_keystore(ec_key, [hierarchy.ec_leaf], [hierarchy.root], PASSWORD, profile=profile)
    )
    truststore.write_bytes(encode_pkcs12_truststore([hierarchy.root, hierarchy.other_ca], PASSWORD, profile=profile))
    listings = []
    for path in (keystore, truststore):
        result = run(
            ["keytool", "-list", "-keystore", str(path), "-storepass", PASSWORD.decode(), "-storetype", "PKCS12"]
        )
        assert result.returncode == 0, result.stdout + result.stderr
        listings.append(result.stdout.decode())
    assert "Your keystore contains 1 entry" in listings[0]
    assert "PrivateKeyEntry" in listings[0]
    assert "Your keystore contains 2 entries" in listings[1]
    assert "cn=root,o=certkeeper, " in listings[1]
    assert "cn=other,o=certkeeper, " in listings[1]
    assert listings[1].count("trustedCertEntry") == 2


@pytest.mark.parametrize("profile", PROFILES, ids=[p.value for p in PROFILES])
def test_wrong_password_is_rejected(
    profile: PKCS12Profile, ec_key: KeystorePrivateKey, hierarchy: Hierarchy, tmp_path: Path
) -> None:
    encoded = encode_pkcs12_keystore(ec_key, [hierarchy.ec_leaf], [], PASSWORD, profile=profile)
    with pytest.raises(ValueError, match=r"(?i)password"):
        load_pkcs12(encoded, b"not-the-password")
    path = tmp_path / "keystore.p12"
    path.write_bytes(encoded)
    # For Modern2026 on OpenSSL < 3.4 the MAC is skipped (-nomacver), so this proves decryption fails too.
    code, _, _ = _openssl_pkcs12(profile, path, b"wrong", "-nokeys")
    assert code != 0


def test_tampered_pbmac1_mac_is_detected(ec_key: KeystorePrivateKey, hierarchy: Hierarchy) -> None:
    encoded = bytearray(
        encode_pkcs12_keystore(ec_key, [hierarchy.ec_leaf], [], PASSWORD, profile=PKCS12Profile.MODERN_2026)
    )
    mac_digest = parse(bytes(encoded))[2][0][1]
    offset = bytes(encoded).rindex(mac_digest.content)
    encoded[offset] ^= 0x01
    with pytest.raises(ValueError, match=r"(?i)password|mac"):
        load_pkcs12(bytes(encoded), PASSWORD)


def _profile_facts(pfx: Node) -> dict[str, object]:
    """What a PFX says about its protection, read with the test DER reader."""
    auth_safe = parse(pfx[1][1][0].content)
    encrypted_certs = auth_safe[0][1][0][1][1]
    mac = pfx[2]
    facts: dict[str, object] = {
        "version": pfx[0].integer(),
        "cert_algorithm": encrypted_certs[0].oid(),
        "mac_algorithm": mac[0][0][0].oid(),
        "mac_salt_length": len(mac[1].content),
        "mac_iterations": mac[2].integer() if len(mac.children) > 2 else "default (1)",
    }
    if len(auth_safe.children) > 1:
        key_bag = parse(auth_safe[1][1][0].content)[0]
        facts["key_algorithm"] = key_bag[1][0][0][0].oid()
    return facts


@pytest.mark.parametrize(
    ("profile", "expected"),
    [
        (PKCS12Profile.LEGACY_RC2, (PBE_RC2_40, PBE_3DES, SHA1, 8, "default (1)")),
        (PKCS12Profile.LEGACY_DES, (PBE_3DES, PBE_3DES, SHA1, 8, "default (1)")),
        (PKCS12Profile.MODERN_2023, (PBES2, PBES2, SHA256, 16, 2048)),
        # PBMAC1 keeps salt and iterations in its parameters; go-pkcs12 writes an empty macSalt and 0.
        (PKCS12Profile.MODERN_2026, (PBES2, PBES2, PBMAC1, 0, 0)),
    ],
    ids=[p.value for p in PROFILES],
)  # fmt: skip
def test_profile_parameters(
    profile: PKCS12Profile,
    expected: tuple[str, str, str, int, object],
    ec_key: KeystorePrivateKey,
    hierarchy: Hierarchy,
) -> None:
    cert_algorithm, key_algorithm, mac_algorithm, mac_salt_length, mac_iterations = expected
    facts = _profile_facts(parse(encode_pkcs12_keystore(ec_key, [hierarchy.ec_leaf], [], PASSWORD, profile=profile)))
    assert facts == {
        "version": 3,
        "cert_algorithm": cert_algorithm,
        "key_algorithm": key_algorithm,
        "mac_algorithm": mac_algorithm,
        "mac_salt_length": mac_salt_length,
        "mac_iterations": mac_iterations,
    }


def test_bags_carry_local_key_id_and_cas_an_empty_attribute_set(
    ec_key: KeystorePrivateKey, hierarchy: Hierarchy
) -> None:
    encoded = encode_pkcs12_keystore(
        ec_key, [hierarchy.ec_leaf], [hierarchy.root], PASSWORD, profile=PKCS12Profile.LEGACY_DES
    )
    loaded = load_pkcs12(encoded, PASSWORD)
    assert loaded.cert is not None
    assert loaded.cert.certificate == hierarchy.ec_leaf
    key_bag = parse(parse(parse(encoded)[1][1][0].content)[1][1][0].content)[0]
    local_key_id = key_bag[2][0]
    assert local_key_id[0].oid() == "1.2.840.113549.1.9.21"
    assert local_key_id[1][0].content == hierarchy.ec_leaf.fingerprint(hashes.SHA1())  # noqa: S303


def test_default_profile_is_legacy_rc2() -> None:
    assert DEFAULT_PKCS12_PROFILE is PKCS12Profile.LEGACY_RC2


@pytest.mark.parametrize(
    ("value", "expected"),
    [(None, "LegacyRC2"), ("", "LegacyRC2"), ("modern2023", "LegacyRC2"), ("Bogus", "LegacyRC2")]
    + [(p.value, p.value) for p in PROFILES],
    ids=["unset", "empty", "wrong-case", "unknown", *[p.value for p in PROFILES]],
)
def test_resolve_profile_like_keystore_go(value: str | None, expected: str) -> None:
    assert resolve_pkcs12_profile(value).value == expected


def test_fresh_salts_by_default(ec_key: KeystorePrivateKey, hierarchy: Hierarchy) -> None:
    first = encode_pkcs12_keystore(ec_key, [hierarchy.ec_leaf], [], PASSWORD, random_bytes=os.urandom)
    second = encode_pkcs12_keystore(ec_key, [hierarchy.ec_leaf], [], PASSWORD)
    assert first != second
    assert load_pkcs12(first, PASSWORD).cert == load_pkcs12(second, PASSWORD).cert


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda k, h: encode_pkcs12_keystore(k, [], [], PASSWORD), "leaf certificate"),
        (lambda k, h: encode_pkcs12_truststore([], PASSWORD), "at least one CA"),
        (lambda k, h: encode_pkcs12_keystore(k, [h.ec_leaf], [], "key-\U0001f511".encode()), "UCS-2"),
        (lambda k, h: encode_pkcs12_truststore([h.root], "\U0001f511".encode()), "UCS-2"),
    ],
    ids=["empty-chain", "no-cas", "non-bmp-password", "non-bmp-truststore-password"],
)
def test_rejects_what_go_pkcs12_rejects(
    call: object, message: str, ec_key: KeystorePrivateKey, hierarchy: Hierarchy
) -> None:
    assert callable(call)
    with pytest.raises(ValueError, match=message):
        call(ec_key, hierarchy)
