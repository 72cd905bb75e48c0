"""cert-manager's defaulting, as pure functions: persisted defaults and the implicit controller defaults.

Two kinds of default exist, and both live here so that every layer shares one definition:

* Persisted defaults, which the API server writes into the object. The scheme defaulters set
  ``issuerRef.kind``/``group`` on Certificate, CertificateRequest, Order and Challenge; the CRD
  ``default:`` clauses set ``acme.renewalInformationSource: ARI``, a solver HTTPRoute parentRef's
  ``group``/``kind`` and an imagePullSecret's ``name``. :func:`apply_defaults` applies them and
  returns a new object (models are frozen); it never changes a value that is set. CRD defaults apply
  only to absent fields (``None``), the scheme defaulters also to empty strings, as in Go.
* Implicit defaults, which controllers assume but never write (duration, key algorithm/size/
  encoding, rotation policy, usages, revisionHistoryLimit...). The accessors below return the
  effective value.

Follows ``internal/apis/certmanager/v1/defaults.go``, ``internal/apis/acme/v1/defaults.go``,
``SetRuntimeDefaults_Certificate``, ``pkg/util/pki/generate.go`` and the CRD defaults. Pure.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from typing import Final, TypeVar, overload

from msgspec.structs import replace

from certkeeper.api import constants as c
from certkeeper.api.acme import ACMEIssuer, Challenge, Order
from certkeeper.api.acme_solvers import (
    ACMEChallengeSolver,
    ACMEChallengeSolverHTTP01IngressPodTemplate,
    ImagePullSecret,
    ParentReference,
)
from certkeeper.api.certmanager import (
    Certificate,
    CertificateRequest,
    CertificateSpec,
    ClusterIssuer,
    Issuer,
    IssuerSpec,
    JKSKeystore,
    PKCS12Keystore,
)
from certkeeper.api.cmmeta import IssuerReference, SecretKeySelector
from certkeeper.api.durations import parse_duration
from certkeeper.api.meta import Resource

#: CRD default of ``spec.acme.renewalInformationSource``.
DEFAULT_RENEWAL_INFORMATION_SOURCE: Final = "ARI"
#: CRD defaults of a solver HTTPRoute parentRef (from Gateway API's ParentReference).
DEFAULT_PARENT_REF_GROUP: Final = "gateway.networking.k8s.io"
DEFAULT_PARENT_REF_KIND: Final = "Gateway"

_R = TypeVar("_R", bound=Resource)

# --- Persisted defaults ------------------------------------------------------------------------------


def default_issuer_ref(ref: IssuerReference) -> IssuerReference:
    """Set an empty ``kind`` to ``Issuer`` and an empty ``group`` to ``cert-manager.io``."""
    kind = ref.kind or c.DEFAULT_ISSUER_KIND
    group = ref.group or c.DEFAULT_ISSUER_GROUP
    if kind == ref.kind and group == ref.group:
        return ref
    return replace(ref, kind=kind, group=group)


def default_parent_ref(ref: ParentReference) -> ParentReference:
    """Apply the CRD defaults of a parentRef: group ``gateway.networking.k8s.io``, kind ``Gateway``."""
    if ref.group is not None and ref.kind is not None:
        return ref
    return replace(
        ref,
        group=DEFAULT_PARENT_REF_GROUP if ref.group is None else ref.group,
        kind=DEFAULT_PARENT_REF_KIND if ref.kind is None else ref.kind,
    )


def _default_pod_template(
    template: ACMEChallengeSolverHTTP01IngressPodTemplate | None,
) -> ACMEChallengeSolverHTTP01IngressPodTemplate | None:
    if template is None or template.spec is None or not template.spec.image_pull_secrets:
        return template
    secrets = [s if s.name is not None else ImagePullSecret(name="") for s in template.spec.image_pull_secrets]
    if secrets == template.spec.image_pull_secrets:
        return template
    return replace(template, spec=replace(template.spec, image_pull_secrets=secrets))


def default_solver(solver: ACMEChallengeSolver) -> ACMEChallengeSolver:
    """Apply the CRD defaults inside one solver (parentRefs, imagePullSecrets)."""
    http01 = solver.http01
    if http01 is None:
        return solver
    ingress = http01.ingress
    if ingress is not None:
        ingress = replace(ingress, pod_template=_default_pod_template(ingress.pod_template))
    route = http01.gateway_http_route
    if route is not None:
        parent_refs = None if route.parent_refs is None else [default_parent_ref(r) for r in route.parent_refs]
        route = replace(route, parent_refs=parent_refs, pod_template=_default_pod_template(route.pod_template))
    new = replace(http01, ingress=ingress, gateway_http_route=route)
    return solver if new == http01 else replace(solver, http01=new)


def default_acme_issuer(acme: ACMEIssuer) -> ACMEIssuer:
    """Apply the CRD defaults of an ACME issuer (renewalInformationSource, and those of its solvers)."""
    source = acme.renewal_information_source
    solvers = acme.solvers
    new = replace(
        acme,
        renewal_information_source=DEFAULT_RENEWAL_INFORMATION_SOURCE if source is None else source,
        solvers=None if solvers is None else [default_solver(s) for s in solvers],
    )
    return acme if new == acme else new


def default_issuer_spec(spec: IssuerSpec) -> IssuerSpec:
    """Apply the CRD defaults of an Issuer/ClusterIssuer spec."""
    if spec.acme is None:
        return spec
    acme = default_acme_issuer(spec.acme)
    return spec if acme is spec.acme else replace(spec, acme=acme)


def default_certificate(cert: Certificate) -> Certificate:
    """Default ``spec.issuerRef`` (Go ``SetObjectDefaults_Certificate``)."""
    ref = default_issuer_ref(cert.spec.issuer_ref)
    return cert if ref is cert.spec.issuer_ref else replace(cert, spec=replace(cert.spec, issuer_ref=ref))


def default_certificate_request(request: CertificateRequest) -> CertificateRequest:
    """Default ``spec.issuerRef`` (Go ``SetObjectDefaults_CertificateRequest``)."""
    ref = default_issuer_ref(request.spec.issuer_ref)
    if ref is request.spec.issuer_ref:
        return request
    return replace(request, spec=replace(request.spec, issuer_ref=ref))


def default_order(order: Order) -> Order:
    """Default ``spec.issuerRef`` (Go ``SetObjectDefaults_Order``)."""
    ref = default_issuer_ref(order.spec.issuer_ref)
    return order if ref is order.spec.issuer_ref else replace(order, spec=replace(order.spec, issuer_ref=ref))


def default_challenge(challenge: Challenge) -> Challenge:
    """Default ``spec.issuerRef`` (Go ``SetObjectDefaults_Challenge``) and the CRD defaults of its solver."""
    spec = challenge.spec
    new = replace(spec, issuer_ref=default_issuer_ref(spec.issuer_ref), solver=default_solver(spec.solver))
    return challenge if new == spec else replace(challenge, spec=new)


@overload
def apply_defaults(obj: Certificate) -> Certificate: ...
@overload
def apply_defaults(obj: CertificateRequest) -> CertificateRequest: ...
@overload
def apply_defaults(obj: Issuer) -> Issuer: ...
@overload
def apply_defaults(obj: ClusterIssuer) -> ClusterIssuer: ...
@overload
def apply_defaults(obj: Order) -> Order: ...
@overload
def apply_defaults(obj: Challenge) -> Challenge: ...
@overload
def apply_defaults(obj: _R) -> _R: ...
def apply_defaults(obj: Resource) -> Resource:
    """Return ``obj`` with every persisted default applied, as the API server would store it.

    Kinds without defaults (Secret...) are returned unchanged. Idempotent.
    """
    if isinstance(obj, Certificate):
        return default_certificate(obj)
    if isinstance(obj, CertificateRequest):
        return default_certificate_request(obj)
    if isinstance(obj, Issuer | ClusterIssuer):
        spec = default_issuer_spec(obj.spec)
        return obj if spec is obj.spec else replace(obj, spec=spec)
    if isinstance(obj, Order):
        return default_order(obj)
    if isinstance(obj, Challenge):
        return default_challenge(obj)
    return obj


# --- Implicit defaults: issuer references -----------------------------------------------------------


def issuer_kind(ref: IssuerReference) -> str:
    """The referenced kind, ``Issuer`` when empty."""
    return ref.kind or c.DEFAULT_ISSUER_KIND


def issuer_group(ref: IssuerReference) -> str:
    """The referenced API group, ``cert-manager.io`` when empty."""
    return ref.group or c.DEFAULT_ISSUER_GROUP


def issuer_refs_equal(a: IssuerReference, b: IssuerReference) -> bool:
    """Whether two references name the same issuer, treating unset kind/group as their defaults."""
    return a.name == b.name and issuer_kind(a) == issuer_kind(b) and issuer_group(a) == issuer_group(b)


def secret_key(selector: SecretKeySelector, default: str) -> str:
    """The selected key of a SecretKeySelector, or the field's documented default when unset or empty."""
    return selector.key or default


