"""certificates-request-manager: creates the CertificateRequest for the next revision.

Follows ``pkg/controller/certificates/requestmanager/requestmanager_controller.go``: while Issuing, and
once the next private key exists, it prunes owned requests (no or bad revision annotation; other
revisions are left to the revision manager; not matching the spec or the next key; failed in an
earlier attempt) and, when none is left for revision N+1, creates ``<certificate>-<N+1>`` with the
CSR signed by the next key, cert-manager's annotations, the Certificate's labels and an ownerReference.
"""

from __future__ import annotations

from certkeeper.api.annotations import (
    CERTIFICATE_NAME_KEY,
    CERTIFICATE_REQUEST_PRIVATE_KEY_ANNOTATION,
    CERTIFICATE_REQUEST_REVISION_ANNOTATION,
)
from certkeeper.api.certmanager import Certificate, CertificateRequest, CertificateRequestSpec
from certkeeper.api.conditions import get_condition
from certkeeper.api.constants import CertificateRequestConditionType, CertificateRequestReason
from certkeeper.api.meta import ObjectMeta
from certkeeper.api.names import certificate_request_name, dns_safe_shorten_52
from certkeeper.controllers.certificates.common import (
    ISSUING,
    is_issuing,
    next_private_key,
    owned_requests,
    request_revision,
    status_of,
)
from certkeeper.controllers.context import Context
from certkeeper.controllers.writes import controller_ref
from certkeeper.pki.csr import build_csr
from certkeeper.pki.errors import PkiError
from certkeeper.pki.from_spec import certificate_template, csr_options, request_matches_spec
from certkeeper.pki.keys import PrivateKey, PublicKey
from certkeeper.pki.match import public_key_matches_csr
from certkeeper.pki.pem import encode_pem_certificate_request, load_pem_certificate_request
from certkeeper.pki.template import CertificateTemplate, CsrOptions
from certkeeper.policies.input import next_revision
from certkeeper.runtime.events import Event
from certkeeper.runtime.offload import compute, slow_key
from certkeeper.runtime.outcome import NOTHING, Delete, Outcome, Write
from certkeeper.store.resources import CERTIFICATE_REQUESTS, encode


def copied_annotations(annotations: dict[str, str] | None, prefixes: tuple[str, ...]) -> dict[str, str]:
    """The Certificate annotations copied to its requests (``BuildAnnotationsToCopy``)."""
    include = [p for p in prefixes if not p.startswith("-")]
    exclude = [p[1:] for p in prefixes if p.startswith("-")]
    out: dict[str, str] = {}
    for key, value in (annotations or {}).items():
        if any(p == "*" or key.startswith(p) for p in include) and not any(key.startswith(p) for p in exclude):
            out[key] = value
    return out


def _delete(request: CertificateRequest) -> Delete:
    return Delete(
        resource=CERTIFICATE_REQUESTS, name=request.name, namespace=request.namespace, uid=request.metadata.uid
    )


def _keep(request: CertificateRequest, cert: Certificate, key: PublicKey, ctx: Context) -> bool:
    """Whether a revision N+1 request still fits the spec and the next key."""
    try:
        if request_matches_spec(request, cert.spec, limits=ctx.options.pem_limits):
            return False
        csr = load_pem_certificate_request(request.spec.request, limits=ctx.options.pem_limits)
    except PkiError:
        return False
    return public_key_matches_csr(key, csr)


def _failed_in_earlier_attempt(request: CertificateRequest, cert: Certificate) -> bool:
    ready = get_condition(request.status.conditions if request.status else None, CertificateRequestConditionType.READY)
    if ready is None or ready.status != "False" or ready.reason != CertificateRequestReason.FAILED:
        return False
    issuing = get_condition(status_of(cert).conditions, ISSUING)
    failure = request.status.failure_time if request.status else None
    return (
        issuing is not None
        and failure is not None
        and issuing.last_transition_time is not None
        and failure < issuing.last_transition_time
    )


def _build_csr_pem(template: CertificateTemplate, key: PrivateKey, options: CsrOptions) -> bytes:
    return encode_pem_certificate_request(build_csr(template, key, options=options))


async def decide(cert: Certificate, ctx: Context) -> Outcome:
    if not is_issuing(cert):
        return NOTHING
    found = next_private_key(ctx, cert)
    if found is None:
        return NOTHING
    key_secret = found.secret
    deletes: list[Delete] = []
    revision = next_revision(cert)
    candidates: list[CertificateRequest] = []
    for request in owned_requests(ctx, cert):
        request_rev = request_revision(request)
        if request_rev is None:
            deletes.append(_delete(request))
        elif request_rev == revision:
            candidates.append(request)
    remaining = []
    for request in candidates:
        if not _keep(request, cert, found.public, ctx) or _failed_in_earlier_attempt(request, cert):
            deletes.append(_delete(request))
        else:
            remaining.append(request)
    if deletes or remaining:
        # Deletions first: the request for this revision is (re)created on the next pass, once the
        # informer has seen them go, so a stable name is never created twice.
        return Outcome(deletes=tuple(deletes))
    try:
        template = certificate_template(cert.spec)
        options = csr_options(ctx.options.feature_gates)
        key = found.private_key()
        csr_pem = await compute(_build_csr_pem, template, key, options, slow=slow_key(key))
    except PkiError as exc:
        message = f"Failed to generate CSR: {exc} - will not retry"
        return Outcome(events=(Event(type="Warning", reason="RequestFailed", message=message),))
    annotations = copied_annotations(cert.metadata.annotations, ctx.options.copied_annotation_prefixes)
    annotations[CERTIFICATE_REQUEST_REVISION_ANNOTATION] = str(revision)
    annotations[CERTIFICATE_REQUEST_PRIVATE_KEY_ANNOTATION] = key_secret.name
    annotations[CERTIFICATE_NAME_KEY] = cert.name
    stable = ctx.options.feature_gates.stable_certificate_request_name
    request = CertificateRequest(
        api_version=cert.api_version,
        metadata=ObjectMeta(
            name=certificate_request_name(cert.name, revision) if stable else None,
            generate_name=None if stable else dns_safe_shorten_52(cert.name) + "-",
            namespace=cert.namespace,
            annotations=annotations,
            labels=dict(cert.metadata.labels) if cert.metadata.labels else None,
            owner_references=[controller_ref(cert)],
        ),
        spec=CertificateRequestSpec(
            duration=cert.spec.duration,
            issuer_ref=cert.spec.issuer_ref,
            request=csr_pem,
            is_ca=cert.spec.is_ca,
            usages=cert.spec.usages,
        ),
    )
    name = request.metadata.name or request.metadata.generate_name
    return Outcome(
        creates=(Write(resource=CERTIFICATE_REQUESTS, object=encode(request)),),
        events=(Event(type="Normal", reason="Requested", message=f'Created new CertificateRequest resource "{name}"'),),
    )
