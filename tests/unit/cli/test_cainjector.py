"""``certkeeper cainjector``: cert-manager's flags and their checks, the API connection it picks, and the
metrics server (limits, content) on a live injector."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import aiohttp
import click
import pytest
import yaml
from click.testing import CliRunner
from prometheus_client import CollectorRegistry

from certkeeper.cainjector import TARGET_NAMES, VALIDATING_WEBHOOK_CONFIGURATIONS, CAInjector
from certkeeper.cainjector.metrics import InjectorCollector
from certkeeper.cli import cainjector as cli_module
from certkeeper.cli.cainjector import (
    LEASE_LABELS,
    LEASE_NAME,
    CAInjectorConfig,
    MetricsServer,
    make_config,
    open_store,
    parse_listen_address,
)
from certkeeper.cli.main import cli
from certkeeper.runtime.clock import FakeClock
from certkeeper.store.kube import LEASES, ConfigError, LeaderElectionConfig, LeaderElector, LeadershipLost
from certkeeper.store.local import LocalStore
from certkeeper.store.resources import SECRETS
from tests.unit.cainjector.builders import from_secret, secret, webhook_configuration

ALL_ADDRESSES = "0.0.0.0"  # noqa: S104 - what the flag means, not a bind

DEFAULTS: dict[str, Any] = {
    "kubeconfig": None,
    "namespace": "",
    "ignore_namespaces": (),
    "leader_elect": True,
    "leader_election_namespace": "kube-system",
    "leader_election_lease_duration": "60s",
    "leader_election_renew_deadline": "40s",
    "leader_election_retry_period": "15s",
    "enable_certificates_data_source": True,
    "enabled_targets": sorted(TARGET_NAMES),
    "feature_gates": "",
    "metrics_listen_address": f"{ALL_ADDRESSES}:9402",
}


def _config(**changes: Any) -> CAInjectorConfig:
    return make_config(**{**DEFAULTS, **changes})


def test_defaults_are_cert_managers() -> None:
    config = _config()
    assert config.leader_elect
    assert config.leader_election_namespace == "kube-system"
    assert (config.lease_duration, config.renew_deadline, config.retry_period) == (60.0, 40.0, 15.0)
    assert config.metrics_address == (ALL_ADDRESSES, 9402)
    assert config.options.targets == TARGET_NAMES
    assert config.options.enable_certificates_data_source
    assert config.options.merge
    assert config.options.field_manager == "cert-manager-cainjector"


@pytest.mark.parametrize(
    ("changes", "error", "message"),
    [
        pytest.param(
            {"namespace": "a", "ignore_namespaces": ("b",)},
            click.UsageError,
            "error validating flags: ignoreNamespaces: Forbidden: should not be used with --namespace.",
            id="namespace-and-ignore",
        ),
        pytest.param(
            {"feature_gates": "ACMEUseARI=true"},
            click.BadParameter,
            "unrecognized feature gate: ACMEUseARI",
            id="controller-gate",
        ),
        pytest.param(
            {"feature_gates": "ServerSideApply"}, click.BadParameter, "missing bool value", id="gate-without-value"
        ),
        pytest.param(
            {"leader_election_lease_duration": "1 minute"}, click.BadParameter, "unknown unit", id="not-a-go-duration"
        ),
        pytest.param({"leader_election_retry_period": "0s"}, click.BadParameter, "must be greater than 0", id="zero"),
        pytest.param(
            {"leader_election_lease_duration": "30s"},
            click.UsageError,
            "lease_duration must be greater than renew_deadline",
            id="lease-shorter-than-deadline",
        ),
        pytest.param({"metrics_listen_address": "9402"}, click.BadParameter, "is not host:port", id="no-colon"),
        pytest.param({"metrics_listen_address": ":99999"}, click.BadParameter, "is not host:port", id="bad-port"),
    ],
)
def test_bad_flags_are_refused(changes: dict[str, Any], error: type[Exception], message: str) -> None:
    with pytest.raises(error, match=message.replace(".", r"\.").replace("(", r"\(")):
        _config(**changes)


def test_leader_election_timings_are_not_checked_without_leader_election() -> None:
    assert not _config(leader_elect=False, leader_election_lease_duration="30s").leader_elect


def test_feature_gates_of_the_cainjector_are_accepted() -> None:
    assert _config(feature_gates="ServerSideApply=true,CAInjectorMerging=true").options.merge


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        pytest.param("0", None, id="off"),
        pytest.param(f"{ALL_ADDRESSES}:9402", (ALL_ADDRESSES, 9402), id="all-v4"),
        pytest.param(":9402", (ALL_ADDRESSES, 9402), id="empty-host"),
        pytest.param("127.0.0.1:0", ("127.0.0.1", 0), id="any-port"),
        pytest.param("[::1]:9402", ("::1", 9402), id="v6"),
    ],
)
def test_parse_listen_address(value: str, expected: tuple[str, int] | None) -> None:
    assert parse_listen_address(value) == expected


def test_command_line_flags_reach_the_config(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[CAInjectorConfig] = []

    async def fake_main(config: CAInjectorConfig) -> None:
        seen.append(config)

    monkeypatch.setattr(cli_module, "_main", fake_main)
    result = CliRunner().invoke(
        cli,
        [
            "cainjector",
            "--leader-elect=false",
            "--ignore-namespaces=kube-system,kube-public",
            "--ignore-namespaces",
            "other",
            "--enable-apiservices-injectable=false",
            "--enable-customresourcedefinitions-injectable=false",
            "--enable-certificates-data-source=false",
            "--metrics-listen-address=0",
            "--leader-election-lease-duration=2m",
        ],
    )
    assert result.exit_code == 0, result.output
    (config,) = seen
    assert not config.leader_elect
    assert config.lease_duration == 120.0
    assert config.options.ignore_namespaces == {"kube-system", "kube-public", "other"}
    assert config.options.targets == {"validatingwebhookconfiguration", "mutatingwebhookconfiguration"}
    assert not config.options.enable_certificates_data_source
    assert config.metrics_address is None


def test_command_line_refusal_exits_with_usage_error() -> None:
    result = CliRunner().invoke(cli, ["cainjector", "--namespace=a", "--ignore-namespaces=b"])
    assert result.exit_code == 2
    assert "should not be used with --namespace." in result.output


def _kubeconfig(path: Path, server: str) -> Path:
    document = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "c", "cluster": {"server": server}}],
        "users": [{"name": "u", "user": {"token": "not-a-real-token"}}],
        "contexts": [{"name": "x", "context": {"cluster": "c", "user": "u"}}],
        "current-context": "x",
    }
    path.write_text(yaml.safe_dump(document))
    return path


async def test_open_store_prefers_the_flag_then_kubeconfig_env_then_the_pod(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    flag = _kubeconfig(tmp_path / "flag", "https://flag.example:6443")
    env = _kubeconfig(tmp_path / "env", "https://env.example:6443")
    monkeypatch.setenv("KUBECONFIG", str(env))
    monkeypatch.setenv("KUBERNETES_SERVICE_HOST", "10.0.0.1")
    for path, server in ((flag, "https://flag.example:6443"), (None, "https://env.example:6443")):
        store = open_store(path)
        assert store.transport.config.server == server
        await store.close()
    monkeypatch.delenv("KUBECONFIG")
    monkeypatch.setenv("KUBERNETES_SERVICE_PORT", "443")
    with pytest.raises(ConfigError):  # in a "Pod" without a service account token
        open_store(None)


async def test_metrics_server_serves_controller_metrics_within_limits() -> None:
    clock = FakeClock()
    store = await LocalStore.open(None, now=clock.now, bookmark_interval=None)
    await store.create(SECRETS, secret("ns", "ca", allow_injection=True))
    injector = CAInjector(store, clock=clock)
    await injector.start()
    registry = CollectorRegistry()
    registry.register(InjectorCollector(lambda: injector.controllers, lambda: injector.reconcilers))
    server = MetricsServer(registry, host="127.0.0.1", port=0)
    await server.start()
    try:
        await store.create(
            VALIDATING_WEBHOOK_CONFIGURATIONS,
            webhook_configuration("ValidatingWebhookConfiguration", "hooks", from_secret("ns/ca")),
        )
        for _ in range(200):
            if injector.controllers["validatingwebhookconfiguration"].sync_calls:
                break
            await asyncio.sleep(0.005)
        assert server.listener is not None
        base = f"http://127.0.0.1:{server.listener.port}"
        async with aiohttp.ClientSession() as session:
            async with session.get(f"{base}/metrics") as response:
                assert response.status == 200
                text = await response.text()
            async with session.get(f"{base}/livez") as response:
                assert (response.status, await response.text()) == (200, "ok\n")
            async with session.post(f"{base}/metrics", data=b"x") as response:
                assert response.status == 405
        success = 'controller_runtime_reconcile_total{controller="validatingwebhookconfiguration",result="success"}'
        assert f"{success} 1.0" in text
        assert 'workqueue_depth{name="apiservice"} 0.0' in text
        applies = 'certkeeper_cainjector_ca_bundle_applies_total{controller="validatingwebhookconfiguration"}'
        assert f"{applies} 0.0" in text
    finally:
        await server.stop()
        await injector.stop()
        await store.close()


def _elector(store: LocalStore, clock: FakeClock, identity: str) -> LeaderElector:
    config = LeaderElectionConfig(
        name=LEASE_NAME, identity=identity, lease_duration=3, renew_deadline=2, retry_period=0.5, labels=LEASE_LABELS
    )
    return LeaderElector(store, config, clock=clock)


async def _spin(times: int = 20) -> None:
    for _ in range(times):
        await asyncio.sleep(0.001)


async def test_losing_the_lease_stops_the_controllers_and_raises() -> None:
    clock = FakeClock()
    store = await LocalStore.open(None, now=clock.now, bookmark_interval=None)
    injector = CAInjector(store, clock=clock)
    await injector.start_informers()
    stop = asyncio.Event()
    lead = asyncio.create_task(cli_module._lead(injector, _elector(store, clock, "me"), stop))
    try:
        await _spin()
        lease = await store.get(LEASES, LEASE_NAME, namespace="kube-system")
        assert lease["spec"]["holderIdentity"] == "me"
        assert lease["metadata"]["labels"] == LEASE_LABELS
        assert injector.controllers_running
        lease["spec"]["holderIdentity"] = "thief"
        await store.update(LEASES, lease)
        clock.advance(0.5)
        await _spin()
        with pytest.raises(LeadershipLost):
            await asyncio.wait_for(lead, 5)
        assert not injector.controllers_running
    finally:
        await injector.stop()
        await store.close()


async def test_stopping_while_waiting_for_the_lease_never_starts_the_controllers() -> None:
    clock = FakeClock()
    store = await LocalStore.open(None, now=clock.now, bookmark_interval=None)
    holder = _elector(store, clock, "holder")
    assert await holder.try_acquire_or_renew()
    injector = CAInjector(store, clock=clock)
    await injector.start_informers()
    stop = asyncio.Event()
    lead = asyncio.create_task(cli_module._lead(injector, _elector(store, clock, "standby"), stop))
    try:
        await _spin()
        stop.set()
        await asyncio.wait_for(lead, 5)
        assert not injector.controllers_running
        lease = await store.get(LEASES, LEASE_NAME, namespace="kube-system")
        assert lease["spec"]["holderIdentity"] == "holder"
    finally:
        await injector.stop()
        await store.close()


async def test_a_graceful_stop_releases_the_lease() -> None:
    clock = FakeClock()
    store = await LocalStore.open(None, now=clock.now, bookmark_interval=None)
    injector = CAInjector(store, clock=clock)
    await injector.start_informers()
    stop = asyncio.Event()
    lead = asyncio.create_task(cli_module._lead(injector, _elector(store, clock, "me"), stop))
    try:
        await _spin()
        stop.set()
        await asyncio.wait_for(lead, 5)
        lease = await store.get(LEASES, LEASE_NAME, namespace="kube-system")
        assert lease["spec"]["holderIdentity"] == ""
    finally:
        await injector.stop()
        await store.close()
