"""The renewal decision: scheduled time, window errors and their fallbacks, Disabled, ARI."""

from datetime import UTC, datetime, timedelta

import pytest

from certkeeper.api.certmanager import ACMERenewalWindow, CertificateRenewal, CertificateRenewalWindow
from certkeeper.policies.renewal import renewal_decision, scheduled_renewal

from .builders import make_certificate

NOT_BEFORE = datetime(2030, 1, 1, tzinfo=UTC)
NOT_AFTER = NOT_BEFORE + timedelta(days=90)


@pytest.mark.parametrize(
    ("renew_before", "percentage", "expected"),
    [
        (None, None, NOT_AFTER - timedelta(days=30)),
        ("240h", None, NOT_AFTER - timedelta(days=10)),
        ("2160h", None, NOT_AFTER - timedelta(days=30)),
        (None, 10, NOT_AFTER - timedelta(days=9)),
        (None, 100, NOT_AFTER - timedelta(days=30)),
        ("240h", 10, NOT_AFTER - timedelta(days=10)),
    ],
    ids=["default-third", "renew-before", "renew-before-not-below-lifetime", "percentage", "percentage-100", "both"],
)
def test_scheduled_renewal(renew_before: str | None, percentage: int | None, expected: datetime) -> None:
    spec = make_certificate(renew_before=renew_before, renew_before_percentage=percentage).spec
    scheduled = scheduled_renewal(spec, NOT_BEFORE, NOT_AFTER)
    assert scheduled.time == expected
    assert scheduled.error is None


def test_scheduled_renewal_is_truncated_to_the_second() -> None:
    not_after = NOT_BEFORE + timedelta(seconds=10)
    assert scheduled_renewal(make_certificate().spec, NOT_BEFORE, not_after).time == NOT_BEFORE + timedelta(seconds=6)


def test_unparseable_renew_before_falls_back_with_an_error() -> None:
    spec = make_certificate(renew_before="ten days", renew_before_percentage=10).spec
    scheduled = scheduled_renewal(spec, NOT_BEFORE, NOT_AFTER)
    assert scheduled.time == NOT_AFTER - timedelta(days=9)
    assert scheduled.error is not None


def test_disabled_schedules_nothing_and_is_never_due() -> None:
    spec = make_certificate(renewal=CertificateRenewal(policy="Disabled")).spec
    assert scheduled_renewal(spec, NOT_BEFORE, NOT_AFTER).time is None
    assert not renewal_decision(spec, NOT_BEFORE, NOT_AFTER, now=NOT_AFTER + timedelta(days=1)).due


def test_unknown_policy_falls_back_with_an_error() -> None:
    spec = make_certificate(renewal=CertificateRenewal(policy="Sometimes")).spec  # type: ignore[arg-type]  # invalid on purpose
    scheduled = scheduled_renewal(spec, NOT_BEFORE, NOT_AFTER)
    assert scheduled.time == NOT_AFTER - timedelta(days=30)
    assert scheduled.error == "unsupported renewal policy: Sometimes"


@pytest.mark.parametrize(
    ("window", "message"),
    [
        (CertificateRenewalWindow(cron="not a cron", window_duration="1h"), "error parsing cron in window"),
        (
            CertificateRenewalWindow(cron="0 0 * * *", window_duration="0s"),
            "windowDuration must be a positive duration",
        ),
    ],
    ids=["bad-cron", "zero-duration"],
)
def test_invalid_windows_fall_back_to_the_time_without_windows(window: CertificateRenewalWindow, message: str) -> None:
    spec = make_certificate(renewal=CertificateRenewal(windows=[window])).spec
    scheduled = scheduled_renewal(spec, NOT_BEFORE, NOT_AFTER)
    assert scheduled.time == NOT_AFTER - timedelta(days=30)
    assert scheduled.error is not None
    assert scheduled.error.startswith(message)
    decision = renewal_decision(spec, NOT_BEFORE, NOT_AFTER, now=NOT_AFTER - timedelta(days=30))
    assert decision.due
    assert decision.window_error == scheduled.error


def test_desired_time_inside_a_window_is_kept() -> None:
    window = CertificateRenewalWindow(cron="0 0 * * *", window_duration="24h")
    spec = make_certificate(renewal=CertificateRenewal(windows=[window])).spec
    assert scheduled_renewal(spec, NOT_BEFORE, NOT_AFTER).time == NOT_AFTER - timedelta(days=30)


def test_ari_window_overrides_windows_and_renew_before() -> None:
    spec = make_certificate(renew_before="1h").spec
    ari = ACMERenewalWindow(start=NOT_BEFORE + timedelta(days=10), end=NOT_BEFORE + timedelta(days=11))
    assert not renewal_decision(
        spec, NOT_BEFORE, NOT_AFTER, now=ari.start - timedelta(microseconds=1), ari_window=ari
    ).due
    assert renewal_decision(spec, NOT_BEFORE, NOT_AFTER, now=ari.start, ari_window=ari).due


def test_ari_window_for_a_previous_certificate_is_ignored() -> None:
    spec = make_certificate().spec
    ari = ACMERenewalWindow(start=NOT_BEFORE - timedelta(days=1), end=NOT_BEFORE)
    assert not renewal_decision(spec, NOT_BEFORE, NOT_AFTER, now=NOT_BEFORE + timedelta(days=1), ari_window=ari).due
    assert renewal_decision(spec, NOT_BEFORE, NOT_AFTER, now=NOT_AFTER - timedelta(days=30), ari_window=ari).due


def test_disabled_wins_over_ari() -> None:
    spec = make_certificate(renewal=CertificateRenewal(policy="Disabled")).spec
    ari = ACMERenewalWindow(start=NOT_BEFORE + timedelta(days=1), end=NOT_BEFORE + timedelta(days=2))
    assert not renewal_decision(spec, NOT_BEFORE, NOT_AFTER, now=NOT_AFTER, ari_window=ari).due
