"""The Kubernetes API backend of the Store protocol.

``KubeStore`` speaks raw JSON to the API server over one shared aiohttp session (``transport``), with
client-side rate limiting, bounded retries and the server's Status answers mapped to Store errors
(``errors``). Build one from a kubeconfig (``KubeStore.from_kubeconfig``) or inside a Pod
(``KubeStore.in_cluster``). ``MetadataStore`` reads objects as metadata only (for caching Secrets the
controller does not own), and ``LeaderElector`` runs leader election on a Lease.
"""

from certkeeper.store.kube.auth import ConfigError, Credentials, ExecCredentials, StaticAuthorization, TokenFile
from certkeeper.store.kube.config import ClusterConfig, load_in_cluster, load_kubeconfig
from certkeeper.store.kube.errors import Unauthorized
from certkeeper.store.kube.leaderelection import LEASES, LeaderElectionConfig, LeaderElector, LeadershipLost
from certkeeper.store.kube.metadata import OTHER_SECRETS, OWNED_SECRETS, MetadataStore, strip_partial_metadata
from certkeeper.store.kube.retry import RetryPolicy
from certkeeper.store.kube.store import KubeStore
from certkeeper.store.kube.transport import ClientOptions, KubeTransport

__all__ = [
    "LEASES",
    "OTHER_SECRETS",
    "OWNED_SECRETS",
    "ClientOptions",
    "ClusterConfig",
    "ConfigError",
    "Credentials",
    "ExecCredentials",
    "KubeStore",
    "KubeTransport",
    "LeaderElectionConfig",
    "LeaderElector",
    "LeadershipLost",
    "MetadataStore",
    "RetryPolicy",
    "StaticAuthorization",
    "TokenFile",
    "Unauthorized",
    "load_in_cluster",
    "load_kubeconfig",
    "strip_partial_metadata",
]
