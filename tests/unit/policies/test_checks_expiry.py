"""Nearing expiry (trigger) and expired (readiness): renewal time, Disabled policy, ARI window, renewal windows."""

from datetime import UTC, datetime, timedelta, timezone

import pytest

from certkeeper.api.certmanager import (
    ACMERenewalWindow,
    Certificate,
    CertificateRenewal,
    CertificateRenewalWindow,
    CertificateStatus,
)
from certkeeper.api.constants import TLS_CERT_KEY, TLS_PRIVATE_KEY_KEY
from certkeeper.api.core import Secret
from certkeeper.policies.checks.expiry import (
    current_certificate_has_expired,
    current_certificate_nearing_expiry,
    format_rfc1123,
    format_status_renewal_time,
)
from certkeeper.policies.input import PolicyInput
from certkeeper.policies.reasons import Reason, Violation

from .builders import NOW, certificate_pem, key_pem, make_certificate, make_secret


def _secret(not_before: datetime, not_after: datetime) -> Secret:
    pem = certificate_pem(not_before=not_before, not_after=not_after)
    return make_secret(data={TLS_PRIVATE_KEY_KEY: key_pem(), TLS_CERT_KEY: pem})


def _input(
    certificate: Certificate, not_before: datetime, not_after: datetime, ari: ACMERenewalWindow | None = None
) -> PolicyInput:
    return PolicyInput(certificate=certificate, secret=_secret(not_before, not_after), ari_window=ari)


def test_renewing_when_the_renewal_time_is_now() -> None:
    certificate = make_certificate(renew_before="5m", status=CertificateStatus(renewal_time=NOW))
    policy_input = _input(certificate, NOW - timedelta(minutes=30), NOW + timedelta(minutes=1))
    assert current_certificate_nearing_expiry(policy_input, NOW) == Violation(
        reason=Reason.RENEWING, message="Renewing certificate as renewal was scheduled at 2030-01-01 12:00:00 +0000 UTC"
    )


def test_renewing_when_the_renewal_time_is_exactly_now() -> None:
    certificate = make_certificate(renew_before="10m")
    policy_input = _input(certificate, NOW - timedelta(minutes=50), NOW + timedelta(minutes=10))
    violation = current_certificate_nearing_expiry(policy_input, NOW)
    assert violation == Violation(
        reason=Reason.RENEWING, message="Renewing certificate as renewal was scheduled at <nil>"
    )
    assert current_certificate_nearing_expiry(policy_input, NOW - timedelta(seconds=1)) is None


def test_not_renewing_a_reissued_certificate_before_the_status_caught_up() -> None:
    certificate = make_certificate(renew_before="1m", status=CertificateStatus(renewal_time=NOW))
    assert current_certificate_nearing_expiry(_input(certificate, NOW, NOW + timedelta(minutes=30)), NOW) is None


def test_not_renewing_one_minute_before_the_renewal_time() -> None:
    certificate = make_certificate(renew_before="1m", status=CertificateStatus(renewal_time=NOW + timedelta(minutes=1)))
    policy_input = _input(certificate, NOW - timedelta(minutes=30), NOW + timedelta(minutes=5))
    assert current_certificate_nearing_expiry(policy_input, NOW) is None


def test_default_renewal_is_two_thirds_through_the_lifetime() -> None:
    certificate = make_certificate()
    policy_input = _input(certificate, NOW - timedelta(days=60), NOW + timedelta(days=30))
    assert current_certificate_nearing_expiry(policy_input, NOW) is not None
    assert current_certificate_nearing_expiry(policy_input, NOW - timedelta(seconds=1)) is None


def test_never_renewing_with_renewal_disabled_even_when_expired() -> None:
    certificate = make_certificate(renewal=CertificateRenewal(policy="Disabled"))
    policy_input = _input(certificate, NOW - timedelta(days=2), NOW - timedelta(days=1))
    assert current_certificate_nearing_expiry(policy_input, NOW) is None


ARI_START = NOW + timedelta(hours=1)


@pytest.mark.parametrize(
    ("now", "due"),
    [(ARI_START - timedelta(seconds=1), False), (ARI_START, True), (ARI_START + timedelta(days=1), True)],
    ids=["before-window", "window-start", "inside-window"],
)
def test_ari_window_after_not_before_decides_alone(now: datetime, due: bool) -> None:
    # Far from the renewBefore-based time: only the ARI window start can make it due.
    certificate = make_certificate()
    ari = ACMERenewalWindow(start=ARI_START, end=ARI_START + timedelta(days=2))
    policy_input = _input(certificate, NOW - timedelta(days=1), NOW + timedelta(days=89), ari)
    violation = current_certificate_nearing_expiry(policy_input, now)
    assert (violation is not None) is due
    if violation is not None:
        assert violation.reason is Reason.RENEWING


def test_ari_window_not_after_not_before_is_for_an_older_certificate() -> None:
    not_before = NOW - timedelta(days=1)
    ari = ACMERenewalWindow(start=not_before, end=not_before + timedelta(days=1))
    policy_input = _input(make_certificate(), not_before, NOW + timedelta(days=89), ari)
    assert current_certificate_nearing_expiry(policy_input, NOW) is None


