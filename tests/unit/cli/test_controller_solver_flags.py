"""``certkeeper controller``'s ``--acme-http01-solver-*`` and ``--enable-gateway-api`` flags: checked
as cert-manager checks them and handed to the Kubernetes HTTP-01 solver the engine gets."""

from __future__ import annotations

from datetime import UTC, datetime

import click
import pytest
from click.testing import CliRunner

from certkeeper import __version__
from certkeeper.acme.solvers.kube_http01 import KubeHTTP01Solver
from certkeeper.cli.controller import build_engine
from certkeeper.cli.controller_config import make_config
from certkeeper.cli.main import cli
from certkeeper.issuers.acme import AccountRegistry
from certkeeper.runtime.clock import FakeClock
from certkeeper.store.local import LocalStore


def test_the_default_solver_image_is_this_release_of_certkeeper() -> None:
    config = make_config()
    assert config.http01_solver.image == f"certkeeper:{__version__}"
    assert config.http01_solver.resource_request_cpu == "10m"
    assert config.http01_solver.resource_limits_memory == "64Mi"
    assert config.http01_solver.run_as_non_root is True
    assert config.enable_gateway_api is False


def test_solver_flags_are_carried_into_the_config() -> None:
    config = make_config(
        acme_http01_solver_image="registry.example/certkeeper:9",
        acme_http01_solver_resource_limits_cpu="250m",
        acme_http01_solver_run_as_non_root=False,
        acme_http01_solver_extra_labels=("team=web,tier=edge", "zone=a"),
        acme_http01_solver_runtime_class_name="gvisor",
        acme_http01_solver_nameservers=("10.0.0.10:53",),
        enable_gateway_api=True,
        feature_gates="ACMEHTTP01IngressPathTypeExact=false",
    )
    pods = config.http01_solver
    assert pods.image == "registry.example/certkeeper:9"
    assert pods.resource_limits_cpu == "250m"
    assert pods.run_as_non_root is False
    assert dict(pods.extra_labels) == {"team": "web", "tier": "edge", "zone": "a"}
    assert pods.runtime_class_name == "gvisor"
    assert pods.path_type_exact is False
    assert config.http01_solver_nameservers == ("10.0.0.10:53",)
    assert config.enable_gateway_api is True


def test_a_resource_value_that_is_not_a_quantity_names_the_flag() -> None:
    with pytest.raises(click.BadParameter, match="--acme-http01-solver-resource-request-memory: 'lots'"):
        make_config(acme_http01_solver_resource_request_memory="lots")


def test_an_extra_label_without_a_value_names_the_flag() -> None:
    with pytest.raises(click.BadParameter, match="key=value") as caught:
        make_config(acme_http01_solver_extra_labels=("team",))
    assert caught.value.param_hint == "--acme-http01-solver-extra-labels"


def test_a_bad_solver_nameserver_is_refused_with_its_config_path() -> None:
    with pytest.raises(click.UsageError, match=r"acmeHTTP01Config\.solverNameservers\[1\]"):
        make_config(acme_http01_solver_nameservers=("10.0.0.10:53", "not a server"))


def test_the_command_line_refuses_a_bad_quantity_before_connecting() -> None:
    result = CliRunner().invoke(cli, ["controller", "--acme-http01-solver-resource-limits-cpu=fast"])
    assert result.exit_code == 2
    assert "--acme-http01-solver-resource-limits-cpu: 'fast' is not a resource quantity" in result.output


async def test_the_engine_solves_http01_with_solver_pods_shaped_by_the_flags() -> None:
    config = make_config(
        acme_http01_solver_image="registry.example/certkeeper:9",
        acme_http01_solver_extra_labels=("team=web",),
        enable_gateway_api=True,
    )
    clock = FakeClock(datetime(2026, 1, 1, tzinfo=UTC))
    store = await LocalStore.open(None, now=clock.now)
    accounts = AccountRegistry()
    try:
        engine = build_engine(config, store, clock, accounts)  # type: ignore[arg-type]
        solver = engine.ctx.solvers["HTTP-01"]
        assert isinstance(solver, KubeHTTP01Solver)
        assert solver.options.image == "registry.example/certkeeper:9"
        assert dict(solver.options.extra_labels) == {"team": "web"}
        assert solver.gateway_api_enabled is True
    finally:
        await accounts.aclose()
        await store.close()
