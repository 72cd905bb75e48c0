"""The pure half of cert-manager's approval plugin: when RBAC is needed, which signer names, which refusals."""

from __future__ import annotations

import pytest

from certkeeper.api.certmanager import (
    CertificateRequest,
    CertificateRequestCondition,
    CertificateRequestSpec,
    CertificateRequestStatus,
)
from certkeeper.api.cmmeta import IssuerReference
from certkeeper.validation.approval import (
    approval_conditions_added,
    approval_forbidden,
    needs_approval_check,
    signer_group_kind,
    signer_names,
    signer_not_found,
)


def cr(*conditions: tuple[str, str]) -> CertificateRequest:
    status = CertificateRequestStatus(
        conditions=[CertificateRequestCondition(type=kind, status=value) for kind, value in conditions]  # type: ignore[arg-type]
    )
    spec = CertificateRequestSpec(issuer_ref=IssuerReference(name="my-issuer"), request=b"csr")
    return CertificateRequest(api_version=CertificateRequest.API_VERSION, spec=spec, status=status)


@pytest.mark.parametrize(
    ("old", "new", "added"),
    [
        ((), (("Approved", "True"),), True),
        ((), (("Denied", "True"),), True),
        ((("Ready", "False"),), (("Ready", "False"), ("Approved", "True")), True),
        ((("Approved", "True"),), (("Approved", "True"),), False),
        ((("Approved", "True"),), (("Approved", "True"), ("Denied", "True")), True),
        ((("Approved", "True"),), (), False),
        ((), (("Ready", "True"),), False),
    ],
    ids=["approve", "deny", "approve next to ready", "unchanged", "deny an approved", "remove", "other condition"],
)
def test_approval_conditions_added(
    old: tuple[tuple[str, str], ...], new: tuple[tuple[str, str], ...], added: bool
) -> None:
    assert approval_conditions_added(cr(*old), cr(*new)) is added
    assert needs_approval_check(cr(*old), cr(*new), subresource="status") is added
    # Only writes to the status subresource are checked: the main resource ignores status.
    assert needs_approval_check(cr(*old), cr(*new), subresource="") is False


def test_signer_names() -> None:
    assert signer_names(
        issuer_name="my-issuer", namespace="ns", resource="issuers", group="cert-manager.io", namespaced=True
    ) == ("issuers.cert-manager.io/*", "issuers.cert-manager.io/ns.my-issuer")
    assert signer_names(
        issuer_name="ca", namespace="ns", resource="clusterissuers", group="cert-manager.io", namespaced=False
    ) == ("clusterissuers.cert-manager.io/*", "clusterissuers.cert-manager.io/ca")
    assert signer_group_kind(IssuerReference(name="x")) == ("cert-manager.io", "Issuer")
    assert signer_group_kind(IssuerReference(name="x", kind="AWSPCAIssuer", group="awspca.cert-manager.io")) == (
        "awspca.cert-manager.io",
        "AWSPCAIssuer",
    )


def test_refusals() -> None:
    ref = IssuerReference(name="my-issuer", kind="FooIssuer", group="example.com")
    assert str(signer_not_found(ref)) == (
        "spec.issuerRef: Forbidden: referenced signer resource does not exist: {my-issuer FooIssuer example.com}"
    )
    assert str(approval_forbidden("alice", IssuerReference(name="ca"))) == (
        'status.conditions: Forbidden: user "alice" does not have permissions to set approved/denied conditions for '
        "issuer {ca  }"
    )
