"""Post-issuance checks: Secret metadata, template, output formats, owner references and keystores."""

import dataclasses
from collections.abc import Callable, Mapping

import pytest
from msgspec.structs import replace

from certkeeper.api.certmanager import (
    Certificate,
    CertificateAdditionalOutputFormat,
    CertificateSecretTemplate,
)
from certkeeper.api.constants import TLS_CERT_KEY, TLS_PRIVATE_KEY_KEY
from certkeeper.api.core import Secret
from certkeeper.api.meta import OwnerReference
from certkeeper.pki.pem import decode_private_key_block
from certkeeper.policies.checks.keystores import secret_keystore_format_mismatch
from certkeeper.policies.checks.postissuance import (
    certificate_owner_reference,
    first_mismatching_key,
    secret_additional_output_formats_managed_fields_mismatch,
    secret_additional_output_formats_mismatch,
    secret_base_labels_mismatch,
    secret_certificate_details_annotations_mismatch,
    secret_managed_labels_and_annotations_mismatch,
    secret_owner_reference_managed_field_mismatch,
    secret_owner_reference_mismatch,
    secret_template_managed_fields_mismatch,
    secret_template_mismatch,
)
from certkeeper.policies.input import Check, PolicyInput
from certkeeper.policies.managed_fields import AppliedSecretFields
from certkeeper.policies.reasons import Reason, Violation

from .builders import (
    CERT_PEM,
    CERT_UID,
    NOW,
    certificate_pem,
    issuer_annotations,
    key_pem,
    make_certificate,
    make_secret,
)

FAO = "controller.cert-manager.io/fao"
DETAILS = {
    "cert-manager.io/common-name": "example.com",
    "cert-manager.io/alt-names": "example.com",
    "cert-manager.io/ip-sans": "",
    "cert-manager.io/uri-sans": "",
}
APPLIED_OK = AppliedSecretFields(
    labels=frozenset({FAO}),
    annotations=frozenset({*DETAILS, *issuer_annotations(), "foo"}),
    data=frozenset({TLS_CERT_KEY, TLS_PRIVATE_KEY_KEY}),
)


def _input(certificate: Certificate | None = None, secret: Secret | None = None) -> PolicyInput:
    return PolicyInput(certificate=certificate or make_certificate(), secret=secret)


def _secret(
    *,
    annotations: Mapping[str, str] | None = None,
    labels: Mapping[str, str] | None = None,
    extra: Mapping[str, bytes] | None = None,
    owner_references: list[OwnerReference] | None = None,
) -> Secret:
    data = {TLS_PRIVATE_KEY_KEY: key_pem(), TLS_CERT_KEY: CERT_PEM, **(extra or {})}
    return make_secret(
        data=data,
        annotations={**issuer_annotations(), **DETAILS} if annotations is None else annotations,
        labels=labels,
        owner_references=owner_references,
    )


ALL: list[Check] = [
    secret_base_labels_mismatch,
    secret_certificate_details_annotations_mismatch,
    secret_managed_labels_and_annotations_mismatch(APPLIED_OK),
    secret_template_mismatch,
    secret_template_managed_fields_mismatch(APPLIED_OK),
    secret_additional_output_formats_mismatch,
    secret_additional_output_formats_managed_fields_mismatch(APPLIED_OK),
    secret_owner_reference_mismatch(True),
    secret_owner_reference_managed_field_mismatch(True, APPLIED_OK),
    secret_keystore_format_mismatch,
]


@pytest.mark.parametrize("check", ALL, ids=range(len(ALL)))
def test_without_a_secret_there_is_nothing_to_rewrite(check: Check) -> None:
    assert check(_input(), NOW) is None


@pytest.mark.parametrize(
    ("labels", "expected"),
    [
        (None, None),
        ({"app": "x"}, None),
        ({FAO: "true"}, None),
        (
            {FAO: "false"},
            Violation(
                reason=Reason.SECRET_MANAGED_METADATA_MISMATCH,
                message='wrong base label controller.cert-manager.io/fao value "false", expected "true"',
            ),
        ),
    ],
    ids=["no-labels", "absent", "true", "wrong"],
)
def test_base_labels(labels: dict[str, str] | None, expected: Violation | None) -> None:
    assert secret_base_labels_mismatch(_input(secret=_secret(labels=labels)), NOW) == expected


def test_details_annotation_disagreeing_with_the_certificate() -> None:
    secret = _secret(annotations={**DETAILS, "cert-manager.io/common-name": "wrong.example.com"})
    assert secret_certificate_details_annotations_mismatch(_input(secret=secret), NOW) == Violation(
        reason=Reason.SECRET_TEMPLATE_MISMATCH,
        message="Secret metadata wrong.example.com does not match certificate metadata example.com",
    )


