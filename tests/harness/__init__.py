"""Test harnesses shared by integration tests and benchmarks.

``tests.harness.kube``: a real etcd + kube-apiserver control plane (``ControlPlane``), identities minted
as client certificates (``Identity``); ``tests.harness.kubeclient``: an async REST client for setup
(``KubeClient``: server-side apply, namespaces, CRD readiness). Fixtures: ``tests/integration/conftest.py``.
"""

from tests.harness.kube import Binaries, ControlPlane, ControlPlaneError, Identity, find_binaries
from tests.harness.kubeclient import ApiError, KubeClient, RawObject, ResourceInfo, load_manifests

__all__ = [
    "ApiError",
    "Binaries",
    "ControlPlane",
    "ControlPlaneError",
    "Identity",
    "KubeClient",
    "RawObject",
    "ResourceInfo",
    "find_binaries",
    "load_manifests",
]
