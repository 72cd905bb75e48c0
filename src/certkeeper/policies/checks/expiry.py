"""Time checks of the certificate in the Secret: nearing its renewal time, or expired. Pure.

Follows ``CurrentCertificateNearingExpiry`` (last check of the trigger chain) and
``CurrentCertificateHasExpired`` (last check of the readiness chain) in cert-manager's
``internal/controller/certificates/policies/checks.go``. The renewal rule itself (Disabled policy,
ARI window, renewal windows) is :func:`certkeeper.policies.renewal.renewal_decision`.

Messages print times as Go does: ``status.renewalTime`` with ``time.Time.String()``
(``2026-03-08 10:00:00 +0000 UTC``, or ``<nil>`` when unset) and notAfter with ``time.RFC1123``
(``Sun, 08 Mar 2026 10:00:00 UTC``). Times are printed in UTC, the zone a controller runs in.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Final

from certkeeper.api.certmanager import Certificate
from certkeeper.pki.renewal import format_go_time
from certkeeper.policies.checks.prerequisites import require_certificate
from certkeeper.policies.input import PolicyInput
from certkeeper.policies.reasons import Reason, Violation
from certkeeper.policies.renewal import renewal_decision

_DAYS: Final = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_MONTHS: Final = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def format_rfc1123(value: datetime) -> str:
    """``value`` in UTC as Go's ``time.RFC1123`` layout prints it (English names, whatever the locale)."""
    value = value.astimezone(UTC)
    return (
        f"{_DAYS[value.weekday()]}, {value.day:02d} {_MONTHS[value.month - 1]} {value.year:04d} "
        f"{value.hour:02d}:{value.minute:02d}:{value.second:02d} UTC"
    )


def format_status_renewal_time(certificate: Certificate) -> str:
    """``status.renewalTime`` as Go's ``%s`` prints a ``*metav1.Time``: ``<nil>`` when unset."""
    renewal_time = certificate.status.renewal_time if certificate.status is not None else None
    return "<nil>" if renewal_time is None else format_go_time(renewal_time)


def current_certificate_nearing_expiry(policy_input: PolicyInput, now: datetime) -> Violation | None:
    """Renewing when the certificate's renewal time (or ARI window start) has come; WindowError when it has
    come but the renewal windows could not be honoured."""
    certificate = require_certificate(policy_input)
    if isinstance(certificate, Violation):
        return certificate
    decision = renewal_decision(
        policy_input.certificate.spec,
        certificate.not_valid_before_utc,
        certificate.not_valid_after_utc,
        now=now,
        ari_window=policy_input.ari_window,
    )
    if not decision.due:
        return None
    if decision.window_error is not None:
        return Violation(reason=Reason.WINDOW_ERROR, message=decision.window_error)
    scheduled = format_status_renewal_time(policy_input.certificate)
    return Violation(reason=Reason.RENEWING, message=f"Renewing certificate as renewal was scheduled at {scheduled}")


def current_certificate_has_expired(policy_input: PolicyInput, now: datetime) -> Violation | None:
    """Expired when ``now`` is after the certificate's notAfter."""
    certificate = require_certificate(policy_input)
    if isinstance(certificate, Violation):
        return certificate
    not_after = certificate.not_valid_after_utc
    if now <= not_after:
        return None
    return Violation(reason=Reason.EXPIRED, message=f"Certificate expired on {format_rfc1123(not_after)}")


__all__ = [
    "current_certificate_has_expired",
    "current_certificate_nearing_expiry",
    "format_rfc1123",
    "format_status_renewal_time",
]
