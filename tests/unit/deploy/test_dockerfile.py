"""The Dockerfile, read rather than built (no container engine here): pinned inputs, a non-root runtime
stage, the `certkeeper` entrypoint, and a pruning step that keeps every module certkeeper imports."""

from __future__ import annotations

import ast
import fnmatch
import json
import re
import subprocess
import sys
import tomllib
from dataclasses import dataclass, field
from importlib.metadata import packages_distributions
from pathlib import Path

import pytest

from tests.unit.deploy.support import REPO

DOCKERFILE = REPO / "Dockerfile"
DOCKERIGNORE = REPO / ".dockerignore"


@dataclass(frozen=True, slots=True)
class Instruction:
    keyword: str
    arguments: str
    #: Contents of the here-documents that follow the instruction, by their marker.
    heredocs: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Stage:
    base: str
    name: str
    instructions: list[Instruction]

    def all(self, keyword: str) -> list[Instruction]:
        return [i for i in self.instructions if i.keyword == keyword]


def parse_dockerfile(text: str) -> tuple[list[Instruction], list[Stage]]:
    """Global instructions (before the first FROM) and the stages; joins continuation lines and reads
    here-documents (`<<'EOF'` ... `EOF`) as BuildKit does."""
    lines = text.splitlines()
    instructions: list[Instruction] = []
    index = 0
    while index < len(lines):
        line = lines[index]
        index += 1
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        while line.endswith("\\"):
            line = line[:-1] + " " + lines[index].strip()
            index += 1
        keyword, _, arguments = line.strip().partition(" ")
        heredocs: dict[str, str] = {}
        for marker in re.findall(r"<<-?'?\"?(\w+)'?\"?", arguments):
            body: list[str] = []
            while lines[index] != marker:
                body.append(lines[index])
                index += 1
            index += 1
            heredocs[marker] = "\n".join(body) + "\n"
        instructions.append(Instruction(keyword.upper(), arguments.strip(), heredocs))
    preamble: list[Instruction] = []
    stages: list[Stage] = []
    for instruction in instructions:
        if instruction.keyword == "FROM":
            base, _, name = instruction.arguments.partition(" AS ")
            stages.append(Stage(base.strip(), name.strip(), []))
        elif stages:
            stages[-1].instructions.append(instruction)
        else:
            preamble.append(instruction)
    return preamble, stages


@pytest.fixture(scope="module")
def dockerfile() -> tuple[list[Instruction], list[Stage]]:
    return parse_dockerfile(DOCKERFILE.read_text())


def test_every_stage_starts_from_the_pinned_python_base(dockerfile: tuple[list[Instruction], list[Stage]]) -> None:
    preamble, stages = dockerfile
    args = dict(i.arguments.split("=", 1) for i in preamble if i.keyword == "ARG")
    assert re.fullmatch(r"python:3\.11(\.\d+)?-slim-(bookworm|trixie)", args["PYTHON_IMAGE"])
    assert [stage.base for stage in stages] == ["${PYTHON_IMAGE}"] * len(stages)
    assert len(stages) == 2


def test_runtime_stage_runs_certkeeper_as_a_numeric_non_root_user(
    dockerfile: tuple[list[Instruction], list[Stage]],
) -> None:
    runtime = dockerfile[1][-1]
    (user,) = runtime.all("USER")
    uid, _, gid = user.arguments.partition(":")
    # Numeric, so that the kubelet can enforce runAsNonRoot without looking into the image.
    assert uid.isdigit()
    assert gid.isdigit()
    assert int(uid) != 0
    assert int(gid) != 0
    instructions = [i.keyword for i in runtime.instructions]
    assert instructions.index("USER") > max(i for i, k in enumerate(instructions) if k in {"RUN", "COPY"})
    (entrypoint,) = runtime.all("ENTRYPOINT")
    assert json.loads(entrypoint.arguments) == ["certkeeper"]
    scripts = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["scripts"]
    assert scripts["certkeeper"] == "certkeeper.cli.main:main"
    # The runtime stage installs nothing: it copies the pruned virtualenv of the build stage.
    assert not [i for i in runtime.all("RUN") if "pip" in i.arguments]
    (copy,) = runtime.all("COPY")
    assert copy.arguments == f"--from={dockerfile[1][0].name} /opt/certkeeper /opt/certkeeper"
    env = " ".join(i.arguments for i in runtime.all("ENV"))
    assert "PYTHONDONTWRITEBYTECODE=1" in env
    assert "PATH=/opt/certkeeper/bin:$PATH" in env


