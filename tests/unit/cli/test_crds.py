"""``certkeeper crds``: prints every CRD, or writes cert-manager's file names."""

from __future__ import annotations

from pathlib import Path

import yaml
from click.testing import CliRunner

from certkeeper.api.crds import KINDS, crd_files, render_all
from certkeeper.cli.main import cli


def test_prints_every_crd() -> None:
    result = CliRunner().invoke(cli, ["crds"])
    assert result.exit_code == 0, result.output
    assert result.output == render_all()
    names = [document["metadata"]["name"] for document in yaml.safe_load_all(result.output)]
    assert names == [info.crd_name for info in KINDS]


def test_writes_one_file_per_crd(tmp_path: Path) -> None:
    target = tmp_path / "deploy" / "crds"
    result = CliRunner().invoke(cli, ["crds", "--output-dir", str(target)])
    assert result.exit_code == 0, result.output
    assert sorted(path.name for path in target.iterdir()) == sorted(crd_files())
    assert "cert-manager.io_certificates.yaml" in crd_files()
    for name, text in crd_files().items():
        assert (target / name).read_text() == text
        assert (target / name).stat().st_mode & 0o777 == 0o644
