"""Dynamic serving: the CA Secret (create, reuse, rotate, repair, races) and leaves renewed in time."""

from __future__ import annotations

import asyncio
import base64
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from certkeeper.pki.keys import encode_private_key_pkcs8
from certkeeper.pki.pem import encode_pem_certificate
from certkeeper.runtime.clock import SystemClock
from certkeeper.store.local import LocalStore
from certkeeper.store.ports import AlreadyExists, Conflict, RawObject, ResourceType, Unavailable
from certkeeper.store.resources import SECRETS
from certkeeper.webhook.authority import (
    CA,
    DynamicAuthority,
    DynamicCertificateSource,
    ca_needs_rotation,
    generate_ca,
    parse_ca,
    sign_leaf,
)
from certkeeper.webhook.tls import ServingTLS, TLSError

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
NAMESPACE, NAME = "certkeeper", "certkeeper-webhook-ca"


@pytest.fixture(scope="module")
def ca() -> CA:
    return generate_ca(NOW)


@pytest.fixture
async def store() -> AsyncIterator[LocalStore]:
    local = await LocalStore.open(None, now=lambda: datetime.now(UTC), bookmark_interval=None)
    try:
        yield local
    finally:
        await local.close()


def _data(ca: CA, **override: bytes) -> dict[str, bytes]:
    data = {"ca.crt": ca.cert_pem, "tls.crt": ca.cert_pem, "tls.key": encode_private_key_pkcs8(ca.key)}
    data.update(override)
    return data


def _secret(data: dict[str, bytes]) -> RawObject:
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": NAME, "namespace": NAMESPACE},
        "data": {key: base64.b64encode(value).decode() for key, value in data.items()},
    }


def _stored_ca(secret: RawObject) -> bytes:
    return base64.b64decode(secret["data"]["ca.crt"])


def test_the_ca_is_what_cert_manager_makes(ca: CA) -> None:
    certificate = ca.certificate
    assert certificate.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == "cert-manager-webhook-ca"
    assert certificate.issuer == certificate.subject
    public_key = certificate.public_key()
    assert isinstance(public_key, ec.EllipticCurvePublicKey)
    assert public_key.curve.name == "secp384r1"
    assert certificate.extensions.get_extension_for_class(x509.BasicConstraints).value.ca is True
    usage = certificate.extensions.get_extension_for_class(x509.KeyUsage).value
    assert (usage.digital_signature, usage.key_encipherment, usage.key_cert_sign) == (True, True, True)
    assert certificate.not_valid_after_utc - certificate.not_valid_before_utc == timedelta(days=365)


def test_a_leaf_serves_the_dns_names_and_never_outlives_its_ca(ca: CA) -> None:
    leaf, key_pem = sign_leaf(ca, ["webhook", "webhook.ns.svc"], NOW + timedelta(hours=1), timedelta(days=7))
    assert leaf.subject == x509.Name([])
    sans = leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName)
    assert sans.critical  # the subject is empty
    assert sans.value.get_values_for_type(x509.DNSName) == ["webhook", "webhook.ns.svc"]
    assert list(leaf.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value) == [
        ExtendedKeyUsageOID.SERVER_AUTH
    ]
    usage = leaf.extensions.get_extension_for_class(x509.KeyUsage).value
    assert (usage.digital_signature, usage.key_encipherment, usage.key_cert_sign) == (True, True, False)
    assert leaf.not_valid_after_utc - leaf.not_valid_before_utc == timedelta(days=7)
    leaf.verify_directly_issued_by(ca.certificate)
    assert b"PRIVATE KEY" in key_pem
    late, _ = sign_leaf(ca, ["webhook"], NOW + timedelta(days=362), timedelta(days=7))
    assert late.not_valid_after_utc == ca.certificate.not_valid_after_utc
    with pytest.raises(TLSError, match="CA certificate has expired"):
        sign_leaf(ca, ["webhook"], NOW + timedelta(days=366), timedelta(days=7))


