"""The generated CRDs: current on disk, structural, and the same as cert-manager's.

``data/cert_manager_crds.json`` holds the facts of cert-manager's own CRDs (``deploy/crds`` at the
commit named in its ``source``): names, columns, selectable fields, and every schema node's
keywords flattened by path (``spec.dnsNames[]``, ``spec.secretTemplate.labels{}``), descriptions
removed. The comparison below goes both ways: every path cert-manager has exists in ours with the
same keywords, and ours has no path cert-manager lacks, except the differences listed with a reason.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
import yaml

from certkeeper.api.crds import KINDS, KindInfo, crd, crd_files, openapi_schema, render_all, to_yaml
from certkeeper.api.schema_rules import structural_violations

REPO = Path(__file__).resolve().parents[3]
DEPLOY = REPO / "deploy" / "crds"
REGENERATE = "certkeeper crds --output-dir deploy/crds"
FACTS: dict[str, Any] = json.loads((Path(__file__).parent / "data" / "cert_manager_crds.json").read_text())["crds"]

#: Where our schema deliberately differs from cert-manager's, and why.
AFFINITY = "podTemplate.spec.affinity"
AFFINITY_REASON = (
    "affinity is core/v1 Affinity, which certkeeper passes to the solver Pod unchanged (the model keeps it "
    "as free-form JSON); the API server validates it when the Pod is created"
)
ROOT_REQUIRED = {
    # The models require spec; cert-manager's webhook rejects a Certificate or CertificateRequest
    # without one anyway (secretName, issuerRef, request are required), so no manifest changes fate.
    "cert-manager.io_certificates.yaml": ["spec"],
    "cert-manager.io_certificaterequests.yaml": ["spec"],
}


def _flatten(node: Mapping[str, Any], path: str = ".") -> Iterator[tuple[str, dict[str, Any]]]:
    yield path, {k: v for k, v in node.items() if k not in ("properties", "items", "additionalProperties")}
    for name, sub in node.get("properties", {}).items():
        yield from _flatten(sub, name if path == "." else f"{path}.{name}")
    if "items" in node:
        yield from _flatten(node["items"], path + "[]")
    if isinstance(node.get("additionalProperties"), Mapping):
        yield from _flatten(node["additionalProperties"], path + "{}")


def _under_affinity(path: str) -> bool:
    return f"{AFFINITY}." in path or f"{AFFINITY}[" in path or f"{AFFINITY}{{" in path


def _expected(file_name: str, path: str, theirs: dict[str, Any]) -> dict[str, Any]:
    """cert-manager's keywords at ``path``, with our listed deliberate differences applied."""
    if path == "." and file_name in ROOT_REQUIRED:
        return {**theirs, "required": ROOT_REQUIRED[file_name]}
    if path.endswith(AFFINITY):
        return {**theirs, "x-kubernetes-preserve-unknown-fields": True}
    return theirs


def _walk(node: object) -> Iterator[Mapping[str, Any]]:
    if isinstance(node, Mapping):
        yield node
        for key, value in node.items():
            if key in ("properties",):
                for sub in value.values():
                    yield from _walk(sub)
            elif key in ("items", "additionalProperties", "not"):
                yield from _walk(value)
            elif key in ("anyOf", "allOf", "oneOf"):
                for sub in value:
                    yield from _walk(sub)


INFOS = [pytest.param(info, id=info.kind) for info in KINDS]


def test_checked_in_crds_are_current() -> None:
    on_disk = {path.name: path.read_text() for path in sorted(DEPLOY.glob("*.yaml"))}
    generated = crd_files()
    stale = sorted(name for name in generated.keys() | on_disk.keys() if on_disk.get(name) != generated.get(name))
    assert not stale, f"deploy/crds is out of date ({', '.join(stale)}): regenerate it with `{REGENERATE}`"


def test_output_is_deterministic_yaml() -> None:
    first = render_all()
    assert first == render_all()
    documents = list(yaml.safe_load_all(first))
    assert documents == [crd(info) for info in KINDS]
    assert all(text.startswith("---\n") for text in crd_files().values())
    # Long strings (patterns, CEL rules) are never folded across lines.
    assert "^(\\+|-)?(([0-9]+(\\.[0-9]*)?)|(\\.[0-9]+))" in first.replace("'", "")


@pytest.mark.parametrize("info", INFOS)
def test_every_schema_is_structural(info: KindInfo) -> None:
    schema = openapi_schema(info)
    assert structural_violations(schema) == ()
    for node in _walk(schema):
        typed = (
            "type" in node or node.get("x-kubernetes-preserve-unknown-fields") or node.get("x-kubernetes-int-or-string")
        )
        assert typed, node
        assert "$ref" not in node
        assert not ("properties" in node and "additionalProperties" in node), node


@pytest.mark.parametrize("info", INFOS)
def test_names_columns_and_fields_are_cert_managers(info: KindInfo) -> None:
    theirs = FACTS[info.file_name]
    ours = crd(info)
    spec = ours["spec"]
    (version,) = spec["versions"]
    assert ours["metadata"]["name"] == theirs["name"]
    assert spec["group"] == theirs["group"]
    assert spec["names"] == theirs["names"]
    assert spec["scope"] == theirs["scope"]
    assert version["name"] == theirs["version"]
    assert version["served"] is True
    assert version["storage"] is True
    assert version.get("subresources") == theirs["subresources"]
    # cert-manager's Age column carries Kubernetes' ObjectMeta prose as a description; ours has none.
    assert version["additionalPrinterColumns"] == theirs["printerColumns"]
    assert version.get("selectableFields", []) == theirs["selectableFields"]


@pytest.mark.parametrize("info", INFOS)
def test_schema_matches_cert_managers(info: KindInfo) -> None:
    theirs: dict[str, dict[str, Any]] = FACTS[info.file_name]["schema"]
    ours = {
        path: {k: v for k, v in node.items() if k != "description"} for path, node in _flatten(openapi_schema(info))
    }
    missing = sorted(path for path in theirs if path not in ours and not _under_affinity(path))
    extra = sorted(path for path in ours if path not in theirs)
    different = {
        path: (ours[path], _expected(info.file_name, path, node))
        for path, node in theirs.items()
        if path in ours and ours[path] != _expected(info.file_name, path, node)
    }
    assert not missing, f"fields cert-manager has and we lack: {missing}"
    assert not extra, f"fields we have and cert-manager lacks: {extra}"
    assert not different, f"(ours, cert-manager's) per path: {different}"


def test_the_comparison_covers_the_deliberate_differences() -> None:
    # The exceptions above must stay exercised: if cert-manager or our models change so that one is
    # no longer needed, drop it rather than let it hide a real difference.
    issuers = FACTS["cert-manager.io_issuers.yaml"]["schema"]
    assert any(_under_affinity(path) for path in issuers), AFFINITY_REASON
    for file_name, required in ROOT_REQUIRED.items():
        info = next(info for info in KINDS if info.file_name == file_name)
        assert openapi_schema(info)["required"] == required
        assert "required" not in FACTS[file_name]["schema"]["."]


def test_to_yaml_sorts_keys() -> None:
    assert to_yaml({"b": 1, "a": {"d": 2, "c": [3]}}) == "---\na:\n  c:\n  - 3\n  d: 2\nb: 1\n"
