"""Serving certificates: checked installs, whole-context swaps, file reloads, and rotation under load."""

from __future__ import annotations

import asyncio
import json
import ssl
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import aiohttp
import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import ExtendedKeyUsageOID

from certkeeper.pki.keys import encode_private_key_pkcs8
from certkeeper.pki.pem import encode_pem_certificate
from certkeeper.pki.sign import CertificateParams, sign_certificate
from certkeeper.pki.usages import DIGITAL_SIGNATURE, KEY_ENCIPHERMENT
from certkeeper.runtime.clock import SystemClock
from certkeeper.webhook.tls import FileCertificateSource, ServingTLS, TLSError
from tests.unit.webhook.support import CERTIFICATE, Pki, make_pki, review, running


@pytest.fixture(scope="module")
def pki() -> Pki:
    return make_pki()


@pytest.fixture(scope="module")
def rsa_leaf(pki: Pki) -> tuple[bytes, bytes]:
    """An RSA-2048 serving leaf for localhost from the same CA."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    now = datetime.now(UTC) - timedelta(minutes=1)
    params = CertificateParams(
        subject=x509.Name([]),
        public_key=key.public_key(),
        not_before=now,
        not_after=now + timedelta(days=1),
        key_usage=DIGITAL_SIGNATURE | KEY_ENCIPHERMENT,
        ext_key_usages=(ExtendedKeyUsageOID.SERVER_AUTH,),
        subject_alternative_name=x509.SubjectAlternativeName([x509.DNSName("localhost")]),
    )
    certificate = sign_certificate(params, signer_key=pki.ca.key, issuer=pki.ca.certificate)
    return encode_pem_certificate(certificate), encode_private_key_pkcs8(key)


def test_install_checks_the_pair_and_keeps_the_old_one_on_failure(pki: Pki) -> None:
    tls = ServingTLS()
    assert tls.context() is None
    tls.install(pki.cert_pem, pki.key_pem)
    live = tls.context()
    other_cert, other_key = pki.leaf()
    cases = [
        (pki.cert_pem, other_key, "does not match"),
        (b"not a certificate", pki.key_pem, "does not parse"),
        (pki.cert_pem, b"-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n", "does not parse"),
        (b"", pki.key_pem, "does not parse"),
    ]
    for chain, key, message in cases:
        with pytest.raises(TLSError, match=message) as raised:
            tls.install(chain, key)
        assert "PRIVATE KEY" not in str(raised.value)
        assert tls.context() is live
    tls.install(other_cert, other_key)
    assert tls.context() is not live
    assert tls.installs == 2


async def test_a_swap_serves_the_new_certificate_and_open_connections_carry_on(pki: Pki) -> None:
    async with running(pki) as run:
        first = await run.post("/validate", review("certificates", CERTIFICATE))
        assert first[0] == 200
        cert, key = pki.leaf()
        served = run.server.tls.install(cert, key)
        # The keep-alive connection from before the swap still works...
        assert (await run.post("/validate", review("certificates", CERTIFICATE)))[0] == 200
        # ...and a new connection gets the new certificate.
        _, writer = await asyncio.open_connection(
            "127.0.0.1", run.server.port, ssl=pki.client_context(), server_hostname="localhost"
        )
        ssl_object = writer.get_extra_info("ssl_object")
        peer = x509.load_der_x509_certificate(ssl_object.getpeercert(binary_form=True))
        writer.close()
        assert peer.serial_number == served.serial_number


async def test_a_new_key_type_replaces_the_old_certificate_entirely(pki: Pki, rsa_leaf: tuple[bytes, bytes]) -> None:
    """Reloading a live context would keep the RSA certificate for clients that prefer RSA; a swap cannot."""
    rsa_only = pki.client_context()
    rsa_only.maximum_version = ssl.TLSVersion.TLSv1_2
    rsa_only.set_ciphers("ECDHE-RSA-AES128-GCM-SHA256")
    async with running(pki, install=False) as run:
        run.server.tls.install(*rsa_leaf)
        _, writer = await asyncio.open_connection(
            "127.0.0.1", run.server.port, ssl=rsa_only, server_hostname="localhost"
        )
        writer.close()
        run.server.tls.install(pki.cert_pem, pki.key_pem)
        with pytest.raises((ssl.SSLError, ConnectionError)):
            await asyncio.open_connection("127.0.0.1", run.server.port, ssl=rsa_only, server_hostname="localhost")


def _write_pair(directory: Path, cert: bytes, key: bytes) -> tuple[Path, Path]:
    cert_file, key_file = directory / "tls.crt", directory / "tls.key"
    cert_file.write_bytes(cert)
    key_file.write_bytes(key)
    return cert_file, key_file


def test_files_are_installed_when_their_bytes_change(pki: Pki, tmp_path: Path) -> None:
    tls = ServingTLS()
    cert_file, key_file = _write_pair(tmp_path, pki.cert_pem, pki.key_pem)
    source = FileCertificateSource(tls, cert_file, key_file)
    assert source.reload() is True
    assert source.reload() is False
    assert tls.installs == 1
    _write_pair(tmp_path, *pki.leaf())
    assert source.reload() is True
    assert tls.installs == 2


def test_oversized_files_are_refused(pki: Pki, tmp_path: Path) -> None:
    tls = ServingTLS()
    cert_file, key_file = _write_pair(tmp_path, pki.cert_pem, pki.key_pem + b"\n" * 20_000)
    with pytest.raises(TLSError, match="larger than 13000 bytes"):
        FileCertificateSource(tls, cert_file, key_file).reload()


async def test_the_source_follows_the_files_and_gives_up_after_repeated_failures(pki: Pki, tmp_path: Path) -> None:
    tls = ServingTLS()
    cert_file, key_file = _write_pair(tmp_path, pki.cert_pem, pki.key_pem)
    source = FileCertificateSource(tls, cert_file, key_file, interval=0.02, max_failures=5, clock=SystemClock())
    task = asyncio.create_task(source.run())
    try:
        await asyncio.wait_for(tls.wait_ready(), 2)
        first = tls.certificate
        cert, key = pki.leaf()
        _write_pair(tmp_path, cert, key)
        async with asyncio.timeout(2):
            while tls.certificate == first:
                await asyncio.sleep(0.01)
        # A half-written pair (new certificate, old key) is refused; the previous pair keeps being served.
        served = tls.certificate
        cert_file.write_bytes(pki.leaf()[0])
        await asyncio.sleep(0.06)
        assert tls.certificate == served
        assert not task.done()
        # Repaired before the limit: counting starts again.
        _write_pair(tmp_path, *pki.leaf())
        await asyncio.sleep(0.06)
        assert tls.certificate != served
        key_file.unlink()
        with pytest.raises(TLSError, match="failed to load the serving certificate from disk 5 times"):
            await asyncio.wait_for(task, 2)
    finally:
        task.cancel()


async def test_no_request_fails_while_the_certificate_rotates(pki: Pki) -> None:
    """Clients on fresh and on kept-alive connections keep working while the leaf changes every 50 ms."""
    failures: list[BaseException] = []
    serials: set[int] = set()
    completed = 0
    body = review("certificates", CERTIFICATE)

    async with running(pki) as run:
        url = run.base + "/validate"
        stop = asyncio.Event()

        payload = json.dumps(body).encode()
        request = (
            b"POST /validate HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n"
            b"Connection: close\r\nContent-Length: " + str(len(payload)).encode() + b"\r\n\r\n" + payload
        )

        async def fresh_client() -> None:
            """A new connection (and handshake) per request, noting the certificate it was served."""
            nonlocal completed
            while not stop.is_set():
                try:
                    reader, writer = await asyncio.open_connection(
                        "127.0.0.1", run.server.port, ssl=pki.client_context(), server_hostname="localhost"
                    )
                    peer = writer.get_extra_info("ssl_object").getpeercert(binary_form=True)
                    serials.add(x509.load_der_x509_certificate(peer).serial_number)
                    writer.write(request)
                    answer = await reader.read()
                    writer.close()
                    assert answer.startswith(b"HTTP/1.1 200 "), answer[:100]
                    assert b'"allowed":true' in answer
                    completed += 1
                except (AssertionError, ssl.SSLError, OSError) as exc:
                    failures.append(exc)

        async def kept_alive_client() -> None:
            """One session reusing its connection across rotations."""
            nonlocal completed
            async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(ssl=pki.client_context())) as session:
                while not stop.is_set():
                    try:
                        async with session.post(url, json=body, server_hostname="localhost") as response:
                            assert response.status == 200
                            assert (await response.json())["response"]["allowed"] is True
                        completed += 1
                    except (aiohttp.ClientError, AssertionError, OSError) as exc:
                        failures.append(exc)

        clients = [asyncio.create_task(run_client()) for run_client in (fresh_client, fresh_client, kept_alive_client)]
        rotations = 0
        started = time.monotonic()
        while time.monotonic() - started < 1.5:
            await asyncio.sleep(0.05)
            run.server.tls.install(*pki.leaf())
            rotations += 1
        stop.set()
        await asyncio.gather(*clients)

    assert failures == []
    assert rotations >= 10
    assert completed >= 20
    assert len(serials) >= 3
