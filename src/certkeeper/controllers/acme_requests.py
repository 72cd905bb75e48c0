"""The ACME path of the CertificateRequest signer: a request is signed through an Order.

Follows ``pkg/controller/certificaterequests/acme/acme.go``: the Order is named
``ComputeName(request, spec without request)`` exactly as cert-manager names it (so the two never
make two Orders for one request), owned by the request, carries its labels and annotations; the
request stays Pending while the Order works, fails with ``OrderFailed`` when the Order does, and is
issued with the Order's certificate once it is valid and carries the request's public key.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable

from cryptography import x509

from certkeeper.acme.ari import InvalidCertId, certificate_id
from certkeeper.api.acme import ORDER_FAILURE_STATES, Order, OrderSpec
from certkeeper.api.annotations import CERTIFICATE_NAME_KEY
from certkeeper.api.certmanager import CertificateRequest
from certkeeper.api.constants import TLS_CERT_KEY
from certkeeper.api.durations import DurationError, format_duration, parse_duration
from certkeeper.api.meta import ObjectMeta
from certkeeper.api.names import order_name, order_spec_go_json
from certkeeper.controllers.certificates.ari import ari_enabled, secret_issuer_matches
from certkeeper.controllers.context import Context
from certkeeper.controllers.writes import controller_ref
from certkeeper.issuers.base import GenericIssuer
from certkeeper.pki.errors import PkiError
from certkeeper.pki.keys import public_keys_equal, supported_public_key
from certkeeper.pki.pem import load_pem_certificate, load_pem_certificate_request
from certkeeper.pki.sans import format_ip_address
from certkeeper.policies.input import is_controlled_by
from certkeeper.runtime.outcome import Delete, Outcome, Write
from certkeeper.store.resources import ORDERS, encode

Report = Callable[[str, str], None]


def _left_by_earlier_request(order: Order, request: CertificateRequest) -> bool:
    """Whether ``order``'s controller is a CertificateRequest with ``request``'s name but another uid."""
    for ref in order.metadata.owner_references or ():
        if ref.controller:
            return ref.kind == "CertificateRequest" and ref.name == request.name and ref.uid != request.metadata.uid
    return False


class OrderNotOwned(Exception):
    """An Order with the computed name exists but belongs to someone else; retried with backoff."""


def _csr_names(csr: x509.CertificateSigningRequest) -> tuple[str, list[str], list[str]]:
    cn_attributes = csr.subject.get_attributes_for_oid(x509.NameOID.COMMON_NAME)
    common_name = str(cn_attributes[0].value) if cn_attributes else ""
    try:
        san = csr.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return common_name, [], []
    dns = list(san.get_values_for_type(x509.DNSName))
    ips = [
        format_ip_address(ip)
        for ip in san.get_values_for_type(x509.IPAddress)
        if isinstance(ip, ipaddress.IPv4Address | ipaddress.IPv6Address)
    ]
    return common_name, dns, ips


def resolve_replaces(request: CertificateRequest, ctx: Context) -> str:
    """The ARI CertID of the certificate this request renews ("" when unknown), as ``resolveReplacesCertID``."""
    name = (request.metadata.annotations or {}).get(CERTIFICATE_NAME_KEY, "")
    cert = ctx.certificate(f"{request.namespace}/{name}") if name else None
    if cert is None or not cert.spec.secret_name:
        return ""
    secret = ctx.secret(request.namespace, cert.spec.secret_name)
    if secret is None or not secret_issuer_matches(secret, cert):
        return ""
    pem = (secret.data or {}).get(TLS_CERT_KEY)
    if not pem:
        return ""
    try:
        return certificate_id(load_pem_certificate(pem, limits=ctx.options.pem_limits))
    except (PkiError, InvalidCertId):
        return ""


def build_order(
    request: CertificateRequest, issuer: GenericIssuer, csr: x509.CertificateSigningRequest, replaces: str = ""
) -> Order:
    acme = issuer.spec.acme
    assert acme is not None
    common_name, dns_names, ip_addresses = _csr_names(csr)
    duration = request.spec.duration if acme.enable_duration_feature else None
    normalised: str | None = None
    if duration is not None:
        try:
            normalised = format_duration(parse_duration(duration))
        except DurationError:
            normalised = duration
    ref = request.spec.issuer_ref
    spec_json = order_spec_go_json(
        issuer_name=ref.name,
        issuer_kind=ref.kind or "",
        issuer_group=ref.group or "",
        common_name=common_name,
        dns_names=dns_names,
        ip_addresses=ip_addresses,
        duration=normalised,
        profile=acme.profile or "",
        replaces=replaces,
    )
    return Order(
        api_version=Order.API_VERSION,
        metadata=ObjectMeta(
            name=order_name(request.name, spec_json),
            namespace=request.namespace,
            labels=dict(request.metadata.labels) if request.metadata.labels else None,
            annotations=dict(request.metadata.annotations) if request.metadata.annotations else None,
            owner_references=[controller_ref(request)],
        ),
        spec=OrderSpec(
            request=request.spec.request,
            issuer_ref=ref,
            common_name=common_name or None,
            dns_names=dns_names or None,
            ip_addresses=ip_addresses or None,
            duration=duration,
            profile=acme.profile or None,
            replaces=replaces or None,
        ),
    )


def decide_acme_request(
    request: CertificateRequest,
    issuer: GenericIssuer,
    ctx: Context,
    *,
    pending: Report,
    failed: Report,
) -> tuple[Outcome, bytes | None]:
    """What to do for an approved request of an ACME issuer; returns (writes, certificate when issued)."""
    limits = ctx.options.pem_limits
    try:
        csr = load_pem_certificate_request(request.spec.request, limits=limits)
    except PkiError as exc:
        failed("RequestParsingError", f"Failed to decode CSR in spec.request: {exc}")
        return Outcome(), None
    common_name, dns_names, ip_addresses = _csr_names(csr)
    if common_name and common_name not in dns_names and common_name not in ip_addresses:
        detail = f'"{common_name}" does not exist in [{" ".join(dns_names)}] or [{" ".join(ip_addresses)}]'
        failed(
            "InvalidOrder",
            "The CSR PEM requests a commonName that is not present in the list of dnsNames or ipAddresses. If "
            "a commonName is set, ACME requires that the value is also present in the list of dnsNames or "
            f"ipAddresses: {detail}",
        )
        return Outcome(), None
    replaces = resolve_replaces(request, ctx) if ari_enabled(issuer, ctx) else ""
    expected = build_order(request, issuer, csr, replaces)
    where = f"{expected.namespace}/{expected.name}"
    order = ctx.order(where)
    if order is None:
        pending("OrderCreated", f"Created Order resource {where}")
        return Outcome(creates=(Write(resource=ORDERS, object=encode(expected)),)), None
    if not is_controlled_by(order, request):
        if _left_by_earlier_request(order, request):
            # Its owner was a request of this name that is gone (names are unique): the garbage collector
            # would delete the Order; delete it now (with its uid) so issuance does not wait for that.
            uid = order.metadata.uid
            return Outcome(
                deletes=(Delete(resource=ORDERS, name=order.name, namespace=order.namespace, uid=uid),)
            ), None
        raise OrderNotOwned("found Order resource not owned by this CertificateRequest, retrying")
    status = order.status
    state = status.state if status else None
    if state in ORDER_FAILURE_STATES:
        reason = status.reason if status else ""
        waiting = f'Failed to wait for order resource "{expected.name}" to become ready'
        failed("OrderFailed", f'{waiting}: order is in "{state}" state: {reason}')
        return Outcome(), None
    if state != "valid":
        pending("OrderPending", f'Waiting on certificate issuance from order {where}: "{state or ""}"')
        return Outcome(), None
    if not status or not status.certificate:
        pending("OrderPending", f"Waiting for order-controller to add certificate data to Order {where}")
        return Outcome(), None
    try:
        certificate = load_pem_certificate(status.certificate, limits=limits)
        matches = public_keys_equal(
            supported_public_key(csr.public_key()), supported_public_key(certificate.public_key())
        )
    except PkiError:
        matches = False
    if not matches:
        # The Order's certificate is unusable for this request: start over with a new Order.
        return Outcome(
            deletes=(Delete(resource=ORDERS, name=order.name, namespace=order.namespace, uid=order.metadata.uid),)
        ), None
    return Outcome(), status.certificate
