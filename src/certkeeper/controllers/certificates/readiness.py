"""certificates-readiness: the Ready condition, notBefore, notAfter and renewalTime.

Follows ``pkg/controller/certificates/readiness/readiness_controller.go``: Ready comes from the
readiness policy chain; the times come from the Secret's ``tls.crt`` (cleared when it is missing or
undecodable); a renewal time that ignores the renewal windows sets Ready=False ``WindowError``. The
status is written only when it changed. Expiry is a delayed requeue at ``notAfter``.
"""

from __future__ import annotations

import msgspec

from certkeeper.api.certmanager import Certificate, CertificateCondition
from certkeeper.api.conditions import set_condition
from certkeeper.api.constants import TLS_CERT_KEY
from certkeeper.controllers.certificates.ari import ari_renewal
from certkeeper.controllers.certificates.common import READY, owned_requests, status_of, with_status
from certkeeper.controllers.context import Context
from certkeeper.controllers.writes import now_seconds, status_write
from certkeeper.pki.errors import PkiError
from certkeeper.pki.pem import load_pem_certificate
from certkeeper.policies.chains import ready_condition
from certkeeper.policies.input import policy_input
from certkeeper.policies.reasons import Reason
from certkeeper.policies.renewal import scheduled_renewal
from certkeeper.runtime.events import Event
from certkeeper.runtime.outcome import Outcome


async def decide(cert: Certificate, ctx: Context) -> Outcome:
    now = ctx.clock.now()
    secret = ctx.secret(cert.namespace, cert.spec.secret_name)
    snapshot = policy_input(cert, secret, owned_requests(ctx, cert), gates=ctx.options.feature_gates)
    condition = msgspec.structs.replace(ready_condition(snapshot, now), observed_generation=cert.metadata.generation)
    stamp = now_seconds(ctx.clock)
    status = status_of(cert)
    conditions = set_condition(status.conditions, condition, now=stamp)
    events: list[Event] = []
    not_before = not_after = renewal = None
    acme = status.acme
    ari_requeue: float | None = None
    pem = (secret.data or {}).get(TLS_CERT_KEY) if secret is not None else None
    if secret is not None and secret.data is not None:
        try:
            certificate = load_pem_certificate(pem or b"", limits=ctx.options.pem_limits)
        except PkiError:
            certificate = None
        if certificate is not None:
            not_before, not_after = certificate.not_valid_before_utc, certificate.not_valid_after_utc
            scheduled = scheduled_renewal(cert.spec, not_before, not_after)
            renewal = scheduled.time
            ari = await ari_renewal(cert, secret, certificate, ctx, now)
            if ari is not None:
                acme, ari_requeue = ari.acme, ari.requeue_after
                events.extend(ari.events)
                if ari.renewal_time is not None:
                    renewal = ari.renewal_time
            if scheduled.error is not None:
                message = f"Could not calculate renewal time: {scheduled.error}"
                conditions = set_condition(
                    conditions,
                    CertificateCondition(
                        type=READY,
                        status="False",
                        reason=Reason.WINDOW_ERROR,
                        message=message,
                        observed_generation=cert.metadata.generation,
                    ),
                    now=stamp,
                )
                events.append(Event(type="Warning", reason=Reason.WINDOW_ERROR, message=message))
    new_status = msgspec.structs.replace(
        status, conditions=conditions, not_before=not_before, not_after=not_after, renewal_time=renewal, acme=acme
    )
    requeue = (not_after - now).total_seconds() + 1 if not_after is not None and not_after > now else None
    if ari_requeue is not None:
        requeue = ari_requeue if requeue is None else min(requeue, ari_requeue)
    if new_status == status:
        return Outcome(events=tuple(events), requeue_after=requeue)
    return Outcome(status=status_write(with_status(cert, new_status)), events=tuple(events), requeue_after=requeue)
