"""ACME end to end through the engine on the local store: pebble signs, BIND resolves and takes
RFC 2136 updates, certkeeper's in-process HTTP-01 solver answers (local mode)."""

from __future__ import annotations

import asyncio
import base64
import subprocess
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

from certkeeper.acme.solvers.dns01 import DNS01Solver
from certkeeper.acme.solvers.http01 import InProcessHTTP01Solver
from certkeeper.acme.solvers.http01_check import HTTP01SelfCheck, StaticResolver
from certkeeper.acme.solvers.http01_server import ChallengeResponder, HTTP01Server
from certkeeper.acme.solvers.rfc2136 import rfc2136_provider
from certkeeper.controllers.context import EngineOptions
from certkeeper.issuers.acme import AccountRegistry, AcmeIssuerBackend
from certkeeper.runtime.clock import SystemClock
from certkeeper.store.resources import CERTIFICATES, CHALLENGES, CLUSTER_ISSUERS, EVENTS, ORDERS, SECRETS
from tests.harness.bind import Bind, Zone
from tests.harness.pebble import Pebble, PebbleConfig
from tests.unit.controllers.harness import Harness, running_engine

NS = "default"
ZONE = "example.test"


@pytest.fixture(scope="module")
def bind(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Bind]:
    server = Bind(tmp_path_factory.mktemp("bind"), zones=(Zone(name=ZONE),))
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
async def solver_server() -> AsyncIterator[tuple[ChallengeResponder, HTTP01Server]]:
    responder = ChallengeResponder()
    server = HTTP01Server(responder, host="127.0.0.1", port=0)
    await server.start()
    try:
        yield responder, server
    finally:
        await server.stop()


@pytest.fixture
def pebble(tmp_path: Path, bind: Bind, solver_server: tuple[ChallengeResponder, HTTP01Server]) -> Iterator[Pebble]:
    _, server = solver_server
    config = PebbleConfig(http_port=server.bound_port, dns_server=bind.nameserver, always_valid=False)
    with Pebble(tmp_path, config) as running:
        yield running


def acme_issuer(pebble: Pebble, solvers: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "apiVersion": "cert-manager.io/v1",
        "kind": "ClusterIssuer",
        "metadata": {"name": "pebble"},
        "spec": {
            "acme": {
                "server": pebble.directory_url,
                "email": "Admin@Example.Test",
                "caBundle": base64.b64encode(pebble.ca_bundle).decode(),
                "privateKeySecretRef": {"name": "pebble-account"},
                "solvers": solvers,
            }
        },
    }


def certificate(name: str, dns_names: list[str]) -> dict[str, Any]:
    return {
        "apiVersion": "cert-manager.io/v1",
        "kind": "Certificate",
        "metadata": {"name": name, "namespace": NS},
        "spec": {
            "secretName": f"{name}-tls",
            "dnsNames": dns_names,
            "privateKey": {"algorithm": "ECDSA"},
            "issuerRef": {"name": "pebble", "kind": "ClusterIssuer"},
        },
    }


def engine_args(responder: ChallengeResponder, server: HTTP01Server, bind: Bind) -> dict[str, Any]:
    self_check = HTTP01SelfCheck(
        required_passes=1,
        pass_interval=0.0,
        port=server.bound_port,
        resolver=StaticResolver({f"{d}.{ZONE}": "127.0.0.1" for d in ("web", "api", "www")}),
    )
    registry = AccountRegistry()
    return {
        "issuer_backends": {"acme": AcmeIssuerBackend(registry)},
        "acme_accounts": registry,
        "solvers": {
            "HTTP-01": InProcessHTTP01Solver(responder, self_check=self_check),
            "DNS-01": DNS01Solver(
                providers={"rfc2136": rfc2136_provider},
                nameservers=[bind.nameserver],
                check_authoritative=False,
                propagation_wait=0.0,
            ),
        },
    }


