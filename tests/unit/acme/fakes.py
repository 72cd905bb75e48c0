"""An in-process ACME server behind the :class:`~certkeeper.acme.transport.Transport` protocol, and a clock.

:class:`FakeAcmeServer` is a tiny state machine of RFC 8555 that checks what a client must get right:
every POST is a flattened JWS whose signature verifies against the account JWK (RS256, ES256, ES384),
whose ``url`` is the request URL, whose nonce was issued and never used before, and which carries
``jwk`` for newAccount and ``kid`` for everything else. Tests steer it with plain attributes:
reject the next nonces, keep authorizations pending or orders processing for some polls, send
Retry-After, inject one-shot responses, offer alternate chains. Certificates are really signed
(ECDSA, one intermediate cross-signed by two roots), so chain and ARI code sees real X.509.

:class:`StepClock` is a ``Clock`` whose ``sleep`` returns at once and records the delay.
"""

from __future__ import annotations

import hashlib
import hmac
import itertools
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
from cryptography.x509.oid import NameOID

from certkeeper.acme.jws import b64url_decode, b64url_encode, jwk_thumbprint
from certkeeper.acme.transport import HttpRequest, HttpResponse

BASE = "https://acme.test"
NOW = datetime(2030, 1, 1, tzinfo=UTC)
ERR = "urn:ietf:params:acme:error:"


class StepClock:
    """A Clock whose sleeps return at once, advancing its time and recording each delay."""

    def __init__(self, start: datetime = NOW) -> None:
        self.wall = start
        self.mono = 0.0
        self.sleeps: list[float] = []

    def now(self) -> datetime:
        return self.wall

    def monotonic(self) -> float:
        return self.mono

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.mono += seconds
        self.wall += timedelta(seconds=seconds)


def _name(cn: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])


class FakeCa:
    """Two roots, one intermediate key cross-signed by both, and leaves for CSRs."""

    def __init__(self) -> None:
        self.root_keys = [ec.generate_private_key(ec.SECP256R1()) for _ in range(2)]
        self.root_names = ["Fake Root A", "Fake Root B"]
        self.intermediate_key = ec.generate_private_key(ec.SECP256R1())
        self.intermediates = [
            self._sign(_name("Fake Intermediate"), self.intermediate_key.public_key(), _name(cn), key, ca=True)
            for cn, key in zip(self.root_names, self.root_keys, strict=True)
        ]

    def _sign(
        self,
        subject: x509.Name,
        public_key: Any,
        issuer: x509.Name,
        issuer_key: ec.EllipticCurvePrivateKey,
        *,
        ca: bool,
        sans: list[x509.GeneralName] | None = None,
        serial: int | None = None,
    ) -> x509.Certificate:
        builder = (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(issuer)
            .public_key(public_key)
            .serial_number(serial if serial is not None else x509.random_serial_number())
            .not_valid_before(NOW - timedelta(days=1))
            .not_valid_after(NOW + timedelta(days=90))
            .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_key.public_key()), critical=False)
        )
        if sans:
            builder = builder.add_extension(x509.SubjectAlternativeName(sans), critical=False)
        return builder.sign(issuer_key, hashes.SHA256())

    def issue(self, csr: x509.CertificateSigningRequest) -> x509.Certificate:
        """A leaf for the CSR's key and SANs, signed by the intermediate."""
        sans = list(csr.extensions.get_extension_for_class(x509.SubjectAlternativeName).value)
        return self._sign(
            x509.Name([]), csr.public_key(), _name("Fake Intermediate"), self.intermediate_key, ca=False, sans=sans
        )

    def chain_pem(self, leaf: x509.Certificate, root_index: int) -> bytes:
        """Leaf plus the intermediate signed by root ``root_index``, in PEM."""
        return b"".join(c.public_bytes(serialization.Encoding.PEM) for c in (leaf, self.intermediates[root_index]))


