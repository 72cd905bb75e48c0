"""Is a certificate due for renewal? The trigger's "nearing expiry" rule, as a pure decision.

Follows ``CurrentCertificateNearingExpiry`` in cert-manager's
``internal/controller/certificates/policies/checks.go`` over ``pkg/util/pki/renewaltime.go``
(here :func:`certkeeper.pki.renewal.renewal_time`, through :mod:`certkeeper.pki.from_spec`):

1. ``spec.renewal.policy: Disabled``: never due.
2. An ACME ARI suggested window that starts after the certificate's notBefore: due from the window's
   start on. The readiness controller draws a random time inside the window for
   ``status.renewalTime``; the trigger must not redraw on every reconcile (it could keep landing in
   the future and never renew), so it only compares with the start. A window starting at or before
   notBefore describes an earlier certificate and is ignored (else a fresh certificate would be
   renewed again at once).
3. Otherwise the deterministic renewal time (renewBefore / renewBeforePercentage / a third of the
   lifetime, then the renewal windows): due when it is not in the future. When the windows cannot be
   honoured, the time computed without them is used and the error is kept: a due renewal then
   reports ``WindowError`` and the trigger renews anyway.

Where cert-manager would dereference a nil time (an invalid timezone, cron or window duration, or an
unknown policy: all refused by the webhook) the time without windows is used too, with the error, so
such a Certificate still renews once, and only once, per lifetime. Pure: ``now`` is a parameter.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from certkeeper.api.certmanager import ACMERenewalWindow, CertificateSpec
from certkeeper.api.defaults import renewal_disabled
from certkeeper.api.durations import DurationError, parse_duration
from certkeeper.pki.errors import PkiError, RenewalWindowError
from certkeeper.pki.from_spec import certificate_renewal_time
from certkeeper.pki.renewal import renew_before_duration


@dataclass(frozen=True, slots=True, kw_only=True)
class ScheduledRenewal:
    """The deterministic renewal time of a certificate, and why the windows could not be honoured, if so.

    ``time`` is None only when renewal is disabled.
    """

    time: datetime | None
    error: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class RenewalDecision:
    """Whether to renew now; ``window_error`` is set when the due time ignored the renewal windows."""

    due: bool
    window_error: str | None = None


def _without_windows(spec: CertificateSpec, not_before: datetime, not_after: datetime) -> datetime:
    """The renewal time from renewBefore / renewBeforePercentage alone (an unparseable renewBefore is ignored)."""
    try:
        renew_before = None if spec.renew_before is None else parse_duration(spec.renew_before)
    except DurationError:
        renew_before = None
    lifetime = not_after - not_before
    when = not_after - renew_before_duration(lifetime, renew_before, spec.renew_before_percentage)
    # Truncated to the second, as the status field and renewal_time are.
    return when.replace(microsecond=0)


def scheduled_renewal(spec: CertificateSpec, not_before: datetime, not_after: datetime) -> ScheduledRenewal:
    """When a certificate valid from ``not_before`` to ``not_after`` should be renewed, without ARI. Never raises."""
    try:
        return ScheduledRenewal(time=certificate_renewal_time(spec, not_before, not_after))
    except RenewalWindowError as exc:
        desired = exc.desired if exc.desired is not None else _without_windows(spec, not_before, not_after)
        return ScheduledRenewal(time=desired, error=str(exc))
    except PkiError as exc:
        return ScheduledRenewal(time=_without_windows(spec, not_before, not_after), error=str(exc))


def renewal_decision(
    spec: CertificateSpec,
    not_before: datetime,
    not_after: datetime,
    *,
    now: datetime,
    ari_window: ACMERenewalWindow | None = None,
) -> RenewalDecision:
    """Whether the certificate (valid ``not_before``..``not_after``) must be renewed at ``now``."""
    if renewal_disabled(spec):
        return RenewalDecision(due=False)
    if ari_window is not None and ari_window.start > not_before:
        return RenewalDecision(due=now >= ari_window.start)
    scheduled = scheduled_renewal(spec, not_before, not_after)
    if scheduled.time is None:
        # Disabled is handled above; an unknown policy cannot produce None without an error.
        return RenewalDecision(due=False)
    return RenewalDecision(due=scheduled.time <= now, window_error=scheduled.error)


__all__ = ["RenewalDecision", "ScheduledRenewal", "renewal_decision", "scheduled_renewal"]
