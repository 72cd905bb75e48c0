"""certificates-trigger: decides when a Certificate must be (re)issued and sets Issuing=True.

Follows ``pkg/controller/certificates/trigger/trigger_controller.go``: skips Certificates already
issuing; only the owner of a shared ``secretName`` may trigger (others are looked at again in three
minutes); after failures it backs off on cert-manager's schedule unless the spec changed; and it
schedules a look at ``status.renewalTime`` as a delayed requeue, never by polling.
"""

from __future__ import annotations

import msgspec

from certkeeper.api.annotations import CERTIFICATE_NAME_KEY
from certkeeper.api.certmanager import Certificate, CertificateCondition
from certkeeper.api.conditions import set_condition
from certkeeper.controllers.certificates.common import ISSUING, is_issuing, owned_requests, status_of, with_status
from certkeeper.controllers.context import Context
from certkeeper.controllers.writes import now_seconds, status_write
from certkeeper.policies.backoff import should_backoff_reissuing
from certkeeper.policies.chains import issuing_trigger, trigger_chain
from certkeeper.policies.input import policy_input
from certkeeper.runtime.events import Event
from certkeeper.runtime.outcome import NOTHING, Outcome

#: How soon a Certificate that shares its Secret with an older one is looked at again.
DUPLICATE_SECRET_RECHECK_SECONDS = 180.0


def owns_secret(cert: Certificate, ctx: Context) -> bool:
    """Whether ``cert`` may write ``spec.secretName`` (``CertificateOwnsSecret``)."""
    sharing = ctx.certificates_for_secret(cert.namespace, cert.spec.secret_name)
    others = [c for c in sharing if c.name != cert.name]
    if not others:
        return True
    secret = ctx.secret(cert.namespace, cert.spec.secret_name)
    named = (secret.metadata.annotations or {}).get(CERTIFICATE_NAME_KEY) if secret is not None else None
    if named is not None and any(c.name == named for c in sharing):
        return named == cert.name
    oldest = min(sharing, key=lambda c: (c.metadata.creation_timestamp is None, c.metadata.creation_timestamp, c.name))
    return oldest.name == cert.name


def decide(cert: Certificate, ctx: Context) -> Outcome:
    if is_issuing(cert):
        return NOTHING
    if not owns_secret(cert, ctx):
        return Outcome(requeue_after=DUPLICATE_SECRET_RECHECK_SECONDS)
    now = ctx.clock.now()
    snapshot = policy_input(
        cert,
        ctx.secret(cert.namespace, cert.spec.secret_name),
        owned_requests(ctx, cert),
        gates=ctx.options.feature_gates,
    )
    backoff = should_backoff_reissuing(
        cert, snapshot.next_revision_request, now=now, minimum=ctx.options.min_backoff, maximum=ctx.options.max_backoff
    )
    if backoff.should_backoff:
        return Outcome(requeue_after=backoff.delay.total_seconds())
    renewal = status_of(cert).renewal_time
    requeue = (renewal - now).total_seconds() if renewal is not None and renewal > now else None
    violation = trigger_chain(snapshot, now)
    if violation is None:
        return Outcome(requeue_after=requeue)
    trigger = issuing_trigger(violation, cert)
    status = status_of(cert)
    conditions = set_condition(
        status.conditions,
        CertificateCondition(
            type=ISSUING,
            status="True",
            reason=trigger.reason,
            message=trigger.message,
            observed_generation=cert.metadata.generation,
        ),
        now=now_seconds(ctx.clock),
    )
    events = []
    if trigger.window_error_event is not None:
        events.append(Event(type="Warning", reason="WindowError", message=trigger.window_error_event))
    events.append(Event(type="Normal", reason="Issuing", message=trigger.message))
    return Outcome(
        status=status_write(with_status(cert, msgspec.structs.replace(status, conditions=conditions))),
        events=tuple(events),
    )
