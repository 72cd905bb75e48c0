"""Adapter from the API models (``certkeeper.api.certmanager``) to the pki layer's own inputs. Pure.

The rest of ``certkeeper.pki`` takes frozen pki values (:class:`CertificateTemplate`, :class:`KeySpec`,
:class:`Renewal`...) so it never depends on the wire models; this module is the one place that reads
a ``CertificateSpec`` or ``CertificateRequest`` for pki, applying cert-manager's implicit defaults the
way ``pkg/util/pki`` does (unset is not the same as empty where upstream distinguishes them). It also
completes ``RequestMatchesSpec`` (``pkg/util/pki/match.go``) with the issuerRef comparison, where
an unset kind or group equals its default.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from certkeeper.api.certmanager import (
    CertificatePrivateKey,
    CertificateRequest,
    CertificateRequestSpec,
    CertificateSpec,
    NameConstraintItem,
)
from certkeeper.api.defaults import issuer_group, issuer_kind
from certkeeper.api.durations import DurationError, parse_duration
from certkeeper.api.features import FeatureGates
from certkeeper.pki.errors import InvalidTemplate, UnsupportedKey
from certkeeper.pki.keys import KeyAlgorithm, KeyEncoding, KeySpec, PrivateKey, PublicKey, SignatureAlgorithm
from certkeeper.pki.match import RequestFields, private_key_mismatches, request_mismatches
from certkeeper.pki.pem import DEFAULT_PEM_LIMITS, PemLimits, load_pem_certificate_request
from certkeeper.pki.renewal import Renewal, RenewalWindow, renewal_time
from certkeeper.pki.subject import SubjectFields
from certkeeper.pki.template import (
    CertificateTemplate,
    CsrOptions,
    NameConstraintItems,
    NameConstraintsSpec,
    OtherName,
)


def _duration(text: str | None, field: str) -> timedelta | None:
    if text is None:
        return None
    try:
        return parse_duration(text)
    except DurationError as exc:
        raise InvalidTemplate(f"{field}: {exc}") from exc


def key_spec(private_key: CertificatePrivateKey | None) -> KeySpec:
    """``spec.privateKey`` algorithm and size (unset algorithm is RSA, unset size the default)."""
    if private_key is None:
        return KeySpec()
    try:
        algorithm = KeyAlgorithm(private_key.algorithm or KeyAlgorithm.RSA)
    except ValueError as exc:
        raise UnsupportedKey(f"unsupported private key algorithm specified: {private_key.algorithm}") from exc
    return KeySpec(algorithm=algorithm, size=private_key.size or 0)


def key_encoding(private_key: CertificatePrivateKey | None) -> KeyEncoding:
    """``spec.privateKey.encoding``, PKCS1 when unset."""
    if private_key is None or private_key.encoding is None:
        return KeyEncoding.PKCS1
    return KeyEncoding(private_key.encoding)


def _items(item: NameConstraintItem | None) -> NameConstraintItems | None:
    if item is None:
        return None
    return NameConstraintItems(
        dns_domains=tuple(item.dns_domains or ()),
        ip_ranges=tuple(item.ip_ranges or ()),
        email_addresses=tuple(item.email_addresses or ()),
        uri_domains=tuple(item.uri_domains or ()),
    )


def certificate_template(spec: CertificateSpec) -> CertificateTemplate:
    """What ``spec`` asks for, as the pki layer's template."""
    subject = spec.subject
    fields = SubjectFields()
    if subject is not None:
        fields = SubjectFields(
            organizations=tuple(subject.organizations or ()),
            countries=tuple(subject.countries or ()),
            organizational_units=tuple(subject.organizational_units or ()),
            localities=tuple(subject.localities or ()),
            provinces=tuple(subject.provinces or ()),
            street_addresses=tuple(subject.street_addresses or ()),
            postal_codes=tuple(subject.postal_codes or ()),
            serial_number=subject.serial_number or "",
        )
    other_names = None
    if spec.other_names is not None:
        other_names = tuple(
            OtherName(oid=name.oid or "", utf8_value=name.utf8_value or "") for name in spec.other_names
        )
    constraints = None
    if spec.name_constraints is not None:
        constraints = NameConstraintsSpec(
            critical=bool(spec.name_constraints.critical),
            permitted=_items(spec.name_constraints.permitted),
            excluded=_items(spec.name_constraints.excluded),
        )
    return CertificateTemplate(
        common_name=spec.common_name or "",
        literal_subject=spec.literal_subject or "",
        subject=fields,
        dns_names=tuple(spec.dns_names or ()),
        ip_addresses=tuple(spec.ip_addresses or ()),
        uris=tuple(spec.uris or ()),
        email_addresses=tuple(spec.email_addresses or ()),
        other_names=other_names,
        is_ca=bool(spec.is_ca),
        usages=tuple(spec.usages or ()),
        key=key_spec(spec.private_key),
        signature_algorithm=None if spec.signature_algorithm is None else SignatureAlgorithm(spec.signature_algorithm),
        encode_usages_in_request=spec.encode_usages_in_request is not False,
        duration=_duration(spec.duration, "spec.duration"),
        name_constraints=constraints,
    )


