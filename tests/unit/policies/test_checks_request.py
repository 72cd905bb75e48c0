"""Checks against the current CertificateRequest, and the fallback comparison with the certificate."""

import pytest
from msgspec.structs import replace

from certkeeper.api.certmanager import Certificate, CertificateRequest
from certkeeper.api.cmmeta import IssuerReference
from certkeeper.api.constants import TLS_CERT_KEY, TLS_PRIVATE_KEY_KEY
from certkeeper.api.core import Secret
from certkeeper.policies.checks.request import (
    current_certificate_mismatches_spec,
    current_request_mismatches_spec,
    secret_public_key_differs_from_current_request,
)
from certkeeper.policies.input import PolicyInput
from certkeeper.policies.reasons import Reason, Violation

from .builders import NOW, OTHER_KEY, certificate_pem, key_pem, make_certificate, make_request, make_secret

GROUP_ISSUER = IssuerReference(name="testissuer", kind="IssuerKind", group="group.example.com")


def _input(
    certificate: Certificate | None = None,
    secret: Secret | None = None,
    request: CertificateRequest | None = None,
) -> PolicyInput:
    return PolicyInput(certificate=certificate or make_certificate(), secret=secret, current_revision_request=request)


def test_no_current_request_means_nothing_to_compare_keys_with() -> None:
    assert secret_public_key_differs_from_current_request(_input(secret=make_secret()), NOW) is None


def test_secret_key_differs_from_current_request() -> None:
    certificate = make_certificate()
    request = make_request(certificate, key=OTHER_KEY)
    assert secret_public_key_differs_from_current_request(
        _input(certificate, make_secret(), request), NOW
    ) == Violation(
        reason=Reason.SECRET_MISMATCH,
        message="Secret contains a private key that does not match the current CertificateRequest",
    )


def test_secret_key_matches_current_request() -> None:
    certificate = make_certificate()
    assert (
        secret_public_key_differs_from_current_request(
            _input(certificate, make_secret(), make_request(certificate)), NOW
        )
        is None
    )


def test_undecodable_current_request() -> None:
    certificate = make_certificate()
    request = make_request(certificate, request_pem=b"not a csr")
    assert secret_public_key_differs_from_current_request(
        _input(certificate, make_secret(), request), NOW
    ) == Violation(
        reason=Reason.INVALID_CERTIFICATE_REQUEST,
        message="Failed to decode current CertificateRequest: "
        "error decoding certificate request PEM block: no PEM data was found in given input",
    )


def test_request_key_check_reports_missing_key_data_itself() -> None:
    certificate = make_certificate()
    secret = make_secret(data={TLS_CERT_KEY: certificate_pem()})
    violation = secret_public_key_differs_from_current_request(
        _input(certificate, secret, make_request(certificate)), NOW
    )
    assert violation == Violation(
        reason=Reason.MISSING_DATA, message="Issuing certificate as Secret does not contain a private key"
    )


def test_request_changed() -> None:
    certificate = make_certificate(common_name="new.example.com", dns_names=None, issuer_ref=GROUP_ISSUER)
    old_spec = replace(certificate.spec, common_name="old.example.com")
    request = make_request(certificate, csr_spec=old_spec)
    assert current_request_mismatches_spec(_input(certificate, make_secret(), request), NOW) == Violation(
        reason=Reason.REQUEST_CHANGED,
        message="Fields on existing CertificateRequest resource not up to date: [spec.commonName]",
    )


def test_request_changed_lists_every_field_in_upstream_order() -> None:
    certificate = make_certificate(dns_names=["a.example.com"], issuer_ref=IssuerReference(name="new"))
    request = make_request(certificate, csr_spec=replace(certificate.spec, dns_names=["b.example.com"]))
    request = replace(request, spec=replace(request.spec, issuer_ref=IssuerReference(name="old"), is_ca=True))
    violation = current_request_mismatches_spec(_input(certificate, make_secret(), request), NOW)
    assert violation is not None
    assert violation.message == (
        "Fields on existing CertificateRequest resource not up to date: [spec.dnsNames spec.isCA spec.issuerRef]"
    )