@pytest.mark.parametrize("annotations", [DETAILS, {}], ids=["matching", "absent-is-not-compared"])
def test_details_annotations_matching_or_absent(annotations: dict[str, str]) -> None:
    assert secret_certificate_details_annotations_mismatch(_input(secret=_secret(annotations=annotations)), NOW) is None


def test_details_annotations_of_an_unparseable_certificate() -> None:
    secret = make_secret(data={TLS_CERT_KEY: b"test"})
    assert secret_certificate_details_annotations_mismatch(_input(secret=secret), NOW) == Violation(
        reason=Reason.INVALID_CERTIFICATE,
        message="Failed getting secret annotations: error decoding certificate PEM block: no valid certificates found",
    )


def test_first_mismatching_key_is_stable() -> None:
    assert first_mismatching_key({"b": "1", "a": "1", "c": "1"}, {"c": "2", "b": "2"}) == "b"
    assert first_mismatching_key({"a": "1"}, {"b": "2"}) is None
    assert first_mismatching_key(None, {"a": "1"}) is None


def _managed(applied: AppliedSecretFields, secret: Secret | None = None) -> Violation | None:
    return secret_managed_labels_and_annotations_mismatch(applied)(_input(secret=secret or _secret()), NOW)


def test_managed_metadata_matches() -> None:
    assert _managed(APPLIED_OK) is None


@pytest.mark.parametrize(
    ("applied", "secret", "message"),
    [
        (
            dataclasses.replace(APPLIED_OK, labels=frozenset({"app"})),
            None,
            "Secret is missing these Managed Labels: [controller.cert-manager.io/fao]",
        ),
        (
            dataclasses.replace(
                APPLIED_OK, labels=frozenset({FAO, "cert-manager.io/x", "controller.cert-manager.io/y", "z"})
            ),
            None,
            "Secret has these extra Labels: [cert-manager.io/x controller.cert-manager.io/y]",
        ),
        (
            dataclasses.replace(APPLIED_OK, annotations=frozenset({"cert-manager.io/common-name"})),
            None,
            "Secret is missing these Managed Annotations: "
            "[cert-manager.io/alt-names cert-manager.io/ip-sans cert-manager.io/uri-sans]",
        ),
        (
            dataclasses.replace(
                APPLIED_OK,
                annotations=frozenset(
                    {*issuer_annotations(), "foo", "cert-manager.io/ip-sans", "cert-manager.io/uri-sans"}
                ),
            ),
            make_secret(data={TLS_PRIVATE_KEY_KEY: key_pem()}),
            "Secret has these extra Annotations: [cert-manager.io/ip-sans cert-manager.io/uri-sans]",
        ),
    ],
    ids=["missing-label", "extra-labels", "missing-annotations", "extra-annotations-without-certificate"],
)
def test_managed_metadata_mismatch(applied: AppliedSecretFields, secret: Secret | None, message: str) -> None:
    assert _managed(applied, secret) == Violation(reason=Reason.SECRET_MANAGED_METADATA_MISMATCH, message=message)


def test_managed_metadata_without_certificate_needs_only_the_base_label() -> None:
    applied = AppliedSecretFields(labels=frozenset({FAO}), annotations=frozenset(issuer_annotations()))
    assert _managed(applied, make_secret(data={})) is None


@pytest.mark.parametrize(
    "check",
    [
        secret_managed_labels_and_annotations_mismatch,
        secret_template_managed_fields_mismatch,
        secret_additional_output_formats_managed_fields_mismatch,
        lambda applied: secret_owner_reference_managed_field_mismatch(True, applied),
    ],
    ids=["managed-metadata", "template", "output-formats", "owner-reference"],
)
def test_unreadable_applied_fields(check: Callable[[AppliedSecretFields], Check]) -> None:
    violation = check(AppliedSecretFields(parse_error="boom"))(_input(secret=_secret()), NOW)
    assert violation == Violation(
        reason=Reason.MANAGED_FIELDS_PARSE_ERROR, message="failed to decode managed fields on Secret: boom"
    )


TEMPLATE = CertificateSecretTemplate(annotations={"foo1": "bar1", "foo2": "bar2"}, labels={"abc": "123", "def": "456"})


