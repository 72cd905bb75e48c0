"""Template values: defaults and the CSR options the feature gates select."""

from __future__ import annotations

from datetime import timedelta

from certkeeper.api.features import FeatureGates
from certkeeper.pki.template import DEFAULT_DURATION, PLAIN_CSR_OPTIONS, CertificateTemplate, CsrOptions


def test_default_duration_is_90_days() -> None:
    assert timedelta(hours=2160) == DEFAULT_DURATION
    assert CertificateTemplate().effective_duration == DEFAULT_DURATION
    assert CertificateTemplate(duration=timedelta(hours=1)).effective_duration == timedelta(hours=1)


def test_default_options_are_the_default_gates() -> None:
    assert CsrOptions() == CsrOptions.from_feature_gates(FeatureGates())
    assert CsrOptions().encode_basic_constraints is False


def test_options_follow_each_gate() -> None:
    gates = FeatureGates().with_gates(
        literal_certificate_subject=False,
        use_certificate_request_basic_constraints=True,
        name_constraints=False,
        other_names=False,
    )
    assert CsrOptions.from_feature_gates(gates) == CsrOptions(
        use_literal_subject=False,
        encode_basic_constraints=True,
        encode_name_constraints=False,
        encode_other_names=False,
    )


def test_plain_options_turn_everything_off() -> None:
    assert not any(
        (
            PLAIN_CSR_OPTIONS.use_literal_subject,
            PLAIN_CSR_OPTIONS.encode_basic_constraints,
            PLAIN_CSR_OPTIONS.encode_name_constraints,
            PLAIN_CSR_OPTIONS.encode_other_names,
        )
    )
