"""Private keys: generation, PEM encoding and parsing, description, equality, signature algorithms. Pure.

Follows cert-manager's ``pkg/util/pki/generate.go`` (sizes, curves, encodings, messages),
``pkg/util/pki/parse.go`` (``DecodePrivateKeyBytes``) and the signature-algorithm selection of
``pkg/util/pki/csr.go`` (``SignatureAlgorithm``, ``signatureAlgorithmFromPublicKey``). Keys come from
the OS CSPRNG through cryptography; that randomness is the one impurity. No message ever contains
key material.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Final, TypeAlias

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    NoEncryption,
    PrivateFormat,
    PublicFormat,
    load_der_private_key,
)

from certkeeper.pki.errors import InvalidPem, InvalidTemplate, UnsupportedKey
from certkeeper.pki.pem import DEFAULT_PEM_LIMITS, PemLimits, decode_private_key_block

PrivateKey: TypeAlias = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey
PublicKey: TypeAlias = rsa.RSAPublicKey | ec.EllipticCurvePublicKey | ed25519.Ed25519PublicKey
SigningHash: TypeAlias = hashes.SHA256 | hashes.SHA384 | hashes.SHA512

MIN_RSA_KEY_SIZE: Final = 2048
MAX_RSA_KEY_SIZE: Final = 8192
DEFAULT_ECDSA_KEY_SIZE: Final = 256
_CURVES: Final[dict[int, type[ec.EllipticCurve]]] = {256: ec.SECP256R1, 384: ec.SECP384R1, 521: ec.SECP521R1}
_CURVE_SIZES: Final[dict[str, int]] = {"secp256r1": 256, "secp384r1": 384, "secp521r1": 521}


class KeyAlgorithm(enum.StrEnum):
    """``spec.privateKey.algorithm``."""

    RSA = "RSA"
    ECDSA = "ECDSA"
    ED25519 = "Ed25519"


class KeyEncoding(enum.StrEnum):
    """``spec.privateKey.encoding``: PKCS1 means PKCS#1 for RSA and SEC1 for ECDSA."""

    PKCS1 = "PKCS1"
    PKCS8 = "PKCS8"


class SignatureAlgorithm(enum.StrEnum):
    """``spec.signatureAlgorithm`` values, named as cert-manager names them."""

    SHA256_WITH_RSA = "SHA256WithRSA"
    SHA384_WITH_RSA = "SHA384WithRSA"
    SHA512_WITH_RSA = "SHA512WithRSA"
    ECDSA_WITH_SHA256 = "ECDSAWithSHA256"
    ECDSA_WITH_SHA384 = "ECDSAWithSHA384"
    ECDSA_WITH_SHA512 = "ECDSAWithSHA512"
    PURE_ED25519 = "PureEd25519"


#: Which signature algorithms each key algorithm may use (the webhook's keyAlgToAllowedSigAlgs).
ALLOWED_SIGNATURE_ALGORITHMS: Final[dict[KeyAlgorithm, tuple[SignatureAlgorithm, ...]]] = {
    KeyAlgorithm.RSA: (
        SignatureAlgorithm.SHA256_WITH_RSA,
        SignatureAlgorithm.SHA384_WITH_RSA,
        SignatureAlgorithm.SHA512_WITH_RSA,
    ),
    KeyAlgorithm.ECDSA: (
        SignatureAlgorithm.ECDSA_WITH_SHA256,
        SignatureAlgorithm.ECDSA_WITH_SHA384,
        SignatureAlgorithm.ECDSA_WITH_SHA512,
    ),
    KeyAlgorithm.ED25519: (SignatureAlgorithm.PURE_ED25519,),
}

_HASHES: Final[dict[SignatureAlgorithm, type[SigningHash] | None]] = {
    SignatureAlgorithm.SHA256_WITH_RSA: hashes.SHA256,
    SignatureAlgorithm.SHA384_WITH_RSA: hashes.SHA384,
    SignatureAlgorithm.SHA512_WITH_RSA: hashes.SHA512,
    SignatureAlgorithm.ECDSA_WITH_SHA256: hashes.SHA256,
    SignatureAlgorithm.ECDSA_WITH_SHA384: hashes.SHA384,
    SignatureAlgorithm.ECDSA_WITH_SHA512: hashes.SHA512,
    SignatureAlgorithm.PURE_ED25519: None,
}


