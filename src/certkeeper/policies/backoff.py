"""How long to wait before retrying a failed issuance. Pure: ``now`` is a parameter.

Follows ``shouldBackoffReissuingOnFailure`` in cert-manager's
``pkg/controller/certificates/trigger/trigger_controller.go``:

- no ``status.lastFailureTime``: no backoff;
- the "next" CertificateRequest (revision + 1) no longer matches the spec: no backoff, the user
  changed the Certificate and should not wait (an undecodable next request: no backoff either);
- otherwise the delay after the n-th failure (``status.failedIssuanceAttempts``) is
  ``minimum * 2**(n-1)`` capped at ``maximum``, so 1h, 2h, 4h, 8h, 16h, 32h, 32h... with the
  defaults (``--certificate-request-minimum-backoff-duration`` 1h, ``-maximum-`` 32h); an unset,
  zero or negative count means ``minimum``, as does a non-positive computed delay; the delay is never
  below ``minimum``; a ``minimum`` of zero or less disables backoff;
- back off while less than the delay has passed since the failure; the remaining delay is when the
  trigger should look again.

Go's ``time.Duration`` arithmetic can overflow for large counts (upstream then caps at the maximum);
Python's integers do not, and the result is the same cap.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Final, NamedTuple

from certkeeper.api.certmanager import Certificate, CertificateRequest
from certkeeper.pki.errors import PkiError
from certkeeper.pki.from_spec import request_matches_spec

DEFAULT_MINIMUM_BACKOFF: Final = timedelta(hours=1)
DEFAULT_MAXIMUM_BACKOFF: Final = timedelta(hours=32)


class Backoff(NamedTuple):
    """Whether to hold off issuing, and for how much longer (zero when not backing off)."""

    should_backoff: bool
    delay: timedelta


NO_BACKOFF: Final = Backoff(should_backoff=False, delay=timedelta(0))


def _microseconds(delta: timedelta) -> int:
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def backoff_delay(
    failed_attempts: int | None,
    *,
    minimum: timedelta = DEFAULT_MINIMUM_BACKOFF,
    maximum: timedelta = DEFAULT_MAXIMUM_BACKOFF,
) -> timedelta:
    """The whole delay after ``failed_attempts`` failures: ``minimum * 2**(n-1)`` within [minimum, maximum].

    When ``maximum`` is below ``minimum``, ``minimum`` wins (as upstream).
    """
    delay = minimum
    if failed_attempts is not None and failed_attempts > 0:
        # In whole microseconds, so that no timedelta overflows; the exponent is bounded first so that a
        # huge count does not build a huge integer (2**64 is past any maximum a timedelta can hold).
        computed = _microseconds(minimum) << min(failed_attempts - 1, 64)
        if computed < _microseconds(minimum) or computed > _microseconds(maximum):
            delay = maximum
        else:
            delay = timedelta(microseconds=computed)
    return max(delay, minimum)


def _next_request_changed(certificate: Certificate, next_request: CertificateRequest | None) -> bool | None:
    """True when the next request no longer matches the spec; None when it cannot be decoded."""
    if next_request is None:
        return False
    try:
        return bool(request_matches_spec(next_request, certificate.spec))
    except PkiError:
        return None


def should_backoff_reissuing(
    certificate: Certificate,
    next_request: CertificateRequest | None,
    *,
    now: datetime,
    minimum: timedelta = DEFAULT_MINIMUM_BACKOFF,
    maximum: timedelta = DEFAULT_MAXIMUM_BACKOFF,
) -> Backoff:
    """Whether the trigger must wait before issuing again after a failure, and for how long."""
    status = certificate.status
    if status is None or status.last_failure_time is None:
        return NO_BACKOFF
    changed = _next_request_changed(certificate, next_request)
    if changed is None or changed:
        return NO_BACKOFF
    if minimum <= timedelta(0):
        return NO_BACKOFF
    delay = backoff_delay(status.failed_issuance_attempts, minimum=minimum, maximum=maximum)
    since_failure = now - status.last_failure_time
    if since_failure >= delay:
        return NO_BACKOFF
    return Backoff(should_backoff=True, delay=delay - since_failure)


__all__ = [
    "DEFAULT_MAXIMUM_BACKOFF",
    "DEFAULT_MINIMUM_BACKOFF",
    "NO_BACKOFF",
    "Backoff",
    "backoff_delay",
    "should_backoff_reissuing",
]