def test_request_matching_spec_ignores_the_certificate_in_the_secret() -> None:
    certificate = make_certificate(issuer_ref=GROUP_ISSUER)
    secret = make_secret(data={TLS_PRIVATE_KEY_KEY: key_pem(), TLS_CERT_KEY: certificate_pem(common_name="other")})
    assert current_request_mismatches_spec(_input(certificate, secret, make_request(certificate)), NOW) is None


def test_issuer_ref_defaults_do_not_count_as_a_change() -> None:
    certificate = make_certificate(issuer_ref=IssuerReference(name="ca", kind="Issuer", group="cert-manager.io"))
    request = make_request(certificate)
    request = replace(request, spec=replace(request.spec, issuer_ref=IssuerReference(name="ca")))
    assert current_request_mismatches_spec(_input(certificate, make_secret(), request), NOW) is None


def test_unreadable_current_request_is_no_reason_to_reissue() -> None:
    certificate = make_certificate()
    request = make_request(certificate, request_pem=b"garbage")
    assert current_request_mismatches_spec(_input(certificate, make_secret(), request), NOW) is None


def test_fallback_to_the_certificate_without_a_current_request() -> None:
    certificate = make_certificate(common_name="new.example.com", dns_names=None)
    secret = make_secret(
        data={
            TLS_PRIVATE_KEY_KEY: key_pem(),
            TLS_CERT_KEY: certificate_pem(common_name="old.example.com", dns_names=()),
        }
    )
    expected = Violation(
        reason=Reason.SECRET_MISMATCH,
        message="Issuing certificate as Existing issued Secret is not up to date for spec: [spec.commonName]",
    )
    assert current_request_mismatches_spec(_input(certificate, secret), NOW) == expected
    assert current_certificate_mismatches_spec(_input(certificate, secret), NOW) == expected


@pytest.mark.parametrize(
    ("common_name", "dns_names", "cert_common_name", "cert_dns_names"),
    [
        ("example.com", ["example.com"], "example.com", ["example.com"]),
        ("example.com", None, "", ["example.com"]),
        (None, ["example.com", "www.example.com"], "www.example.com", ["example.com"]),
    ],
    ids=["same", "cn-moved-to-san", "san-promoted-to-cn"],
)
def test_fallback_lets_names_move_between_common_name_and_dns_names(
    common_name: str | None, dns_names: list[str] | None, cert_common_name: str, cert_dns_names: list[str]
) -> None:
    certificate = make_certificate(common_name=common_name, dns_names=dns_names)
    pem = certificate_pem(common_name=cert_common_name, dns_names=cert_dns_names)
    secret = make_secret(data={TLS_PRIVATE_KEY_KEY: key_pem(), TLS_CERT_KEY: pem})
    assert current_request_mismatches_spec(_input(certificate, secret), NOW) is None


def test_fallback_compares_ip_addresses() -> None:
    certificate = make_certificate(ip_addresses=["10.0.0.1"])
    secret = make_secret(
        data={TLS_PRIVATE_KEY_KEY: key_pem(), TLS_CERT_KEY: certificate_pem(ip_addresses=["10.0.0.2"])}
    )
    violation = current_request_mismatches_spec(_input(certificate, secret), NOW)
    assert violation is not None
    assert violation.message.endswith("[spec.ipAddresses]")


def test_fallback_reports_an_unparseable_certificate() -> None:
    secret = make_secret(data={TLS_PRIVATE_KEY_KEY: key_pem(), TLS_CERT_KEY: b"test"})
    violation = current_request_mismatches_spec(_input(secret=secret), NOW)
    assert violation == Violation(
        reason=Reason.INVALID_CERTIFICATE,
        message="Issuing certificate as Secret contains an invalid certificate: "
        "error decoding certificate PEM block: no valid certificates found",
    )


def test_fallback_without_a_secret_reports_it() -> None:
    violation = current_certificate_mismatches_spec(_input(), NOW)
    assert violation is not None
    assert violation.reason is Reason.DOES_NOT_EXIST