# --- Implicit defaults: Certificate -----------------------------------------------------------------


def effective_duration(duration: str | None) -> timedelta:
    """The requested lifetime: ``duration`` parsed, or 90 days (2160h) when unset.

    Raises :class:`certkeeper.api.durations.DurationError` when ``duration`` is not a Go duration.
    """
    if not duration:
        return c.DEFAULT_DURATION
    return parse_duration(duration)


def effective_usages(usages: Sequence[c.KeyUsage] | None) -> tuple[c.KeyUsage, ...]:
    """The requested usages; ``digital signature`` and ``key encipherment`` when none are given.

    ``isCA`` adds ``cert sign`` when the key usage extension is built; that is not a default of the
    list and stays with the code that builds the extension.
    """
    return tuple(usages) if usages else c.DEFAULT_USAGES


def private_key_algorithm(spec: CertificateSpec) -> c.PrivateKeyAlgorithm:
    """The key algorithm, RSA when unset."""
    key = spec.private_key
    return key.algorithm if key is not None and key.algorithm else c.DEFAULT_PRIVATE_KEY_ALGORITHM


def private_key_size(spec: CertificateSpec) -> int | None:
    """The key size: RSA bits (2048 when unset), ECDSA curve bits (256 when unset), None for Ed25519.

    A size of 0 counts as unset, as in Go.
    """
    algorithm = private_key_algorithm(spec)
    size = spec.private_key.size if spec.private_key is not None else None
    if algorithm == c.ED25519:
        return None
    if size:
        return size
    return c.DEFAULT_RSA_KEY_SIZE if algorithm == c.RSA else c.DEFAULT_ECDSA_KEY_SIZE


