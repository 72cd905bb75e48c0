"""ACME Renewal Information (RFC 9773) for the readiness controller.

Follows ``useARIForRenewal`` in ``pkg/controller/certificates/readiness/readiness_controller.go``: with
the ACMEUseARI gate on and an ACME issuer whose ``renewalInformationSource`` is ARI, the suggested
window is fetched when ``status.acme.ari.nextCheck`` has passed or the last check predates the current
certificate; the renewal time becomes a random point in the window (kept when the current one already
lies in it); the next check follows the server's Retry-After, clamped to [1h, 7d] (6h by default),
with ±10% jitter. A CA without ARI clears ``status.acme``; errors are recorded and retried.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from cryptography import x509

from certkeeper.acme.errors import AcmeError, NotSupported
from certkeeper.api.annotations import ISSUER_GROUP_ANNOTATION, ISSUER_KIND_ANNOTATION, ISSUER_NAME_ANNOTATION
from certkeeper.api.certmanager import (
    ACMERenewalWindow,
    Certificate,
    CertificateACMEARIStatus,
    CertificateACMEStatus,
)
from certkeeper.api.core import Secret
from certkeeper.api.defaults import issuer_group, issuer_kind
from certkeeper.controllers.context import Context
from certkeeper.issuers.base import GenericIssuer
from certkeeper.pki.errors import PkiError
from certkeeper.pki.from_spec import certificate_renewal_time
from certkeeper.runtime.events import Event

ARI_ERROR = "ARIError"
DEFAULT_POLL = timedelta(hours=6)
MIN_POLL = timedelta(hours=1)
MAX_POLL = timedelta(days=7)
JITTER = 0.1


@dataclass(frozen=True, slots=True)
class AriResult:
    #: The Certificate's new ``status.acme`` (None: clear it).
    acme: CertificateACMEStatus | None
    #: The renewal time ARI calls for, or None to use the computed one.
    renewal_time: datetime | None
    events: tuple[Event, ...] = ()
    #: Seconds until the next ARI check.
    requeue_after: float | None = None


def ari_enabled(issuer: GenericIssuer | None, ctx: Context) -> bool:
    if not ctx.options.feature_gates.acme_use_ari or issuer is None or issuer.spec.acme is None:
        return False
    return (issuer.spec.acme.renewal_information_source or "ARI") == "ARI"


def secret_issuer_matches(secret: Secret, cert: Certificate) -> bool:
    """The Secret's issuer annotations name the Certificate's issuer (defaults compared equal)."""
    annotations = secret.metadata.annotations or {}
    ref = cert.spec.issuer_ref
    return (
        annotations.get(ISSUER_NAME_ANNOTATION) == ref.name
        and (annotations.get(ISSUER_KIND_ANNOTATION) or "Issuer") == issuer_kind(ref)
        and (annotations.get(ISSUER_GROUP_ANNOTATION) or "cert-manager.io") == issuer_group(ref)
    )


def next_check(now: datetime, retry_after: timedelta | None, jitter: float) -> datetime:
    """``now`` + Retry-After clamped to [1h, 7d] (6h when absent), moved by ``jitter`` in [-1, 1) × 10%."""
    delay = retry_after if retry_after is not None and retry_after > timedelta(0) else DEFAULT_POLL
    delay = min(max(delay, MIN_POLL), MAX_POLL)
    return (now + delay + delay * (JITTER * jitter)).replace(microsecond=0)


def _jitter() -> float:
    return secrets.randbelow(2_000_000) / 1_000_000 - 1.0


async def ari_renewal(
    cert: Certificate, secret: Secret, certificate: x509.Certificate, ctx: Context, now: datetime
) -> AriResult | None:
    """The ARI part of a readiness pass; None when ARI does not apply and status.acme stays as it is."""
    status = cert.status
    current_acme = status.acme if status else None
    issuer = ctx.issuer_for(cert.spec.issuer_ref, cert.namespace)
    if issuer is None or issuer.spec.acme is None:
        return None
    if not ari_enabled(issuer, ctx):
        return AriResult(acme=None, renewal_time=None)
    if not secret_issuer_matches(secret, cert):
        message = (
            f"Secret {secret.namespace}/{secret.name} does not have matching issuer annotations for Certificate "
            f"{cert.namespace}/{cert.name}"
        )
        return AriResult(
            acme=None, renewal_time=None, events=(Event(type="Warning", reason=ARI_ERROR, message=message),)
        )
    ari = current_acme.ari if current_acme and current_acme.ari else None
    not_before = certificate.not_valid_before_utc
    stale = ari is not None and ari.last_checked is not None and ari.last_checked < not_before
    if ari is not None and ari.next_check is not None and now < ari.next_check and not stale:
        return AriResult(acme=current_acme, renewal_time=None, requeue_after=(ari.next_check - now).total_seconds())
    client = ctx.acme_accounts.get(issuer) if ctx.acme_accounts is not None else None
    if client is None:
        return AriResult(acme=current_acme, renewal_time=None, requeue_after=5.0)
    stamp = now.replace(microsecond=0)
    try:
        info = await client.renewal_info(certificate)
    except NotSupported:
        return AriResult(acme=None, renewal_time=None)
    except AcmeError as exc:
        checked = next_check(now, None, _jitter())
        updated = CertificateACMEARIStatus(
            suggested_window=ari.suggested_window if ari else None,
            explanation_url=ari.explanation_url if ari else None,
            last_checked=stamp,
            next_check=checked,
            last_error=str(exc),
        )
        event = Event(type="Warning", reason=ARI_ERROR, message=f"Could not fetch ACME Renewal Information: {exc}")
        return AriResult(
            acme=CertificateACMEStatus(ari=updated),
            renewal_time=None,
            events=(event,),
            requeue_after=(checked - now).total_seconds(),
        )
    window = info.renewal_info.suggested_window
    start, end = window.start, window.end
    existing = status.renewal_time if status else None
    renewal: datetime | None
    if existing is not None and existing > not_before and start <= existing <= end:
        renewal = existing
    else:
        try:
            renewal = certificate_renewal_time(
                cert.spec,
                not_before,
                certificate.not_valid_after_utc,
                ari_window=(start, end),
                ari_jitter=secrets.randbelow(1_000_000) / 1_000_000,
            )
        except PkiError:
            renewal = None
    checked = next_check(now, info.retry_after, _jitter())
    updated = CertificateACMEARIStatus(
        suggested_window=ACMERenewalWindow(start=start.replace(microsecond=0), end=end.replace(microsecond=0)),
        explanation_url=info.renewal_info.explanation_url,
        last_checked=stamp,
        next_check=checked,
        last_error=None,
    )
    return AriResult(
        acme=CertificateACMEStatus(ari=updated), renewal_time=renewal, requeue_after=(checked - now).total_seconds()
    )
