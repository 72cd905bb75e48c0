"""``certkeeper controller``: its flags checked as cert-manager checks them, ``--controllers`` as cert-manager
reads it, and a run on the embedded store (leader election, metrics, health, graceful stop)."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import logging
import sys
from datetime import timedelta
from typing import Any

import aiohttp
import click
import pytest
from click.testing import CliRunner

from certkeeper.cli import controller as controller_module
from certkeeper.cli.component import JsonFormatter, health_answer, parse_listen_address
from certkeeper.cli.controller import LEASE_NAME, client_options, run_controller
from certkeeper.cli.controller_config import (
    DEFAULT_CONTROLLERS,
    KNOWN_CONTROLLERS,
    NOT_PROVIDED,
    ControllerConfig,
    enabled_controllers,
    make_config,
)
from certkeeper.cli.main import cli
from certkeeper.controllers.engine import ALL_CONTROLLERS
from certkeeper.runtime.clock import SystemClock
from certkeeper.store.kube import LEASES, LeadershipLost
from certkeeper.store.local import LocalStore
from certkeeper.store.ports import NotFound
from certkeeper.store.resources import CERTIFICATES, ISSUERS
from tests.harness.processes import free_port


def test_defaults_are_cert_managers_with_certkeepers_lease_namespace() -> None:
    config = make_config()
    assert (config.lease_duration, config.renew_deadline, config.retry_period) == (60.0, 40.0, 15.0)
    assert config.leader_elect is True
    assert config.leader_election_namespace == "certkeeper"
    assert config.cluster_resource_namespace == "kube-system"
    assert (config.kube_api_qps, config.kube_api_burst) == (20.0, 50)
    every_address = "0.0.0.0"  # noqa: S104 - compared, not bound
    assert config.metrics_address == (every_address, 9402)
    assert config.healthz_address == (every_address, 9403)
    assert config.healthz_leader_election_timeout == 20.0
    assert (config.min_backoff, config.max_backoff) == (timedelta(hours=1), timedelta(hours=32))
    assert (config.concurrent_workers, config.max_concurrent_challenges) == (5, 60)
    assert config.controllers == DEFAULT_CONTROLLERS
    assert config.engine_controllers == ALL_CONTROLLERS
    assert config.signers == frozenset({"acme", "ca", "selfsigned"})
    assert config.not_provided == frozenset(
        {"ingress-shim", "certificaterequests-issuer-vault", "certificaterequests-issuer-venafi"}
    )
    assert config.feature_gates.secrets_filtered_caching is True


@pytest.mark.parametrize(
    ("flags", "namespace", "enabled"),
    [
        (("*",), "", DEFAULT_CONTROLLERS),
        (("*,-certificates-issuing",), "", DEFAULT_CONTROLLERS - {"certificates-issuing"}),
        (("-issuers",), "", DEFAULT_CONTROLLERS - {"issuers"}),
        (("issuers", "orders"), "", frozenset({"issuers", "orders"})),
        (("*", "gateway-shim"), "", DEFAULT_CONTROLLERS | {"gateway-shim"}),
        (("*",), "team-a", DEFAULT_CONTROLLERS - {"clusterissuers"}),
        (("issuers,-issuers",), "", frozenset()),
    ],
    ids=["all", "all-but-one", "only-removals-imply-all", "just-these", "add-one", "namespaced", "removal-wins"],
)
def test_enabled_controllers(flags: tuple[str, ...], namespace: str, enabled: frozenset[str]) -> None:
    assert enabled_controllers(tuple(i for f in flags for i in f.split(",")), namespace=namespace) == enabled


def test_controllers_map_onto_the_engine() -> None:
    config = make_config(controllers=("*,-certificaterequests-issuer-ca,-certificates-metrics",))
    assert config.signers == frozenset({"acme", "selfsigned"})
    assert "certificaterequests-issuer" in config.engine_controllers
    none = make_config(
        controllers=(
            "*,-certificaterequests-issuer-ca,-certificaterequests-issuer-acme,-certificaterequests-issuer-selfsigned",
        )
    )
    assert "certificaterequests-issuer" not in none.engine_controllers
    assert none.signers == frozenset()
    assert frozenset(KNOWN_CONTROLLERS) >= NOT_PROVIDED
    assert not NOT_PROVIDED & ALL_CONTROLLERS


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (
            {"controllers": ("*,-foo", "bar")},
            'error validating flags: [controllers[1]: Invalid value: "foo": is not in the list of known controllers, '
            'controllers[2]: Invalid value: "bar": is not in the list of known controllers]',
        ),
        (
            {"kube_api_qps": 30.0, "kube_api_burst": 20},
            "error validating flags: kubernetesAPIBurst: Invalid value: 20: must be higher or equal to "
            "kubernetesAPIQPS",
        ),
        (
            {"kube_api_qps": -2.0, "kube_api_burst": -2},
            "error validating flags: [kubernetesAPIBurst: Invalid value: -2: must be greater than or equal to -1, "
            "kubernetesAPIQPS: Invalid value: -2: must be greater than or equal to -1]",
        ),
        (
            {
                "certificate_request_minimum_backoff_duration": "2h",
                "certificate_request_maximum_backoff_duration": "1h",
            },
            'error validating flags: certificateRequestMaximumBackoffDuration: Invalid value: "1h0m0s": must be '
            "greater than or equal to certificateRequestMinimumBackoffDuration",
        ),
        (
            {"max_certificate_size": 400000},
            "error validating flags: pemSizeLimitsConfig.maxCertificateSize: Invalid value: 400000: must not be larger "
            "than maxBundleSize",
        ),
        (
            {"internal_healthz_leader_election_timeout": "0s"},
            "error validating flags: leaderElectionConfig.healthzTimeout: Invalid value: 0s: must be greater than 0",
        ),
        (
            {"dns01_recursive_nameservers": ("8.8.8.8",)},
            'error validating flags: acmeDNS01Config.recursiveNameservers[0]: Invalid value: "8.8.8.8":',
        ),
        (
            {"leader_election_lease_duration": "10s", "leader_election_renew_deadline": "20s"},
            "leader election: lease_duration must be greater than renew_deadline",
        ),
    ],
    ids=[
        "unknown-controllers",
        "burst-below-qps",
        "below-minus-one",
        "backoff-order",
        "pem",
        "healthz",
        "dns",
        "lease",
    ],
)
def test_bad_flags_are_refused_with_the_field_named(flags: dict[str, Any], message: str) -> None:
    with pytest.raises(click.UsageError) as refused:
        make_config(**flags)
    assert refused.value.message.startswith(message)


@pytest.mark.parametrize(
    ("flags", "hint"),
    [
        ({"feature_gates": "CAInjectorMerging=true"}, "--feature-gates"),
        ({"feature_gates": "NoSuchGate=true"}, "--feature-gates"),
        ({"leader_election_retry_period": "soon"}, "--leader-election-retry-period"),
        ({"metrics_listen_address": "9402"}, "--metrics-listen-address"),
        ({"internal_healthz_listen_address": "host:port"}, "--internal-healthz-listen-address"),
        ({"concurrent_workers": 0}, "--concurrent-workers"),
    ],
    ids=["cainjector-gate", "unknown-gate", "duration", "metrics-address", "healthz-address", "workers"],
)
def test_bad_values_name_their_flag(flags: dict[str, Any], hint: str) -> None:
    with pytest.raises(click.BadParameter) as refused:
        make_config(**flags)
    assert refused.value.param_hint == hint


def test_zero_backoff_means_the_default_and_leader_timings_are_unchecked_without_election() -> None:
    config = make_config(
        certificate_request_minimum_backoff_duration="0s",
        leader_elect=False,
        leader_election_lease_duration="1s",
        leader_election_renew_deadline="5s",
    )
    assert config.min_backoff == timedelta(hours=1)
    assert config.leader_elect is False


def test_client_options_follow_client_go() -> None:
    assert client_options(make_config(kube_api_qps=-1.0, kube_api_burst=5)).qps is None
    assert client_options(make_config(kube_api_qps=0.0, kube_api_burst=0)).qps == 5.0
    assert client_options(make_config(kube_api_qps=0.0, kube_api_burst=0)).burst == 10
    options = client_options(make_config(kube_api_qps=7.5, kube_api_burst=9))
    assert (options.qps, options.burst) == (7.5, 9)


def test_command_line_flags_reach_the_config(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[ControllerConfig] = []

    async def fake_main(config: ControllerConfig) -> None:
        seen.append(config)

    monkeypatch.setattr(controller_module, "_main", fake_main)
    result = CliRunner().invoke(
        cli,
        [
            "controller",
            "--controllers=*,-issuers",
            "--controllers=gateway-shim",
            "--leader-elect=false",
            "--kube-api-qps=5",
            "--kube-api-burst=5",
            "--namespace=team-a",
            "--enable-certificate-owner-ref",
            "--metrics-listen-address=0",
            "--internal-healthz-listen-address=127.0.0.1:9999",
            "--copied-annotation-prefixes=*,-internal.example/",
            "--certificate-request-minimum-backoff-duration=10m",
        ],
    )
    assert result.exit_code == 0, result.output
    (config,) = seen
    assert config.controllers == (DEFAULT_CONTROLLERS | {"gateway-shim"}) - {"issuers", "clusterissuers"}
    assert config.leader_elect is False
    assert (config.kube_api_qps, config.kube_api_burst, config.namespace) == (5.0, 5, "team-a")
    assert config.enable_certificate_owner_ref is True
    assert config.metrics_address is None
    assert config.healthz_address == ("127.0.0.1", 9999)
    assert config.copied_annotation_prefixes == ("*", "-internal.example/")
    assert config.min_backoff == timedelta(minutes=10)
    refused = CliRunner().invoke(cli, ["controller", "--controllers=frobnicator"])
    assert refused.exit_code == 2
    assert 'controllers[0]: Invalid value: "frobnicator": is not in the list of known controllers' in refused.output


def test_health_answer_lists_failing_checks() -> None:
    assert health_answer({"leaderElection": lambda: True})() == (200, b"ok\n", "text/plain; charset=utf-8")
    status, body, _ = health_answer({"ping": lambda: True, "leaderElection": lambda: False})()
    assert status == 500
    assert body == b"[+]ping ok\n[-]leaderElection failed\nhealthz check failed\n"
    assert parse_listen_address(":9403") == ("0.0.0.0", 9403)  # noqa: S104 - compared, not bound


async def _get(port: int, path: str) -> tuple[int, str]:
    async with aiohttp.ClientSession() as session, session.get(f"http://127.0.0.1:{port}{path}") as answer:
        return answer.status, await answer.text()


async def test_a_run_on_the_embedded_store_leads_issues_serves_and_releases() -> None:
    store = await LocalStore.open(None, now=SystemClock().now, bookmark_interval=None)
    metrics, health = free_port(), free_port()
    config = dataclasses.replace(
        make_config(
            leader_election_namespace="certkeeper",
            leader_election_lease_duration="6s",
            leader_election_renew_deadline="4s",
            leader_election_retry_period="1s",
            metrics_listen_address=f"127.0.0.1:{metrics}",
            internal_healthz_listen_address=f"127.0.0.1:{health}",
            # The embedded store has no metadata-only reads: Secrets are cached whole.
            feature_gates="SecretsFilteredCaching=false",
        )
    )
    stop = asyncio.Event()
    task = asyncio.create_task(run_controller(config, stop, store=store, identity="me"))  # type: ignore[arg-type]
    try:
        issuer = {"apiVersion": "cert-manager.io/v1", "kind": "Issuer", "spec": {"selfSigned": {}}}
        await store.create(ISSUERS, {**issuer, "metadata": {"name": "self", "namespace": "app"}})
        await store.create(
            CERTIFICATES,
            {
                "apiVersion": "cert-manager.io/v1",
                "kind": "Certificate",
                "metadata": {"name": "web", "namespace": "app"},
                "spec": {"secretName": "web-tls", "dnsNames": ["web.example"], "issuerRef": {"name": "self"}},
            },
        )

        async def ready() -> bool:
            cert = await store.get(CERTIFICATES, "web", namespace="app")
            return any(
                c["type"] == "Ready" and c["status"] == "True" for c in cert.get("status", {}).get("conditions", [])
            )

        async with asyncio.timeout(30):
            while not await ready():
                assert not task.done(), task
                await asyncio.sleep(0.05)
        lease = await store.get(LEASES, LEASE_NAME, namespace="certkeeper")
        assert lease["spec"]["holderIdentity"] == "me"
        status, text = await _get(metrics, "/metrics")
        assert status == 200
        assert 'certmanager_certificate_ready_status{condition="True",' in text
        assert (
            "certmanager_controller_sync_call_count_total" in text or "certmanager_controller_sync_call_count" in text
        )
        assert await _get(health, "/livez") == (200, "ok\n")
        assert await _get(health, "/healthz") == (200, "ok\n")
        assert (await _get(metrics, "/livez"))[0] == 404  # the probe is on the health port only
    finally:
        stop.set()
        await asyncio.wait_for(task, 30)
        released = await store.get(LEASES, LEASE_NAME, namespace="certkeeper")
        await store.close()
    assert released["spec"]["holderIdentity"] == ""


def test_json_logs_are_one_object_per_line() -> None:
    formatter = JsonFormatter()
    record = logging.LogRecord("certkeeper.controller", logging.WARNING, __file__, 1, "lost %s", ("it",), None)
    entry = json.loads(formatter.format(record))
    assert entry == {"ts": entry["ts"], "level": "warning", "logger": "certkeeper.controller", "msg": "lost it"}
    try:
        raise ValueError("bad")
    except ValueError:
        record = logging.LogRecord("x", logging.ERROR, __file__, 1, "failed", (), sys.exc_info())
    assert json.loads(formatter.format(record))["error"] == "ValueError: bad"
    refused = CliRunner().invoke(cli, ["controller", "--logging-format=xml"])
    assert refused.exit_code == 2


async def test_losing_the_lease_stops_the_engine_and_raises() -> None:
    store = await LocalStore.open(None, now=SystemClock().now, bookmark_interval=None)
    config = make_config(
        leader_election_namespace="certkeeper",
        leader_election_lease_duration="3s",
        leader_election_renew_deadline="2s",
        leader_election_retry_period="0.2s",
        metrics_listen_address="0",
        internal_healthz_listen_address="0",
        feature_gates="SecretsFilteredCaching=false",
    )
    stop = asyncio.Event()
    task = asyncio.create_task(run_controller(config, stop, store=store, identity="me"))  # type: ignore[arg-type]
    try:
        async with asyncio.timeout(10):
            while True:
                try:
                    lease = await store.get(LEASES, LEASE_NAME, namespace="certkeeper")
                except NotFound:
                    lease = {}
                if lease.get("spec", {}).get("holderIdentity") == "me":
                    break
                await asyncio.sleep(0.05)
        lease["spec"]["holderIdentity"] = "thief"
        await store.update(LEASES, lease)
        with pytest.raises(LeadershipLost):
            await asyncio.wait_for(task, 10)
    finally:
        stop.set()
        if not task.done():
            await asyncio.wait_for(task, 10)
        await store.close()


def test_leadership_lost_ends_the_process_with_status_1(monkeypatch: pytest.MonkeyPatch) -> None:
    async def lose(config: ControllerConfig) -> None:
        raise LeadershipLost("me lost lease certkeeper/cert-manager-controller")

    monkeypatch.setattr(controller_module, "_main", lose)
    result = CliRunner().invoke(cli, ["controller"])
    assert result.exit_code == 1
    assert "leader election lost: me lost lease certkeeper/cert-manager-controller" in result.output