@pytest.mark.parametrize(
    ("template", "annotations", "labels", "message"),
    [
        (None, {"foo": "bar"}, {"abc": "123"}, None),
        (TEMPLATE, {"foo1": "bar1", "foo2": "bar2"}, {"other": "1"}, None),
        (TEMPLATE, {"foo1": "bar1"}, {"abc": "123"}, None),
        (
            TEMPLATE,
            {"foo1": "bar1", "foo2": "bar3"},
            {"abc": "123", "def": "456"},
            "Certificate's SecretTemplate Annotations missing or incorrect value on Secret",
        ),
        (
            TEMPLATE,
            {"foo1": "bar1", "foo2": "bar2"},
            {"abc": "123", "def": "789"},
            "Certificate's SecretTemplate Labels missing or incorrect value on Secret",
        ),
    ],
    ids=["no-template", "no-common-labels", "missing-keys-not-compared", "annotation-value", "label-value"],
)
def test_secret_template_values(
    template: CertificateSecretTemplate | None, annotations: dict[str, str], labels: dict[str, str], message: str | None
) -> None:
    certificate = make_certificate(secret_template=template)
    violation = secret_template_mismatch(_input(certificate, _secret(annotations=annotations, labels=labels)), NOW)
    expected = None if message is None else Violation(reason=Reason.SECRET_TEMPLATE_MISMATCH, message=message)
    assert violation == expected


TEMPLATE_4 = CertificateSecretTemplate(
    annotations={"foo1": "", "foo2": "", "foo3": "", "foo4": ""}, labels={"abc": "", "def": "", "ghi": ""}
)


@pytest.mark.parametrize(
    ("template", "labels", "annotations", "message"),
    [
        (None, set(), set(), None),
        (
            CertificateSecretTemplate(labels={"abc": "1"}),
            set(),
            set(),
            "Secret is missing these Template Labels: [abc]",
        ),
        (None, {"abc"}, {"foo"}, "Secret has these extra Labels: [abc]"),
        (
            TEMPLATE_4,
            {"abc", "def", "ghi"},
            {"foo1", "foo3"},
            "Secret is missing these Template Annotations: [foo2 foo4]",
        ),
        (
            TEMPLATE_4,
            {"abc", "erg"},
            set(TEMPLATE_4.annotations or {}),
            "Secret is missing these Template Labels: [def ghi]",
        ),
        (TEMPLATE, {"abc", "def"}, {"foo1", "foo2", "foo3", "foo4"}, "Secret has these extra Annotations: [foo3 foo4]"),
        (TEMPLATE, {"abc", "def"}, {"foo1", "foo2"}, None),
        (TEMPLATE, {"abc", "def", FAO, "cert-manager.io/x"}, {"foo1", "foo2", *DETAILS}, None),
    ],
    ids=[
        "nothing",
        "missing-label",
        "extra-label-first",
        "missing-annotations",
        "missing-labels",
        "extra-annotations",
        "match",
        "cert-manager-keys-ignored",
    ],
)
def test_secret_template_applied_fields(
    template: CertificateSecretTemplate | None, labels: set[str], annotations: set[str], message: str | None
) -> None:
    applied = AppliedSecretFields(labels=frozenset(labels), annotations=frozenset(annotations))
    certificate = make_certificate(secret_template=template)
    violation = secret_template_managed_fields_mismatch(applied)(_input(certificate, _secret()), NOW)
    expected = None if message is None else Violation(reason=Reason.SECRET_TEMPLATE_MISMATCH, message=message)
    assert violation == expected


DER = CertificateAdditionalOutputFormat(type="DER")
COMBINED = CertificateAdditionalOutputFormat(type="CombinedPEM")
KEY_DER = decode_private_key_block(key_pem()).der
COMBINED_PEM = key_pem() + b"\n" + CERT_PEM
DATA_MISMATCH = Violation(
    reason=Reason.ADDITIONAL_OUTPUT_FORMATS_MISMATCH,
    message="Certificate's AdditionalOutputFormats doesn't match Secret Data",
)


@pytest.mark.parametrize(
    ("formats", "extra", "expected"),
    [
        ([], {"key.der": b"stale"}, None),
        ([DER, COMBINED], {"key.der": KEY_DER, "tls-combined.pem": COMBINED_PEM}, None),
        ([COMBINED], {}, DATA_MISMATCH),
        ([COMBINED], {"tls-combined.pem": COMBINED_PEM + b"\n"}, DATA_MISMATCH),
        ([DER], {}, DATA_MISMATCH),
        ([DER], {"key.der": KEY_DER[:-1]}, DATA_MISMATCH),
    ],
    ids=["none-asked", "both-current", "combined-missing", "combined-stale", "der-missing", "der-stale"],
)
def test_additional_output_formats_data(
    formats: list[CertificateAdditionalOutputFormat], extra: dict[str, bytes], expected: Violation | None
) -> None:
    certificate = make_certificate(additional_output_formats=formats)
    assert secret_additional_output_formats_mismatch(_input(certificate, _secret(extra=extra)), NOW) == expected