@dataclass(frozen=True, slots=True, kw_only=True)
class KeySpec:
    """What key a certificate asks for. ``size`` 0 means the default (RSA 2048, ECDSA P-256)."""

    algorithm: KeyAlgorithm = KeyAlgorithm.RSA
    size: int = 0

    @property
    def effective_size(self) -> int:
        """The size after defaulting (Ed25519 has no size and reports 0)."""
        if self.algorithm is KeyAlgorithm.ED25519:
            return 0
        if self.size > 0:
            return self.size
        return MIN_RSA_KEY_SIZE if self.algorithm is KeyAlgorithm.RSA else DEFAULT_ECDSA_KEY_SIZE


@dataclass(frozen=True, slots=True, kw_only=True)
class KeyDescription:
    """Algorithm and size of an existing key (bits for RSA, curve size for ECDSA, 256 for Ed25519)."""

    algorithm: KeyAlgorithm
    size: int


def generate_rsa_private_key(size: int = MIN_RSA_KEY_SIZE) -> rsa.RSAPrivateKey:
    """A new RSA key of ``size`` bits (2048..8192), public exponent 65537."""
    if size < MIN_RSA_KEY_SIZE:
        raise UnsupportedKey(f"weak rsa key size specified: {size}. minimum key size: {MIN_RSA_KEY_SIZE}")
    if size > MAX_RSA_KEY_SIZE:
        raise UnsupportedKey(f"rsa key size specified too big: {size}. maximum key size: {MAX_RSA_KEY_SIZE}")
    return rsa.generate_private_key(public_exponent=65537, key_size=size)


def generate_ecdsa_private_key(size: int = DEFAULT_ECDSA_KEY_SIZE) -> ec.EllipticCurvePrivateKey:
    """A new ECDSA key on P-256, P-384 or P-521 (``size`` 256, 384 or 521)."""
    curve = _CURVES.get(size)
    if curve is None:
        raise UnsupportedKey(f"unsupported ecdsa key size specified: {size}")
    return ec.generate_private_key(curve())


def generate_ed25519_private_key() -> ed25519.Ed25519PrivateKey:
    """A new Ed25519 key."""
    return ed25519.Ed25519PrivateKey.generate()


def generate_private_key(spec: KeySpec = KeySpec()) -> PrivateKey:
    """A new key as ``spec`` asks (cert-manager's ``GeneratePrivateKeyForCertificate``)."""
    if spec.algorithm is KeyAlgorithm.RSA:
        return generate_rsa_private_key(spec.effective_size)
    if spec.algorithm is KeyAlgorithm.ECDSA:
        return generate_ecdsa_private_key(spec.effective_size)
    if spec.algorithm is KeyAlgorithm.ED25519:
        return generate_ed25519_private_key()
    raise UnsupportedKey(f"unsupported private key algorithm specified: {spec.algorithm}")


def encode_private_key_pkcs1(key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey) -> bytes:
    """``RSA PRIVATE KEY`` (PKCS#1) or ``EC PRIVATE KEY`` (SEC1) PEM."""
    return key.private_bytes(Encoding.PEM, PrivateFormat.TraditionalOpenSSL, NoEncryption())


def encode_private_key_pkcs8(key: PrivateKey) -> bytes:
    """``PRIVATE KEY`` (PKCS#8) PEM, unencrypted."""
    return key.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption())


def encode_private_key_pem(key: PrivateKey, encoding: KeyEncoding = KeyEncoding.PKCS1) -> bytes:
    """PEM for ``spec.privateKey.encoding``; Ed25519 has no PKCS#1 form and is always PKCS#8."""
    if encoding is KeyEncoding.PKCS8 or isinstance(key, ed25519.Ed25519PrivateKey):
        return encode_private_key_pkcs8(key)
    if encoding is KeyEncoding.PKCS1:
        return encode_private_key_pkcs1(key)
    raise InvalidTemplate(f"error encoding private key: unknown key encoding: {encoding}")


