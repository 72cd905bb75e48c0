"""certificates-revision-manager: deletes old CertificateRequests beyond revisionHistoryLimit.

Follows ``pkg/controller/certificates/revisionmanager/revisionmanager_controller.go``: only for Ready
Certificates; requests without a valid revision annotation are ignored; the lowest revisions go first.
"""

from __future__ import annotations

from certkeeper.api.certmanager import Certificate
from certkeeper.api.conditions import has_condition
from certkeeper.api.defaults import revision_history_limit
from certkeeper.controllers.certificates.common import READY, owned_requests, request_revision, status_of
from certkeeper.controllers.context import Context
from certkeeper.runtime.outcome import NOTHING, Delete, Outcome
from certkeeper.store.resources import CERTIFICATE_REQUESTS


def decide(cert: Certificate, ctx: Context) -> Outcome:
    if not has_condition(status_of(cert).conditions, READY, "True"):
        return NOTHING
    limit = revision_history_limit(cert.spec)
    revisioned = [(rev, r) for r in owned_requests(ctx, cert) if (rev := request_revision(r)) is not None]
    if len(revisioned) <= limit:
        return NOTHING
    revisioned.sort(key=lambda item: item[0])
    doomed = revisioned[: len(revisioned) - limit]
    return Outcome(
        deletes=tuple(
            Delete(resource=CERTIFICATE_REQUESTS, name=r.name, namespace=r.namespace, uid=r.metadata.uid)
            for _, r in doomed
        )
    )
