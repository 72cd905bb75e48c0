"""The embedded local backend of the Store protocol, which ``certkeeper local`` runs on.

``LocalStore`` keeps objects in memory, persists them to SQLite and behaves like the Kubernetes API
server wherever a controller could tell the difference; ``SecretFileSink`` mirrors every Secret into
files for the programs on the host. The composition root wires admission (``Admit``) and the sink.
"""

from certkeeper.store.local.admission import AdmissionResult, Admit, Operation
from certkeeper.store.local.apply import ListTypes
from certkeeper.store.local.kinds import KindPolicy, policy_for
from certkeeper.store.local.secretfiles import SecretFileSink
from certkeeper.store.local.store import LocalStore

__all__ = [
    "AdmissionResult",
    "Admit",
    "KindPolicy",
    "ListTypes",
    "LocalStore",
    "Operation",
    "SecretFileSink",
    "policy_for",
]
