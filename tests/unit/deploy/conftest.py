"""Fixtures of the deploy/ tests: the manifests, the CRDs and the chart rendered once per session."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.unit.deploy.support import CRDS, MANIFESTS, Obj, helm_binary, load_dir, render


@pytest.fixture(scope="session")
def manifests() -> list[Obj]:
    return load_dir(MANIFESTS)


@pytest.fixture(scope="session")
def crds() -> list[Obj]:
    return load_dir(CRDS)


@pytest.fixture(scope="session")
def helm_bin() -> str:
    return helm_binary()


@pytest.fixture(scope="session")
def helm_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("helm-home")


@pytest.fixture(scope="session")
def rendered(helm_bin: str, helm_home: Path) -> list[Obj]:
    """The chart with default values and the release name "certkeeper"."""
    return render(helm_bin, helm_home)
