"""The ACME account registry: one client per issuer, and a replaced client is closed, not leaked."""

from __future__ import annotations

import asyncio

from cryptography.hazmat.primitives.asymmetric import rsa

from certkeeper.acme.transport import HttpRequest, HttpResponse, TlsOptions, Transport
from certkeeper.api.acme import ACMEIssuer
from certkeeper.api.certmanager import ClusterIssuer, IssuerSpec
from certkeeper.api.cmmeta import SecretKeySelector
from certkeeper.api.meta import ObjectMeta
from certkeeper.issuers.acme import AccountRegistry


class RecordingTransport:
    """A transport that only records whether it was closed."""

    def __init__(self) -> None:
        self.closed = False

    async def send(self, request: HttpRequest) -> HttpResponse:
        raise AssertionError("no request is made in these tests")

    async def aclose(self) -> None:
        await asyncio.sleep(0)
        self.closed = True


def issuer(server: str) -> ClusterIssuer:
    return ClusterIssuer(
        api_version=ClusterIssuer.API_VERSION,
        metadata=ObjectMeta(name="acme", uid="uid-1"),
        spec=IssuerSpec(acme=ACMEIssuer(server=server, private_key_secret_ref=SecretKeySelector(name="key"))),
    )


async def test_a_client_replaced_for_a_new_server_is_closed_and_the_current_one_kept() -> None:
    made: list[RecordingTransport] = []

    def factory(tls: TlsOptions) -> Transport:
        made.append(RecordingTransport())
        return made[-1]

    registry = AccountRegistry(factory)
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    first = registry.client_for(issuer("https://one.example/dir"), key, None)
    assert registry.client_for(issuer("https://one.example/dir"), key, None) is first
    second = registry.client_for(issuer("https://two.example/dir"), key, None)
    assert second is not first
    await asyncio.sleep(0.01)
    assert [transport.closed for transport in made] == [True, False]
    await registry.aclose()
    assert [transport.closed for transport in made] == [True, True]