def test_rotation_at_two_thirds_of_the_ca_life(ca: CA) -> None:
    assert not ca_needs_rotation(ca.certificate, NOW + timedelta(days=243))
    assert ca_needs_rotation(ca.certificate, NOW + timedelta(days=244))


def test_what_makes_a_secret_unusable(ca: CA) -> None:
    other = generate_ca(NOW)
    leaf, leaf_key = sign_leaf(ca, ["x"], NOW, timedelta(days=1))
    leaf_pem = encode_pem_certificate(leaf)
    cases = {
        "Missing data in CA secret.": _data(ca, **{"tls.key": b""}),
        "Different data in ca.crt and tls.crt.": _data(ca, **{"ca.crt": other.cert_pem}),
        "Failed to parse data in CA secret.": _data(ca, **{"tls.key": encode_private_key_pkcs8(other.key)}),
        "Stored certificate is not marked as a CA.": {"ca.crt": leaf_pem, "tls.crt": leaf_pem, "tls.key": leaf_key},
    }
    for reason, data in cases.items():
        assert parse_ca(data) == reason
    parsed = parse_ca(_data(ca))
    assert isinstance(parsed, CA)
    assert parsed.cert_pem == ca.cert_pem


async def test_the_first_replica_creates_the_secret(store: LocalStore) -> None:
    authority = DynamicAuthority(store, namespace=NAMESPACE, name=NAME)
    made = await authority.ensure()
    assert made is not None
    secret = await store.get(SECRETS, NAME, namespace=NAMESPACE)
    assert secret["metadata"]["labels"] == {"app.kubernetes.io/managed-by": "cert-manager-webhook"}
    assert secret["metadata"]["annotations"] == {"cert-manager.io/allow-direct-injection": "true"}
    assert set(secret["data"]) == {"ca.crt", "tls.crt", "tls.key"}
    assert _stored_ca(secret) == made.cert_pem
    assert authority.generation == 1
    # Reading it again changes nothing.
    again = await authority.ensure()
    assert again is not None
    assert again.cert_pem == made.cert_pem
    assert authority.generation == 1
    # Another replica uses the same CA.
    other = await DynamicAuthority(store, namespace=NAMESPACE, name=NAME).ensure()
    assert other is not None
    assert other.cert_pem == made.cert_pem


async def test_an_existing_valid_ca_is_kept(store: LocalStore) -> None:
    existing = generate_ca(datetime.now(UTC) - timedelta(days=10))
    await store.create(SECRETS, _secret(_data(existing)))
    authority = DynamicAuthority(store, namespace=NAMESPACE, name=NAME)
    assert (await authority.ensure()) is not None
    assert authority.current is not None
    assert authority.current.cert_pem == existing.cert_pem


@pytest.mark.parametrize(
    "data",
    [
        {"ca.crt": b"x"},
        {"ca.crt": b"garbage", "tls.crt": b"garbage", "tls.key": b"garbage"},
        "old",
    ],
    ids=["incomplete", "unparseable", "nearing-expiry"],
)
async def test_a_bad_or_ageing_ca_is_replaced_in_place(store: LocalStore, data: Any) -> None:
    if data == "old":
        data = _data(generate_ca(datetime.now(UTC) - timedelta(days=250)))
    created = await store.create(
        SECRETS, {**_secret(data), "metadata": {"name": NAME, "namespace": NAMESPACE, "labels": {"keep": "me"}}}
    )
    authority = DynamicAuthority(store, namespace=NAMESPACE, name=NAME)
    made = await authority.ensure()
    assert made is not None
    secret = await store.get(SECRETS, NAME, namespace=NAMESPACE)
    assert secret["metadata"]["uid"] == created["metadata"]["uid"]
    assert secret["metadata"]["labels"] == {"keep": "me"}
    assert _stored_ca(secret) == made.cert_pem
    assert not ca_needs_rotation(made.certificate, datetime.now(UTC))


