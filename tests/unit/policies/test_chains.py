"""The composed chains over named cases: these pin the order of the checks (checks_test.go's table)."""

import dataclasses
from dataclasses import dataclass, field
from datetime import timedelta

import pytest
from msgspec.structs import replace

from certkeeper.api.certmanager import (
    CertificateAdditionalOutputFormat,
    CertificateCondition,
    CertificateRenewal,
    CertificateRenewalWindow,
    CertificateSecretTemplate,
    CertificateStatus,
)
from certkeeper.api.cmmeta import IssuerReference
from certkeeper.api.constants import TLS_CERT_KEY, TLS_PRIVATE_KEY_KEY
from certkeeper.pki.keys import generate_ecdsa_private_key
from certkeeper.pki.pem import decode_private_key_block
from certkeeper.policies.chains import (
    IssuingTrigger,
    issuing_trigger,
    post_issuance_chain,
    readiness_chain,
    ready_condition,
    temporary_certificate_chain,
    trigger_chain,
)
from certkeeper.policies.checks.postissuance import certificate_owner_reference
from certkeeper.policies.input import PolicyInput
from certkeeper.policies.managed_fields import AppliedSecretFields
from certkeeper.policies.reasons import READY_MESSAGE, Reason, Violation

from .builders import (
    CERT_PEM,
    CERT_UID,
    KEY,
    NOW,
    OTHER_KEY,
    certificate_pem,
    issuer_annotations,
    key_pem,
    make_certificate,
    make_request,
    make_secret,
)

#: ``dataclasses.replace`` for the (dataclass) PolicyInput; msgspec's ``replace`` is for the API models.
with_input = dataclasses.replace
GROUP_ISSUER = IssuerReference(name="testissuer", kind="IssuerKind", group="group.example.com")
P384 = generate_ecdsa_private_key(384)


@dataclass(frozen=True)
class Case:
    """One row: the input, and the violation the trigger chain must return (None: no reissue)."""

    policy_input: PolicyInput
    reason: Reason | None = None
    message: str | None = None
    readiness: tuple[Reason, str] | None = field(default=None)


def _secret_data(key: bytes, cert: bytes) -> dict[str, bytes]:
    return {TLS_PRIVATE_KEY_KEY: key, TLS_CERT_KEY: cert}