def test_python_packages_come_from_the_lock_without_resolution(
    dockerfile: tuple[list[Instruction], list[Stage]],
) -> None:
    build = dockerfile[1][0]
    installs = [
        command.strip()
        for run in build.all("RUN")
        for command in run.arguments.split("&&")
        if re.search(r"\bpip install\b", command)
    ]
    assert installs
    for command in installs:
        assert "--no-deps" in command, command
        named = [word for word in command.split()[2:] if not word.startswith("-") and word not in {".", "install"}]
        for requirement in named:
            assert requirement == "requirements/lock.txt" or re.fullmatch(r"[\w.-]+==[\w.]+", requirement), command
    assert any("-r requirements/lock.txt" in c and "--only-binary=:all:" in c for c in installs)
    assert "requirements/lock.txt requirements/lock.txt" in [c.arguments for c in build.all("COPY")]


def _copy_sources(stages: list[Stage]) -> list[str]:
    sources: list[str] = []
    for stage in stages:
        for copy in stage.all("COPY"):
            if copy.heredocs or copy.arguments.startswith("--from="):
                continue
            sources += copy.arguments.split()[:-1]
    return sources


def _ignored(path: str, patterns: list[str]) -> bool:
    """Docker's rule: the last matching pattern wins; `!` re-includes; a directory pattern covers its files."""
    ignored = False
    for pattern in patterns:
        negated = pattern.startswith("!")
        pattern = pattern.removeprefix("!").rstrip("/")
        candidates = [path, *(str(parent) for parent in Path(path).parents if str(parent) != ".")]
        if any(fnmatch.fnmatch(candidate, pattern) or candidate == pattern for candidate in candidates):
            ignored = not negated
    return ignored


def test_dockerignore_lets_in_what_copy_needs_and_nothing_else(
    dockerfile: tuple[list[Instruction], list[Stage]],
) -> None:
    patterns = [line for line in DOCKERIGNORE.read_text().splitlines() if line and not line.startswith("#")]
    assert patterns[0] == "*"
    sources = _copy_sources(dockerfile[1])
    assert sorted(sources) == ["README.md", "pyproject.toml", "requirements/lock.txt", "src"]
    for source in sources:
        assert not _ignored(source, patterns), source
    assert not _ignored("src/certkeeper/cli/main.py", patterns)
    for outside in ("tests/conftest.py", ".git/config", "deploy/manifests/controller.yaml", "tools/helm/go.mod"):
        assert _ignored(outside, patterns), outside
    assert _ignored("src/certkeeper/__pycache__/main.cpython-311.pyc", patterns)


def _not_runtime(dockerfile: tuple[list[Instruction], list[Stage]]) -> set[str]:
    """Run the build stage's pruning script in this environment: the distributions it would remove."""
    (script,) = [i.heredocs["EOF"] for i in dockerfile[1][0].all("COPY") if i.heredocs]
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=False, cwd=REPO
    )
    assert result.returncode == 0, result.stderr
    return set(result.stdout.split())


def _canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def test_pruning_removes_tools_and_keeps_runtime_dependencies(
    dockerfile: tuple[list[Instruction], list[Stage]],
) -> None:
    removed = _not_runtime(dockerfile)
    for tool in ("pytest", "mypy", "ruff", "hypothesis", "import-linter", "setuptools", "types-pyyaml", "psutil"):
        assert tool in removed
    for runtime in ("certkeeper", "cryptography", "cffi", "aiohttp", "yarl", "kubernetes-asyncio", "msgspec"):
        assert runtime not in removed
    for runtime in ("pyyaml", "click", "rich", "dnspython", "prometheus-client", "croniter", "tzdata", "pip"):
        assert runtime not in removed


def _third_party_imports() -> set[str]:
    names: set[str] = set()
    for path in (REPO / "src" / "certkeeper").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                names |= {alias.name.split(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names.add(node.module.split(".")[0])
    return {name for name in names if name not in sys.stdlib_module_names and name != "certkeeper"}


def test_every_module_certkeeper_imports_survives_the_pruning(
    dockerfile: tuple[list[Instruction], list[Stage]],
) -> None:
    removed = _not_runtime(dockerfile)
    providers = packages_distributions()
    imports = _third_party_imports()
    assert {"cryptography", "msgspec", "yaml", "click", "aiohttp"} <= imports
    for module in sorted(imports):
        distributions = {_canonical(d) for d in providers.get(module, [])}
        assert distributions, f"no installed distribution provides {module!r}"
        assert distributions - removed, f"{module!r} comes from {distributions}, which the image prunes"