def test_der_output_of_an_undecodable_key_is_stale() -> None:
    certificate = make_certificate(additional_output_formats=[DER])
    secret = make_secret(data={TLS_PRIVATE_KEY_KEY: b"junk", TLS_CERT_KEY: certificate_pem(), "key.der": b""})
    assert secret_additional_output_formats_mismatch(_input(certificate, secret), NOW) == DATA_MISMATCH


@pytest.mark.parametrize(
    ("formats", "applied", "violated"),
    [
        ([], set(), False),
        ([DER], {"key.der"}, False),
        ([DER, COMBINED], {"key.der", "tls-combined.pem", "tls.crt"}, False),
        ([DER], set(), True),
        ([], {"tls-combined.pem"}, True),
        ([COMBINED], {"key.der"}, True),
    ],
    ids=["none", "der", "both", "der-not-applied", "combined-not-asked", "swapped"],
)
def test_additional_output_formats_applied_fields(
    formats: list[CertificateAdditionalOutputFormat], applied: set[str], violated: bool
) -> None:
    check = secret_additional_output_formats_managed_fields_mismatch(AppliedSecretFields(data=frozenset(applied)))
    violation = check(_input(make_certificate(additional_output_formats=formats), _secret()), NOW)
    expected = Violation(
        reason=Reason.ADDITIONAL_OUTPUT_FORMATS_MISMATCH,
        message="Certificate's AdditionalOutputFormats doesn't match Secret ManagedFields",
    )
    assert violation == (expected if violated else None)


EXPECTED_REF = certificate_owner_reference(make_certificate())


def test_certificate_owner_reference_is_a_controller_reference() -> None:
    assert (
        OwnerReference(
            api_version="cert-manager.io/v1",
            kind="Certificate",
            name="test",
            uid=CERT_UID,
            controller=True,
            block_owner_deletion=True,
        )
        == EXPECTED_REF
    )


@pytest.mark.parametrize(
    ("enabled", "refs", "violated"),
    [
        (False, None, False),
        (False, [replace(EXPECTED_REF, controller=False)], False),
        (True, [EXPECTED_REF], False),
        (True, [replace(EXPECTED_REF, uid="other"), EXPECTED_REF], False),
        (True, None, True),
        (True, [replace(EXPECTED_REF, block_owner_deletion=None)], True),
        (True, [replace(EXPECTED_REF, name="renamed")], True),
    ],
    ids=["disabled", "disabled-wrong-ref", "exact", "among-others", "missing", "not-blocking", "other-name"],
)
def test_owner_reference_value(enabled: bool, refs: list[OwnerReference] | None, violated: bool) -> None:
    violation = secret_owner_reference_mismatch(enabled)(_input(secret=_secret(owner_references=refs)), NOW)
    expected = Violation(
        reason=Reason.SECRET_OWNER_REF_MISMATCH,
        message="unexpected Secret Owner Reference value on Secret --enable-certificate-owner-ref=true",
    )
    assert violation == (expected if violated else None)


@pytest.mark.parametrize(
    ("enabled", "uids", "message"),
    [
        (True, {CERT_UID}, None),
        (False, set(), None),
        (False, {"other-uid"}, None),
        (True, set(), "unexpected managed Secret Owner Reference field on Secret --enable-certificate-owner-ref=true"),
        (
            True,
            {"other-uid"},
            "unexpected managed Secret Owner Reference field on Secret --enable-certificate-owner-ref=true",
        ),
        (
            False,
            {CERT_UID},
            "unexpected managed Secret Owner Reference field on Secret --enable-certificate-owner-ref=false",
        ),
    ],
    ids=["enabled-applied", "disabled-absent", "disabled-other", "enabled-absent", "enabled-other", "disabled-applied"],
)
def test_owner_reference_applied_field(enabled: bool, uids: set[str], message: str | None) -> None:
    applied = AppliedSecretFields(owner_reference_uids=frozenset(uids))
    violation = secret_owner_reference_managed_field_mismatch(enabled, applied)(_input(secret=_secret()), NOW)
    expected = None if message is None else Violation(reason=Reason.SECRET_OWNER_REF_MISMATCH, message=message)
    assert violation == expected
