"""Persisted defaults (scheme + CRD) and the implicit controller defaults."""

from __future__ import annotations

import pathlib
from datetime import timedelta

import pytest
from hypothesis import given

from certkeeper.api import defaults as d
from certkeeper.api.acme import Challenge, Order
from certkeeper.api.acme_solvers import (
    ACMEChallengeSolver,
    ACMEChallengeSolverHTTP01,
    ACMEChallengeSolverHTTP01GatewayHTTPRoute,
    ACMEChallengeSolverHTTP01Ingress,
    ACMEChallengeSolverHTTP01IngressPodSpec,
    ACMEChallengeSolverHTTP01IngressPodTemplate,
    ImagePullSecret,
    ParentReference,
)
from certkeeper.api.certmanager import (
    Certificate,
    CertificatePrivateKey,
    CertificateRenewal,
    CertificateRequest,
    CertificateSpec,
    ClusterIssuer,
    Issuer,
    JKSKeystore,
    PKCS12Keystore,
)
from certkeeper.api.cmmeta import IssuerReference, SecretKeySelector
from certkeeper.api.core import Secret
from certkeeper.api.durations import DurationError
from certkeeper.api.manifests import dump, load_objects
from certkeeper.api.meta import Resource
from tests.unit.api.model_strategies import models

FIXTURES = pathlib.Path(__file__).parents[2] / "fixtures" / "manifests"


def _load(name: str) -> list[Resource]:
    return list(load_objects((FIXTURES / name).read_text()))


def _spec(**fields: object) -> CertificateSpec:
    return CertificateSpec(secret_name="s", issuer_ref=IssuerReference(name="i"), **fields)  # type: ignore[arg-type]


# --- issuerRef -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "group", "want_kind", "want_group"),
    [
        (None, None, "Issuer", "cert-manager.io"),
        ("", "", "Issuer", "cert-manager.io"),
        ("ClusterIssuer", None, "ClusterIssuer", "cert-manager.io"),
        (None, "example.com", "Issuer", "example.com"),
        ("AWSPCAIssuer", "awspca.cert-manager.io", "AWSPCAIssuer", "awspca.cert-manager.io"),
    ],
    ids=["unset", "empty", "cluster-issuer", "external-group", "external-all-set"],
)
def test_default_issuer_ref(kind: str | None, group: str | None, want_kind: str, want_group: str) -> None:
    ref = d.default_issuer_ref(IssuerReference(name="n", kind=kind, group=group))
    assert (ref.name, ref.kind, ref.group) == ("n", want_kind, want_group)


def test_default_issuer_ref_returns_the_same_object_when_nothing_changes() -> None:
    ref = IssuerReference(name="n", kind="Issuer", group="cert-manager.io")
    assert d.default_issuer_ref(ref) is ref


@pytest.mark.parametrize(
    "obj",
    [
        Certificate(api_version=Certificate.API_VERSION, spec=_spec()),
        *_load("certificate-full.yaml"),
        *_load("certificaterequest.yaml"),
        *_load("order.yaml"),
        *_load("challenge.yaml"),
    ],
    ids=lambda obj: f"{type(obj).__name__}-{obj.name}",
)
def test_apply_defaults_sets_issuer_ref_kind_and_group(obj: Resource) -> None:
    defaulted = d.apply_defaults(obj)
    assert isinstance(defaulted, Certificate | CertificateRequest | Order | Challenge)
    assert defaulted.spec.issuer_ref.kind
    assert defaulted.spec.issuer_ref.group
    assert defaulted.spec.issuer_ref.name == obj.spec.issuer_ref.name  # type: ignore[attr-defined]
    # Given values are kept.
    original = obj.spec.issuer_ref  # type: ignore[attr-defined]
    assert defaulted.spec.issuer_ref.kind == (original.kind or "Issuer")
    assert defaulted.spec.issuer_ref.group == (original.group or "cert-manager.io")


def test_apply_defaults_does_not_mutate_its_input() -> None:
    cert = Certificate(api_version=Certificate.API_VERSION, spec=_spec())
    before = dump(cert)
    d.apply_defaults(cert)
    assert dump(cert) == before


def test_apply_defaults_leaves_other_kinds_alone() -> None:
    secret = Secret(api_version="v1", data={"tls.crt": b"x"})
    assert d.apply_defaults(secret) is secret


@pytest.mark.parametrize(
    "name",
    sorted(p.name for p in FIXTURES.glob("*.yaml")),
)
def test_apply_defaults_is_idempotent_on_fixtures(name: str) -> None:
    for obj in _load(name):
        once = d.apply_defaults(obj)
        assert d.apply_defaults(once) == once