def csr_options(gates: FeatureGates) -> CsrOptions:
    """The CSR options the request manager uses under ``gates``."""
    return CsrOptions.from_feature_gates(gates)


def renewal(spec: CertificateSpec) -> Renewal | None:
    """``spec.renewal`` (None when unset; an unset policy is RenewBefore)."""
    if spec.renewal is None:
        return None
    windows = tuple(
        RenewalWindow(
            cron=window.cron,
            window_duration=_duration(window.window_duration, "spec.renewal.windows.windowDuration"),
            timezone=window.timezone or "",
        )
        for window in spec.renewal.windows or ()
    )
    return Renewal(policy=spec.renewal.policy or "RenewBefore", windows=windows)


def certificate_renewal_time(
    spec: CertificateSpec,
    not_before: datetime,
    not_after: datetime,
    *,
    ari_window: tuple[datetime, datetime] | None = None,
    ari_jitter: float = 0.0,
) -> datetime | None:
    """When a certificate issued for ``spec`` with this validity should be renewed (None: never)."""
    return renewal_time(
        not_before,
        not_after,
        renew_before=_duration(spec.renew_before, "spec.renewBefore"),
        renew_before_percentage=spec.renew_before_percentage,
        renewal=renewal(spec),
        ari_window=ari_window,
        ari_jitter=ari_jitter,
    )


def request_fields(spec: CertificateRequestSpec) -> RequestFields:
    """The CertificateRequest fields compared besides its CSR."""
    return RequestFields(
        is_ca=bool(spec.is_ca),
        usages=tuple(spec.usages or ()),
        duration=_duration(spec.duration, "spec.duration"),
    )


def request_matches_spec(
    request: CertificateRequest, spec: CertificateSpec, *, limits: PemLimits = DEFAULT_PEM_LIMITS
) -> list[str]:
    """Fields of ``spec`` that ``request`` no longer matches (cert-manager's ``RequestMatchesSpec``).

    Raises a ``PkiError`` when the CSR cannot be decoded or compared; callers treat that as
    "no verdict", as upstream does.
    """
    csr = load_pem_certificate_request(request.spec.request, limits=limits)
    violations = request_mismatches(csr, certificate_template(spec), request_fields(request.spec))
    wanted, have = spec.issuer_ref, request.spec.issuer_ref
    if (
        have.name != wanted.name
        or issuer_kind(have) != issuer_kind(wanted)
        or issuer_group(have) != issuer_group(wanted)
    ):
        violations.append("spec.issuerRef")
    return violations


def private_key_matches_spec(key: PrivateKey | PublicKey, spec: CertificateSpec) -> list[str]:
    """Violations of ``spec.privateKey`` by ``key`` (cert-manager's ``PrivateKeyMatchesSpec``)."""
    return private_key_mismatches(key, key_spec(spec.private_key))