def _verify(jwk: dict[str, str], alg: str, signed: bytes, signature: bytes) -> bool:
    from cryptography.exceptions import InvalidSignature

    try:
        if jwk["kty"] == "RSA" and alg == "RS256":
            numbers = rsa.RSAPublicNumbers(
                int.from_bytes(b64url_decode(jwk["e"]), "big"), int.from_bytes(b64url_decode(jwk["n"]), "big")
            )
            numbers.public_key().verify(signature, signed, padding.PKCS1v15(), hashes.SHA256())
            return True
        curves = {"ES256": (ec.SECP256R1(), hashes.SHA256(), 32), "ES384": (ec.SECP384R1(), hashes.SHA384(), 48)}
        if jwk["kty"] != "EC" or alg not in curves:
            return False
        curve, digest, size = curves[alg]
        if len(signature) != 2 * size:
            return False
        point = ec.EllipticCurvePublicNumbers(
            int.from_bytes(b64url_decode(jwk["x"]), "big"), int.from_bytes(b64url_decode(jwk["y"]), "big"), curve
        )
        r, s = int.from_bytes(signature[:size], "big"), int.from_bytes(signature[size:], "big")
        point.public_key().verify(encode_dss_signature(r, s), signed, ec.ECDSA(digest))
        return True
    except InvalidSignature:
        return False


@dataclass
class Account:
    url: str
    jwk: dict[str, str]
    contact: list[str]
    status: str = "valid"


