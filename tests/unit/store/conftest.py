"""Fixtures for the store tests: a fake clock, resource types, and local stores in memory and on disk."""

from __future__ import annotations

import random
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from certkeeper.store.local import LocalStore
from certkeeper.store.ports import RawObject, ResourceType

CERTIFICATES = ResourceType(
    group="cert-manager.io", version="v1", kind="Certificate", plural="certificates", status_subresource=True
)
CLUSTER_ISSUERS = ResourceType(
    group="cert-manager.io",
    version="v1",
    kind="ClusterIssuer",
    plural="clusterissuers",
    namespaced=False,
    status_subresource=True,
)
#: A custom resource without a status subresource: status is an ordinary field.
WIDGETS = ResourceType(group="example.com", version="v1", kind="Widget", plural="widgets")
SECRETS = ResourceType(group="", version="v1", kind="Secret", plural="secrets")


class FakeClock:
    def __init__(self) -> None:
        self.moment = datetime(2024, 5, 1, 12, 0, 0, tzinfo=UTC)

    def now(self) -> datetime:
        return self.moment

    def advance(self, seconds: float) -> None:
        self.moment += timedelta(seconds=seconds)


def cert(name: str, namespace: str = "ns", **extra: Any) -> RawObject:
    obj: RawObject = {
        "apiVersion": "cert-manager.io/v1",
        "kind": "Certificate",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {"secretName": f"{name}-tls", "dnsNames": [f"{name}.example.com"]},
    }
    obj.update(extra)
    return obj


def secret(name: str, namespace: str = "ns", data: dict[str, str] | None = None, **meta: Any) -> RawObject:
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": name, "namespace": namespace, **meta},
        "data": data if data is not None else {"a": "YQ=="},
    }


def owner_ref(owner: RawObject) -> dict[str, str]:
    return {
        "apiVersion": owner["apiVersion"],
        "kind": owner["kind"],
        "name": owner["metadata"]["name"],
        "uid": owner["metadata"]["uid"],
    }


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
async def store(clock: FakeClock) -> AsyncIterator[LocalStore]:
    async with await LocalStore.open(None, now=clock.now, rng=random.Random(7), bookmark_interval=None) as s:
        yield s


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "state" / "certkeeper.db"


@pytest.fixture
async def disk_store(clock: FakeClock, db_path: Path) -> AsyncIterator[LocalStore]:
    async with await LocalStore.open(db_path, now=clock.now, bookmark_interval=None) as s:
        yield s
