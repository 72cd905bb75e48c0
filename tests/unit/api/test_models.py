"""The typed models of cert-manager.io/v1 and acme.cert-manager.io/v1: wire names, kinds, limits, round trips."""

from __future__ import annotations

import pathlib
import typing
from typing import Any

import msgspec
import pytest
from hypothesis import given

from certkeeper.api import acme, acme_solvers, certmanager, cmmeta, constants, issuer_configs
from certkeeper.api.core import Secret
from certkeeper.api.durations import parse_duration
from certkeeper.api.manifests import ManifestError, decode_object, dump, dump_yaml, load_documents, load_objects
from certkeeper.api.meta import Resource
from tests.unit.api.model_strategies import models

FIXTURES = pathlib.Path(__file__).parents[2] / "fixtures" / "manifests"
FIXTURE_FILES = sorted(FIXTURES.glob("*.yaml"))


def _wire_names(cls: type[msgspec.Struct]) -> dict[str, str]:
    return {f.name: f.encode_name for f in msgspec.structs.fields(cls)}


# --- fixtures ------------------------------------------------------------------------------------


def test_fixtures_exist() -> None:
    assert len(FIXTURE_FILES) >= 10


@pytest.mark.parametrize("path", FIXTURE_FILES, ids=[p.name for p in FIXTURE_FILES])
def test_fixture_loads_and_round_trips_exactly(path: pathlib.Path) -> None:
    documents = load_documents(path.read_text())
    assert documents
    for document in documents:
        assert document.error is None, f"{path.name}: {document.error}"
        assert document.obj is not None
        assert dump(document.obj) == document.raw


@pytest.mark.parametrize("path", FIXTURE_FILES, ids=[p.name for p in FIXTURE_FILES])
def test_fixture_survives_dump_yaml(path: pathlib.Path) -> None:
    objects = load_objects(path.read_text())
    assert load_objects(dump_yaml(objects)) == objects


def test_fixtures_cover_every_kind() -> None:
    kinds = {type(obj) for path in FIXTURE_FILES for obj in load_objects(path.read_text())}
    expected = {
        certmanager.Certificate,
        certmanager.CertificateRequest,
        certmanager.Issuer,
        certmanager.ClusterIssuer,
        acme.Order,
        acme.Challenge,
        Secret,
    }
    assert kinds == expected


def _solvers() -> list[acme_solvers.ACMEChallengeSolver]:
    found = []
    for path in FIXTURE_FILES:
        for obj in load_objects(path.read_text()):
            if isinstance(obj, certmanager.Issuer | certmanager.ClusterIssuer) and obj.spec.acme is not None:
                found.extend(obj.spec.acme.solvers or [])
    return found


def test_fixtures_cover_every_dns01_provider_and_http01_kind() -> None:
    solvers = _solvers()
    providers = {
        name
        for solver in solvers
        if solver.dns01 is not None
        for name in _wire_names(acme_solvers.ACMEChallengeSolverDNS01)
        if name not in ("cname_strategy", "nameservers") and getattr(solver.dns01, name) is not None
    }
    assert providers == set(_wire_names(acme_solvers.ACMEChallengeSolverDNS01)) - {"cname_strategy", "nameservers"}
    assert any(s.http01 is not None and s.http01.ingress is not None for s in solvers)
    assert any(s.http01 is not None and s.http01.gateway_http_route is not None for s in solvers)


def test_fixture_values_decode_to_the_right_types() -> None:
    (cert, *_) = load_objects((FIXTURES / "certificate-full.yaml").read_text())
    assert isinstance(cert, certmanager.Certificate)
    assert cert.spec.is_ca is False
    assert cert.spec.other_names == [
        certmanager.OtherName(oid="1.3.6.1.4.1.311.20.2.3", utf8_value="upn@example.local")
    ]
    assert cert.spec.keystores is not None
    assert cert.spec.keystores.pkcs12 is not None
    assert cert.spec.keystores.pkcs12.profile == "Modern2023"
    (request, _) = load_objects((FIXTURES / "certificaterequest.yaml").read_text())
    assert isinstance(request, certmanager.CertificateRequest)
    assert request.spec.request.startswith(b"-----BEGIN CERTIFICATE REQUEST-----")
    assert request.status is not None
    assert request.status.certificate is not None
    assert request.status.certificate.startswith(b"-----BEGIN CERTIFICATE-----")


# --- kinds ---------------------------------------------------------------------------------------