def verify_chain(pebble: Pebble, tmp_path: Path, chain_pem: bytes) -> str:
    (tmp_path / "roots.pem").write_bytes(pebble.root_pem())
    (tmp_path / "chain.pem").write_bytes(chain_pem)
    result = subprocess.run(
        [
            "openssl",
            "verify",
            "-CAfile",
            str(tmp_path / "roots.pem"),
            "-untrusted",
            str(tmp_path / "chain.pem"),
            str(tmp_path / "chain.pem"),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return subprocess.run(
        ["openssl", "x509", "-in", str(tmp_path / "chain.pem"), "-noout", "-ext", "subjectAltName"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout


async def txt_records(bind: Bind, name: str) -> list[str]:
    import dns.asyncquery
    import dns.message
    import dns.rdatatype

    host, _, port = bind.nameserver.rpartition(":")
    response = await dns.asyncquery.udp(
        dns.message.make_query(name, dns.rdatatype.TXT), host, port=int(port), timeout=5
    )
    return [item.to_text() for rrset in response.answer for item in rrset]


async def apply_rfc2136_issuer(h: Harness, pebble: Pebble, bind: Bind) -> None:
    """The TSIG Secret and a ClusterIssuer whose only solver is DNS-01 through RFC 2136 to ``bind``."""
    key = bind.key("hmac-sha256")
    await h.apply(
        SECRETS,
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": "tsig", "namespace": NS},
            "data": {"secret": base64.b64encode(key.secret.encode()).decode()},
        },
    )
    solver = {
        "dns01": {
            "rfc2136": {
                "nameserver": bind.nameserver,
                "tsigKeyName": key.name,
                "tsigAlgorithm": key.cert_manager_algorithm,
                "tsigSecretSecretRef": {"name": "tsig", "key": "secret"},
            }
        }
    }
    await h.apply(CLUSTER_ISSUERS, acme_issuer(pebble, [solver]))


async def wait_ready(h: Harness, name: str, timeout: float = 90) -> None:
    def done() -> bool:
        return h.ready(NS, name)

    try:
        await h.settle(done, timeout=timeout)
    except TimeoutError:
        orders = (await h.store.list(ORDERS, namespace=NS)).items
        challenges = (await h.store.list(CHALLENGES, namespace=NS)).items
        cert = await h.get(CERTIFICATES, name, NS)
        raise AssertionError(
            f"not ready: {cert.get('status')}\norders: {[o.get('status') for o in orders]}\n"
            f"challenges: {[c.get('status') for c in challenges]}"
        ) from None


async def test_http01_issuance_through_pebble(
    pebble: Pebble, bind: Bind, solver_server: tuple[ChallengeResponder, HTTP01Server], tmp_path: Path
) -> None:
    responder, server = solver_server
    async with running_engine(
        EngineOptions(cluster_resource_namespace=NS), clock=SystemClock(), **engine_args(responder, server, bind)
    ) as h:
        await h.apply(CLUSTER_ISSUERS, acme_issuer(pebble, [{"http01": {"ingress": {}}}]))
        await h.apply(CERTIFICATES, certificate("web", [f"web.{ZONE}", f"www.{ZONE}"]))
        await wait_ready(h, "web")
        secret = await h.get(SECRETS, "web-tls", NS)
        san = verify_chain(pebble, tmp_path, base64.b64decode(secret["data"]["tls.crt"]))
        assert f"DNS:web.{ZONE}" in san
        issuer = await h.get(CLUSTER_ISSUERS, "pebble")
        assert issuer["status"]["acme"]["uri"].startswith("https://127.0.0.1:")
        assert issuer["status"]["acme"]["lastRegisteredEmail"] == "Admin@Example.Test"
        account = await h.get(SECRETS, "pebble-account", NS)
        assert account["metadata"]["labels"] == {"app.kubernetes.io/managed-by": "cert-manager"}
        # finished challenges are cleaned up: nothing left to answer
        await h.settle(lambda: not h.engine.challenges.cache.items(), timeout=30)
        assert len(responder) == 0


async def test_dns01_wildcard_through_rfc2136_to_bind(
    pebble: Pebble, bind: Bind, solver_server: tuple[ChallengeResponder, HTTP01Server], tmp_path: Path
) -> None:
    responder, server = solver_server
    async with running_engine(
        EngineOptions(cluster_resource_namespace=NS), clock=SystemClock(), **engine_args(responder, server, bind)
    ) as h:
        await apply_rfc2136_issuer(h, pebble, bind)
        await h.apply(CERTIFICATES, certificate("wild", [f"*.{ZONE}", ZONE]))
        await wait_ready(h, "wild", timeout=120)
        secret = await h.get(SECRETS, "wild-tls", NS)
        san = verify_chain(pebble, tmp_path, base64.b64decode(secret["data"]["tls.crt"]))
        assert f"DNS:*.{ZONE}" in san
        # the challenge TXT records are removed once the challenges are done
        await h.settle(lambda: not h.engine.challenges.cache.items(), timeout=30)
        assert await txt_records(bind, f"_acme-challenge.{ZONE}.") == []


async def test_contradicting_http01_override_annotations_stop_the_order_with_a_solver_event(
    pebble: Pebble, bind: Bind, solver_server: tuple[ChallengeResponder, HTTP01Server]
) -> None:
    responder, server = solver_server
    async with running_engine(
        EngineOptions(cluster_resource_namespace=NS), clock=SystemClock(), **engine_args(responder, server, bind)
    ) as h:
        await h.apply(CLUSTER_ISSUERS, acme_issuer(pebble, [{"http01": {"ingress": {"class": "nginx"}}}]))
        cert = certificate("web", [f"web.{ZONE}"])
        # copied to the CertificateRequest and the Order, where the solver is chosen
        cert["metadata"]["annotations"] = {
            "acme.cert-manager.io/http01-override-ingress-name": "web",
            "acme.cert-manager.io/http01-override-ingress-class": "traefik",
        }
        await h.apply(CERTIFICATES, cert)

        async def solver_events() -> list[dict[str, Any]]:
            events = (await h.store.list(EVENTS, namespace=NS)).items
            return [e for e in events if e.get("reason") == "Solver"]

        found: list[dict[str, Any]] = []

        async def poll() -> None:
            while not found:
                found.extend(await solver_events())
                await asyncio.sleep(0.1)

        await asyncio.wait_for(poll(), timeout=60)
        assert found[0]["type"] == "Warning"
        assert found[0]["involvedObject"]["kind"] == "Order"
        assert (
            "may not specify more than one of: name, class, ingressClassName override annotations"
            in (found[0]["message"])
        )
        assert (await h.store.list(CHALLENGES, namespace=NS)).items == []


@pytest.fixture
def pebble_unreachable_solver(tmp_path: Path, bind: Bind) -> Iterator[Pebble]:
    # pebble dials a port nobody listens on: every HTTP-01 validation fails with a connection problem.
    from tests.harness.kube import free_port

    config = PebbleConfig(http_port=free_port(), dns_server=bind.nameserver, always_valid=False)
    with Pebble(tmp_path, config) as running:
        yield running


async def test_failed_challenge_surfaces_the_acme_problem_and_backs_off(
    pebble_unreachable_solver: Pebble, bind: Bind, solver_server: tuple[ChallengeResponder, HTTP01Server]
) -> None:
    pebble = pebble_unreachable_solver
    responder, server = solver_server
    # waitInsteadOfSelfCheck skips certkeeper's own check, so the CA's validation is what fails.
    solver = {"http01": {"ingress": {}}, "waitInsteadOfSelfCheck": "1s"}
    args = engine_args(responder, server, bind)
    async with running_engine(EngineOptions(cluster_resource_namespace=NS), clock=SystemClock(), **args) as h:
        await h.apply(CLUSTER_ISSUERS, acme_issuer(pebble, [solver]))
        await h.apply(CERTIFICATES, certificate("web", [f"web.{ZONE}"]))

        def failed() -> bool:
            raw = h.engine.certificates.cache.get(f"{NS}/web") or {}
            return bool(raw.get("status", {}).get("lastFailureTime"))

        await h.settle(failed, timeout=90)
        challenges = (await h.store.list(CHALLENGES, namespace=NS)).items
        assert [c["status"]["state"] for c in challenges] == ["invalid"]
        problem = challenges[0]["status"]["reason"]
        assert problem.startswith("Error accepting authorization: acme: authorization error for web.example.test")
        assert "connection refused" in problem
        orders = (await h.store.list(ORDERS, namespace=NS)).items
        assert orders[0]["status"]["state"] == "invalid"
        assert orders[0]["status"]["failureTime"]
        assert "urn:ietf:params:acme:error:connection" in orders[0]["status"]["reason"]
        cert = await h.get(CERTIFICATES, "web", NS)
        issuing = next(c for c in cert["status"]["conditions"] if c["type"] == "Issuing")
        assert issuing["status"] == "False"
        assert issuing["reason"] == "Failed"
        assert issuing["message"].startswith("The certificate request has failed to complete and will be retried")
        assert 'order is in "invalid" state: 400 urn:ietf:params:acme:error:connection' in issuing["message"]
        assert cert["status"]["failedIssuanceAttempts"] == 1
        # and the trigger backs off: no new request is made within the first hour
        await asyncio.sleep(2)
        requests = (await h.store.list(ORDERS, namespace=NS)).items
        assert len(requests) == 1


@pytest.fixture
def pebble_asking_an_empty_server(tmp_path: Path) -> Iterator[Pebble]:
    # pebble resolves through a second BIND serving the same zone, which never gets the TXT records:
    # every DNS-01 validation finds the record missing.
    with Bind(tmp_path / "empty-bind", zones=(Zone(name=ZONE),)) as empty:
        config = PebbleConfig(dns_server=empty.nameserver, always_valid=False)
        with Pebble(tmp_path, config) as running:
            yield running


async def test_a_missing_dns_record_surfaces_the_acme_problem_on_challenge_order_and_certificate(
    pebble_asking_an_empty_server: Pebble, bind: Bind, solver_server: tuple[ChallengeResponder, HTTP01Server]
) -> None:
    pebble = pebble_asking_an_empty_server
    responder, server = solver_server
    args = engine_args(responder, server, bind)
    async with running_engine(EngineOptions(cluster_resource_namespace=NS), clock=SystemClock(), **args) as h:
        await apply_rfc2136_issuer(h, pebble, bind)
        await h.apply(CERTIFICATES, certificate("api", [f"api.{ZONE}"]))

        def failed() -> bool:
            raw = h.engine.certificates.cache.get(f"{NS}/api") or {}
            return bool(raw.get("status", {}).get("lastFailureTime"))

        await h.settle(failed, timeout=120)
        challenges = (await h.store.list(CHALLENGES, namespace=NS)).items
        assert [c["status"]["state"] for c in challenges] == ["invalid"]
        assert "urn:ietf:params:acme:error:unauthorized" in challenges[0]["status"]["reason"]
        orders = (await h.store.list(ORDERS, namespace=NS)).items
        assert orders[0]["status"]["state"] == "invalid"
        assert "urn:ietf:params:acme:error:unauthorized" in orders[0]["status"]["reason"]
        cert = await h.get(CERTIFICATES, "api", NS)
        issuing = next(c for c in cert["status"]["conditions"] if c["type"] == "Issuing")
        assert issuing["reason"] == "Failed"
        assert "urn:ietf:params:acme:error:unauthorized" in issuing["message"]
        assert cert["status"]["failedIssuanceAttempts"] == 1
        # the failed Challenge stays (its Order owns it) but is no longer processed: its TXT record is gone
        await h.settle(
            lambda: not any((c.get("status") or {}).get("processing") for c in h.engine.challenges.cache.items()),
            timeout=30,
        )
        assert await txt_records(bind, f"_acme-challenge.api.{ZONE}.") == []
        await asyncio.sleep(2)
        assert len((await h.store.list(ORDERS, namespace=NS)).items) == 1


@pytest.fixture
def current_pebble(
    tmp_path: Path, bind: Bind, solver_server: tuple[ChallengeResponder, HTTP01Server]
) -> Iterator[Pebble]:
    _, server = solver_server
    config = PebbleConfig(current=True, http_port=server.bound_port, dns_server=bind.nameserver, always_valid=False)
    with Pebble(tmp_path, config) as running:
        yield running


async def test_ari_window_drives_renewal_and_the_new_order_replaces_the_old_certificate(
    current_pebble: Pebble, bind: Bind, solver_server: tuple[ChallengeResponder, HTTP01Server]
) -> None:
    import json
    from datetime import UTC, datetime, timedelta

    from cryptography import x509

    from certkeeper.acme.ari import certificate_id
    from certkeeper.api.features import DEFAULT_GATES

    pebble = current_pebble
    responder, server = solver_server
    options = EngineOptions(cluster_resource_namespace=NS, feature_gates=DEFAULT_GATES.with_gates(acme_use_ari=True))
    args = engine_args(responder, server, bind)
    async with running_engine(options, clock=SystemClock(), **args) as h:
        await h.apply(CLUSTER_ISSUERS, acme_issuer(pebble, [{"http01": {"ingress": {}}}]))
        await h.apply(CERTIFICATES, certificate("web", [f"web.{ZONE}"]))
        await wait_ready(h, "web")

        def cert_status() -> dict[str, Any]:
            return dict((h.engine.certificates.cache.get(f"{NS}/web") or {}).get("status", {}))

        try:
            await h.settle(lambda: cert_status().get("acme", {}).get("ari", {}).get("suggestedWindow"), timeout=30)
        except TimeoutError:
            raise AssertionError(f"no ARI window: {cert_status()}") from None
        status = cert_status()
        window = status["acme"]["ari"]["suggestedWindow"]
        assert window["start"] <= status["renewalTime"] <= window["end"]
        assert status["acme"]["ari"]["nextCheck"] > status["acme"]["ari"]["lastChecked"]

        # The CA now asks for renewal right away: a window that starts a second after the certificate.
        secret = await h.get(SECRETS, "web-tls", NS)
        pem = base64.b64decode(secret["data"]["tls.crt"])
        leaf = x509.load_pem_x509_certificate(pem)
        start = leaf.not_valid_before_utc + timedelta(seconds=1)
        end = datetime.now(UTC) + timedelta(minutes=5)
        pebble.set_renewal_info(
            pem, json.dumps({"suggestedWindow": {"start": start.isoformat(), "end": end.isoformat()}})
        )
        cert = await h.get(CERTIFICATES, "web", NS)
        cert["status"]["acme"]["ari"]["nextCheck"] = "2000-01-01T00:00:00Z"  # check again now
        await h.store.update_status(CERTIFICATES, cert)

        def renewed() -> bool:
            return int(cert_status().get("revision") or 0) == 2 and h.ready(NS, "web")

        await h.settle(renewed, timeout=90)
        orders = (await h.store.list(ORDERS, namespace=NS)).items
        replacing = [o for o in orders if o["spec"].get("replaces")]
        assert [o["spec"]["replaces"] for o in replacing] == [certificate_id(leaf)]
        assert replacing[0]["status"]["state"] == "valid"


class CountingObserver:
    def __init__(self) -> None:
        self.actions: list[str] = []

    def observe(self, *, scheme: str, host: str, action: str, method: str, status: str, seconds: float) -> None:
        self.actions.append(action)


async def test_the_account_survives_a_restart(
    pebble: Pebble, bind: Bind, solver_server: tuple[ChallengeResponder, HTTP01Server]
) -> None:
    from certkeeper.acme.metrics import InstrumentedTransport
    from certkeeper.acme.transport import AiohttpTransport, TlsOptions, Transport
    from certkeeper.controllers.engine import Engine

    responder, server = solver_server
    args = engine_args(responder, server, bind)
    async with running_engine(EngineOptions(cluster_resource_namespace=NS), clock=SystemClock(), **args) as h:
        await h.apply(CLUSTER_ISSUERS, acme_issuer(pebble, [{"http01": {"ingress": {}}}]))
        await h.apply(CERTIFICATES, certificate("web", [f"web.{ZONE}"]))
        await wait_ready(h, "web")
        account_uri = (await h.get(CLUSTER_ISSUERS, "pebble"))["status"]["acme"]["uri"]
        key_before = (await h.get(SECRETS, "pebble-account", NS))["data"]["tls.key"]
        await h.engine.stop()
        assert h.engine.ctx.acme_accounts is not None
        await h.engine.ctx.acme_accounts.aclose()

        observer = CountingObserver()

        def transport(tls: TlsOptions) -> Transport:
            return InstrumentedTransport(AiohttpTransport(tls=tls), observer)

        registry = AccountRegistry(transport)
        restarted = Engine(
            h.store,
            clock=h.clock,
            options=h.engine.options,
            issuer_backends={**h.engine.ctx.issuer_backends, "acme": AcmeIssuerBackend(registry)},
            acme_accounts=registry,
            solvers=h.engine.ctx.solvers,
        )
        await restarted.start()
        h.engine = restarted
        await h.apply(CERTIFICATES, certificate("api", [f"api.{ZONE}"]))
        await wait_ready(h, "api")
        assert (await h.get(CLUSTER_ISSUERS, "pebble"))["status"]["acme"]["uri"] == account_uri
        assert (await h.get(SECRETS, "pebble-account", NS))["data"]["tls.key"] == key_before
        assert "register_account" not in observer.actions  # the stored account was reused, not registered
        assert "authorize_order" in observer.actions


def test_certkeeper_local_issues_from_pebble_over_http01(bind: Bind, tmp_path: Path) -> None:
    """The CLI as a user runs it: an ACME ClusterIssuer and a Certificate in a directory, --once."""
    import os
    import sys

    import yaml

    from tests.harness.kube import free_port

    port = free_port()  # certkeeper's own HTTP-01 server binds it; pebble dials it
    config = PebbleConfig(http_port=port, dns_server=bind.nameserver, always_valid=False)
    (tmp_path / "pebble").mkdir()
    with Pebble(tmp_path / "pebble", config) as pebble:
        manifests = tmp_path / "manifests"
        manifests.mkdir()
        (manifests / "issuer.yaml").write_text(yaml.safe_dump(acme_issuer(pebble, [{"http01": {"ingress": {}}}])))
        (manifests / "cert.yaml").write_text(yaml.safe_dump(certificate("cli", [f"web.{ZONE}"])))
        result = subprocess.run(
            [
                sys.executable,
                "-m",
                "certkeeper",
                "local",
                str(manifests),
                "--once",
                "--plain",
                "--timeout",
                "120",
                "--acme-http01-listen",
                f"127.0.0.1:{port}",
                "--nameservers",
                bind.nameserver,
                "--cluster-resource-namespace",
                NS,
            ],
            capture_output=True,
            text=True,
            timeout=180,
            check=False,
            env={**os.environ, "COLUMNS": "200"},
        )
        assert result.returncode == 0, result.stdout + result.stderr
        crt = manifests / ".certkeeper" / "secrets" / NS / "cli-tls" / "tls.crt"
        san = verify_chain(pebble, tmp_path, crt.read_bytes())
        assert f"DNS:web.{ZONE}" in san
