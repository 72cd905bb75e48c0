from datetime import UTC, datetime, timedelta

from certkeeper.api.certmanager import CertificateCondition
from certkeeper.api.conditions import get_condition, has_condition, remove_condition, set_condition

T0 = datetime(2030, 1, 1, 12, 0, 0, 123456, tzinfo=UTC)


def test_new_condition_gets_now_truncated_to_seconds() -> None:
    conds = set_condition(None, CertificateCondition(type="Ready", status="False", reason="DoesNotExist"), now=T0)
    assert conds[0].last_transition_time == T0.replace(microsecond=0)
    assert has_condition(conds, "Ready", "False")
    assert not has_condition(conds, "Ready", "True")


def test_transition_time_kept_when_status_unchanged_and_moved_when_changed() -> None:
    first = set_condition(None, CertificateCondition(type="Ready", status="False", message="a"), now=T0)
    later = T0 + timedelta(hours=1)
    same = set_condition(first, CertificateCondition(type="Ready", status="False", message="b"), now=later)
    assert same[0].last_transition_time == first[0].last_transition_time
    assert same[0].message == "b"
    flipped = set_condition(same, CertificateCondition(type="Ready", status="True"), now=later)
    assert flipped[0].last_transition_time == later.replace(microsecond=0)


def test_other_types_untouched_and_remove() -> None:
    conds = set_condition(None, CertificateCondition(type="Issuing", status="True"), now=T0)
    conds = set_condition(conds, CertificateCondition(type="Ready", status="True"), now=T0)
    assert [c.type for c in conds] == ["Issuing", "Ready"]
    conds = remove_condition(conds, "Issuing")
    assert get_condition(conds, "Issuing") is None
    assert [c.type for c in conds] == ["Ready"]
