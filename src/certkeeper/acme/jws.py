"""JSON Web Signatures for ACME (RFC 8555 §6.2): account keys, JWK thumbprints, key authorizations, EAB.

* :class:`AccountKey` signs requests: RS256 for RSA keys (cert-manager's account keys are RSA-2048),
  ES256/ES384 for ECDSA P-256/P-384 keys (the raw ``r || s`` form JWS wants, not DER).
* :func:`sign_jws` produces the flattened JSON serialisation with ``alg``, ``nonce``, ``url`` and
  either ``jwk`` (newAccount, and lookups before the account URL is known) or ``kid`` (the account URL).
* :func:`jwk_thumbprint` is RFC 7638; :func:`key_authorization` and :func:`dns01_txt_value` are what
  HTTP-01 serves and DNS-01 publishes (RFC 8555 §8.1, §8.4).
* :class:`ExternalAccountBinding` signs the account JWK with the CA-issued MAC key (RFC 8555 §7.3.4),
  HS256 by default as cert-manager; :func:`decode_eab_key` reads the key as cert-manager does
  (unpadded base64url, ``base64.RawURLEncoding``).

Key material never appears in reprs or error messages. Follows ``third_party/forked/acme/jws.go``. Pure.
"""

from __future__ import annotations

import base64
import binascii
import enum
import hashlib
import hmac
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Final

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

from certkeeper.acme.messages import JwsObject

#: The smallest RSA account key accepted (cert-manager generates 2048-bit keys; Let's Encrypt requires 2048).
MIN_RSA_BITS: Final = 2048
_BASE64URL: Final = re.compile(rb"[A-Za-z0-9_-]*")

AccountPrivateKey = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey


def b64url_encode(data: bytes) -> str:
    """Base64url without padding (RFC 7515 §2)."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64url_decode(data: str | bytes) -> bytes:
    """Strict unpadded base64url: raises ValueError on padding or characters outside the alphabet."""
    raw = data.encode("ascii", "replace") if isinstance(data, str) else data
    if not _BASE64URL.fullmatch(raw) or len(raw) % 4 == 1:
        raise ValueError("not unpadded base64url")
    try:
        return base64.urlsafe_b64decode(raw + b"=" * (-len(raw) % 4))
    except binascii.Error as exc:
        raise ValueError("not unpadded base64url") from exc


def _int_bytes(value: int, length: int | None = None) -> bytes:
    size = length if length is not None else max(1, (value.bit_length() + 7) // 8)
    return value.to_bytes(size, "big")


_CURVES: Final[dict[str, tuple[str, str, hashes.HashAlgorithm, int]]] = {
    # curve name -> (JWK crv, JWS alg, hash, coordinate length in bytes)
    "secp256r1": ("P-256", "ES256", hashes.SHA256(), 32),
    "secp384r1": ("P-384", "ES384", hashes.SHA384(), 48),
}


@dataclass(frozen=True, slots=True)
class AccountKey:
    """An ACME account key: its JWS algorithm, public JWK and thumbprint, and a signer.

    Only RSA (>= 2048 bits) and ECDSA P-256/P-384 keys are accepted, as ACME servers accept.
    """

    private_key: AccountPrivateKey = field(repr=False)

    def __post_init__(self) -> None:
        key = self.private_key
        if isinstance(key, rsa.RSAPrivateKey):
            if key.key_size < MIN_RSA_BITS:
                raise ValueError(f"an RSA account key must have at least {MIN_RSA_BITS} bits, not {key.key_size}")
        elif isinstance(key, ec.EllipticCurvePrivateKey):
            if key.curve.name not in _CURVES:
                raise ValueError(f"an ECDSA account key must use P-256 or P-384, not {key.curve.name}")
        else:
            raise TypeError(f"an account key must be RSA or ECDSA, not {type(key).__name__}")

    @property
    def algorithm(self) -> str:
        """The JWS ``alg``: RS256, ES256 or ES384."""
        if isinstance(self.private_key, rsa.RSAPrivateKey):
            return "RS256"
        return _CURVES[self.private_key.curve.name][1]

    def jwk(self) -> dict[str, str]:
        """The public key as a JWK with exactly the members RFC 7638 hashes (RFC 7518 §6)."""
        key = self.private_key
        if isinstance(key, rsa.RSAPrivateKey):
            numbers = key.public_key().public_numbers()
            return {"e": b64url_encode(_int_bytes(numbers.e)), "kty": "RSA", "n": b64url_encode(_int_bytes(numbers.n))}
        crv, _, _, size = _CURVES[key.curve.name]
        point = key.public_key().public_numbers()
        return {
            "crv": crv,
            "kty": "EC",
            "x": b64url_encode(_int_bytes(point.x, size)),
            "y": b64url_encode(_int_bytes(point.y, size)),
        }

    def thumbprint(self) -> str:
        """The RFC 7638 SHA-256 thumbprint of :meth:`jwk`, base64url."""
        return jwk_thumbprint(self.jwk())

    def sign(self, data: bytes) -> bytes:
        """The JWS signature of ``data`` (PKCS#1 v1.5 for RSA; raw ``r || s`` for ECDSA)."""
        key = self.private_key
        if isinstance(key, rsa.RSAPrivateKey):
            return key.sign(data, padding.PKCS1v15(), hashes.SHA256())
        _, _, digest, size = _CURVES[key.curve.name]
        r, s = decode_dss_signature(key.sign(data, ec.ECDSA(digest)))
        return _int_bytes(r, size) + _int_bytes(s, size)


def jwk_thumbprint(jwk: Mapping[str, str]) -> str:
    """RFC 7638: SHA-256 over the JWK's required members, sorted, without whitespace; base64url."""
    required = {"RSA": ("e", "kty", "n"), "EC": ("crv", "kty", "x", "y")}.get(jwk.get("kty", ""))
    if required is None:
        raise ValueError(f"unsupported JWK key type {jwk.get('kty')!r}")
    canonical = json.dumps({name: jwk[name] for name in required}, separators=(",", ":"), sort_keys=True)
    return b64url_encode(hashlib.sha256(canonical.encode()).digest())


def key_authorization(token: str, key: AccountKey) -> str:
    """``token || '.' || thumbprint`` (RFC 8555 §8.1): the HTTP-01 response body."""
    return f"{token}.{key.thumbprint()}"


def dns01_txt_value(key_authorization: str) -> str:
    """The DNS-01 TXT record value: base64url(SHA-256(key authorization)) (RFC 8555 §8.4)."""
    return b64url_encode(hashlib.sha256(key_authorization.encode()).digest())


def _compact_json(value: Mapping[str, object]) -> bytes:
    return json.dumps(value, separators=(",", ":")).encode()


def sign_jws(key: AccountKey, *, url: str, nonce: str, payload: bytes | None, kid: str | None = None) -> bytes:
    """A request body: the flattened JWS of ``payload`` (None means POST-as-GET, an empty payload).

    With ``kid`` the protected header names the account URL; without it, it carries the public JWK
    (newAccount, and onlyReturnExisting before the account URL is known).
    """
    protected: dict[str, object] = {"alg": key.algorithm, "nonce": nonce, "url": url}
    if kid is not None:
        protected["kid"] = kid
    else:
        protected["jwk"] = key.jwk()
    protected_b64 = b64url_encode(_compact_json(protected))
    payload_b64 = "" if payload is None else b64url_encode(payload)
    signature = key.sign(f"{protected_b64}.{payload_b64}".encode("ascii"))
    return _compact_json({"protected": protected_b64, "payload": payload_b64, "signature": b64url_encode(signature)})


class MacAlgorithm(enum.StrEnum):
    """HMAC algorithms for External Account Binding (cert-manager's ``keyAlgorithm`` values)."""

    HS256 = "HS256"
    HS384 = "HS384"
    HS512 = "HS512"


_MAC_DIGESTS: Final = {MacAlgorithm.HS256: "sha256", MacAlgorithm.HS384: "sha384", MacAlgorithm.HS512: "sha512"}


def decode_eab_key(data: str | bytes) -> bytes:
    """An EAB MAC key as cert-manager reads it from its Secret: unpadded base64url.

    Line breaks are skipped (Go's decoder ignores CR and LF); anything else outside the alphabet,
    padding included, is refused. The message never contains the key.
    """
    raw = data.encode("ascii", "replace") if isinstance(data, str) else bytes(data)
    raw = raw.replace(b"\r", b"").replace(b"\n", b"")
    try:
        key = b64url_decode(raw)
    except ValueError:
        raise ValueError(
            "failed to decode external account binding key data: not unpadded base64url "
            "(base64.RawURLEncoding); remove any '=' padding and use '-' and '_' instead of '+' and '/'"
        ) from None
    if not key:
        raise ValueError("failed to decode external account binding key data: the key is empty")
    return key


@dataclass(frozen=True, slots=True, kw_only=True)
class ExternalAccountBinding:
    """The CA-issued key identifier and MAC key that bind a new account to an external account."""

    key_id: str
    mac_key: bytes = field(repr=False)
    algorithm: MacAlgorithm = MacAlgorithm.HS256

    def __post_init__(self) -> None:
        if not self.key_id:
            raise ValueError("an external account binding needs a key ID")
        if not self.mac_key:
            raise ValueError("an external account binding needs a non-empty MAC key")

    def sign(self, *, account_key: AccountKey, url: str) -> JwsObject:
        """The ``externalAccountBinding`` JWS over the account's JWK (RFC 8555 §7.3.4)."""
        protected = b64url_encode(_compact_json({"alg": str(self.algorithm), "kid": self.key_id, "url": url}))
        payload = b64url_encode(_compact_json(account_key.jwk()))
        mac = hmac.new(self.mac_key, f"{protected}.{payload}".encode("ascii"), _MAC_DIGESTS[self.algorithm])
        return JwsObject(protected=protected, payload=payload, signature=b64url_encode(mac.digest()))