@dataclass
class FakeAcmeServer:
    """The server; see the module docstring. All state is public so tests can arrange and inspect it."""

    renewal_info: bool = True
    profiles: dict[str, str] | None = None
    eab_keys: dict[str, bytes] = field(default_factory=dict)
    eab_required: bool = False
    ca: FakeCa = field(default_factory=FakeCa)
    #: The next this-many well-formed nonces are rejected with badNonce.
    reject_nonces: int = 0
    #: After accept, authorizations stay pending for this many polls; orders stay processing likewise.
    authz_pending_polls: int = 0
    order_processing_polls: int = 0
    authz_fails: bool = False
    retry_after: str | None = None
    head_gives_nonce: bool = True
    alternates: bool = True
    #: One-shot responses: (method, URL) -> queued responses returned instead of handling.
    injected: dict[tuple[str, str], list[HttpResponse]] = field(default_factory=dict)
    requests: list[HttpRequest] = field(default_factory=list)
    used_nonces: list[str] = field(default_factory=list)
    accounts: dict[str, Account] = field(default_factory=dict)
    orders: dict[str, dict[str, Any]] = field(default_factory=dict)
    authzs: dict[str, dict[str, Any]] = field(default_factory=dict)
    certificates: dict[str, x509.Certificate] = field(default_factory=dict)
    renewal: dict[str, str] = field(default_factory=dict)
    closed: bool = False
    _issued_nonces: set[str] = field(default_factory=set)
    _ids: itertools.count[int] = field(default_factory=itertools.count)

    def inject(self, method: str, url: str, response: HttpResponse) -> None:
        """Answer the next ``method url`` with ``response`` instead of handling it."""
        self.injected.setdefault((method, url), []).append(response)

    def _nonce(self) -> str:
        nonce = f"n{next(self._ids):06d}"
        self._issued_nonces.add(nonce)
        return nonce

    def _reply(self, status: int, body: Any = None, *, headers: dict[str, str] | None = None) -> HttpResponse:
        extra = list((headers or {}).items())
        payload = b""
        if isinstance(body, bytes):
            payload = body
        elif body is not None:
            payload = json.dumps(body).encode()
            kind = "application/problem+json" if status >= 400 else "application/json"
            extra.append(("Content-Type", kind))
        return HttpResponse(status=status, headers=(("Replay-Nonce", self._nonce()), *extra), body=payload)

    def problem(self, status: int, code: str, detail: str, **headers: str) -> HttpResponse:
        return self._reply(status, {"type": ERR + code, "detail": detail, "status": status}, headers=headers)

    def directory(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "newNonce": f"{BASE}/nonce",
            "newAccount": f"{BASE}/new-account",
            "newOrder": f"{BASE}/new-order",
            "revokeCert": f"{BASE}/revoke",
            "keyChange": f"{BASE}/key-change",
            "meta": {"termsOfService": f"{BASE}/tos", "externalAccountRequired": self.eab_required},
        }
        if self.renewal_info:
            body["renewalInfo"] = f"{BASE}/renewal-info"
        if self.profiles is not None:
            body["meta"]["profiles"] = self.profiles
        return body

    async def send(self, request: HttpRequest) -> HttpResponse:
        self.requests.append(request)
        queued = self.injected.get((request.method, request.url))
        if queued:
            return queued.pop(0)
        if request.method == "GET" and request.url == f"{BASE}/dir":
            return self._reply(200, self.directory())
        if request.url == f"{BASE}/nonce":
            if request.method == "HEAD" and not self.head_gives_nonce:
                return HttpResponse(status=200)
            return self._reply(200 if request.method == "HEAD" else 204)
        if request.method == "GET" and request.url.startswith(f"{BASE}/renewal-info/"):
            return self._renewal_info(request.url.rsplit("/", 1)[1])
        if request.method != "POST":
            return self.problem(405, "malformed", "method not allowed")
        return self._post(request)

    async def aclose(self) -> None:
        self.closed = True

    # -- JWS ------------------------------------------------------------------------------------------

    def _post(self, request: HttpRequest) -> HttpResponse:
        if request.headers.get("Content-Type") != "application/jose+json":
            return self.problem(415, "malformed", "wrong content type")
        jws = json.loads(request.body or b"{}")
        header = json.loads(b64url_decode(jws["protected"]))
        nonce = header.get("nonce", "")
        if header.get("url") != request.url:
            return self.problem(401, "unauthorized", "url mismatch")
        if nonce not in self._issued_nonces or nonce in self.used_nonces:
            return self.problem(400, "badNonce", f"nonce {nonce!r} unknown or reused")
        self.used_nonces.append(nonce)
        if self.reject_nonces > 0:
            self.reject_nonces -= 1
            return self.problem(400, "badNonce", "JWS has an invalid anti-replay nonce")
        is_new_account = request.url == f"{BASE}/new-account"
        if is_new_account != ("jwk" in header) or ("kid" in header) == ("jwk" in header):
            return self.problem(400, "malformed", "jwk for newAccount, kid otherwise")
        account = None
        if "kid" in header:
            account = next((a for a in self.accounts.values() if a.url == header["kid"]), None)
            if account is None:
                return self.problem(400, "accountDoesNotExist", "unknown kid")
        jwk = header["jwk"] if is_new_account else account.jwk  # type: ignore[union-attr]
        signed = f"{jws['protected']}.{jws['payload']}".encode()
        if not _verify(jwk, header["alg"], signed, b64url_decode(jws["signature"])):
            return self.problem(400, "malformed", "JWS signature invalid")
        payload = json.loads(b64url_decode(jws["payload"])) if jws["payload"] else None
        if is_new_account:
            return self._new_account(jwk, payload or {})
        assert account is not None
        return self._route(request.url, payload, account)

    def _new_account(self, jwk: dict[str, str], payload: dict[str, Any]) -> HttpResponse:
        thumbprint = jwk_thumbprint(jwk)
        existing = self.accounts.get(thumbprint)
        if existing is not None:
            return self._reply(200, self._account_body(existing), headers={"Location": existing.url})
        if payload.get("onlyReturnExisting"):
            return self.problem(400, "accountDoesNotExist", "no account for this key")
        binding = payload.get("externalAccountBinding")
        if binding is None and self.eab_required:
            return self.problem(400, "externalAccountRequired", "an external account binding is required")
        if binding is not None:
            problem = self._check_binding(binding, jwk)
            if problem is not None:
                return problem
        account = Account(url=f"{BASE}/acct/{next(self._ids)}", jwk=jwk, contact=payload.get("contact") or [])
        self.accounts[thumbprint] = account
        return self._reply(201, self._account_body(account), headers={"Location": account.url})

    def _check_binding(self, binding: dict[str, str], jwk: dict[str, str]) -> HttpResponse | None:
        header = json.loads(b64url_decode(binding["protected"]))
        key = self.eab_keys.get(header.get("kid", ""))
        digest = {"HS256": hashlib.sha256, "HS384": hashlib.sha384, "HS512": hashlib.sha512}.get(header.get("alg"))
        if key is None or digest is None or header.get("url") != f"{BASE}/new-account":
            return self.problem(401, "unauthorized", "bad external account binding header")
        mac = hmac.new(key, f"{binding['protected']}.{binding['payload']}".encode(), digest).digest()
        if not hmac.compare_digest(mac, b64url_decode(binding["signature"])):
            return self.problem(401, "unauthorized", "external account binding signature invalid")
        if json.loads(b64url_decode(binding["payload"])) != jwk:
            return self.problem(400, "malformed", "binding payload is not the account key")
        return None

    @staticmethod
    def _account_body(account: Account) -> dict[str, Any]:
        return {"status": account.status, "contact": account.contact, "orders": f"{account.url}/orders"}

    # -- resources ------------------------------------------------------------------------------------

    def _route(self, url: str, payload: Any, account: Account) -> HttpResponse:
        if url == account.url:
            if payload is not None and "contact" in payload:
                account.contact = payload["contact"]
            return self._reply(200, self._account_body(account))
        if url == f"{BASE}/new-order":
            return self._new_order(payload)
        if url in self.orders:
            return self._order(url)
        if url in self.authzs:
            return self._authz(url, payload)
        if url.startswith(f"{BASE}/chall/"):
            return self._accept(url)
        if url.startswith(f"{BASE}/finalize/"):
            return self._finalize(url.replace("/finalize/", "/order/"), payload)
        if url.startswith(f"{BASE}/cert/"):
            return self._certificate(url)
        return self.problem(404, "malformed", "no such resource")

    def _new_order(self, payload: dict[str, Any]) -> HttpResponse:
        profile = payload.get("profile")
        if profile is not None and profile not in (self.profiles or {}):
            return self.problem(400, "invalidProfile", f"unknown profile {profile}")
        replaces = payload.get("replaces")
        if replaces is not None and replaces in self.renewal.values():
            return self.problem(409, "alreadyReplaced", "already replaced")
        n = next(self._ids)
        order_url = f"{BASE}/order/{n}"
        authz_urls = []
        for index, ident in enumerate(payload["identifiers"]):
            authz_url = f"{BASE}/authz/{n}-{index}"
            wildcard = ident["value"].startswith("*.")
            value = ident["value"].removeprefix("*.")
            types = ["dns-01"] if wildcard else ["http-01", "dns-01", "tls-alpn-01", "future-01"]
            self.authzs[authz_url] = {
                "identifier": {"type": ident["type"], "value": value},
                "status": "pending",
                "wildcard": wildcard,
                "challenges": [
                    {
                        "type": t,
                        "url": f"{BASE}/chall/{n}-{index}-{t}",
                        "status": "pending",
                        "token": f"tok-{n}-{index}",
                    }
                    for t in types
                ],
                "polls": 0,
            }
            authz_urls.append(authz_url)
        self.orders[order_url] = {
            "status": "pending",
            "identifiers": payload["identifiers"],
            "authorizations": authz_urls,
            "finalize": f"{BASE}/finalize/{n}",
            "profile": profile,
            "replaces": replaces,
            "notAfter": payload.get("notAfter"),
            "polls": 0,
        }
        if replaces is not None:
            self.renewal[order_url] = replaces
        return self._reply(201, self._order_body(order_url), headers={"Location": order_url})

    def _order_body(self, url: str) -> dict[str, Any]:
        order = self.orders[url]
        authz_states = [self.authzs[a]["status"] for a in order["authorizations"]]
        if order["status"] == "pending" and all(s == "valid" for s in authz_states):
            order["status"] = "ready"
        if order["status"] == "pending" and any(s == "invalid" for s in authz_states):
            order["status"] = "invalid"
            order["error"] = {"type": ERR + "unauthorized", "detail": "an authorization failed", "status": 403}
        return {k: v for k, v in order.items() if v is not None and k not in ("polls", "csr")}

    def _order(self, url: str) -> HttpResponse:
        order = self.orders[url]
        headers = {}
        if order["status"] == "processing":
            if order["polls"] >= self.order_processing_polls:
                order["status"] = "valid"
            else:
                order["polls"] += 1
                if self.retry_after:
                    headers["Retry-After"] = self.retry_after
        return self._reply(200, self._order_body(url), headers=headers)

    def _authz(self, url: str, payload: Any) -> HttpResponse:
        authz = self.authzs[url]
        if payload == {"status": "deactivated"}:
            authz["status"] = "deactivated"
        headers = {}
        if authz["status"] == "pending" and any(c["status"] == "processing" for c in authz["challenges"]):
            if authz["polls"] >= self.authz_pending_polls:
                self._settle(authz)
            else:
                authz["polls"] += 1
                if self.retry_after:
                    headers["Retry-After"] = self.retry_after
        return self._reply(200, {k: v for k, v in authz.items() if k != "polls"}, headers=headers)

    def _settle(self, authz: dict[str, Any]) -> None:
        for challenge in authz["challenges"]:
            if challenge["status"] == "processing":
                if self.authz_fails:
                    challenge["status"] = "invalid"
                    challenge["error"] = {"type": ERR + "incorrectResponse", "detail": "wrong key", "status": 403}
                else:
                    challenge["status"] = "valid"
        authz["status"] = "invalid" if self.authz_fails else "valid"

    def _accept(self, url: str) -> HttpResponse:
        for authz in self.authzs.values():
            for challenge in authz["challenges"]:
                if challenge["url"] == url:
                    challenge["status"] = "processing"
                    return self._reply(200, challenge)
        return self.problem(404, "malformed", "no such challenge")

    def _finalize(self, order_url: str, payload: dict[str, Any]) -> HttpResponse:
        order = self.orders[order_url]
        self._order_body(order_url)
        if order["status"] != "ready":
            return self.problem(403, "orderNotReady", f"order is {order['status']}")
        csr = x509.load_der_x509_csr(b64url_decode(payload["csr"]))
        cert_url = f"{BASE}/cert/{next(self._ids)}"
        self.certificates[cert_url] = self.ca.issue(csr)
        order["certificate"] = cert_url
        order["status"] = "processing" if self.order_processing_polls else "valid"
        return self._reply(200, self._order_body(order_url), headers={"Location": order_url})

    def _certificate(self, url: str) -> HttpResponse:
        base, _, alt = url.partition("/alt/")
        leaf = self.certificates.get(base)
        if leaf is None:
            return self.problem(404, "malformed", "no such certificate")
        index = int(alt) if alt else 0
        headers = [("Content-Type", "application/pem-certificate-chain"), ("Replay-Nonce", self._nonce())]
        if self.alternates:
            headers += [("Link", f'<{base}/alt/{i}>;rel="alternate"') for i in (0, 1) if i != index and alt != ""]
            if not alt:
                headers.append(("Link", f'<{BASE}/dir>;rel="index", <{base}/alt/1>; rel="alternate"'))
        return HttpResponse(status=200, headers=tuple(headers), body=self.ca.chain_pem(leaf, index))

    def _renewal_info(self, cert_id: str) -> HttpResponse:
        window = {"start": "2030-02-01T00:00:00Z", "end": "2030-02-02T00:00:00Z"}
        body = {"suggestedWindow": window, "explanationURL": f"{BASE}/why"}
        return self._reply(200, body, headers={"Retry-After": "21600", "X-Cert-Id": cert_id})


def fresh_ec_key() -> ec.EllipticCurvePrivateKey:
    """A P-256 key (microseconds to make)."""
    return ec.generate_private_key(ec.SECP256R1())


def b64(data: bytes) -> str:
    """base64url without padding, for building fixtures."""
    return b64url_encode(data)