def _cases() -> dict[str, Case]:
    certificate = make_certificate()
    group_certificate = make_certificate(issuer_ref=GROUP_ISSUER, dns_names=None)
    group_annotations = issuer_annotations(GROUP_ISSUER)

    def group_secret(cert: bytes, *, key: bytes | None = None) -> PolicyInput:
        secret = make_secret(data=_secret_data(key or key_pem(), cert), annotations=group_annotations)
        return PolicyInput(certificate=group_certificate, secret=secret)

    def timed(
        renew_before: str, renewal_time_offset: timedelta | None, lifetime: tuple[timedelta, timedelta]
    ) -> PolicyInput:
        status = CertificateStatus(renewal_time=None if renewal_time_offset is None else NOW + renewal_time_offset)
        timed_certificate = replace(group_certificate, spec=replace(group_certificate.spec, renew_before=renew_before))
        timed_certificate = replace(timed_certificate, status=status)
        cert = certificate_pem(not_before=NOW + lifetime[0], not_after=NOW + lifetime[1], dns_names=())
        return with_input(group_secret(cert), certificate=timed_certificate)

    corrupt_cert = "Issuing certificate as Secret contains an invalid certificate: "
    corrupt_key = "Issuing certificate as Secret contains invalid private key data: "
    return {
        "secret missing": Case(
            PolicyInput(certificate=certificate),
            Reason.DOES_NOT_EXIST,
            "Issuing certificate as Secret does not exist",
        ),
        "secret without data": Case(
            PolicyInput(certificate=certificate, secret=make_secret(data={})),
            Reason.MISSING_DATA,
            "Issuing certificate as Secret does not contain any data",
        ),
        "secret without private key": Case(
            PolicyInput(certificate=certificate, secret=make_secret(data={TLS_CERT_KEY: b"test"})),
            Reason.MISSING_DATA,
            "Issuing certificate as Secret does not contain a private key",
        ),
        "secret without certificate": Case(
            PolicyInput(certificate=certificate, secret=make_secret(data={TLS_PRIVATE_KEY_KEY: b"test"})),
            Reason.MISSING_DATA,
            "Issuing certificate as Secret does not contain a certificate",
        ),
        "corrupt key and certificate: the key is reported": Case(
            PolicyInput(certificate=certificate, secret=make_secret(data=_secret_data(b"test", b"test"))),
            Reason.INVALID_KEY_PAIR,
            corrupt_key + "error decoding private key PEM block: no PEM data was found in given input",
        ),
        "corrupt certificate": Case(
            PolicyInput(certificate=certificate, secret=make_secret(data=_secret_data(key_pem(), b"test"))),
            Reason.INVALID_CERTIFICATE,
            corrupt_cert + "error decoding certificate PEM block: no valid certificates found",
        ),
        "corrupt key with a valid certificate": Case(
            PolicyInput(certificate=certificate, secret=make_secret(data=_secret_data(b"invalid", CERT_PEM))),
            Reason.INVALID_KEY_PAIR,
            corrupt_key + "error decoding private key PEM block: no PEM data was found in given input",
        ),
        "key pair that does not match": Case(
            PolicyInput(certificate=certificate, secret=make_secret(data=_secret_data(key_pem(OTHER_KEY), CERT_PEM))),
            Reason.INVALID_KEY_PAIR,
            "Issuing certificate as Secret contains a private key that does not match the certificate",
        ),
        "wrong issuer wins over wrong certificate name": Case(
            PolicyInput(
                certificate=make_certificate(issuer_ref=IssuerReference(name="testissuer")),
                secret=make_secret(
                    annotations={"cert-manager.io/issuer-name": "oldissuer", "cert-manager.io/certificate-name": "x"}
                ),
            ),
            Reason.INCORRECT_ISSUER,
            'Issuing certificate as Secret was previously issued by "Issuer.cert-manager.io/oldissuer"',
        ),
        "wrong certificate name wins over the key spec": Case(
            PolicyInput(
                certificate=make_certificate(private_key=None),
                secret=make_secret(annotations=issuer_annotations(certificate_name="other")),
            ),
            Reason.INCORRECT_CERTIFICATE,
            'Secret was issued for "other". If this message is not transient, you might have two conflicting '
            "Certificates pointing to the same secret.",
        ),
        "key spec wins over the current request": Case(
            PolicyInput(
                certificate=certificate,
                secret=make_secret(data=_secret_data(key_pem(P384), certificate_pem(P384))),
                current_revision_request=make_request(certificate, key=OTHER_KEY),
            ),
            Reason.SECRET_MISMATCH,
            "Existing private key is not up to date for spec: [spec.privateKey.size]",
        ),
        "request key wins over the request spec": Case(
            with_input(
                group_secret(CERT_PEM),
                current_revision_request=make_request(
                    group_certificate, key=OTHER_KEY, csr_spec=replace(group_certificate.spec, common_name="old")
                ),
            ),
            Reason.SECRET_MISMATCH,
            "Secret contains a private key that does not match the current CertificateRequest",
        ),
        "request changed wins over expiry": Case(
            with_input(
                timed("5m", timedelta(minutes=-1), (timedelta(minutes=-30), timedelta(minutes=-1))),
                current_revision_request=make_request(
                    group_certificate, csr_spec=replace(group_certificate.spec, common_name="old.example.com")
                ),
            ),
            Reason.REQUEST_CHANGED,
            "Fields on existing CertificateRequest resource not up to date: [spec.commonName]",
            readiness=(
                Reason.REQUEST_CHANGED,
                "Fields on existing CertificateRequest resource not up to date: [spec.commonName]",
            ),
        ),
        "request matching the spec: the certificate's names do not matter": Case(
            with_input(
                group_secret(certificate_pem(common_name="does-not-matter.example.com", dns_names=())),
                current_revision_request=make_request(group_certificate),
            )
        ),
        "no request: the certificate's names are compared": Case(
            with_input(
                group_secret(certificate_pem(common_name="old.example.com", dns_names=())),
                certificate=replace(
                    group_certificate, spec=replace(group_certificate.spec, common_name="new.example.com")
                ),
            ),
            Reason.SECRET_MISMATCH,
            "Issuing certificate as Existing issued Secret is not up to date for spec: [spec.commonName]",
        ),
        "no request and matching certificate": Case(group_secret(certificate_pem(dns_names=()))),
        "renewal time is now": Case(
            timed("5m", timedelta(0), (timedelta(minutes=-30), timedelta(minutes=1))),
            Reason.RENEWING,
            "Renewing certificate as renewal was scheduled at 2030-01-01 12:00:00 +0000 UTC",
        ),
        "renewal time is in the past": Case(
            timed("5m", timedelta(minutes=-1), (timedelta(minutes=-30), timedelta(minutes=1))),
            Reason.RENEWING,
            "Renewing certificate as renewal was scheduled at 2030-01-01 11:59:00 +0000 UTC",
        ),
        "reissued but the status renewal time is stale": Case(
            timed("1m", timedelta(0), (timedelta(0), timedelta(minutes=30)))
        ),
        "renewal time in one minute": Case(
            timed("1m", timedelta(minutes=1), (timedelta(minutes=-30), timedelta(minutes=5)))
        ),
        "renewal disabled": Case(
            with_input(
                timed("1m", None, (timedelta(minutes=-30), timedelta(minutes=5))),
                certificate=replace(
                    group_certificate,
                    spec=replace(group_certificate.spec, renewal=CertificateRenewal(policy="Disabled")),
                ),
            )
        ),
        "expired: renewing, and not ready": Case(
            timed("5m", None, (timedelta(days=-1), timedelta(minutes=-1))),
            Reason.RENEWING,
            "Renewing certificate as renewal was scheduled at <nil>",
            readiness=(Reason.EXPIRED, "Certificate expired on Tue, 01 Jan 2030 11:59:00 UTC"),
        ),
        "no window fits: window error": Case(
            with_input(
                timed("5m", None, (timedelta(minutes=-30), timedelta(minutes=1))),
                certificate=replace(
                    group_certificate,
                    spec=replace(
                        group_certificate.spec,
                        renew_before="5m",
                        renewal=CertificateRenewal(
                            windows=[CertificateRenewalWindow(cron="0 0 1 6 *", window_duration="1h")]
                        ),
                    ),
                ),
            ),
            Reason.WINDOW_ERROR,
            "cannot find a time with the given windows between 2030-01-01 11:30:00 +0000 UTC and "
            "2030-01-01 12:01:00 +0000 UTC for: 2030-01-01 11:56:00 +0000 UTC",
        ),
    }


