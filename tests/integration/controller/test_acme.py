"""ACME DNS-01 through ``certkeeper controller`` on a real kube-apiserver, as the controller ServiceAccount:
pebble signs, BIND takes the records by RFC 2136 with TSIG (the TSIG Secret, which certkeeper does not own,
is cached as metadata and read on demand). Orders and Challenges are created, owned and cleaned up on the
API server as cert-manager does it. (HTTP-01 on Kubernetes: tests/integration/acme/test_kube_http01.py.)"""

from __future__ import annotations

import dataclasses
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from cryptography import x509

from certkeeper.cli.controller_config import ControllerConfig
from tests.harness.bind import Bind
from tests.harness.kube import Identity
from tests.harness.kubeclient import KubeClient
from tests.harness.pebble import Pebble
from tests.integration.controller.conftest import ZONE, Running, config_for, eventually
from tests.integration.controller.objects import ACME, CM, acme_issuer, certificate, leaf_of, ready, tsig_secret

pytestmark = pytest.mark.kube

Start = Callable[..., Awaitable[Running]]


def acme_config(identity: Identity, bind: Bind, **flags: Any) -> ControllerConfig:
    """The controller checking DNS-01 records at BIND only, without the production 60 s TTL wait."""
    config = config_for(
        identity, dns01_recursive_nameservers=(bind.nameserver,), dns01_recursive_nameservers_only=True, **flags
    )
    return dataclasses.replace(config, dns01_propagation_wait=0.0)


async def setup_acme(admin: KubeClient, ns: str, pebble: Pebble, bind: Bind) -> None:
    key = bind.key("hmac-sha256")
    await admin.create(tsig_secret(ns, key.secret))
    issuer = acme_issuer(
        "pebble",
        ns,
        server=pebble.directory_url,
        ca_bundle=pebble.ca_bundle,
        nameserver=bind.nameserver,
        key_name=key.name,
        algorithm=key.cert_manager_algorithm,
    )
    await admin.create(issuer)


async def items(admin: KubeClient, api_version: str, plural: str, ns: str) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = (await admin.request("GET", f"/apis/{api_version}/namespaces/{ns}/{plural}"))["items"]
    return found


async def test_dns01_issuance_through_orders_and_challenges(
    admin: KubeClient,
    ns: str,
    pebble: Pebble,
    bind: Bind,
    controller_identity: Identity,
    start_controller: Start,
) -> None:
    await start_controller(acme_config(controller_identity, bind))
    await setup_acme(admin, ns, pebble, bind)
    await eventually(lambda: ready(admin, "Issuer", "pebble", ns), what="the ACME Issuer registered")
    issuer = await admin.get(CM, "Issuer", "pebble", namespace=ns)
    assert issuer["status"]["acme"]["uri"].startswith("https://127.0.0.1:")
    account = await admin.get("v1", "Secret", "pebble-account", namespace=ns)
    assert account["metadata"]["labels"] == {"app.kubernetes.io/managed-by": "cert-manager"}

    names = [f"web.{ZONE}", f"*.{ZONE}"]
    await admin.create(certificate("web", ns, {"name": "pebble"}, dnsNames=names))

    orders: list[dict[str, Any]] = []
    challenges: list[dict[str, Any]] = []

    async def seen_challenges() -> bool:
        nonlocal orders, challenges
        orders = await items(admin, ACME, "orders", ns)
        challenges = await items(admin, ACME, "challenges", ns) or challenges
        return bool(challenges) or await ready(admin, "Certificate", "web", ns)

    await eventually(seen_challenges, timeout=60, what="Challenges of the Order")
    await eventually(lambda: ready(admin, "Certificate", "web", ns), timeout=120, what="web issued through pebble")
    request = await admin.get(CM, "CertificateRequest", "web-1", namespace=ns)
    orders = await items(admin, ACME, "orders", ns)
    (order,) = orders
    assert order["metadata"]["name"].startswith("web-1-")
    (owner,) = order["metadata"]["ownerReferences"]
    assert (owner["kind"], owner["name"], owner["uid"]) == ("CertificateRequest", "web-1", request["metadata"]["uid"])
    assert owner["controller"]
    assert owner["blockOwnerDeletion"]
    assert order["status"]["state"] == "valid"
    for challenge in challenges:
        (challenge_owner,) = challenge["metadata"]["ownerReferences"]
        assert (challenge_owner["kind"], challenge_owner["uid"]) == ("Order", order["metadata"]["uid"])
        assert challenge["spec"]["type"] == "DNS-01"
    secret = await admin.get("v1", "Secret", "web-tls", namespace=ns)
    sans = leaf_of(secret).extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert sorted(sans.get_values_for_type(x509.DNSName)) == sorted(names)

    async def cleaned_up() -> bool:
        return not await items(admin, ACME, "challenges", ns)

    # Solved Challenges are cleaned up (records removed, finalizer dropped) and deleted.
    await eventually(cleaned_up, timeout=60, what="the Challenges removed")
