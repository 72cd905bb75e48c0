"""``certkeeper validate``: the documentation examples pass, the broken manifests fail with kubectl's words."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from certkeeper.cli.main import cli

FIXTURES = Path(__file__).parents[2] / "fixtures"
MANIFESTS = sorted((FIXTURES / "manifests").glob("*.yaml"))
INVALID = sorted((FIXTURES / "invalid").glob("*.yaml"))


def run(args: list[str], cwd: Path, stdin: str | None = None) -> tuple[int, str, str]:
    with pytest.MonkeyPatch.context() as patch:
        # File names are printed as given, so run where the fixtures are and give bare names.
        patch.chdir(cwd)
        result = CliRunner().invoke(cli, ["validate", *args], input=stdin)
    return result.exit_code, result.stdout, result.stderr


def test_fixture_sets_exist() -> None:
    assert MANIFESTS
    assert INVALID


@pytest.mark.parametrize("path", MANIFESTS, ids=[p.name for p in MANIFESTS])
def test_documentation_examples_validate_clean(path: Path) -> None:
    status, stdout, stderr = run([path.name], path.parent)
    lines = stdout.splitlines()
    assert lines
    for line in lines:
        _, _, verdict = line.rpartition(": ")
        assert verdict in ("valid", "skipped (not a cert-manager kind)"), stderr
    assert status == 0, stderr
    assert "Error from server" not in stderr
    assert "is invalid" not in stderr


@pytest.mark.parametrize("path", INVALID, ids=[p.name for p in INVALID])
def test_invalid_manifests_fail_with_the_expected_output(path: Path) -> None:
    status, stdout, stderr = run([path.name], path.parent)
    assert stdout == path.with_suffix(".stdout").read_text(encoding="utf-8")
    assert stderr == path.with_suffix(".stderr").read_text(encoding="utf-8")
    assert status == (2 if path.name == "not-yaml.yaml" else 1)


def test_stdin_and_several_files() -> None:
    manifest = (FIXTURES / "invalid" / "mixed.yaml").read_text(encoding="utf-8")
    status, stdout, _ = run(["-", "certificate-name-missing.yaml"], FIXTURES / "invalid", stdin=manifest)
    assert stdout.splitlines() == [
        "issuer.cert-manager.io/selfsigned (<stdin>, document 1): valid",
        "certifcate.cert-manager.io/typo (<stdin>, document 2): invalid",
        "configmap/unrelated (<stdin>, document 3): skipped (not a cert-manager kind)",
        "certificate.cert-manager.io (certificate-name-missing.yaml, document 1): invalid",
    ]
    assert status == 1


def test_warnings_are_printed_for_valid_objects(tmp_path: Path) -> None:
    (tmp_path / "c.yaml").write_text(
        "apiVersion: cert-manager.io/v1\nkind: Certificate\nmetadata: {name: c}\n"
        "spec: {secretName: c, dnsNames: [c.example], issuerRef: {name: ca}, colour: blue}\n",
        encoding="utf-8",
    )
    status, stdout, stderr = run(["c.yaml"], tmp_path)
    assert (status, stdout, stderr) == (
        0,
        "certificate.cert-manager.io/c (c.yaml, document 1): valid\n",
        'Warning: unknown field "spec.colour"\n',
    )


def test_single_schema_error_is_one_line(tmp_path: Path) -> None:
    (tmp_path / "c.yaml").write_text(
        "apiVersion: cert-manager.io/v1\nkind: Certificate\nmetadata: {name: c}\n"
        "spec: {secretName: c, dnsNames: [c.example], issuerRef: {name: ca}, isCA: maybe}\n",
        encoding="utf-8",
    )
    status, _, stderr = run(["c.yaml"], tmp_path)
    assert status == 1
    assert stderr == (
        'The Certificate "c" is invalid: spec.isCA: Invalid value: "string": spec.isCA in body must be of type '
        'boolean: "string"\n'
    )


def test_feature_gates_change_the_verdict(tmp_path: Path) -> None:
    (tmp_path / "c.yaml").write_text(
        "apiVersion: cert-manager.io/v1\nkind: Certificate\nmetadata: {name: c}\n"
        "spec: {secretName: c, literalSubject: 'CN=c', issuerRef: {name: ca}}\n",
        encoding="utf-8",
    )
    assert run(["c.yaml"], tmp_path)[0] == 0
    status, _, stderr = run(["--feature-gates", "LiteralCertificateSubject=false", "c.yaml"], tmp_path)
    assert status == 1
    assert "Feature gate LiteralCertificateSubject must be enabled" in stderr
    status, _, stderr = run(["--feature-gates", "NoSuchGate=true", "c.yaml"], tmp_path)
    assert status == 2
    assert "unrecognized feature gate: NoSuchGate" in stderr


def test_unreadable_input_wins_over_invalid(tmp_path: Path) -> None:
    (tmp_path / "bad.yaml").write_text("apiVersion: cert-manager.io/v1\nkind: Issuer\nmetadata: {name: i}\nspec: {}\n")
    status, stdout, stderr = run(["bad.yaml", "missing.yaml"], tmp_path)
    assert status == 2
    assert stdout == "issuer.cert-manager.io/i (bad.yaml, document 1): invalid\n"
    assert "error: cannot read missing.yaml: No such file or directory" in stderr


def test_missing_kind_or_api_version(tmp_path: Path) -> None:
    (tmp_path / "k.yaml").write_text("apiVersion: cert-manager.io/v1\nmetadata: {name: x}\n---\nkind: Issuer\n")
    status, stdout, stderr = run(["k.yaml"], tmp_path)
    assert status == 1
    assert stdout.splitlines() == ["(k.yaml, document 1): invalid", "(k.yaml, document 2): invalid"]
    assert stderr.splitlines() == ["error: kind not set", "error: apiVersion not set"]


def test_files_are_required() -> None:
    status, _, stderr = run([], FIXTURES)
    assert status == 2
    assert "Missing argument 'FILE...'" in stderr
