# syntax=docker/dockerfile:1
# One image for every certkeeper component: the Deployments run `certkeeper controller`, `certkeeper
# webhook` and `certkeeper cainjector`, and the controller starts HTTP-01 solver pods that run
# `certkeeper acmesolver` from the same image (deploy/README.md).
#
#   docker build -t certkeeper:0.1.0 .
#
# Python packages come from requirements/lock.txt only, each at its pinned version and without dependency
# resolution (--no-deps), as wheels (no compiler in the image). The lock also pins test and lint tools;
# the build stage removes every distribution outside certkeeper's runtime dependencies before the venv is
# copied into the runtime stage, which runs as an unprivileged numeric user (so Kubernetes can enforce
# runAsNonRoot) and needs no writable path but /tmp.

ARG PYTHON_IMAGE=python:3.11-slim-bookworm

FROM ${PYTHON_IMAGE} AS build
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1
RUN python -m venv /opt/certkeeper
WORKDIR /src
COPY requirements/lock.txt requirements/lock.txt
RUN /opt/certkeeper/bin/pip install --no-deps --only-binary=:all: -r requirements/lock.txt
COPY pyproject.toml README.md ./
COPY src src
# setuptools is pyproject's build backend; pinned here, used for this one install, pruned below.
RUN /opt/certkeeper/bin/pip install --no-deps --only-binary=:all: setuptools==84.2.1 \
    && /opt/certkeeper/bin/pip install --no-deps --no-build-isolation .
# Prints every installed distribution that certkeeper does not need at run time (extras excluded).
COPY <<'EOF' /tmp/not_runtime.py
import sys
from importlib.metadata import PackageNotFoundError, distribution, distributions

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

needed: set[str] = set()
pending = ["certkeeper"]
while pending:
    name = canonicalize_name(pending.pop())
    if name in needed:
        continue
    needed.add(name)
    try:
        requires = distribution(name).requires or []
    except PackageNotFoundError:
        sys.exit(f"{name} is needed at run time but requirements/lock.txt does not pin it")
    for line in requires:
        requirement = Requirement(line)
        if requirement.marker is None or requirement.marker.evaluate({"extra": ""}):
            pending.append(requirement.name)
for dist in distributions():
    name = canonicalize_name(dist.metadata["Name"])
    if name not in needed and name != "pip":
        print(name)
EOF
RUN /opt/certkeeper/bin/python /tmp/not_runtime.py > /tmp/not_runtime.txt \
    && xargs -r /opt/certkeeper/bin/pip uninstall -y < /tmp/not_runtime.txt \
    && /opt/certkeeper/bin/pip uninstall -y pip \
    && /opt/certkeeper/bin/python -m compileall -q /opt/certkeeper/lib

FROM ${PYTHON_IMAGE}
RUN groupadd --system --gid 65532 certkeeper \
    && useradd --system --uid 65532 --gid 65532 --no-create-home --home-dir /nonexistent \
        --shell /usr/sbin/nologin certkeeper
COPY --from=build /opt/certkeeper /opt/certkeeper
# Bytecode was compiled at build time; the root filesystem is read-only at run time.
ENV PATH=/opt/certkeeper/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1
USER 65532:65532
ENTRYPOINT ["certkeeper"]
CMD ["--help"]
