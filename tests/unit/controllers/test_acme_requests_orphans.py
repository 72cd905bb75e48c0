"""An Order left by an earlier CertificateRequest of the same name is recognised as an orphan (its
owner is gone: names are unique); an Order controlled by anything else is not."""

from __future__ import annotations

from certkeeper.api.acme import Order, OrderSpec
from certkeeper.api.certmanager import CertificateRequest, CertificateRequestSpec
from certkeeper.api.cmmeta import IssuerReference
from certkeeper.api.meta import ObjectMeta, OwnerReference
from certkeeper.controllers.acme_requests import _left_by_earlier_request


def _request(uid: str) -> CertificateRequest:
    spec = CertificateRequestSpec(request=b"csr", issuer_ref=IssuerReference(name="acme"))
    return CertificateRequest(
        api_version=CertificateRequest.API_VERSION,
        metadata=ObjectMeta(name="leaf-1", namespace="ns", uid=uid),
        spec=spec,
    )


def _order(*refs: OwnerReference) -> Order:
    meta = ObjectMeta(name="leaf-1-123", namespace="ns", owner_references=list(refs) or None)
    return Order(
        api_version=Order.API_VERSION,
        metadata=meta,
        spec=OrderSpec(request=b"csr", issuer_ref=IssuerReference(name="acme")),
    )


def _ref(kind: str, name: str, uid: str, *, controller: bool = True) -> OwnerReference:
    return OwnerReference(
        api_version="cert-manager.io/v1", kind=kind, name=name, uid=uid, controller=controller or None
    )


def test_an_order_of_a_gone_request_with_the_same_name_is_an_orphan() -> None:
    assert _left_by_earlier_request(_order(_ref("CertificateRequest", "leaf-1", "old")), _request("new"))


def test_an_order_of_this_request_or_of_something_else_is_not() -> None:
    request = _request("new")
    assert not _left_by_earlier_request(_order(_ref("CertificateRequest", "leaf-1", "new")), request)
    assert not _left_by_earlier_request(_order(_ref("CertificateRequest", "other-1", "old")), request)
    assert not _left_by_earlier_request(_order(_ref("Certificate", "leaf-1", "old")), request)
    assert not _left_by_earlier_request(_order(_ref("CertificateRequest", "leaf-1", "old", controller=False)), request)
    assert not _left_by_earlier_request(_order(), request)
