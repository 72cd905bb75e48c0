"""The HTTPS server on loopback: admission round trips, health, and every limit a client could abuse."""

from __future__ import annotations

import asyncio
import json
import logging
import ssl
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from cryptography import x509
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from certkeeper.pki.keys import encode_private_key_pkcs8, generate_ecdsa_private_key
from certkeeper.pki.pem import encode_pem_certificate
from certkeeper.pki.sign import CertificateParams, sign_certificate
from certkeeper.pki.usages import DIGITAL_SIGNATURE
from certkeeper.webhook.admission import AdmissionHandlers
from certkeeper.webhook.review import AdmissionRequest, AdmissionResponse
from certkeeper.webhook.server import ServerLimits
from certkeeper.webhook.tls import TLSSettings
from tests.unit.validation.support import merge
from tests.unit.webhook.support import (
    APPROVED,
    CERTIFICATE,
    FakeAuthorizer,
    Pki,
    Running,
    certificate_request,
    checker,
    handlers,
    make_pki,
    review,
    running,
)

QUICK = ServerLimits(
    max_body_bytes=64 * 1024,
    header_timeout=0.5,
    handshake_timeout=0.5,
    body_timeout=0.5,
    handler_timeout=5.0,
    max_connections=8,
)


@pytest.fixture(scope="module")
def pki() -> Pki:
    return make_pki()


async def _raw(run: Running) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    """A TLS connection to the webhook port, without an HTTP client in the way."""
    return await asyncio.open_connection(
        "127.0.0.1", run.server.port, ssl=run.pki.client_context(), server_hostname="localhost"
    )


async def _closed_within(reader: asyncio.StreamReader, seconds: float) -> bytes:
    """Everything the server sends until it closes the connection, which must happen within ``seconds``."""
    received = b""
    async with asyncio.timeout(seconds):
        while True:
            try:
                chunk = await reader.read(65536)
            except (ConnectionError, ssl.SSLError):
                return received
            if not chunk:
                return received
            received += chunk


# -- admission over HTTPS -----------------------------------------------------------------------------


async def test_validate_and_mutate_over_https(pki: Pki) -> None:
    async with running(pki) as run:
        status, body = await run.post("/validate", review("certificates", CERTIFICATE))
        assert status == 200
        assert body["response"] == {"uid": "req-1", "allowed": True, "status": {"metadata": {}, "code": 200}}
        broken = merge(CERTIFICATE, {"spec": {"issuerRef": {"name": ""}}})
        status, body = await run.post("/validate", review("certificates", broken))
        assert status == 200
        assert body["response"]["allowed"] is False
        assert body["response"]["status"]["message"] == "spec.issuerRef.name: Required value: must be specified"
        status, body = await run.post("/mutate", review("certificaterequests", certificate_request(identity=None)))
        assert status == 200
        assert body["response"]["patchType"] == "JSONPatch"


async def test_only_post_on_the_two_paths(pki: Pki) -> None:
    async with running(pki) as run:
        async with run.session.get(run.base + "/validate", server_hostname="localhost") as response:
            assert response.status == 405
        async with run.session.post(run.base + "/convert", json={}, server_hostname="localhost") as response:
            assert response.status == 404


async def test_health(pki: Pki) -> None:
    async with running(pki, install=False) as run:
        async with run.session.get(run.health + "/healthz") as response:
            assert response.status == 500
        async with run.session.get(run.health + "/livez") as response:
            assert response.status == 200
        # No certificate yet: the webhook port accepts but cannot shake hands.
        with pytest.raises(aiohttp.ClientError):
            await run.post("/validate", review("certificates", CERTIFICATE))
        run.server.tls.install(pki.cert_pem, pki.key_pem)
        async with run.session.get(run.health + "/healthz") as response:
            assert response.status == 200
        assert (await run.post("/validate", review("certificates", CERTIFICATE)))[0] == 200


