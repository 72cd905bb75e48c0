"""Failed-issuance backoff: the delay sequence, its edge cases, and the spec-change bypass."""

from datetime import timedelta

import pytest
from msgspec.structs import replace

from certkeeper.api.certmanager import Certificate, CertificateRequest, CertificateStatus
from certkeeper.policies.backoff import NO_BACKOFF, Backoff, backoff_delay, should_backoff_reissuing

from .builders import NOW, make_certificate, make_request

HOUR = timedelta(hours=1)


def test_delay_sequence_doubles_from_1h_and_caps_at_32h() -> None:
    delays = [backoff_delay(n) for n in range(1, 9)]
    assert delays == [HOUR * h for h in (1, 2, 4, 8, 16, 32, 32, 32)]


@pytest.mark.parametrize("attempts", [None, 0, -1, -100], ids=["unset", "zero", "negative", "very-negative"])
def test_unset_or_non_positive_attempts_wait_the_minimum(attempts: int | None) -> None:
    assert backoff_delay(attempts) == HOUR


@pytest.mark.parametrize("attempts", [64, 65, 100, 10**9], ids=["64", "65", "100", "huge"])
def test_huge_attempt_counts_cap_at_the_maximum(attempts: int) -> None:
    assert backoff_delay(attempts) == 32 * HOUR
    assert backoff_delay(attempts, maximum=4 * HOUR) == 4 * HOUR


@pytest.mark.parametrize(
    ("attempts", "minimum", "maximum", "expected"),
    [
        (6, HOUR, 4 * HOUR, 4 * HOUR),
        (1, HOUR, 4 * HOUR, HOUR),
        (6, HOUR, HOUR, HOUR),
        (3, timedelta(minutes=15), 32 * HOUR, timedelta(hours=1)),
        (2, 2 * HOUR, HOUR, 2 * HOUR),
    ],
    ids=["cap-4h", "below-cap", "constant", "custom-minimum", "maximum-below-minimum"],
)
def test_configured_bounds(attempts: int, minimum: timedelta, maximum: timedelta, expected: timedelta) -> None:
    assert backoff_delay(attempts, minimum=minimum, maximum=maximum) == expected


def _failing(
    attempts: int | None, failed_ago: timedelta, *, dns_names: tuple[str, ...] = ("example.com",)
) -> Certificate:
    status = CertificateStatus(revision=1, last_failure_time=NOW - failed_ago, failed_issuance_attempts=attempts)
    return make_certificate(dns_names=dns_names, status=status)


def _next_request(certificate: Certificate) -> CertificateRequest:
    """The next request, made for the spec the Certificate had when it failed (example.com)."""
    original = make_certificate(status=certificate.status)
    return make_request(original, revision=2)


@pytest.mark.parametrize(
    ("attempts", "failed_ago", "expected"),
    [
        (1, timedelta(minutes=59), Backoff(True, timedelta(minutes=1))),
        (1, timedelta(0), Backoff(True, HOUR)),
        (1, timedelta(minutes=61), NO_BACKOFF),
        (2, timedelta(0), Backoff(True, 2 * HOUR)),
        (2, timedelta(minutes=121), NO_BACKOFF),
        (3, timedelta(0), Backoff(True, 4 * HOUR)),
        (3, timedelta(minutes=245), NO_BACKOFF),
        (4, timedelta(0), Backoff(True, 8 * HOUR)),
        (4, timedelta(hours=10), NO_BACKOFF),
        (5, timedelta(0), Backoff(True, 16 * HOUR)),
        (5, timedelta(minutes=1021), NO_BACKOFF),
        (6, timedelta(0), Backoff(True, 32 * HOUR)),
        (6, 32 * HOUR, NO_BACKOFF),
        (100, timedelta(0), Backoff(True, 32 * HOUR)),
        (100, 32 * HOUR, NO_BACKOFF),
        (None, timedelta(0), Backoff(True, HOUR)),
        (None, timedelta(minutes=59), Backoff(True, timedelta(minutes=1))),
        (None, HOUR, NO_BACKOFF),
        (0, timedelta(0), Backoff(True, HOUR)),
        (-3, timedelta(minutes=30), Backoff(True, timedelta(minutes=30))),
    ],
)
def test_remaining_delay_after_a_failure(attempts: int | None, failed_ago: timedelta, expected: Backoff) -> None:
    certificate = _failing(attempts, failed_ago)
    assert should_backoff_reissuing(certificate, _next_request(certificate), now=NOW) == expected


def test_no_failure_no_backoff() -> None:
    certificate = make_certificate(status=CertificateStatus(revision=1, failed_issuance_attempts=3))
    assert should_backoff_reissuing(certificate, _next_request(certificate), now=NOW) == NO_BACKOFF
    assert should_backoff_reissuing(make_certificate(), None, now=NOW) == NO_BACKOFF


@pytest.mark.parametrize("failed_ago", [timedelta(0), timedelta(minutes=1)], ids=["just-failed", "a-minute-ago"])
def test_spec_change_bypasses_backoff(failed_ago: timedelta) -> None:
    certificate = _failing(1, failed_ago, dns_names=("example-was-changed-by-user.com",))
    assert should_backoff_reissuing(certificate, _next_request(certificate), now=NOW) == NO_BACKOFF


def test_issuer_change_bypasses_backoff() -> None:
    certificate = _failing(3, timedelta(0))
    request = _next_request(certificate)
    certificate = replace(
        certificate, spec=replace(certificate.spec, issuer_ref=replace(certificate.spec.issuer_ref, name="new"))
    )
    assert should_backoff_reissuing(certificate, request, now=NOW) == NO_BACKOFF


def test_without_a_next_request_the_backoff_still_applies() -> None:
    assert should_backoff_reissuing(_failing(2, HOUR), None, now=NOW) == Backoff(True, HOUR)


def test_undecodable_next_request_skips_backoff() -> None:
    certificate = _failing(1, timedelta(0))
    request = make_request(certificate, revision=2, request_pem=b"garbage")
    assert should_backoff_reissuing(certificate, request, now=NOW) == NO_BACKOFF


def test_custom_minimum_backoff() -> None:
    certificate = _failing(1, timedelta(minutes=16))
    request = _next_request(certificate)
    assert should_backoff_reissuing(certificate, request, now=NOW, minimum=timedelta(minutes=15)) == NO_BACKOFF
    assert should_backoff_reissuing(certificate, request, now=NOW, minimum=timedelta(minutes=20)) == Backoff(
        True, timedelta(minutes=4)
    )


@pytest.mark.parametrize("minimum", [timedelta(0), -HOUR], ids=["zero", "negative"])
def test_non_positive_minimum_disables_backoff(minimum: timedelta) -> None:
    certificate = _failing(3, timedelta(0))
    assert should_backoff_reissuing(certificate, _next_request(certificate), now=NOW, minimum=minimum) == NO_BACKOFF


def test_failure_in_the_future_waits_the_whole_delay_plus_the_skew() -> None:
    # A clock skew between writer and reader: the remaining delay is counted from the recorded failure.
    certificate = _failing(1, -timedelta(minutes=5))
    assert should_backoff_reissuing(certificate, _next_request(certificate), now=NOW) == Backoff(
        True, HOUR + timedelta(minutes=5)
    )


def test_backoff_unpacks_as_a_pair() -> None:
    certificate = _failing(2, HOUR)
    backoff, delay = should_backoff_reissuing(certificate, _next_request(certificate), now=NOW)
    assert backoff is True
    assert delay == HOUR