def _check_supported(key: object, context: str) -> PrivateKey:
    if isinstance(key, rsa.RSAPrivateKey | ed25519.Ed25519PrivateKey):
        return key
    if isinstance(key, ec.EllipticCurvePrivateKey):
        if key.curve.name not in _CURVE_SIZES:
            raise UnsupportedKey(f"{context}: unsupported elliptic curve {key.curve.name}")
        return key
    raise UnsupportedKey(f"{context}: invalid key type")


def _check_rsa_consistency(key: rsa.RSAPrivateKey) -> None:
    """Go's ``rsa.PrivateKey.Validate`` without primality tests: n = p·q, and d inverts e mod p-1, q-1."""
    numbers = key.private_numbers()
    p, q, d, n, e = numbers.p, numbers.q, numbers.d, numbers.public_numbers.n, numbers.public_numbers.e
    if p <= 1 or q <= 1 or p * q != n or e < 2 or (d * e) % (p - 1) != 1 or (d * e) % (q - 1) != 1:
        raise ValueError("inconsistent RSA key")


def load_pem_private_key(data: bytes, *, limits: PemLimits = DEFAULT_PEM_LIMITS) -> PrivateKey:
    """Parse the first PEM block of ``data`` as an RSA, ECDSA (P-256/384/521) or Ed25519 private key.

    Accepts ``PRIVATE KEY`` (PKCS#8), ``RSA PRIVATE KEY`` (PKCS#1) and ``EC PRIVATE KEY`` (SEC1),
    as cert-manager's ``DecodePrivateKeyBytes``; RSA keys are consistency-checked. Encrypted keys
    and other block types are refused.
    """
    block = decode_private_key_block(data, limits=limits)
    expected: dict[str, tuple[str, type | tuple[type, ...]]] = {
        "PRIVATE KEY": ("error parsing pkcs#8 private key", object),
        "RSA PRIVATE KEY": ("error parsing rsa private key", rsa.RSAPrivateKey),
        "EC PRIVATE KEY": ("error parsing ecdsa private key", ec.EllipticCurvePrivateKey),
    }
    if block.type not in expected:
        raise InvalidPem(f"unknown private key type: {block.type}")
    context, wanted = expected[block.type]
    try:
        # cryptography's full RSA check tests the primes (~100 ms for RSA-3072, paid on every parse of a
        # stored key); like Go's ParsePKCS1PrivateKey we check the cheap algebra instead (below).
        key = load_der_private_key(block.der, password=None, unsafe_skip_rsa_key_validation=True)
        if isinstance(key, rsa.RSAPrivateKey):
            _check_rsa_consistency(key)
    except (ValueError, TypeError, UnsupportedAlgorithm) as exc:
        # cryptography's messages describe the structure, but say nothing of it here to be safe.
        raise InvalidPem(f"{context}: the key data is malformed, encrypted or of an unsupported kind") from exc
    if not isinstance(key, wanted):
        raise InvalidPem(f"{context}: the block does not hold a key of that kind")
    return _check_supported(key, context)


def supported_public_key(key: object) -> PublicKey:
    """``key`` (from a certificate or CSR) if it is RSA, ECDSA on P-256/384/521 or Ed25519."""
    if isinstance(key, rsa.RSAPublicKey | ed25519.Ed25519PublicKey):
        return key
    if isinstance(key, ec.EllipticCurvePublicKey):
        if key.curve.name not in _CURVE_SIZES:
            raise UnsupportedKey(f"unsupported elliptic curve {key.curve.name}")
        return key
    raise UnsupportedKey(f"unsupported public key type {type(key).__name__}")


def _public(key: PrivateKey | PublicKey) -> PublicKey:
    if isinstance(key, rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey):
        return key.public_key()
    return key


