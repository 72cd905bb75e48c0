"""Fixtures for integration tests against a real etcd + kube-apiserver (``tests.harness``).

* ``control_plane`` (session): one ``ControlPlane`` for the whole run; its logs are appended to the
  report of every failing test that used it.
* ``crds`` (session): deploy/crds applied (server-side) and Established; the CRD names.
* ``kube`` (function): a ``KubeClient`` as ``admin`` on the test's event loop.
* ``namespace`` (function): a fresh namespace named after the test.

Mark tests with ``@pytest.mark.kube``. The binaries must be built (``./scripts/test`` does it).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Generator, Iterator

import pytest

from tests.harness.kube import ControlPlane
from tests.harness.kubeclient import KubeClient, install_crds, run_blocking


@pytest.fixture(scope="session")
def control_plane(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ControlPlane]:
    """etcd + kube-apiserver for the session, stopped at its end whatever happened."""
    plane = ControlPlane(workdir=tmp_path_factory.mktemp("kube"))
    plane.start()
    try:
        yield plane
    finally:
        plane.stop()


@pytest.fixture(scope="session")
def crds(control_plane: ControlPlane) -> list[str]:
    """Apply deploy/crds once per session and wait until every CRD is Established."""
    return run_blocking(install_crds(control_plane.admin))


@pytest.fixture
async def kube(control_plane: ControlPlane) -> AsyncIterator[KubeClient]:
    """An admin client bound to this test's event loop."""
    async with KubeClient(control_plane.admin) as client:
        yield client


@pytest.fixture
async def namespace(kube: KubeClient, request: pytest.FixtureRequest) -> str:
    """A namespace no other test uses (left behind: nothing finalises namespaces without a controller manager)."""
    return await kube.create_namespace(request.node.name.split("[")[0].removeprefix("test_").replace("_", "-")[:30])


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    """Attach the control plane's log tails to a failing test's report."""
    report = yield
    plane = getattr(item, "funcargs", {}).get("control_plane")
    if report.failed and isinstance(plane, ControlPlane):
        report.sections.append(("control plane logs", plane.log_tail()))
    return report