class _Racing:
    """A store where another replica writes its own CA just before each of our writes."""

    def __init__(self, store: LocalStore, rival: CA) -> None:
        self._store = store
        self._rival = rival

    async def get(self, resource: ResourceType, name: str, *, namespace: str | None = None) -> RawObject:
        return await self._store.get(resource, name, namespace=namespace)

    async def create(self, resource: ResourceType, obj: RawObject) -> RawObject:
        await self._store.create(resource, _secret(_data(self._rival)))
        raise AlreadyExists("secrets already exists")

    async def update(self, resource: ResourceType, obj: RawObject) -> RawObject:
        current = await self._store.get(resource, NAME, namespace=NAMESPACE)
        await self._store.update(resource, {**current, "data": _secret(_data(self._rival))["data"]})
        raise Conflict("the object has been modified")


@pytest.mark.parametrize("existing", [False, True], ids=["both-create", "both-rotate"])
async def test_a_lost_race_adopts_the_winners_ca(store: LocalStore, existing: bool) -> None:
    rival = generate_ca(datetime.now(UTC))
    if existing:
        await store.create(SECRETS, _secret({"ca.crt": b"x"}))
    authority = DynamicAuthority(_Racing(store, rival), namespace=NAMESPACE, name=NAME)
    adopted = await authority.ensure()
    assert adopted is not None
    assert adopted.cert_pem == rival.cert_pem


def _issued_by(leaf: x509.Certificate, ca: CA) -> bool:
    try:
        leaf.verify_directly_issued_by(ca.certificate)
    except (ValueError, TypeError, InvalidSignature):
        return False
    return True


async def test_leaves_follow_ca_rotation_and_their_own_renewal_time(store: LocalStore) -> None:
    tls = ServingTLS()
    authority = DynamicAuthority(store, namespace=NAMESPACE, name=NAME, poll_interval=0.05)
    source = DynamicCertificateSource(
        tls,
        authority,
        dns_names=["localhost"],
        leaf_duration=timedelta(seconds=1.5),
        clock=SystemClock(),
        retry_seconds=0.05,
        check_seconds=0.05,
    )
    tasks = [asyncio.create_task(authority.run()), asyncio.create_task(source.run())]
    try:
        await asyncio.wait_for(tls.wait_ready(), 3)
        first = tls.certificate
        assert first is not None
        assert authority.current is not None
        first.verify_directly_issued_by(authority.current.certificate)
        # Renewed at two thirds of its 1.5 s life (the notBefore is truncated to the second, so 0-1 s).
        async with asyncio.timeout(3):
            while tls.certificate == first:
                await asyncio.sleep(0.02)
        # The CA is replaced behind the authority's back (another replica rotated it).
        rotated = generate_ca(datetime.now(UTC))
        current = await store.get(SECRETS, NAME, namespace=NAMESPACE)
        await store.update(SECRETS, {**current, "data": _secret(_data(rotated))["data"]})
        async with asyncio.timeout(3):
            while tls.certificate is None or not _issued_by(tls.certificate, rotated):
                await asyncio.sleep(0.02)
        assert authority.current is not None
        assert authority.current.cert_pem == rotated.cert_pem
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


class _Down:
    """An API server that cannot be reached."""

    async def get(self, resource: ResourceType, name: str, *, namespace: str | None = None) -> RawObject:
        raise Unavailable("the API server is down")

    async def create(self, resource: ResourceType, obj: RawObject) -> RawObject:
        raise Unavailable("the API server is down")

    async def update(self, resource: ResourceType, obj: RawObject) -> RawObject:
        raise Unavailable("the API server is down")


async def test_no_leaf_before_there_is_a_ca() -> None:
    authority = DynamicAuthority(_Down(), namespace=NAMESPACE, name=NAME)
    with pytest.raises(Unavailable):
        await authority.ensure()
    source = DynamicCertificateSource(ServingTLS(), authority, dns_names=["localhost"])
    with pytest.raises(TLSError, match="certificate not available"):
        source.issue()