# -- bodies that are not reviews ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "content_type", "message"),
    [
        (b"", "application/json", "request body is empty"),
        (b"{", "application/json", "the body is not valid JSON"),
        (json.dumps({"apiVersion": "v1", "kind": "Pod"}).encode(), "application/json", "expected an AdmissionReview"),
        (
            json.dumps({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview"}).encode(),
            "application/json",
            "the AdmissionReview has no request",
        ),
        (json.dumps(review("certificates", CERTIFICATE)).encode(), "text/plain", "contentType=text/plain"),
    ],
    ids=["empty", "malformed-json", "not-a-review", "no-request", "wrong-content-type"],
)
async def test_bad_bodies_are_400_with_a_status(pki: Pki, data: bytes, content_type: str, message: str) -> None:
    async with (
        running(pki) as run,
        run.session.post(
            run.base + "/validate", data=data, headers={"Content-Type": content_type}, server_hostname="localhost"
        ) as response,
    ):
        assert response.status == 400
        status = await response.json()
        assert (status["kind"], status["code"], status["reason"]) == ("Status", 400, "BadRequest")
        assert message in status["message"]


async def test_a_declared_oversized_body_is_refused_unread(pki: Pki) -> None:
    async with running(pki, limits=QUICK) as run:
        reader, writer = await _raw(run)
        writer.write(
            b"POST /validate HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 10000000\r\n\r\n{"
        )
        answer = await _closed_within(reader, 3)
        writer.close()
        assert answer.startswith(b"HTTP/1.1 413 ")
        assert b"request entity is too large; limit is 65536 bytes" in answer


async def test_a_streamed_oversized_body_is_cut_off(pki: Pki) -> None:
    async def chunks() -> Any:
        for _ in range(100):
            yield b" " * 4096

    async with (
        running(pki, limits=QUICK) as run,
        run.session.post(
            run.base + "/validate",
            data=chunks(),
            headers={"Content-Type": "application/json"},
            server_hostname="localhost",
        ) as response,
    ):
        assert response.status == 413
        assert (await response.json())["reason"] == "RequestEntityTooLarge"


async def test_an_oversized_field_within_the_body_limit_is_denied_quickly(pki: Pki) -> None:
    huge = merge(CERTIFICATE, {"spec": {"literalSubject": "CN=" + "a," * 200_000 + "O=x"}})
    async with running(pki) as run:
        started = time.monotonic()
        status, body = await run.post("/validate", review("certificates", huge))
        assert status == 200
        assert body["response"]["allowed"] is False
        assert body["response"]["status"]["message"].startswith("spec.literalSubject: ")
        assert time.monotonic() - started < 10


# -- slow clients -------------------------------------------------------------------------------------


async def test_headers_that_trickle_in_are_cut_off(pki: Pki) -> None:
    async with running(pki, limits=QUICK) as run:
        reader, writer = await _raw(run)
        writer.write(b"POST /validate HTTP/1.1\r\nHost: x\r\n")
        started = time.monotonic()

        async def trickle() -> None:
            for _ in range(50):
                await asyncio.sleep(0.05)
                writer.write(b"X")

        dripping = asyncio.create_task(trickle())
        try:
            await _closed_within(reader, 3)
        finally:
            dripping.cancel()
            writer.close()
        assert time.monotonic() - started < 2


async def test_an_idle_connection_is_closed(pki: Pki) -> None:
    async with running(pki, limits=QUICK) as run:
        reader, writer = await _raw(run)
        started = time.monotonic()
        assert await _closed_within(reader, 3) == b""
        writer.close()
        assert 0.3 < time.monotonic() - started < 2.5


async def test_a_client_that_never_shakes_hands_is_dropped(pki: Pki) -> None:
    async with running(pki, limits=QUICK) as run:
        reader, writer = await asyncio.open_connection("127.0.0.1", run.server.port)
        assert await _closed_within(reader, 3) == b""
        writer.close()
        await asyncio.sleep(0.05)
        assert run.server.listener is not None
        assert run.server.listener.open_connections == 0


async def test_a_body_that_trickles_in_is_cut_off(pki: Pki) -> None:
    async with running(pki, limits=QUICK) as run:
        reader, writer = await _raw(run)
        writer.write(
            b"POST /validate HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 500\r\n\r\n"
        )

        async def trickle() -> None:
            for _ in range(50):
                await asyncio.sleep(0.05)
                writer.write(b" ")

        dripping = asyncio.create_task(trickle())
        try:
            answer = await _closed_within(reader, 3)
        finally:
            dripping.cancel()
            writer.close()
        assert answer.startswith(b"HTTP/1.1 408 ")


async def test_connections_beyond_the_cap_wait_for_a_free_slot(pki: Pki) -> None:
    limits = ServerLimits(max_connections=2, header_timeout=30, handshake_timeout=5)
    async with running(pki, limits=limits) as run:
        held = [await _raw(run) for _ in range(2)]
        await asyncio.sleep(0.05)
        assert run.server.listener is not None
        assert run.server.listener.open_connections == 2
        waiting = asyncio.create_task(run.post("/validate", review("certificates", CERTIFICATE)))
        await asyncio.sleep(0.3)
        assert not waiting.done()
        held[0][1].close()
        status, _ = await asyncio.wait_for(waiting, 5)
        assert status == 200
        held[1][1].close()


class _Slow(AdmissionHandlers):
    async def validate(self, request: AdmissionRequest) -> AdmissionResponse:
        await asyncio.sleep(10)
        raise AssertionError("the timeout should have ended this")


async def test_the_handler_timeout_follows_the_request_timeout(pki: Pki) -> None:
    async with running(pki, admission=_Slow(approval=checker())) as run:
        started = time.monotonic()
        async with run.session.post(
            run.base + "/validate?timeout=300ms",
            json=review("certificates", CERTIFICATE),
            server_hostname="localhost",
        ) as response:
            assert response.status == 503
            assert (await response.json())["message"] == "the admission request was not answered within 0.3s"
        assert time.monotonic() - started < 3


class _Broken(AdmissionHandlers):
    async def validate(self, request: AdmissionRequest) -> AdmissionResponse:
        raise ValueError(f"cannot handle {request.object}")


async def test_an_exception_is_a_generic_500_logged_without_the_object(
    pki: Pki, caplog: pytest.LogCaptureFixture
) -> None:
    secret_bearing = merge(CERTIFICATE, {"metadata": {"annotations": {"note": "TOP-SECRET-VALUE"}}})
    async with running(pki, admission=_Broken(approval=checker())) as run:
        with caplog.at_level(logging.ERROR, logger="certkeeper.webhook.server"):
            async with run.session.post(
                run.base + "/validate", json=review("certificates", secret_bearing), server_hostname="localhost"
            ) as response:
                assert response.status == 500
                body = await response.json()
        # The server keeps serving.
        assert (await run.post("/validate", review("certificates", CERTIFICATE)))[0] == 500
    assert body["message"] == "internal error while handling the request"
    assert "TOP-SECRET-VALUE" not in json.dumps(body)
    assert "CREATE certificates.cert-manager.io default/web (uid req-1)" in caplog.text
    assert "ValueError" in caplog.text
    assert "TOP-SECRET-VALUE" not in caplog.text


async def test_approval_round_trip(pki: Pki) -> None:
    authorizer = FakeAuthorizer(allow={"alice": {"issuers.cert-manager.io/default.ca"}})
    old = certificate_request()
    new = certificate_request(conditions=[APPROVED])
    body = review("certificaterequests", new, operation="UPDATE", old=old, sub_resource="status")
    async with running(pki, admission=handlers(authorizer=authorizer)) as run:
        assert (await run.post("/validate", body))[1]["response"]["allowed"] is True
        authorizer.allow.clear()
        answer = (await run.post("/validate", body))[1]["response"]
        assert answer["allowed"] is False
        assert "does not have permissions" in answer["status"]["message"]


def _client_certificate(pki: Pki, directory: Path, common_name: str) -> tuple[str, str]:
    """A client certificate from the test CA, as files for ``load_cert_chain``."""
    key = generate_ecdsa_private_key(256)
    now = datetime.now(UTC) - timedelta(minutes=1)
    params = CertificateParams(
        subject=x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)]),
        public_key=key.public_key(),
        not_before=now,
        not_after=now + timedelta(hours=1),
        key_usage=DIGITAL_SIGNATURE,
        ext_key_usages=(ExtendedKeyUsageOID.CLIENT_AUTH,),
    )
    certificate = sign_certificate(params, signer_key=pki.ca.key, issuer=pki.ca.certificate)
    cert_file, key_file = directory / f"{common_name}.crt", directory / f"{common_name}.key"
    cert_file.write_bytes(encode_pem_certificate(certificate))
    key_file.write_bytes(encode_private_key_pkcs8(key))
    return str(cert_file), str(key_file)


@pytest.mark.parametrize(
    ("subjects", "status"),
    [((), 200), (("kube-apiserver",), 200), (("front-proxy",), 403)],
    ids=["any-verified-client", "named-client", "other-name-required"],
)
async def test_client_verification(pki: Pki, tmp_path: Path, subjects: tuple[str, ...], status: int) -> None:
    settings = TLSSettings(client_ca_pem=pki.ca.cert_pem)
    client = _client_certificate(pki, tmp_path, "kube-apiserver")
    async with running(pki, settings=settings, client_subjects=subjects, client_cert=client) as run:
        async with run.session.post(
            run.base + "/validate", json=review("certificates", CERTIFICATE), server_hostname="localhost"
        ) as response:
            assert response.status == status
        # Without a client certificate there is no TLS session at all.
        anonymous = aiohttp.ClientSession(connector=aiohttp.TCPConnector(ssl=pki.client_context()))
        try:
            with pytest.raises(aiohttp.ClientError):
                async with anonymous.post(
                    run.base + "/validate", json=review("certificates", CERTIFICATE), server_hostname="localhost"
                ) as response:
                    await response.read()
        finally:
            await anonymous.close()