def private_key_encoding(spec: CertificateSpec) -> c.PrivateKeyEncoding:
    """The declared key encoding, PKCS1 when unset.

    PKCS1 means "the algorithm's traditional format": PKCS#1 for RSA, SEC 1 for ECDSA, and PKCS#8 for
    Ed25519 (which has no other); the PEM encoder applies that mapping.
    """
    key = spec.private_key
    return key.encoding if key is not None and key.encoding else c.DEFAULT_PRIVATE_KEY_ENCODING


def rotation_policy(spec: CertificateSpec) -> c.PrivateKeyRotationPolicy:
    """The private key rotation policy, Always when unset (Go ``SetRuntimeDefaults_Certificate``)."""
    key = spec.private_key
    return key.rotation_policy if key is not None and key.rotation_policy else c.DEFAULT_ROTATION_POLICY


def revision_history_limit(spec: CertificateSpec) -> int:
    """How many CertificateRequests to keep, 1 when unset."""
    limit = spec.revision_history_limit
    return c.DEFAULT_REVISION_HISTORY_LIMIT if limit is None else limit


def encode_usages_in_request(spec: CertificateSpec) -> bool:
    """Whether the CSR carries KeyUsage/ExtendedKeyUsage extensions, true when unset."""
    return spec.encode_usages_in_request is not False


def is_ca(spec: CertificateSpec) -> bool:
    """Whether a CA certificate is requested, false when unset."""
    return spec.is_ca is True


def renewal_disabled(spec: CertificateSpec) -> bool:
    """Whether automatic renewal is switched off (``renewal.policy: Disabled``)."""
    return spec.renewal is not None and spec.renewal.policy == c.RENEWAL_POLICY_DISABLED


def jks_alias(jks: JKSKeystore) -> str:
    """The alias of the key entry of a JKS keystore, ``certificate`` when unset."""
    return jks.alias if jks.alias is not None else c.DEFAULT_JKS_ALIAS


def pkcs12_profile(pkcs12: PKCS12Keystore) -> c.PKCS12Profile:
    """The encryption profile of a PKCS#12 keystore, LegacyRC2 when unset."""
    return pkcs12.profile or c.DEFAULT_PKCS12_PROFILE


__all__ = [
    "DEFAULT_PARENT_REF_GROUP",
    "DEFAULT_PARENT_REF_KIND",
    "DEFAULT_RENEWAL_INFORMATION_SOURCE",
    "apply_defaults",
    "default_acme_issuer",
    "default_certificate",
    "default_certificate_request",
    "default_challenge",
    "default_issuer_ref",
    "default_issuer_spec",
    "default_order",
    "default_parent_ref",
    "default_solver",
    "effective_duration",
    "effective_usages",
    "encode_usages_in_request",
    "is_ca",
    "issuer_group",
    "issuer_kind",
    "issuer_refs_equal",
    "jks_alias",
    "pkcs12_profile",
    "private_key_algorithm",
    "private_key_encoding",
    "private_key_size",
    "renewal_disabled",
    "revision_history_limit",
    "rotation_policy",
    "secret_key",
]