CASES = _cases()


@pytest.mark.parametrize("case", CASES.values(), ids=CASES.keys())
def test_trigger_chain(case: Case) -> None:
    violation = trigger_chain(case.policy_input, NOW)
    if case.reason is None:
        assert violation is None
    else:
        assert violation == Violation(reason=case.reason, message=case.message or "")


@pytest.mark.parametrize("case", CASES.values(), ids=CASES.keys())
def test_readiness_chain(case: Case) -> None:
    """Checks 1-8 are shared; the last check is "has expired" instead of "nearing expiry"."""
    violation = readiness_chain(case.policy_input, NOW)
    if case.readiness is not None:
        assert violation == Violation(reason=case.readiness[0], message=case.readiness[1])
    elif case.reason in (None, Reason.RENEWING, Reason.WINDOW_ERROR):
        assert violation is None
    else:
        assert violation == Violation(reason=case.reason, message=case.message or "")


def test_ready_condition() -> None:
    healthy = PolicyInput(certificate=make_certificate(), secret=make_secret())
    assert ready_condition(healthy, NOW) == CertificateCondition(
        type="Ready", status="True", reason="Ready", message=READY_MESSAGE
    )
    assert ready_condition(PolicyInput(certificate=make_certificate()), NOW) == CertificateCondition(
        type="Ready", status="False", reason="DoesNotExist", message="Issuing certificate as Secret does not exist"
    )


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("secret missing", Reason.DOES_NOT_EXIST),
        ("secret without certificate", Reason.MISSING_DATA),
        ("key pair that does not match", Reason.INVALID_KEY_PAIR),
        ("wrong issuer wins over wrong certificate name", None),
        ("key spec wins over the current request", None),
        ("expired: renewing, and not ready", None),
    ],
)
def test_temporary_certificate_chain_is_checks_1_to_3(name: str, reason: Reason | None) -> None:
    violation = temporary_certificate_chain(CASES[name].policy_input, NOW)
    assert (violation.reason if violation else None) == reason


def test_issuing_trigger_passes_violations_through() -> None:
    violation = Violation(reason=Reason.DOES_NOT_EXIST, message="m")
    trigger = issuing_trigger(violation, make_certificate())
    assert trigger == IssuingTrigger(reason="DoesNotExist", message="m")
    assert type(trigger.reason) is str


def test_condition_reason_is_a_plain_string_for_the_wire() -> None:
    condition = ready_condition(PolicyInput(certificate=make_certificate()), NOW)
    assert type(condition.reason) is str
    assert type(condition.type) is str


@pytest.mark.parametrize(
    ("status", "scheduled"),
    [(None, "<nil>"), (CertificateStatus(renewal_time=NOW), "2030-01-01 12:00:00 +0000 UTC")],
    ids=["no-renewal-time", "renewal-time"],
)
def test_issuing_trigger_renews_anyway_on_window_error(status: CertificateStatus | None, scheduled: str) -> None:
    violation = Violation(reason=Reason.WINDOW_ERROR, message="cannot find a time")
    assert issuing_trigger(violation, make_certificate(status=status)) == IssuingTrigger(
        reason="Renewing",
        message=f"Renewing certificate without satisfying renewal windows at: {scheduled}",
        window_error_event="Renewing certificate without satisfying renewal windows due to cannot find a time",
    )


