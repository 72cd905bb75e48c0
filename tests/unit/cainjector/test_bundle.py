"""Merging CA certificates into a caBundle: cert-manager's bundle_test.go table, the replace fallback,
expiry boundaries, and hostile input."""

from __future__ import annotations

import time
from datetime import datetime, timedelta

import pytest
from cryptography import x509
from hypothesis import given
from hypothesis import strategies as st

from certkeeper.cainjector.bundle import BundleError, append_certificates_to_bundle, inject_ca
from certkeeper.pki.pem import MAX_BUNDLE_SIZE
from tests.unit.cainjector.builders import EPOCH, ca_pem, pem_blocks

NOW = EPOCH
EXPIRED = ca_pem("expired", not_before=datetime(2000, 1, 1, tzinfo=NOW.tzinfo), days=366)
VALID_1 = ca_pem("valid-1")
VALID_2 = ca_pem("valid-2")


@pytest.mark.parametrize(
    ("bundle", "additional", "expected"),
    [
        pytest.param(b"", VALID_1, VALID_1, id="append_to_empty_bundle"),
        pytest.param(VALID_1, VALID_2, VALID_1 + VALID_2, id="append_to_non_empty_bundle"),
        pytest.param(VALID_1 + EXPIRED, VALID_2, VALID_1 + VALID_2, id="removes_expired_certificates"),
        pytest.param(VALID_1 + VALID_1, VALID_2, VALID_1 + VALID_2, id="removes_duplicate_certificates"),
        pytest.param(VALID_1, VALID_1, VALID_1, id="does_not_append_existing_certificates"),
        pytest.param(VALID_1, EXPIRED, VALID_1, id="does_not_append_expired_certificates"),
        pytest.param(VALID_1, b"", VALID_1, id="empty_additional_keeps_the_bundle"),
        pytest.param(EXPIRED, b"", b"", id="only_expired_leaves_nothing"),
    ],
)
def test_append_certificates_to_bundle(bundle: bytes, additional: bytes, expected: bytes) -> None:
    assert append_certificates_to_bundle(bundle, additional, now=NOW).pem == expected


def test_text_between_blocks_is_dropped_and_blocks_re_encoded() -> None:
    commented = b"# our old CA\n" + VALID_1.replace(b"\n", b"\r\n") + b"\ntrailing words\n"
    assert append_certificates_to_bundle(commented, VALID_2, now=NOW).pem == VALID_1 + VALID_2


def test_next_expiry_is_the_earliest_kept_not_after() -> None:
    short = ca_pem("short", days=400)  # from a year before NOW: expires about a month after it
    merged = append_certificates_to_bundle(VALID_1, short, now=NOW)
    assert merged.next_expiry == x509.load_pem_x509_certificate(short).not_valid_after_utc
    assert append_certificates_to_bundle(b"", b"", now=NOW).next_expiry is None


def test_a_certificate_is_kept_at_its_not_after_and_dropped_just_after() -> None:
    not_after = x509.load_pem_x509_certificate(VALID_1).not_valid_after_utc
    assert append_certificates_to_bundle(VALID_1, b"", now=not_after).pem == VALID_1
    assert append_certificates_to_bundle(VALID_1, b"", now=not_after + timedelta(microseconds=1)).pem == b""


@pytest.mark.parametrize(
    ("bundle", "additional"),
    [
        pytest.param(b"not a pem", VALID_1, id="bundle-not-pem"),
        pytest.param(b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n", VALID_1, id="bundle-not-x509"),
        pytest.param(VALID_1, b"\n", id="additional-blank"),
        pytest.param(VALID_1, b"garbage", id="additional-not-pem"),
        pytest.param(VALID_1 * ((MAX_BUNDLE_SIZE // len(VALID_1)) + 1), VALID_2, id="bundle-over-size-limit"),
    ],
)
def test_unparseable_input_is_an_error_and_the_ca_replaces_the_bundle(bundle: bytes, additional: bytes) -> None:
    with pytest.raises(BundleError, match="failed to parse"):
        append_certificates_to_bundle(bundle, additional, now=NOW)
    replaced = inject_ca(bundle, additional, now=NOW)
    assert replaced.pem == additional
    assert replaced.next_expiry is None


def test_without_merging_the_ca_replaces_the_bundle() -> None:
    assert inject_ca(VALID_1, VALID_2 + EXPIRED, now=NOW, merge=False).pem == VALID_2 + EXPIRED
    assert inject_ca(VALID_1, VALID_2, now=NOW).pem == VALID_1 + VALID_2


@given(existing=st.binary(max_size=4096), ca=st.binary(max_size=4096))
def test_arbitrary_bytes_never_crash(existing: bytes, ca: bytes) -> None:
    started = time.monotonic()
    result = inject_ca(existing, ca, now=NOW)
    assert time.monotonic() - started < 1.0
    assert result.pem == ca or all(block.startswith(b"-----BEGIN CERTIFICATE-----") for block in pem_blocks(result.pem))


@given(noise=st.lists(st.sampled_from([VALID_1, VALID_2, EXPIRED, b"\n", b"junk\n"]), max_size=8))
def test_merge_is_idempotent(noise: list[bytes]) -> None:
    once = inject_ca(b"".join(noise), VALID_2, now=NOW).pem
    assert inject_ca(once, VALID_2, now=NOW).pem == once