KIND_TABLE: list[tuple[type[Resource], str, str, str, bool]] = [
    (certmanager.Certificate, "Certificate", "cert-manager.io/v1", "certificates", True),
    (certmanager.CertificateRequest, "CertificateRequest", "cert-manager.io/v1", "certificaterequests", True),
    (certmanager.Issuer, "Issuer", "cert-manager.io/v1", "issuers", True),
    (certmanager.ClusterIssuer, "ClusterIssuer", "cert-manager.io/v1", "clusterissuers", False),
    (acme.Order, "Order", "acme.cert-manager.io/v1", "orders", True),
    (acme.Challenge, "Challenge", "acme.cert-manager.io/v1", "challenges", True),
]


@pytest.mark.parametrize(
    ("cls", "kind", "api_version", "plural", "namespaced"), KIND_TABLE, ids=[k[1] for k in KIND_TABLE]
)
def test_kind_class_constants(cls: type[Resource], kind: str, api_version: str, plural: str, namespaced: bool) -> None:
    assert cls.kind_name() == kind
    assert api_version == cls.API_VERSION
    assert plural == cls.PLURAL
    assert cls.NAMESPACED is namespaced


def test_kind_is_written_on_dump_and_checked_on_decode() -> None:
    cert = certmanager.Certificate(
        api_version=certmanager.Certificate.API_VERSION,
        spec=certmanager.CertificateSpec(secret_name="s", issuer_ref=cmmeta.IssuerReference(name="i")),
    )
    data = dump(cert)
    assert data["kind"] == "Certificate"
    assert list(data)[:3] == ["apiVersion", "kind", "metadata"]
    with pytest.raises(msgspec.ValidationError):
        msgspec.convert({**data, "kind": "Issuer"}, certmanager.Certificate)


def test_models_are_frozen() -> None:
    ref = cmmeta.IssuerReference(name="a")
    with pytest.raises(AttributeError):
        ref.name = "b"  # type: ignore[misc]


# --- wire names ------------------------------------------------------------------------------------

IRREGULAR_NAMES: list[tuple[type[msgspec.Struct], str, str]] = [
    (certmanager.CertificateSpec, "is_ca", "isCA"),
    (certmanager.CertificateRequestSpec, "is_ca", "isCA"),
    (certmanager.CertificateSpec, "dns_names", "dnsNames"),
    (certmanager.CertificateSpec, "ip_addresses", "ipAddresses"),
    (certmanager.CertificateSpec, "uris", "uris"),
    (certmanager.CertificateSpec, "email_addresses", "emailAddresses"),
    (certmanager.CertificateSpec, "renew_before_percentage", "renewBeforePercentage"),
    (certmanager.OtherName, "utf8_value", "utf8Value"),
    (certmanager.NameConstraintItem, "ip_ranges", "ipRanges"),
    (certmanager.NameConstraintItem, "uri_domains", "uriDomains"),
    (certmanager.CAIssuer, "issuing_certificate_urls", "issuingCertificateURLs"),
    (certmanager.CAIssuer, "crl_distribution_points", "crlDistributionPoints"),
    (certmanager.CAIssuer, "ocsp_servers", "ocspServers"),
    (certmanager.VaultIssuer, "ca_bundle", "caBundle"),
    (certmanager.VaultAppRole, "role_id", "roleId"),
    (certmanager.VaultAWSAuth, "iam_role_arn", "iamRoleArn"),
    (certmanager.VenafiNGTS, "tsg_id", "tsgID"),
    (certmanager.CertificateACMEARIStatus, "explanation_url", "explanationURL"),
    (certmanager.IssuerSpec, "self_signed", "selfSigned"),
    (acme.ACMEExternalAccountBinding, "key_id", "keyID"),
    (acme.ACMEIssuer, "skip_tls_verify", "skipTLSVerify"),
    (acme.ACMEIssuer, "ca_bundle", "caBundle"),
    (acme.OrderStatus, "finalize_url", "finalizeURL"),
    (acme.ChallengeSpec, "authorization_url", "authorizationURL"),
    (acme_solvers.ACMEChallengeSolver, "http01", "http01"),
    (acme_solvers.ACMEChallengeSolver, "dns01", "dns01"),
    (acme_solvers.ACMEChallengeSolverHTTP01, "gateway_http_route", "gatewayHTTPRoute"),
    (acme_solvers.ACMEChallengeSolverHTTP01Ingress, "class_", "class"),
    (acme_solvers.ACMEChallengeSolverDNS01, "cloud_dns", "cloudDNS"),
    (acme_solvers.ACMEChallengeSolverDNS01, "azure_dns", "azureDNS"),
    (acme_solvers.ACMEChallengeSolverDNS01, "acme_dns", "acmeDNS"),
    (acme_solvers.ACMEChallengeSolverDNS01, "digitalocean", "digitalocean"),
    (acme_solvers.ACMEChallengeSolverDNS01, "rfc2136", "rfc2136"),
    (acme_solvers.ACMEIssuerDNS01ProviderRoute53, "hosted_zone_id", "hostedZoneID"),
    (acme_solvers.ACMEIssuerDNS01ProviderRoute53, "access_key_id", "accessKeyID"),
    (acme_solvers.ACMEIssuerDNS01ProviderRoute53, "access_key_id_secret_ref", "accessKeyIDSecretRef"),
    (acme_solvers.ACMEIssuerDNS01ProviderAzureDNS, "client_id", "clientID"),
    (acme_solvers.ACMEIssuerDNS01ProviderAzureDNS, "tenant_id", "tenantID"),
    (acme_solvers.ACMEIssuerDNS01ProviderAzureDNS, "subscription_id", "subscriptionID"),
    (acme_solvers.AzureManagedIdentity, "resource_id", "resourceID"),
    (acme_solvers.ACMEIssuerDNS01ProviderRFC2136, "tsig_secret_secret_ref", "tsigSecretSecretRef"),
    (acme_solvers.ACMEChallengeSolverHTTP01IngressPodSecurityContext, "se_linux_options", "seLinuxOptions"),
    (acme_solvers.ACMEChallengeSolverHTTP01IngressPodSecurityContext, "fs_group", "fsGroup"),
]


