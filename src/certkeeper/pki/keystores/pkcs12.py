"""keystore.p12 and truststore.p12 as cert-manager writes them, for all four PKCS#12 profiles.

Follows cert-manager's pkg/controller/certificates/issuing/internal/keystore.go (encodePKCS12Keystore,
encodePKCS12Truststore), which calls software.sslmate.com/src/go-pkcs12. The layout and parameters are go-pkcs12's
(v0.7.4), so that a file from certkeeper is, given the same random bytes, byte for byte what cert-manager writes
(cert-manager HEAD pins v0.7.3, which differs only by leaving out the NULL parameter of the PBES2 PRF; v0.7.4
adds it because RFC 8018 requires it and BoringSSL rejects files without it):

keystore (``Encoder.Encode``, modelled on OpenSSL's PKCS12_create)::

    PFX v3
      AuthenticatedSafe
        EncryptedData (certificate algorithm)   leaf CertBag [localKeyId]; then each CA CertBag with an empty
                                                attribute SET: chain[1:] followed by the issuer's CA certificates
        Data                                    PKCS8ShroudedKeyBag (key algorithm) [localKeyId]
      MacData
    localKeyId = SHA-1 of the leaf certificate's DER; no friendlyName.

truststore (``Encoder.EncodeTrustStore``)::

    PFX v3 / AuthenticatedSafe / EncryptedData: one CertBag per CA with attributes
      friendlyName = Go's Subject.String() (see names.py) and
      2.16.840.1.113894.746875.1.1 (Java's trusted-key usage) = anyExtendedKeyUsage

======================  ================  ================  ====================  ===========  ====
profile                 certificate bags  key bag           MAC                   iterations   salt
======================  ================  ================  ====================  ===========  ====
LegacyRC2 (default)     PBE-SHA1-RC2-40   PBE-SHA1-3DES     HMAC-SHA-1            2048, MAC 1  8
LegacyDES               PBE-SHA1-3DES     PBE-SHA1-3DES     HMAC-SHA-1            2048, MAC 1  8
Modern2023              PBES2 AES-256     PBES2 AES-256     HMAC-SHA-256          2048         16
Modern2026              PBES2 AES-256     PBES2 AES-256     PBMAC1 HMAC-SHA-256   2048         16
======================  ================  ================  ====================  ===========  ====

cryptography's ``serialize_key_and_certificates`` is not used: it cannot write RC2-40 or PBMAC1, and for the
other two profiles it differs from go-pkcs12 (MAC iterations equal to ``kdf_rounds``, 8-byte salts), which
changes the files cert-manager users get. Pure apart from the ``random_bytes`` source (salts and IVs).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Final

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.serialization import Encoding

from certkeeper.pki.keystores import der
from certkeeper.pki.keystores.kdf import go_string
from certkeeper.pki.keystores.names import go_name_string
from certkeeper.pki.keystores.pbe import EncryptionScheme, MacScheme, RandomBytes, encrypt, mac_data
from certkeeper.pki.keystores.pkcs8 import KeystorePrivateKey, encode_pkcs8_der


class PKCS12Profile(StrEnum):
    """``spec.keystores.pkcs12.profile``; values are the wire strings."""

    LEGACY_RC2 = "LegacyRC2"
    LEGACY_DES = "LegacyDES"
    MODERN_2023 = "Modern2023"
    MODERN_2026 = "Modern2026"


#: cert-manager's default when ``profile`` is unset (or, in keystore.go's switch, unknown).
DEFAULT_PKCS12_PROFILE: Final = PKCS12Profile.LEGACY_RC2


@dataclass(frozen=True, slots=True, kw_only=True)
class _Parameters:
    certificates: EncryptionScheme
    key: EncryptionScheme
    mac: MacScheme
    mac_iterations: int
    encryption_iterations: int
    salt_length: int


_PARAMETERS: Final = {
    PKCS12Profile.LEGACY_RC2: _Parameters(
        certificates="rc2-40", key="3des", mac="sha1", mac_iterations=1, encryption_iterations=2048, salt_length=8
    ),
    PKCS12Profile.LEGACY_DES: _Parameters(
        certificates="3des", key="3des", mac="sha1", mac_iterations=1, encryption_iterations=2048, salt_length=8
    ),
    PKCS12Profile.MODERN_2023: _Parameters(
        certificates="pbes2",
        key="pbes2",
        mac="sha256",
        mac_iterations=2048,
        encryption_iterations=2048,
        salt_length=16,
    ),
    PKCS12Profile.MODERN_2026: _Parameters(
        certificates="pbes2",
        key="pbes2",
        mac="pbmac1",
        mac_iterations=2048,
        encryption_iterations=2048,
        salt_length=16,
    ),
}

_OID_DATA: Final = "1.2.840.113549.1.7.1"
_OID_ENCRYPTED_DATA: Final = "1.2.840.113549.1.7.6"
_OID_FRIENDLY_NAME: Final = "1.2.840.113549.1.9.20"
_OID_LOCAL_KEY_ID: Final = "1.2.840.113549.1.9.21"
_OID_X509_CERTIFICATE: Final = "1.2.840.113549.1.9.22.1"
_OID_PKCS8_SHROUDED_KEY_BAG: Final = "1.2.840.113549.1.12.10.1.2"
_OID_CERT_BAG: Final = "1.2.840.113549.1.12.10.1.3"
_OID_JAVA_TRUSTED_KEY_USAGE: Final = "2.16.840.1.113894.746875.1.1"
_OID_ANY_EXTENDED_KEY_USAGE: Final = "2.5.29.37.0"


def resolve_pkcs12_profile(profile: str | None) -> PKCS12Profile:
    """The profile keystore.go uses for ``profile``: its own value, else LegacyRC2 (unset or unknown)."""
    for known in PKCS12Profile:
        if known.value == profile:
            return known
    return DEFAULT_PKCS12_PROFILE


def _attribute(attribute_oid: str, value: bytes) -> bytes:
    return der.sequence(der.oid(attribute_oid), der.set_of([value]))


def _safe_bag(bag_oid: str, value: bytes, attributes: list[bytes] | None) -> bytes:
    # None leaves bagAttributes out; an empty list writes an empty SET, as go-pkcs12 does for CA bags.
    tail = [] if attributes is None else [der.set_of(attributes)]
    return der.sequence(der.oid(bag_oid), der.explicit(0, value), *tail)


def _cert_bag(certificate: x509.Certificate, attributes: list[bytes] | None) -> bytes:
    cert_der = certificate.public_bytes(Encoding.DER)
    value = der.sequence(der.oid(_OID_X509_CERTIFICATE), der.explicit(0, der.octet_string(cert_der)))
    return _safe_bag(_OID_CERT_BAG, value, attributes)


def _data(content: bytes) -> bytes:
    return der.sequence(der.oid(_OID_DATA), der.explicit(0, der.octet_string(content)))


def _encrypted_data(
    scheme: EncryptionScheme, password: str, content: bytes, parameters: _Parameters, random_bytes: RandomBytes
) -> bytes:
    algorithm, ciphertext = encrypt(
        scheme,
        password,
        content,
        iterations=parameters.encryption_iterations,
        salt_length=parameters.salt_length,
        random_bytes=random_bytes,
    )
    encrypted_content_info = der.sequence(der.oid(_OID_DATA), algorithm, der.implicit_primitive(0, ciphertext))
    return der.sequence(
        der.oid(_OID_ENCRYPTED_DATA), der.explicit(0, der.sequence(der.integer(0), encrypted_content_info))
    )


def _pfx(authenticated_safe: bytes, password: str, parameters: _Parameters, random_bytes: RandomBytes) -> bytes:
    mac = mac_data(
        parameters.mac,
        password,
        authenticated_safe,
        iterations=parameters.mac_iterations,
        salt_length=parameters.salt_length,
        random_bytes=random_bytes,
    )
    return der.sequence(der.integer(3), _data(authenticated_safe), mac)


def encode_pkcs12_keystore(
    private_key: KeystorePrivateKey,
    chain: Sequence[x509.Certificate],
    ca_certificates: Sequence[x509.Certificate],
    password: bytes,
    *,
    profile: PKCS12Profile = DEFAULT_PKCS12_PROFILE,
    random_bytes: RandomBytes = os.urandom,
) -> bytes:
    """keystore.p12: the key, ``chain[0]`` as the end-entity certificate, then ``chain[1:]`` and the CAs.

    ``chain`` is tls.crt decoded (leaf first); ``ca_certificates`` is ca.crt decoded (may be empty);
    ``password`` is the Secret's bytes. Raises ValueError for an empty chain or a password with
    characters outside the Basic Multilingual Plane (go-pkcs12 cannot encode those either).
    """
    if not chain:
        raise ValueError("a PKCS#12 keystore needs at least the leaf certificate")
    parameters = _PARAMETERS[profile]
    text = go_string(password)
    leaf = chain[0]
    # go-pkcs12 ties the key to its certificate by the certificate's SHA-1 fingerprint (an identifier, not security).
    local_key_id = _attribute(_OID_LOCAL_KEY_ID, der.octet_string(leaf.fingerprint(hashes.SHA1())))  # noqa: S303
    cert_bags = [_cert_bag(leaf, [local_key_id])]
    cert_bags += [_cert_bag(certificate, []) for certificate in [*chain[1:], *ca_certificates]]
    # go-pkcs12 draws the key bag's salt (and IV) before the certificates', so encrypt the key first.
    key_algorithm, key_ciphertext = encrypt(
        parameters.key,
        text,
        encode_pkcs8_der(private_key),
        iterations=parameters.encryption_iterations,
        salt_length=parameters.salt_length,
        random_bytes=random_bytes,
    )
    shrouded_key = der.sequence(key_algorithm, der.octet_string(key_ciphertext))
    key_bag = _safe_bag(_OID_PKCS8_SHROUDED_KEY_BAG, shrouded_key, [local_key_id])
    certificates = _encrypted_data(parameters.certificates, text, der.sequence(*cert_bags), parameters, random_bytes)
    authenticated_safe = der.sequence(certificates, _data(der.sequence(key_bag)))
    return _pfx(authenticated_safe, text, parameters, random_bytes)


def encode_pkcs12_truststore(
    ca_certificates: Sequence[x509.Certificate],
    password: bytes,
    *,
    profile: PKCS12Profile = DEFAULT_PKCS12_PROFILE,
    random_bytes: RandomBytes = os.urandom,
) -> bytes:
    """truststore.p12: each CA as a trusted certificate for Java, named after its subject.

    Raises ValueError when ``ca_certificates`` is empty (cert-manager writes no truststore then), or when
    the password or a subject has characters outside the Basic Multilingual Plane.
    """
    if not ca_certificates:
        raise ValueError("a PKCS#12 truststore needs at least one CA certificate")
    parameters = _PARAMETERS[profile]
    text = go_string(password)
    trusted = _attribute(_OID_JAVA_TRUSTED_KEY_USAGE, der.oid(_OID_ANY_EXTENDED_KEY_USAGE))
    cert_bags = [
        _cert_bag(ca, [trusted, _attribute(_OID_FRIENDLY_NAME, der.bmp_string(go_name_string(ca.subject)))])
        for ca in ca_certificates
    ]
    certificates = _encrypted_data(parameters.certificates, text, der.sequence(*cert_bags), parameters, random_bytes)
    return _pfx(der.sequence(certificates), text, parameters, random_bytes)