# --- post-issuance: a Secret violating all ten checks, fixed one at a time, pins the order ----------------

DETAILS = {
    "cert-manager.io/common-name": "example.com",
    "cert-manager.io/alt-names": "example.com",
    "cert-manager.io/ip-sans": "",
    "cert-manager.io/uri-sans": "",
}
FAO = "controller.cert-manager.io/fao"
KEY_DER = decode_private_key_block(key_pem(KEY)).der


def _post_issuance_world(fixed: int) -> tuple[PolicyInput, AppliedSecretFields]:
    """Checks 1..``fixed`` pass, checks ``fixed``+1..10 fail."""
    certificate = make_certificate(
        secret_template=CertificateSecretTemplate(annotations={"t": "1"}),
        additional_output_formats=[CertificateAdditionalOutputFormat(type="DER")],
    )
    labels = {FAO: "true" if fixed >= 1 else "false"}
    annotations = {**issuer_annotations(), **DETAILS, "t": "1" if fixed >= 4 else "2"}
    if fixed < 2:
        annotations["cert-manager.io/common-name"] = "wrong"
    data = _secret_data(key_pem(), CERT_PEM)
    if fixed >= 6:
        data["key.der"] = KEY_DER
    if fixed < 10:
        data["keystore.jks"] = b"store"
    owner_refs = [certificate_owner_reference(certificate)] if fixed >= 8 else None
    secret = make_secret(data=data, annotations=annotations, labels=labels, owner_references=owner_refs)
    applied = AppliedSecretFields(
        labels=frozenset({FAO} if fixed >= 3 else set()),
        annotations=frozenset(
            {*issuer_annotations(), *(DETAILS if fixed >= 3 else {}), *({"t"} if fixed >= 5 else set())}
        ),
        data=frozenset({"tls.crt", "tls.key", *({"key.der"} if fixed >= 7 else set())}),
        owner_reference_uids=frozenset({CERT_UID} if fixed >= 9 else set()),
    )
    return PolicyInput(certificate=certificate, secret=secret), applied


POST_ISSUANCE_ORDER = [
    (
        Reason.SECRET_MANAGED_METADATA_MISMATCH,
        'wrong base label controller.cert-manager.io/fao value "false", expected "true"',
    ),
    (Reason.SECRET_TEMPLATE_MISMATCH, "Secret metadata wrong does not match certificate metadata example.com"),
    (
        Reason.SECRET_MANAGED_METADATA_MISMATCH,
        "Secret is missing these Managed Labels: [controller.cert-manager.io/fao]",
    ),
    (Reason.SECRET_TEMPLATE_MISMATCH, "Certificate's SecretTemplate Annotations missing or incorrect value on Secret"),
    (Reason.SECRET_TEMPLATE_MISMATCH, "Secret is missing these Template Annotations: [t]"),
    (Reason.ADDITIONAL_OUTPUT_FORMATS_MISMATCH, "Certificate's AdditionalOutputFormats doesn't match Secret Data"),
    (
        Reason.ADDITIONAL_OUTPUT_FORMATS_MISMATCH,
        "Certificate's AdditionalOutputFormats doesn't match Secret ManagedFields",
    ),
    (
        Reason.SECRET_OWNER_REF_MISMATCH,
        "unexpected Secret Owner Reference value on Secret --enable-certificate-owner-ref=true",
    ),
    (
        Reason.SECRET_OWNER_REF_MISMATCH,
        "unexpected managed Secret Owner Reference field on Secret --enable-certificate-owner-ref=true",
    ),
    (Reason.SECRET_MISMATCH, "Keystore is not defined"),
]


@pytest.mark.parametrize("fixed", range(11), ids=[f"{n}-fixed" for n in range(11)])
def test_post_issuance_chain_order(fixed: int) -> None:
    policy_input, applied = _post_issuance_world(fixed)
    violation = post_issuance_chain(policy_input, NOW, applied=applied, owner_ref_enabled=True)
    if fixed == len(POST_ISSUANCE_ORDER):
        assert violation is None
    else:
        reason, message = POST_ISSUANCE_ORDER[fixed]
        assert violation == Violation(reason=reason, message=message)


def test_post_issuance_parse_error_comes_after_the_value_checks() -> None:
    policy_input, _ = _post_issuance_world(2)
    violation = post_issuance_chain(
        policy_input, NOW, applied=AppliedSecretFields(parse_error="bad"), owner_ref_enabled=False
    )
    assert violation == Violation(
        reason=Reason.MANAGED_FIELDS_PARSE_ERROR, message="failed to decode managed fields on Secret: bad"
    )