@given(models(Certificate))
def test_apply_defaults_is_idempotent_on_generated_certificates(cert: Certificate) -> None:
    once = d.apply_defaults(cert)
    assert d.apply_defaults(once) == once
    assert once.spec.issuer_ref.kind
    assert once.spec.issuer_ref.group


# --- CRD defaults ----------------------------------------------------------------------------------


def _issuers(name: str) -> list[Issuer | ClusterIssuer]:
    return [obj for obj in _load(name) if isinstance(obj, Issuer | ClusterIssuer)]


def test_renewal_information_source_defaults_to_ari_only_when_absent() -> None:
    staging, full, _private = _issuers("issuer-acme-http01.yaml")
    assert staging.spec.acme is not None
    assert staging.spec.acme.renewal_information_source is None
    assert full.spec.acme is not None
    assert full.spec.acme.renewal_information_source == "None"
    defaulted_staging = d.apply_defaults(staging)
    assert defaulted_staging.spec.acme is not None
    assert defaulted_staging.spec.acme.renewal_information_source == "ARI"
    defaulted_full = d.apply_defaults(full)
    assert defaulted_full.spec.acme is not None
    assert defaulted_full.spec.acme.renewal_information_source == "None"


@pytest.mark.parametrize("name", ["issuer-vault.yaml", "issuer-venafi.yaml", "issuer-selfsigned-ca.yaml"])
def test_non_acme_issuers_have_no_persisted_defaults(name: str) -> None:
    for issuer in _issuers(name):
        assert d.apply_defaults(issuer) is issuer


@pytest.mark.parametrize(
    ("given_ref", "want_group", "want_kind"),
    [
        (ParentReference(name="g"), "gateway.networking.k8s.io", "Gateway"),
        (ParentReference(name="g", group="", kind="Service"), "", "Service"),
        (ParentReference(name="g", kind="ListenerSet"), "gateway.networking.k8s.io", "ListenerSet"),
    ],
    ids=["unset", "core-group-service", "listenerset"],
)
def test_default_parent_ref(given_ref: ParentReference, want_group: str, want_kind: str) -> None:
    ref = d.default_parent_ref(given_ref)
    assert (ref.group, ref.kind, ref.name) == (want_group, want_kind, "g")


def test_solver_defaults_reach_parent_refs_and_image_pull_secrets() -> None:
    pod = ACMEChallengeSolverHTTP01IngressPodTemplate(
        spec=ACMEChallengeSolverHTTP01IngressPodSpec(image_pull_secrets=[ImagePullSecret(), ImagePullSecret(name="r")])
    )
    solver = ACMEChallengeSolver(
        http01=ACMEChallengeSolverHTTP01(
            gateway_http_route=ACMEChallengeSolverHTTP01GatewayHTTPRoute(
                parent_refs=[ParentReference(name="a"), ParentReference(name="b", kind="ListenerSet")],
                pod_template=pod,
            )
        )
    )
    route = d.default_solver(solver).http01.gateway_http_route  # type: ignore[union-attr]
    assert route is not None
    assert route.parent_refs is not None
    assert [(r.group, r.kind) for r in route.parent_refs] == [
        ("gateway.networking.k8s.io", "Gateway"),
        ("gateway.networking.k8s.io", "ListenerSet"),
    ]
    assert route.pod_template is not None
    assert route.pod_template.spec is not None
    assert route.pod_template.spec.image_pull_secrets == [ImagePullSecret(name=""), ImagePullSecret(name="r")]


def test_solver_without_defaults_is_returned_unchanged() -> None:
    solver = ACMEChallengeSolver(http01=ACMEChallengeSolverHTTP01(ingress=ACMEChallengeSolverHTTP01Ingress()))
    assert d.default_solver(solver) is solver


def test_challenge_solver_gets_crd_defaults() -> None:
    (http_challenge, _) = _load("challenge.yaml")
    assert isinstance(http_challenge, Challenge)
    stripped = d.default_solver(http_challenge.spec.solver)
    assert stripped == http_challenge.spec.solver  # the fixture already spells out group and kind


# --- implicit defaults -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("duration", "want"),
    [(None, timedelta(days=90)), ("", timedelta(days=90)), ("1h", timedelta(hours=1)), ("8760h", timedelta(days=365))],
    ids=["unset", "empty", "1h", "1y"],
)
def test_effective_duration(duration: str | None, want: timedelta) -> None:
    assert d.effective_duration(duration) == want


def test_effective_duration_rejects_garbage() -> None:
    with pytest.raises(DurationError):
        d.effective_duration("90 days")


