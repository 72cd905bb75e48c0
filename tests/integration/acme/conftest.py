"""Fixtures for the ACME client against pebble (``tests.harness.pebble``).

* ``pebble`` (module): Debian's pebble 2.4.0 with PEBBLE_VA_ALWAYS_VALID and the default 5 % badNonce.
* ``rsa_account_key`` (session) / ``ec_account_key`` (function): account keys; RSA-2048 as cert-manager's.
* ``client_for``: builds an ``AcmeClient`` over the real aiohttp transport for any running pebble,
  trusting only that pebble's TLS CA, and closes every client it built at the end of the test.

A failing test that used a pebble gets that pebble's log tail in its report.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Generator, Iterator
from datetime import timedelta

import pytest
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from certkeeper.acme.client import AcmeClient, PollSettings
from certkeeper.acme.jws import AccountKey
from certkeeper.acme.metrics import InstrumentedTransport, RequestObserver
from certkeeper.acme.network import DEFAULT_BAD_NONCE_RETRIES
from certkeeper.acme.transport import AiohttpTransport, TlsOptions, Transport
from tests.harness.pebble import Pebble, PebbleConfig

ClientFactory = Callable[..., AcmeClient]


@pytest.fixture(scope="module")
def pebble(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Pebble]:
    """Debian's pebble, challenges always valid, nonce rejection at its 5 % default."""
    with Pebble(tmp_path_factory.mktemp("pebble"), PebbleConfig()) as server:
        yield server


@pytest.fixture(scope="session")
def rsa_account_key() -> AccountKey:
    """An RSA-2048 account key, as cert-manager generates (made once: RSA key generation is slow)."""
    return AccountKey(rsa.generate_private_key(public_exponent=65537, key_size=2048))


@pytest.fixture
def ec_account_key() -> AccountKey:
    """A fresh P-256 account key (a new account on every test)."""
    return AccountKey(ec.generate_private_key(ec.SECP256R1()))


@pytest.fixture
async def client_for() -> AsyncIterator[ClientFactory]:
    """``client_for(pebble, key, observer=None, bad_nonce_retries=5)``: a client trusting only pebble's CA."""
    made: list[AcmeClient] = []

    def build(
        server: Pebble,
        key: AccountKey,
        *,
        observer: RequestObserver | None = None,
        bad_nonce_retries: int = DEFAULT_BAD_NONCE_RETRIES,
    ) -> AcmeClient:
        transport: Transport = AiohttpTransport(tls=TlsOptions(ca_bundle=server.ca_bundle), trust_env=False)
        if observer is not None:
            transport = InstrumentedTransport(transport, observer)
        client = AcmeClient(
            directory_url=server.directory_url,
            key=key,
            transport=transport,
            bad_nonce_retries=bad_nonce_retries,
            # Short polls: pebble validates at once (PEBBLE_VA_NOSLEEP) and issues in milliseconds.
            poll=PollSettings(interval=timedelta(milliseconds=100)),
        )
        made.append(client)
        return client

    yield build
    for client in made:
        await client.aclose()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    """Attach the log tail of every pebble the failing test used."""
    report = yield
    if report.failed:
        for name, value in getattr(item, "funcargs", {}).items():
            if isinstance(value, Pebble):
                report.sections.append((f"pebble log ({name})", value.log_tail()))
    return report