def describe_key(key: PrivateKey | PublicKey) -> KeyDescription:
    """Algorithm and size of ``key`` (used to compare a key with ``spec.privateKey``)."""
    public = _public(key)
    if isinstance(public, rsa.RSAPublicKey):
        return KeyDescription(algorithm=KeyAlgorithm.RSA, size=public.key_size)
    if isinstance(public, ec.EllipticCurvePublicKey):
        size = _CURVE_SIZES.get(public.curve.name)
        if size is None:
            raise UnsupportedKey(f"unsupported elliptic curve {public.curve.name}")
        return KeyDescription(algorithm=KeyAlgorithm.ECDSA, size=size)
    if isinstance(public, ed25519.Ed25519PublicKey):
        return KeyDescription(algorithm=KeyAlgorithm.ED25519, size=256)
    raise UnsupportedKey(f"unsupported key type {type(public).__name__}")


def public_key_der(key: PrivateKey | PublicKey) -> bytes:
    """The DER SubjectPublicKeyInfo of ``key`` (or of its public half)."""
    return _public(key).public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo)


def public_keys_equal(a: PrivateKey | PublicKey, b: PrivateKey | PublicKey) -> bool:
    """True when both keys (private or public) have the same public key.

    cryptography compares public keys by type and value (OpenSSL's ``EVP_PKEY_eq``), which is what
    comparing their SubjectPublicKeyInfo DER says, without encoding either (~8x faster for P-256;
    the readiness checks compare keys on every reconcile).
    """
    return _public(a) == _public(b)


def signature_algorithm_for_key(key: PrivateKey | PublicKey) -> SignatureAlgorithm:
    """The algorithm cert-manager signs with for a given signer key.

    RSA: SHA-512 from 4096 bits, SHA-384 from 3072, else SHA-256 (below 2048 is refused); ECDSA by
    curve (P-256 SHA-256, P-384 SHA-384, P-521 SHA-512); Ed25519 pure.
    """
    description = describe_key(key)
    return _signature_algorithm_for(description.algorithm, description.size)


def _signature_algorithm_for(algorithm: KeyAlgorithm, size: int) -> SignatureAlgorithm:
    if algorithm is KeyAlgorithm.RSA:
        if size >= 4096:
            return SignatureAlgorithm.SHA512_WITH_RSA
        if size >= 3072:
            return SignatureAlgorithm.SHA384_WITH_RSA
        if size >= MIN_RSA_KEY_SIZE:
            return SignatureAlgorithm.SHA256_WITH_RSA
        raise UnsupportedKey(f"invalid size {size} for RSA key on signing certificate")
    if algorithm is KeyAlgorithm.ECDSA:
        by_curve = {
            256: SignatureAlgorithm.ECDSA_WITH_SHA256,
            384: SignatureAlgorithm.ECDSA_WITH_SHA384,
            521: SignatureAlgorithm.ECDSA_WITH_SHA512,
        }
        if size not in by_curve:
            raise UnsupportedKey(f"unsupported ecdsa keysize specified: {size}")
        return by_curve[size]
    return SignatureAlgorithm.PURE_ED25519


def signature_algorithm_for_spec(spec: KeySpec, requested: SignatureAlgorithm | None = None) -> SignatureAlgorithm:
    """The CSR signature algorithm for a key spec (cert-manager's ``SignatureAlgorithm(crt)``).

    ``requested`` (``spec.signatureAlgorithm``) wins when set, but must be one the key algorithm
    can make; otherwise the algorithm follows from the spec's algorithm and size (not the key's).
    """
    if requested is not None:
        check_signature_algorithm(spec.algorithm, requested)
        return requested
    return _signature_algorithm_for(spec.algorithm, spec.effective_size)


def check_signature_algorithm(algorithm: KeyAlgorithm, requested: SignatureAlgorithm) -> None:
    """Raise :class:`InvalidTemplate` unless ``requested`` can be made with a key of ``algorithm``."""
    allowed = ALLOWED_SIGNATURE_ALGORITHMS[algorithm]
    if requested not in allowed:
        names = " ".join(str(name) for name in allowed)
        raise InvalidTemplate(f"for key algorithm {algorithm} the allowed signature algorithms are [{names}]")


def hash_for(signature_algorithm: SignatureAlgorithm) -> SigningHash | None:
    """The hash cryptography's ``sign()`` takes for ``signature_algorithm`` (None for Ed25519)."""
    hash_type = _HASHES[signature_algorithm]
    return None if hash_type is None else hash_type()