@pytest.mark.parametrize(
    ("cls", "attribute", "wire"), IRREGULAR_NAMES, ids=[f"{c.__name__}.{w}" for c, _, w in IRREGULAR_NAMES]
)
def test_wire_name(cls: type[msgspec.Struct], attribute: str, wire: str) -> None:
    assert _wire_names(cls)[attribute] == wire


def _all_model_classes() -> list[type[msgspec.Struct]]:
    found = []
    for module in (certmanager, issuer_configs, acme, acme_solvers, cmmeta):
        for name in module.__all__:
            value = getattr(module, name)
            if isinstance(value, type) and issubclass(value, msgspec.Struct) and value.__module__ == module.__name__:
                found.append(value)
    return found


@pytest.mark.parametrize("cls", _all_model_classes(), ids=lambda c: c.__name__)
def test_model_convention(cls: type[msgspec.Struct]) -> None:
    config = cls.__struct_config__
    assert config.frozen
    assert config.omit_defaults
    for field in msgspec.structs.fields(cls):
        # snake_case attribute, and the wire name lowercases to the attribute without underscores.
        assert field.name == field.name.lower()
        assert field.encode_name.lower() == field.name.replace("_", "")
        # optional fields default to None so that load -> dump keeps exactly what was written.
        if not field.required:
            assert field.default is None or field.name == "metadata", field.name


# --- CRD limits ------------------------------------------------------------------------------------

_ISSUER = {"apiVersion": "cert-manager.io/v1", "kind": "Issuer", "metadata": {"name": "i"}}


def _acme_issuer(**acme_fields: Any) -> dict[str, Any]:
    return {
        **_ISSUER,
        "spec": {"acme": {"server": "https://acme", "privateKeySecretRef": {"name": "k"}, **acme_fields}},
    }


def _gateway_solver(parent_ref: dict[str, Any]) -> dict[str, Any]:
    return _acme_issuer(solvers=[{"http01": {"gatewayHTTPRoute": {"parentRefs": [parent_ref]}}}])


def _certificate(**spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "cert-manager.io/v1",
        "kind": "Certificate",
        "metadata": {"name": "c"},
        "spec": {"secretName": "s", "issuerRef": {"name": "i"}, **spec},
    }


