"""Picking the current and next revision requests, and assembling the PolicyInput (gatherer.go)."""

from datetime import timedelta

import pytest
from msgspec.structs import replace

from certkeeper.api.certmanager import (
    ACMERenewalWindow,
    CertificateACMEARIStatus,
    CertificateACMEStatus,
    CertificateStatus,
)
from certkeeper.api.features import FeatureGates
from certkeeper.api.meta import OwnerReference
from certkeeper.policies.input import (
    DuplicateRevisionRequestsError,
    is_controlled_by,
    next_revision,
    policy_input,
    request_revision_is,
    select_revision_requests,
)

from .builders import NOW, make_certificate, make_request, make_secret, owned_by

REQUEST_PEM = b"-----BEGIN CERTIFICATE REQUEST-----\n-----END CERTIFICATE REQUEST-----\n"


def test_without_revision_only_the_next_request_revision_1_exists() -> None:
    certificate = make_certificate()
    first = make_request(certificate, revision=1, request_pem=REQUEST_PEM)
    selected = select_revision_requests(certificate, [first])
    assert selected.current is None
    assert selected.next is first
    assert next_revision(certificate) == 1


def test_with_revision_current_is_n_and_next_is_n_plus_1() -> None:
    certificate = make_certificate(status=CertificateStatus(revision=7))
    requests = [make_request(certificate, revision=r, request_pem=REQUEST_PEM) for r in (6, 7, 8, 9)]
    selected = select_revision_requests(certificate, requests)
    assert selected.current is requests[1]
    assert selected.next is requests[2]
    assert next_revision(certificate) == 8


@pytest.mark.parametrize(
    "owner",
    [
        owned_by("someone-else"),
        OwnerReference(api_version="cert-manager.io/v1", kind="Certificate", name="test", uid="cert-uid-1"),
    ],
    ids=["other-uid", "not-controller"],
)
def test_requests_not_controlled_by_the_certificate_are_ignored(owner: OwnerReference) -> None:
    certificate = make_certificate(status=CertificateStatus(revision=1))
    foreign = make_request(certificate, revision=1, request_pem=REQUEST_PEM, owner=owner)
    assert select_revision_requests(certificate, [foreign]).current is None


def test_only_the_first_controller_reference_counts() -> None:
    certificate = make_certificate()
    request = make_request(certificate, request_pem=REQUEST_PEM)
    request = replace(
        request, metadata=replace(request.metadata, owner_references=[owned_by("first"), owned_by(), owned_by()])
    )
    assert not is_controlled_by(request, certificate)


@pytest.mark.parametrize(("annotation", "matches"), [("3", True), ("03", False), (" 3", False), ("4", False)])
def test_revision_annotation_must_be_the_exact_decimal(annotation: str, matches: bool) -> None:
    request = make_request(make_certificate(), revision=annotation, request_pem=REQUEST_PEM)
    assert request_revision_is(request, 3) is matches


def test_request_without_revision_annotation_is_ignored() -> None:
    certificate = make_certificate()
    request = make_request(certificate, revision=None, request_pem=REQUEST_PEM)
    assert select_revision_requests(certificate, [request]).next is None


@pytest.mark.parametrize(
    ("revision", "duplicate", "message"),
    [
        (
            2,
            2,
            "multiple CertificateRequests were found for the 'current' revision 2, "
            "issuance is skipped until there are no more duplicates",
        ),
        (
            2,
            3,
            "multiple CertificateRequests were found for the 'next' revision 3, "
            "issuance is skipped until there are no more duplicates",
        ),
        (
            None,
            1,
            "multiple CertificateRequests were found for the 'next' revision 1, "
            "issuance is skipped until there are no more duplicates",
        ),
    ],
    ids=["current", "next", "first"],
)
def test_duplicates_are_an_error(revision: int | None, duplicate: int, message: str) -> None:
    certificate = make_certificate(status=CertificateStatus(revision=revision))
    twins = [make_request(certificate, revision=duplicate, request_pem=REQUEST_PEM, name=n) for n in ("a", "b")]
    with pytest.raises(DuplicateRevisionRequestsError) as info:
        select_revision_requests(certificate, twins)
    assert str(info.value) == message


WINDOW = ACMERenewalWindow(start=NOW, end=NOW + timedelta(days=1))


@pytest.mark.parametrize(
    ("gate", "status", "expected"),
    [
        (
            True,
            CertificateStatus(acme=CertificateACMEStatus(ari=CertificateACMEARIStatus(suggested_window=WINDOW))),
            WINDOW,
        ),
        (
            False,
            CertificateStatus(acme=CertificateACMEStatus(ari=CertificateACMEARIStatus(suggested_window=WINDOW))),
            None,
        ),
        (True, CertificateStatus(acme=CertificateACMEStatus(ari=CertificateACMEARIStatus())), None),
        (True, CertificateStatus(), None),
        (True, None, None),
    ],
    ids=["gate-on", "gate-off", "no-window", "no-acme", "no-status"],
)
def test_policy_input_takes_the_ari_window_only_with_the_gate(
    gate: bool, status: CertificateStatus | None, expected: ACMERenewalWindow | None
) -> None:
    certificate = make_certificate(status=status)
    secret = make_secret()
    request = make_request(certificate, request_pem=REQUEST_PEM)
    built = policy_input(certificate, secret, [request], gates=FeatureGates(acme_use_ari=gate))
    assert built.ari_window == expected
    assert built.certificate is certificate
    assert built.secret is secret
    assert built.next_revision_request is request
    assert built.current_revision_request is None
