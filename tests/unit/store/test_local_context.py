"""The local store's write context: timestamps as metav1.Time prints them, and generated uids."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from certkeeper.store.local.context import random_uid, rfc3339


def _strftime_rfc3339(moment: datetime) -> str:
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@pytest.mark.parametrize(
    ("moment", "text"),
    [
        (datetime(2024, 5, 1, 12, 0, 0, tzinfo=UTC), "2024-05-01T12:00:00Z"),
        (datetime(2024, 5, 1, 12, 0, 0, 999_999, tzinfo=UTC), "2024-05-01T12:00:00Z"),
        (datetime(2024, 5, 1, 12, 0, 0), "2024-05-01T12:00:00Z"),
        (datetime(2024, 5, 1, 14, 0, 0, tzinfo=timezone(timedelta(hours=2))), "2024-05-01T12:00:00Z"),
        (datetime(1969, 12, 31, 23, 59, 59, 500_000, tzinfo=UTC), "1969-12-31T23:59:59Z"),
        (datetime(2255, 6, 1, 0, 0, 59, 999_999, tzinfo=UTC), "2255-06-01T00:00:59Z"),
    ],
    ids=["utc", "fraction-dropped", "naive-is-utc", "offset", "before-epoch", "far-future-fraction"],
)
def test_rfc3339_prints_whole_utc_seconds(moment: datetime, text: str) -> None:
    assert rfc3339(moment) == text


@given(
    st.datetimes(min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30)),
    st.one_of(st.none(), st.integers(min_value=-23 * 60, max_value=23 * 60)),
)
def test_rfc3339_matches_strftime(moment: datetime, offset_minutes: int | None) -> None:
    if offset_minutes is not None:
        moment = moment.replace(tzinfo=timezone(timedelta(minutes=offset_minutes)))
    assert rfc3339(moment) == _strftime_rfc3339(moment)


def test_random_uid_is_a_canonical_version_4_uuid() -> None:
    uids = {random_uid() for _ in range(1000)}
    assert len(uids) == 1000
    for uid in uids:
        parsed = uuid.UUID(uid)
        assert str(parsed) == uid
        assert parsed.version == 4
        assert parsed.variant == uuid.RFC_4122
