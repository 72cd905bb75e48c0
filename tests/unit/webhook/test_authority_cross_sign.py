"""Dynamic serving across a CA change: the new CA cross-signed by the old one is served after the leaf, so
clients that still trust only the old CA (the API server, until the cainjector updates its bundle) and
clients that trust only the new one both complete the handshake."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import ssl
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
from cryptography import x509

from certkeeper.pki.keys import encode_private_key_pkcs8
from certkeeper.runtime.clock import FakeClock
from certkeeper.store.local import LocalStore
from certkeeper.store.ports import RawObject
from certkeeper.store.resources import SECRETS
from certkeeper.webhook.authority import CA, DynamicAuthority, DynamicCertificateSource, cross_sign, generate_ca
from certkeeper.webhook.tls import ServingTLS

#: The real time: the handshakes below check validity against the system clock.
NOW = datetime.now(UTC)
NAMESPACE, NAME = "certkeeper", "certkeeper-webhook-ca"


@pytest.fixture(scope="module")
def old() -> CA:
    return generate_ca(NOW - timedelta(days=100))  # not yet due for rotation at NOW


@pytest.fixture(scope="module")
def new() -> CA:
    return generate_ca(NOW)


@pytest.fixture
async def store() -> AsyncIterator[LocalStore]:
    local = await LocalStore.open(None, now=lambda: datetime.now(UTC), bookmark_interval=None)
    try:
        yield local
    finally:
        await local.close()


class RecordingTLS(ServingTLS):
    """Keeps the chain of every install, to count the certificates served."""

    chains: list[list[x509.Certificate]]

    def install(self, chain_pem: bytes, key_pem: bytes) -> x509.Certificate:
        self.chains = [*getattr(self, "chains", []), x509.load_pem_x509_certificates(chain_pem)]
        return super().install(chain_pem, key_pem)


def _data(ca: CA) -> dict[str, str]:
    cert = base64.b64encode(ca.cert_pem).decode()
    return {"ca.crt": cert, "tls.crt": cert, "tls.key": base64.b64encode(encode_private_key_pkcs8(ca.key)).decode()}


def test_the_cross_signed_ca_is_the_new_ca_issued_by_the_old(old: CA, new: CA) -> None:
    cross = cross_sign(new, old, NOW)
    assert cross is not None
    assert cross.subject == new.certificate.subject
    assert cross.public_key() == new.certificate.public_key()
    cross.verify_directly_issued_by(old.certificate)
    assert cross.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    # Valid only while both CAs are.
    assert cross.not_valid_before_utc == new.certificate.not_valid_before_utc
    assert cross.not_valid_after_utc == old.certificate.not_valid_after_utc
    assert cross_sign(new, old, old.certificate.not_valid_after_utc + timedelta(seconds=1)) is None


async def _handshake(tls: ServingTLS, trusted: CA) -> None:
    """Complete a TLS handshake with a server on ``tls`` as a client that trusts only ``trusted``."""

    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"ok")
        await writer.drain()
        writer.close()

    context = tls.context()
    assert context is not None
    server = await asyncio.start_server(answer, "127.0.0.1", 0, ssl=context)
    port = server.sockets[0].getsockname()[1]
    client = ssl.create_default_context(cadata=trusted.cert_pem.decode())
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", port, ssl=client, server_hostname="localhost")
        assert await reader.read() == b"ok"
        writer.close()
        with contextlib.suppress(OSError, ssl.SSLError):
            await writer.wait_closed()
    finally:
        server.close()
        await server.wait_closed()


async def test_after_a_ca_change_clients_of_either_ca_accept_the_new_leaf(store: LocalStore, old: CA, new: CA) -> None:
    clock = FakeClock(NOW)
    secret: RawObject = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": NAME, "namespace": NAMESPACE},
        "data": _data(old),
    }
    await store.create(SECRETS, secret)
    authority = DynamicAuthority(store, namespace=NAMESPACE, name=NAME, clock=clock)
    tls = RecordingTLS()
    source = DynamicCertificateSource(tls, authority, dns_names=["localhost"], clock=clock)
    await authority.ensure()
    source.issue()
    assert authority.cross_signed is None
    assert len(tls.chains[-1]) == 1  # nothing replaced yet: the leaf alone
    await _handshake(tls, old)
    with pytest.raises(ssl.SSLCertVerificationError):
        await _handshake(tls, new)

    # Another replica (or a person) replaced the CA in the Secret.
    current = await store.get(SECRETS, NAME, namespace=NAMESPACE)
    await store.update(SECRETS, {**current, "data": _data(new)})
    await authority.ensure()
    leaf = source.issue()
    leaf.verify_directly_issued_by(new.certificate)
    assert tls.chains[-1][1:] == [authority.cross_signed]
    await _handshake(tls, old)  # through the cross-signed new CA
    await _handshake(tls, new)


async def test_no_bridge_once_the_old_ca_has_expired(store: LocalStore, old: CA, new: CA) -> None:
    clock = FakeClock(NOW)
    authority = DynamicAuthority(store, namespace=NAMESPACE, name=NAME, clock=clock)
    secret: RawObject = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": NAME, "namespace": NAMESPACE},
        "data": _data(old),
    }
    await store.create(SECRETS, secret)
    await authority.ensure()
    current = await store.get(SECRETS, NAME, namespace=NAMESPACE)
    await store.update(SECRETS, {**current, "data": _data(new)})
    await authority.ensure()
    assert authority.cross_signed is not None
    tls = RecordingTLS()
    source = DynamicCertificateSource(tls, authority, dns_names=["localhost"], clock=clock)
    source.issue()
    assert len(tls.chains[-1]) == 2
    clock.advance(old.certificate.not_valid_after_utc - clock.now() + timedelta(seconds=1))
    source.issue()
    assert len(tls.chains[-1]) == 1