# Certificate from 2029-12-01 12:00 to 2030-01-01 12:30; desired renewal 2029-12-22 04:20 (2/3 through).
NOT_BEFORE = datetime(2029, 12, 1, 12, 0, tzinfo=UTC)
NOT_AFTER = datetime(2030, 1, 1, 12, 30, tzinfo=UTC)


def _windowed(cron: str, timezone: str | None = None) -> Certificate:
    window = CertificateRenewalWindow(cron=cron, window_duration="1h", timezone=timezone)
    return make_certificate(renewal=CertificateRenewal(policy="RenewBefore", windows=[window]))


def test_renewal_waits_for_the_next_window() -> None:
    # The only window opening after the desired time is 2030-01-01 00:00 (yearly, 1 January).
    policy_input = _input(_windowed("0 0 1 1 *"), NOT_BEFORE, NOT_AFTER)
    assert current_certificate_nearing_expiry(policy_input, datetime(2029, 12, 31, 23, 59, 59, tzinfo=UTC)) is None
    violation = current_certificate_nearing_expiry(policy_input, datetime(2030, 1, 1, tzinfo=UTC))
    assert violation is not None
    assert violation.reason is Reason.RENEWING


def test_window_error_when_no_window_fits_and_the_desired_time_passed() -> None:
    policy_input = _input(_windowed("0 0 1 6 *"), NOT_BEFORE, NOT_AFTER)
    violation = current_certificate_nearing_expiry(policy_input, NOW)
    assert violation is not None
    assert violation.reason is Reason.WINDOW_ERROR
    assert violation.message == (
        "cannot find a time with the given windows between 2029-12-01 12:00:00 +0000 UTC and "
        "2030-01-01 12:30:00 +0000 UTC for: 2029-12-22 04:20:00 +0000 UTC"
    )


def test_window_error_waits_for_the_desired_time() -> None:
    policy_input = _input(_windowed("0 0 1 6 *"), NOT_BEFORE, NOT_AFTER)
    assert current_certificate_nearing_expiry(policy_input, datetime(2029, 12, 15, tzinfo=UTC)) is None


def test_invalid_timezone_falls_back_to_the_time_without_windows() -> None:
    policy_input = _input(_windowed("0 0 * * *", timezone="Not/AZone"), NOT_BEFORE, NOT_AFTER)
    assert current_certificate_nearing_expiry(policy_input, datetime(2029, 12, 15, tzinfo=UTC)) is None
    violation = current_certificate_nearing_expiry(policy_input, NOW)
    assert violation is not None
    assert violation.reason is Reason.WINDOW_ERROR
    assert violation.message.startswith("error parsing timezone in window")


def test_nearing_expiry_reports_an_unparseable_certificate() -> None:
    secret = make_secret(data={TLS_PRIVATE_KEY_KEY: key_pem(), TLS_CERT_KEY: b"test"})
    violation = current_certificate_nearing_expiry(PolicyInput(certificate=make_certificate(), secret=secret), NOW)
    assert violation is not None
    assert violation.reason is Reason.INVALID_CERTIFICATE


def test_expired() -> None:
    policy_input = _input(make_certificate(), NOW - timedelta(days=90), NOW - timedelta(hours=1))
    assert current_certificate_has_expired(policy_input, NOW) == Violation(
        reason=Reason.EXPIRED, message="Certificate expired on Tue, 01 Jan 2030 11:00:00 UTC"
    )


def test_not_expired_at_not_after_itself() -> None:
    policy_input = _input(make_certificate(), NOW - timedelta(days=90), NOW)
    assert current_certificate_has_expired(policy_input, NOW) is None
    assert current_certificate_has_expired(policy_input, NOW + timedelta(seconds=1)) is not None


def test_expired_reports_a_missing_secret() -> None:
    violation = current_certificate_has_expired(PolicyInput(certificate=make_certificate()), NOW)
    assert violation is not None
    assert violation.reason is Reason.DOES_NOT_EXIST


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (datetime(2026, 3, 8, 10, 0, tzinfo=UTC), "Sun, 08 Mar 2026 10:00:00 UTC"),
        (datetime(2030, 1, 1, 12, 0, 0, 999999, tzinfo=UTC), "Tue, 01 Jan 2030 12:00:00 UTC"),
        (datetime(2030, 1, 1, 13, 0, tzinfo=timezone(timedelta(hours=1))), "Tue, 01 Jan 2030 12:00:00 UTC"),
    ],
    ids=["go-vector", "fraction-dropped", "converted-to-utc"],
)
def test_format_rfc1123(value: datetime, expected: str) -> None:
    assert format_rfc1123(value) == expected


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        (None, "<nil>"),
        (CertificateStatus(), "<nil>"),
        (
            CertificateStatus(renewal_time=datetime(2026, 3, 8, 10, 0, 0, 500000, tzinfo=UTC)),
            "2026-03-08 10:00:00.5 +0000 UTC",
        ),
    ],
    ids=["no-status", "unset", "go-vector"],
)
def test_format_status_renewal_time(status: CertificateStatus | None, expected: str) -> None:
    assert format_status_renewal_time(make_certificate(status=status)) == expected