@pytest.mark.parametrize(
    ("usages", "want"),
    [
        (None, ("digital signature", "key encipherment")),
        ([], ("digital signature", "key encipherment")),
        (["server auth"], ("server auth",)),
    ],
    ids=["unset", "empty", "given"],
)
def test_effective_usages(usages: list[str] | None, want: tuple[str, ...]) -> None:
    assert d.effective_usages(usages) == want  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("private_key", "algorithm", "size", "encoding", "rotation"),
    [
        (None, "RSA", 2048, "PKCS1", "Always"),
        (CertificatePrivateKey(), "RSA", 2048, "PKCS1", "Always"),
        (CertificatePrivateKey(size=0), "RSA", 2048, "PKCS1", "Always"),
        (CertificatePrivateKey(size=4096, encoding="PKCS8"), "RSA", 4096, "PKCS8", "Always"),
        (CertificatePrivateKey(algorithm="ECDSA"), "ECDSA", 256, "PKCS1", "Always"),
        (CertificatePrivateKey(algorithm="ECDSA", size=521, rotation_policy="Never"), "ECDSA", 521, "PKCS1", "Never"),
        (CertificatePrivateKey(algorithm="Ed25519", size=2048), "Ed25519", None, "PKCS1", "Always"),
    ],
    ids=["unset", "empty", "size-0", "rsa-4096-pkcs8", "ecdsa", "ecdsa-521-never", "ed25519"],
)
def test_private_key_defaults(
    private_key: CertificatePrivateKey | None, algorithm: str, size: int | None, encoding: str, rotation: str
) -> None:
    spec = _spec(private_key=private_key)
    assert d.private_key_algorithm(spec) == algorithm
    assert d.private_key_size(spec) == size
    assert d.private_key_encoding(spec) == encoding
    assert d.rotation_policy(spec) == rotation


@pytest.mark.parametrize(
    ("fields", "limit", "encode", "ca", "disabled"),
    [
        ({}, 1, True, False, False),
        ({"revision_history_limit": 5, "encode_usages_in_request": False, "is_ca": True}, 5, False, True, False),
        ({"encode_usages_in_request": True, "is_ca": False}, 1, True, False, False),
        ({"renewal": CertificateRenewal(policy="Disabled")}, 1, True, False, True),
        ({"renewal": CertificateRenewal(policy="RenewBefore")}, 1, True, False, False),
        ({"renewal": CertificateRenewal()}, 1, True, False, False),
    ],
    ids=["unset", "all-set", "explicit-defaults", "renewal-disabled", "renewal-renew-before", "renewal-empty"],
)
def test_certificate_switches(fields: dict[str, object], limit: int, encode: bool, ca: bool, disabled: bool) -> None:
    spec = _spec(**fields)
    assert d.revision_history_limit(spec) == limit
    assert d.encode_usages_in_request(spec) is encode
    assert d.is_ca(spec) is ca
    assert d.renewal_disabled(spec) is disabled


@pytest.mark.parametrize(
    ("alias", "want"), [(None, "certificate"), ("", ""), ("mykey", "mykey")], ids=["unset", "empty", "given"]
)
def test_jks_alias(alias: str | None, want: str) -> None:
    assert d.jks_alias(JKSKeystore(create=True, alias=alias)) == want


@pytest.mark.parametrize(
    ("profile", "want"), [(None, "LegacyRC2"), ("Modern2023", "Modern2023")], ids=["unset", "given"]
)
def test_pkcs12_profile(profile: str | None, want: str) -> None:
    assert d.pkcs12_profile(PKCS12Keystore(create=True, profile=profile)) == want  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("a", "b", "equal"),
    [
        (IssuerReference(name="x"), IssuerReference(name="x", kind="Issuer", group="cert-manager.io"), True),
        (IssuerReference(name="x", kind=""), IssuerReference(name="x", group=""), True),
        (IssuerReference(name="x"), IssuerReference(name="x", kind="ClusterIssuer"), False),
        (IssuerReference(name="x"), IssuerReference(name="y"), False),
        (IssuerReference(name="x", group="example.com"), IssuerReference(name="x"), False),
    ],
    ids=["unset-vs-defaults", "empty-vs-empty", "kind-differs", "name-differs", "group-differs"],
)
def test_issuer_refs_equal(a: IssuerReference, b: IssuerReference, equal: bool) -> None:
    assert d.issuer_refs_equal(a, b) is equal
    assert d.issuer_refs_equal(b, a) is equal


@pytest.mark.parametrize(
    ("key", "want"), [(None, "tls.key"), ("", "tls.key"), ("k", "k")], ids=["unset", "empty", "given"]
)
def test_secret_key(key: str | None, want: str) -> None:
    assert d.secret_key(SecretKeySelector(name="s", key=key), "tls.key") == want
