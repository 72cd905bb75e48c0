"""Reading deploy/: the plain manifests, the CRDs, and the Helm chart rendered by the helm CLI.

helm comes from ``CERTKEEPER_HELM`` (scripts/test exports it through ``ensure_helm``) or, when that is
unset, from the build cache of tools/helm/build.sh. A missing helm fails the chart tests with the command
that builds it; it never skips them.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import pytest
import yaml

REPO = Path(__file__).resolve().parents[3]
DEPLOY = REPO / "deploy"
MANIFESTS = DEPLOY / "manifests"
CRDS = DEPLOY / "crds"
CHART = DEPLOY / "charts" / "certkeeper"
RELEASE = "certkeeper"
NAMESPACE = "certkeeper"

#: A Kubernetes object as parsed YAML.
Obj = dict[str, Any]
#: (apiVersion, kind, namespace, name): what identifies an object in a cluster.
Key = tuple[str, str, str, str]


def key(obj: Mapping[str, Any]) -> Key:
    meta = obj["metadata"]
    return (obj["apiVersion"], obj["kind"], meta.get("namespace", ""), meta["name"])


def parse(text: str) -> list[Obj]:
    """The non-empty documents of a multi-document YAML text."""
    return [doc for doc in yaml.safe_load_all(text) if doc]


def load_dir(directory: Path) -> list[Obj]:
    return [doc for path in sorted(directory.glob("*.yaml")) for doc in parse(path.read_text())]


def by_key(objects: Iterable[Obj]) -> dict[Key, Obj]:
    result: dict[Key, Obj] = {}
    for obj in objects:
        assert key(obj) not in result, f"{key(obj)} appears twice"
        result[key(obj)] = obj
    return result


def helm_binary() -> str:
    configured = os.environ.get("CERTKEEPER_HELM")
    if configured:
        return configured
    check = subprocess.run(
        [str(REPO / "tools" / "helm" / "build.sh"), "--check"], capture_output=True, text=True, timeout=60, check=False
    )
    if check.returncode != 0:
        pytest.fail(f"helm is not built: run tools/helm/build.sh (scripts/test does)\n{check.stderr}")
    return check.stdout.strip()


def helm(binary: str, home: Path, *args: str) -> str:
    """Run helm with its config, cache and data directories under ``home``; returns stdout."""
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(home),
        "HELM_CONFIG_HOME": str(home / "config"),
        "HELM_CACHE_HOME": str(home / "cache"),
        "HELM_DATA_HOME": str(home / "data"),
    }
    result = subprocess.run([binary, *args], capture_output=True, text=True, timeout=120, env=env, check=False)
    assert result.returncode == 0, f"helm {' '.join(args)} failed:\n{result.stderr}"
    return result.stdout


def render(binary: str, home: Path, *values: str, release: str = RELEASE, crds: bool = False) -> list[Obj]:
    """``helm template`` of the chart with ``--set`` values; CRDs only when asked for."""
    args = ["template", release, str(CHART)]
    for value in values:
        args += ["--set", value]
    if crds:
        args.append("--include-crds")
    return parse(helm(binary, home, *args))


def of_kind(objects: Iterable[Obj], kind: str) -> list[Obj]:
    return [obj for obj in objects if obj["kind"] == kind]


def named(objects: Iterable[Obj], kind: str, name: str) -> Obj:
    found = [obj for obj in objects if obj["kind"] == kind and obj["metadata"]["name"] == name]
    assert len(found) == 1, f"{kind} {name}: found {len(found)}"
    return found[0]


def grants(rules: Iterable[Mapping[str, Any]]) -> set[tuple[str, str, str, str]]:
    """Every (apiGroup, resource, verb, resourceName or "") a list of policy rules allows."""
    result: set[tuple[str, str, str, str]] = set()
    for rule in rules:
        for group in rule.get("apiGroups", []):
            for resource in rule.get("resources", []):
                for verb in rule.get("verbs", []):
                    for name in rule.get("resourceNames") or [""]:
                        result.add((group, resource, verb, name))
    return result


def allows(rules: Iterable[Mapping[str, Any]], group: str, resource: str, verb: str, name: str = "") -> bool:
    """Whether the rules allow ``verb`` on ``group/resource`` (named ``name``), wildcards included."""
    for rule in rules:
        if not ({group, "*"} & set(rule.get("apiGroups", []))):
            continue
        if not ({resource, "*"} & set(rule.get("resources", []))):
            continue
        if not ({verb, "*"} & set(rule.get("verbs", []))):
            continue
        names = rule.get("resourceNames") or []
        if names and name not in names:
            continue
        return True
    return False


def container_args(deployment: Mapping[str, Any]) -> list[str]:
    containers = deployment["spec"]["template"]["spec"]["containers"]
    assert len(containers) == 1
    return list(containers[0]["args"])


def flag(args: Iterable[str], name: str) -> list[str]:
    """The values of ``--name=value`` flags, in order."""
    prefix = f"--{name}="
    return [arg[len(prefix) :] for arg in args if arg.startswith(prefix)]