LIMIT_CASES = [
    pytest.param(_acme_issuer(preferredChain="x" * 64), None, id="preferredChain-64-ok"),
    pytest.param(_acme_issuer(preferredChain="x" * 65), "spec.acme.preferredChain", id="preferredChain-65"),
    pytest.param(
        _acme_issuer(renewalInformationSource="Sometimes"), "spec.acme.renewalInformationSource", id="ari-enum"
    ),
    pytest.param(
        _gateway_solver({"name": "g", "port": 0}),
        "spec.acme.solvers[0].http01.gatewayHTTPRoute.parentRefs[0].port",
        id="parentRef-port-0",
    ),
    pytest.param(_gateway_solver({"name": "g", "port": 65535}), None, id="parentRef-port-65535"),
    pytest.param(
        _gateway_solver({"name": ""}),
        "spec.acme.solvers[0].http01.gatewayHTTPRoute.parentRefs[0].name",
        id="parentRef-empty-name",
    ),
    pytest.param(_gateway_solver({"name": "g", "group": ""}), None, id="parentRef-core-group"),
    pytest.param(
        _gateway_solver({"name": "g", "namespace": "Bad_NS"}),
        "spec.acme.solvers[0].http01.gatewayHTTPRoute.parentRefs[0].namespace",
        id="parentRef-ns",
    ),
    pytest.param(_certificate(usages=["server auth", "flying"]), "spec.usages[1]", id="usage-enum"),
    pytest.param(_certificate(privateKey={"algorithm": "DSA"}), "spec.privateKey.algorithm", id="algorithm-enum"),
    pytest.param(
        _certificate(renewal={"windows": [{"cron": "* * * * *", "windowDuration": "1d"}]}),
        "spec.renewal.windows[0].windowDuration",
        id="windowDuration-pattern",
    ),
    pytest.param(
        _certificate(renewal={"windows": [{"cron": "* * * * *", "windowDuration": "1h30m"}]}), None, id="window-ok"
    ),
    pytest.param(
        _certificate(renewal={"windows": [{"cron": "", "windowDuration": "1h"}]}),
        "spec.renewal.windows[0].cron",
        id="cron-min-length",
    ),
    pytest.param(_certificate(isCA="yes"), "spec.isCA", id="isCA-type"),
]


@pytest.mark.parametrize(("data", "error_field"), LIMIT_CASES)
def test_crd_limits_are_enforced_on_decode(data: dict[str, Any], error_field: str | None) -> None:
    if error_field is None:
        decode_object(data)
        return
    with pytest.raises(ManifestError) as info:
        decode_object(data)
    assert info.value.field == error_field


# --- vocabularies ----------------------------------------------------------------------------------


def test_usages_split_into_key_usages_and_extended_key_usages() -> None:
    assert set(constants.KEY_USAGES).isdisjoint(constants.EXTENDED_KEY_USAGES)
    assert typing.get_args(constants.KeyUsage) == constants.ALL_USAGES
    assert len(constants.ALL_USAGES) == 23
    assert constants.DEFAULT_USAGES == ("digital signature", "key encipherment")


def test_default_duration_text_matches_value() -> None:
    assert parse_duration(constants.DEFAULT_DURATION_TEXT) == constants.DEFAULT_DURATION
    assert constants.DEFAULT_DURATION.days == 90


@pytest.mark.parametrize(
    ("member", "value"),
    [
        (constants.CertificateRequestReason.PENDING, "Pending"),
        (constants.CertificateRequestReason.DENIED, "Denied"),
        (constants.CertificateRequestConditionType.INVALID_REQUEST, "InvalidRequest"),
        (constants.ApprovalReason.CERT_MANAGER, "cert-manager.io"),
        (constants.IssuerReason.ERR_REGISTER_ACME_ACCOUNT, "ErrRegisterACMEAccount"),
        (constants.CertificateConditionType.ISSUING, "Issuing"),
    ],
    ids=lambda v: str(v),
)
def test_reason_values_are_the_wire_strings(member: str, value: str) -> None:
    assert member == value
    assert msgspec.json.encode(member) == msgspec.json.encode(value)


# --- property: every model round-trips through its wire form ----------------------------------------

ROUND_TRIP_MODELS = [
    certmanager.CertificateSpec,
    certmanager.CertificateStatus,
    certmanager.CertificateRequestSpec,
    certmanager.CertificateRequestStatus,
    certmanager.IssuerSpec,
    certmanager.IssuerStatus,
    acme.OrderSpec,
    acme.OrderStatus,
    acme.ChallengeSpec,
    acme.ChallengeStatus,
]


@pytest.mark.parametrize("cls", ROUND_TRIP_MODELS, ids=lambda c: c.__name__)
def test_round_trip_through_builtins(cls: type[msgspec.Struct]) -> None:
    @given(models(cls))
    def check(value: msgspec.Struct) -> None:
        assert msgspec.convert(msgspec.to_builtins(value), cls) == value
        assert msgspec.json.decode(msgspec.json.encode(value), type=cls) == value

    check()


@given(models(certmanager.Certificate, printable=True))
def test_certificate_round_trips_through_yaml(cert: certmanager.Certificate) -> None:
    assert load_objects(dump_yaml(cert)) == [cert]


@given(models(certmanager.ClusterIssuer, printable=True))
def test_cluster_issuer_round_trips_through_yaml(issuer: certmanager.ClusterIssuer) -> None:
    assert load_objects(dump_yaml(issuer)) == [issuer]
