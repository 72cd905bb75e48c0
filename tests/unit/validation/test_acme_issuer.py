"""ACME issuer rules: account, EAB warning, solvers, HTTP-01 and every DNS-01 provider (issuer_test.go's cases)."""

from __future__ import annotations

import base64
from typing import Any

import pytest

from certkeeper.api.acme import ACMEIssuer
from certkeeper.api.acme_solvers import (
    ACMEChallengeSolver,
    ACMEChallengeSolverHTTP01,
    ACMEChallengeSolverHTTP01GatewayHTTPRoute,
    ParentReference,
)
from certkeeper.api.certmanager import Issuer, IssuerSpec
from certkeeper.api.cmmeta import SecretKeySelector
from certkeeper.api.features import DEFAULT_GATES
from certkeeper.validation.acme_issuer import DEPRECATED_EAB_KEY_ALGORITHM_WARNING, ca_bundle_error
from certkeeper.validation.issuer import validate_issuer_create
from tests.unit.validation.support import build, merge, messages
from tests.unit.validation.test_issuer import CA_BUNDLE, CA_PEM, NOT_A_BUNDLE

ACME: dict[str, Any] = {"email": "valid-email", "server": "valid-server", "privateKeySecretRef": {"name": "valid"}}
SKS = {"name": "s", "key": "k"}
SUBDOMAIN = (
    "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start "
    "and end with an alphanumeric character (e.g. 'example.com', regex used for validation is "
    "'[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"
)
NAMESERVER_FORM = (
    "nameserver must be set in the form host:port where host is an IPv4 address, an enclosed IPv6 address or a "
    "hostname and port is an optional port number."
)


def acme(changes: dict[str, Any]) -> Issuer:
    return build(Issuer, {"acme": merge(ACME, changes)})


def solver(solver_spec: dict[str, Any]) -> Issuer:
    return acme({"solvers": [solver_spec]})


def dns01(provider: dict[str, Any]) -> Issuer:
    return solver({"dns01": provider})


S0 = "spec.acme.solvers[0]"
D = f"{S0}.dns01"

ACCOUNT_CASES: list[tuple[str, Issuer, list[str]]] = [
    ("valid", acme({}), []),
    (
        "missing server and key name",
        acme({"server": "", "privateKeySecretRef": {"name": ""}}),
        [
            "spec.acme.privateKeySecretRef.name: Required value: private key secret name is a required field",
            "spec.acme.server: Required value: acme server URL is a required field",
        ],
    ),
    ("with a CA bundle", acme({"caBundle": CA_BUNDLE}), []),
    (
        "with a CA bundle without certificates",
        acme({"caBundle": NOT_A_BUNDLE}),
        ['spec.acme.caBundle: Invalid value: "": cert bundle didn\'t contain any valid certificates'],
    ),
    (
        "with caBundle and skipTLSVerify",
        acme({"caBundle": CA_BUNDLE, "skipTLSVerify": True}),
        [
            'spec.acme.caBundle: Invalid value: "": caBundle and skipTLSVerify are mutually exclusive and cannot '
            "both "
            "be set",
            "spec.acme.skipTLSVerify: Invalid value: true: caBundle and skipTLSVerify are mutually exclusive and "
            "cannot both be set",
        ],
    ),
    ("skipTLSVerify alone", acme({"skipTLSVerify": True}), []),
    (
        "external account binding without key id and key",
        acme({"externalAccountBinding": {"keyID": "", "keySecretRef": {"name": ""}}}),
        [
            "spec.acme.externalAccountBinding.keyID: Required value: the keyID field is required when using "
            "externalAccountBinding",
            "spec.acme.externalAccountBinding.keySecretRef.name: Required value: secret name is required",
            "spec.acme.externalAccountBinding.keySecretRef.key: Required value: secret key is required",
        ],
    ),
    ("empty solver", solver({}), [f"{S0}: Required value: no solver type configured"]),
    (
        "http01 and dns01 in one solver",
        solver({"http01": {"ingress": {}}, "dns01": {"webhook": {"groupName": "g", "solverName": "s"}}}),
        [f"{S0}: Forbidden: may not specify more than one solver type in a single solver"],
    ),
    ("waitInsteadOfSelfCheck", solver({"http01": {"ingress": {}}, "waitInsteadOfSelfCheck": "30s"}), []),
    (
        "negative waitInsteadOfSelfCheck",
        solver({"http01": {"ingress": {}}, "waitInsteadOfSelfCheck": "-5s"}),
        [f"{S0}.waitInsteadOfSelfCheck: Invalid value: -5000000000: waitInsteadOfSelfCheck must not be negative"],
    ),
    (
        "waitInsteadOfSelfCheck that is no duration",
        solver({"http01": {"ingress": {}}, "waitInsteadOfSelfCheck": "a while"}),
        [f'{S0}.waitInsteadOfSelfCheck: Invalid value: "a while": time: invalid duration "a while"'],
    ),
]

HTTP01_CASES: list[tuple[str, Issuer, list[str]]] = [
    ("empty http01", solver({"http01": {}}), [f"{S0}.http01: Required value: no HTTP01 solver type configured"]),
    ("ingress", solver({"http01": {"ingress": {}}}), []),
    ("ingress with class", solver({"http01": {"ingress": {"class": "nginx"}}}), []),
    ("ingress with ingressClassName", solver({"http01": {"ingress": {"ingressClassName": "nginx"}}}), []),
    ("ingress with name", solver({"http01": {"ingress": {"name": "existing"}}}), []),
    *[
        (
            f"ingress with {' and '.join(sorted(fields))}",
            solver({"http01": {"ingress": fields}}),
            [f"{S0}.http01.ingress: Forbidden: only one of 'ingressClassName', 'name' or 'class' should be specified"],
        )
        for fields in (
            {"class": "a", "name": "b"},
            {"class": "a", "ingressClassName": "b"},
            {"ingressClassName": "a", "name": "b"},
            {"class": "a", "ingressClassName": "b", "name": "c"},
        )
    ],
    (
        "ingressClassName that is no resource name",
        solver({"http01": {"ingress": {"ingressClassName": "azure/application-gateway"}}}),
        [
            f'{S0}.http01.ingress.ingressClassName: Invalid value: "azure/application-gateway": must be a valid '
            f"IngressClass name: {SUBDOMAIN}"
        ],
    ),
    ("class may be free text", solver({"http01": {"ingress": {"class": "azure/application-gateway"}}}), []),
    ("ingress ClusterIP service", solver({"http01": {"ingress": {"serviceType": "ClusterIP"}}}), []),
    (
        "ingress LoadBalancer service",
        solver({"http01": {"ingress": {"serviceType": "InvalidServiceType"}}}),
        [
            f'{S0}.http01.ingress.serviceType: Invalid value: "InvalidServiceType": must be empty, "ClusterIP" or '
            '"NodePort"'
        ],
    ),
    (
        "pod template",
        solver(
            {
                "http01": {
                    "ingress": {
                        "podTemplate": {
                            "metadata": {"labels": {"valid_to_contain": "labels"}},
                            "spec": {
                                "nodeSelector": {"valid_to_contain": "nodeSelector"},
                                "tolerations": [{"key": "valid_key", "operator": "Exists", "effect": "NoSchedule"}],
                            },
                        }
                    }
                }
            }
        ),
        [],
    ),
    ("gateway", solver({"http01": {"gatewayHTTPRoute": {"parentRefs": [{"name": "blah", "kind": "Gateway"}]}}}), []),
    ("gateway without parentRefs", solver({"http01": {"gatewayHTTPRoute": {}}}), []),
    (
        "gateway parentRef with a name and no kind",
        solver({"http01": {"gatewayHTTPRoute": {"parentRefs": [{"name": "gw"}]}}}),
        [f"{S0}.http01.gateway.parentRefs[0].kind: Required value: kind is required when name is specified"],
    ),
    (
        "gateway NodePort service and a bad one",
        solver({"http01": {"gatewayHTTPRoute": {"serviceType": "LoadBalancer"}}}),
        [f'{S0}.http01.gateway.serviceType: Invalid value: "LoadBalancer": must be empty, "ClusterIP" or "NodePort"'],
    ),
    (
        "ingress and gateway",
        solver({"http01": {"ingress": {}, "gatewayHTTPRoute": {"labels": {"a": "b"}}}}),
        [f"{S0}.http01: Required value: only 1 HTTP01 solver type may be configured"],
    ),
]

DNS01_CASES: list[tuple[str, Issuer, list[str]]] = [
    ("no provider", dns01({}), [f"{D}: Required value: no DNS01 provider configured"]),
    ("cname strategy Follow", dns01({"cnameStrategy": "Follow", "webhook": {"groupName": "g", "solverName": "s"}}), []),
    (
        "nameservers",
        dns01(
            {
                "nameservers": ["8.8.8.8:53", "https://dns.google/dns-query"],
                "webhook": {"groupName": "g", "solverName": "s"},
            }
        ),
        [],
    ),
    (
        "nameserver without port",
        dns01({"nameservers": ["8.8.8.8"], "webhook": {"groupName": "g", "solverName": "s"}}),
        [f'{D}.nameservers[0]: Invalid value: "8.8.8.8": must be in the format <ip address>:<port>'],
    ),
    (
        "DoH nameserver without host",
        dns01({"nameservers": ["https://"], "webhook": {"groupName": "g", "solverName": "s"}}),
        [f'{D}.nameservers[0]: Invalid value: "https://": must be in the format https://<DoH RFC 8484 server address>'],
    ),
    ("webhook", dns01({"webhook": {"groupName": "g", "solverName": "s"}}), []),
    (
        "webhook without solver name",
        dns01({"webhook": {"groupName": "g", "solverName": ""}}),
        [f"{D}.webhook.solverName: Required value: solver name must be specified"],
    ),
    (
        "akamai",
        dns01(
            {
                "akamai": {
                    "serviceConsumerDomain": "d",
                    "clientTokenSecretRef": SKS,
                    "clientSecretSecretRef": SKS,
                    "accessTokenSecretRef": SKS,
                }
            }
        ),
        [],
    ),
    (
        "akamai with empty references",
        dns01(
            {
                "akamai": {
                    "serviceConsumerDomain": "",
                    "clientTokenSecretRef": {"name": ""},
                    "clientSecretSecretRef": {"name": ""},
                    "accessTokenSecretRef": {"name": ""},
                }
            }
        ),
        [
            f"{D}.akamai.accessToken.name: Required value: secret name is required",
            f"{D}.akamai.accessToken.key: Required value: secret key is required",
            f"{D}.akamai.clientSecret.name: Required value: secret name is required",
            f"{D}.akamai.clientSecret.key: Required value: secret key is required",
            f"{D}.akamai.clientToken.name: Required value: secret name is required",
            f"{D}.akamai.clientToken.key: Required value: secret key is required",
            f"{D}.akamai.serviceConsumerDomain: Required value",
        ],
    ),
    ("cloudDNS", dns01({"cloudDNS": {"project": "p", "serviceAccountSecretRef": SKS}}), []),
    ("cloudDNS ambient", dns01({"cloudDNS": {"project": "p"}}), []),
    ("cloudDNS without project", dns01({"cloudDNS": {"project": ""}}), [f"{D}.cloudDNS.project: Required value"]),
    (
        "cloudDNS secret without key",
        dns01({"cloudDNS": {"project": "p", "serviceAccountSecretRef": {"name": "s"}}}),
        [f"{D}.cloudDNS.serviceAccountSecretRef.key: Required value: secret key is required"],
    ),
    ("cloudflare token", dns01({"cloudflare": {"apiTokenSecretRef": SKS}}), []),
    ("cloudflare key", dns01({"cloudflare": {"email": "e", "apiKeySecretRef": SKS}}), []),
    (
        "cloudflare key without name and key",
        dns01({"cloudflare": {"email": "e", "apiKeySecretRef": {"name": ""}}}),
        [
            f"{D}.cloudflare.apiKeySecretRef.name: Required value: secret name is required",
            f"{D}.cloudflare.apiKeySecretRef.key: Required value: secret key is required",
        ],
    ),
    (
        "cloudflare token without name and key",
        dns01({"cloudflare": {"apiTokenSecretRef": {"name": ""}}}),
        [
            f"{D}.cloudflare.apiTokenSecretRef.name: Required value: secret name is required",
            f"{D}.cloudflare.apiTokenSecretRef.key: Required value: secret key is required",
        ],
    ),
    (
        "cloudflare with neither",
        dns01({"cloudflare": {"email": "e"}}),
        [f"{D}.cloudflare: Required value: apiKeySecretRef or apiTokenSecretRef is required"],
    ),
    (
        "cloudflare with both",
        dns01({"cloudflare": {"email": "e", "apiKeySecretRef": SKS, "apiTokenSecretRef": SKS}}),
        [f"{D}.cloudflare: Forbidden: apiKeySecretRef and apiTokenSecretRef cannot both be specified"],
    ),
    (
        "cloudflare key without email",
        dns01({"cloudflare": {"apiKeySecretRef": SKS}}),
        [f"{D}.cloudflare.email: Required value"],
    ),
    ("route53 ambient", dns01({"route53": {"region": "r"}}), []),
    (
        "route53 with both key id forms",
        dns01({"route53": {"accessKeyID": "id", "accessKeyIDSecretRef": SKS, "secretAccessKeySecretRef": SKS}}),
        [f"{D}.route53: Required value: accessKeyID and accessKeyIDSecretRef cannot both be specified"],
    ),
    (
        "route53 key id secret without name",
        dns01({"route53": {"accessKeyIDSecretRef": {"name": "", "key": "k"}}}),
        [f"{D}.route53.accessKeyIDSecretRef.name: Required value: secret name is required"],
    ),
    (
        "route53 key id secret without key",
        dns01({"route53": {"accessKeyIDSecretRef": {"name": "s"}}}),
        [f"{D}.route53.accessKeyIDSecretRef.key: Required value: secret key is required"],
    ),
    ("azure managed identity", dns01({"azureDNS": {"subscriptionID": "s", "resourceGroupName": "r"}}), []),
    (
        "azure with empty required fields",
        dns01({"azureDNS": {"subscriptionID": "", "resourceGroupName": ""}}),
        [f"{D}.azureDNS.subscriptionID: Required value", f"{D}.azureDNS.resourceGroupName: Required value"],
    ),
    (
        "azure service principal with clientID only",
        dns01({"azureDNS": {"subscriptionID": "s", "resourceGroupName": "r", "clientID": "c"}}),
        [f"{D}.azureDNS.clientSecretSecretRef: Required value", f"{D}.azureDNS.tenantID: Required value"],
    ),
    (
        "azure service principal with tenantID only",
        dns01({"azureDNS": {"subscriptionID": "s", "resourceGroupName": "r", "tenantID": "t"}}),
        [f"{D}.azureDNS.clientID: Required value", f"{D}.azureDNS.clientSecretSecretRef: Required value"],
    ),
    (
        "azure service principal with a secret missing its key",
        dns01(
            {
                "azureDNS": {
                    "subscriptionID": "s",
                    "resourceGroupName": "r",
                    "clientID": "c",
                    "tenantID": "t",
                    "clientSecretSecretRef": {"name": "s"},
                }
            }
        ),
        [f"{D}.azureDNS.clientSecretSecretRef.key: Required value: secret key is required"],
    ),
    (
        "azure service principal with a managed identity",
        dns01(
            {
                "azureDNS": {
                    "subscriptionID": "s",
                    "resourceGroupName": "r",
                    "clientID": "c",
                    "managedIdentity": {"clientID": "m"},
                }
            }
        ),
        [
            f"{D}.azureDNS.clientSecretSecretRef: Required value",
            f"{D}.azureDNS.tenantID: Required value",
            f"{D}.azureDNS.managedIdentity: Forbidden: managed identity cannot be used at the same time as clientID, "
            "clientSecretSecretRef or tenantID",
        ],
    ),
    (
        "azure managed identity with client and resource ids",
        dns01(
            {
                "azureDNS": {
                    "subscriptionID": "s",
                    "resourceGroupName": "r",
                    "managedIdentity": {"clientID": "c", "resourceID": "r"},
                }
            }
        ),
        [
            f"{D}.azureDNS.managedIdentity: Forbidden: managedIdentityClientID and managedIdentityResourceID cannot "
            "both be specified"
        ],
    ),
    (
        "azure managed identity with tenant and resource ids",
        dns01(
            {
                "azureDNS": {
                    "subscriptionID": "s",
                    "resourceGroupName": "r",
                    "managedIdentity": {"tenantID": "t", "resourceID": "r"},
                }
            }
        ),
        [
            f"{D}.azureDNS.managedIdentity: Forbidden: managedIdentityTenantID and managedIdentityResourceID cannot "
            "both be specified",
            f"{D}.azureDNS.managedIdentity: Required value: managedIdentityClientID is required when using "
            "managedIdentityTenantID",
        ],
    ),
    (
        "azure managed identity with tenant and client ids",
        dns01(
            {
                "azureDNS": {
                    "subscriptionID": "s",
                    "resourceGroupName": "r",
                    "managedIdentity": {"tenantID": "t", "clientID": "c"},
                }
            }
        ),
        [],
    ),
    ("digitalocean", dns01({"digitalocean": {"tokenSecretRef": SKS}}), []),
    (
        "digitalocean token without key",
        dns01({"digitalocean": {"tokenSecretRef": {"name": "s"}}}),
        [f"{D}.digitalocean.tokenSecretRef.key: Required value: secret key is required"],
    ),
    ("acmeDNS", dns01({"acmeDNS": {"host": "h", "accountSecretRef": SKS}}), []),
    (
        "acmeDNS without host",
        dns01({"acmeDNS": {"host": "", "accountSecretRef": {"name": "s"}}}),
        [
            f"{D}.acmeDNS.accountSecretRef.key: Required value: secret key is required",
            f"{D}.acmeDNS.host: Required value",
        ],
    ),
    ("rfc2136", dns01({"rfc2136": {"nameserver": "127.0.0.1:53", "tsigKeyName": "k", "tsigSecretSecretRef": SKS}}), []),
    ("rfc2136 without TSIG", dns01({"rfc2136": {"nameserver": "ns.example.com"}}), []),
    ("rfc2136 without nameserver", dns01({"rfc2136": {"nameserver": ""}}), [f"{D}.rfc2136.nameserver: Required value"]),
    *[
        (
            f"rfc2136 nameserver {nameserver}",
            dns01({"rfc2136": {"nameserver": nameserver}}),
            [f'{D}.rfc2136.nameserver: Invalid value: "{nameserver}": {NAMESERVER_FORM}'],
        )
        for nameserver in ("2001:db8::1", "[]:53", ":53")
    ],
    *[
        (f"rfc2136 nameserver {nameserver}", dns01({"rfc2136": {"nameserver": nameserver}}), [])
        for nameserver in ("[2001:db8::1]", "[2001:db8::1]:53", "8.8.8.8:", "nameserver.com")
    ],
    (
        "rfc2136 TSIG algorithm in lower case",
        dns01(
            {
                "rfc2136": {
                    "nameserver": "ns:53",
                    "tsigAlgorithm": "hmacsha256",
                    "tsigKeyName": "k",
                    "tsigSecretSecretRef": SKS,
                }
            }
        ),
        [],
    ),
    (
        "rfc2136 unknown TSIG algorithm",
        dns01(
            {
                "rfc2136": {
                    "nameserver": "ns:53",
                    "tsigAlgorithm": "HAMMOCK",
                    "tsigKeyName": "k",
                    "tsigSecretSecretRef": SKS,
                }
            }
        ),
        [
            f'{D}.rfc2136.tsigAlgorithm: Unsupported value: "": supported values: "HMACMD5", "HMACSHA1", "HMACSHA256", '
            '"HMACSHA512"'
        ],
    ),
    (
        "rfc2136 key name without secret",
        dns01({"rfc2136": {"nameserver": "ns:53", "tsigKeyName": "k"}}),
        [
            f"{D}.rfc2136.tsigSecretSecretRef.name: Required value: secret name is required",
            f"{D}.rfc2136.tsigSecretSecretRef.key: Required value: secret key is required",
        ],
    ),
    (
        "rfc2136 secret without key name",
        dns01({"rfc2136": {"nameserver": "ns:53", "tsigSecretSecretRef": SKS}}),
        [f"{D}.rfc2136.tsigKeyName: Required value"],
    ),
    (
        "two providers",
        dns01(
            {"cloudflare": {"apiTokenSecretRef": SKS}, "route53": {}, "webhook": {"groupName": "g", "solverName": "s"}}
        ),
        [
            f"{D}.route53: Forbidden: may not specify more than one provider type",
            f"{D}.webhook: Forbidden: may not specify more than one provider type",
        ],
    ),
    (
        "akamai and acmeDNS do not take part in the count",
        dns01(
            {
                "acmeDNS": {"host": "h", "accountSecretRef": SKS},
                "digitalocean": {"tokenSecretRef": SKS},
            }
        ),
        [f"{D}.digitalocean: Forbidden: may not specify more than one provider type"],
    ),
]


@pytest.mark.parametrize(
    ("obj", "expected"),
    [(o, e) for _, o, e in ACCOUNT_CASES + HTTP01_CASES + DNS01_CASES],
    ids=[i for i, _, _ in ACCOUNT_CASES + HTTP01_CASES + DNS01_CASES],
)
def test_acme_issuer_rules(obj: Issuer, expected: list[str]) -> None:
    result = validate_issuer_create(obj, DEFAULT_GATES)
    assert messages(result) == expected
    assert result.warnings == ()


def test_gateway_parent_ref_needs_a_name_with_a_kind() -> None:
    # The CRD requires a non-empty name, so only a direct caller can get here; the rule still holds.
    route = ACMEChallengeSolverHTTP01GatewayHTTPRoute(
        parent_refs=[ParentReference(name="", kind="Gateway"), ParentReference(name="")]
    )
    acme_spec = ACMEIssuer(
        server="s",
        private_key_secret_ref=SecretKeySelector(name="k"),
        solvers=[ACMEChallengeSolver(http01=ACMEChallengeSolverHTTP01(gateway_http_route=route))],
    )
    obj = Issuer(api_version=Issuer.API_VERSION, spec=IssuerSpec(acme=acme_spec))
    assert messages(validate_issuer_create(obj, DEFAULT_GATES)) == [
        f"{S0}.http01.gateway.parentRefs[0].name: Required value: name is required when kind is specified"
    ]


def test_deprecated_eab_key_algorithm_warns() -> None:
    obj = acme({"externalAccountBinding": {"keyID": "id", "keySecretRef": SKS, "keyAlgorithm": "HS512"}})
    result = validate_issuer_create(obj, DEFAULT_GATES)
    assert result.ok
    assert result.warnings == (DEPRECATED_EAB_KEY_ALGORITHM_WARNING,)
    assert result.warnings == (
        "ACME issuer spec field 'externalAccount.keyAlgorithm' is deprecated. The value of this field will be ignored.",
    )
    plain = acme({"externalAccountBinding": {"keyID": "id", "keySecretRef": SKS}})
    assert validate_issuer_create(plain, DEFAULT_GATES).warnings == ()


def test_every_solver_is_checked() -> None:
    obj = acme({"solvers": [{"http01": {"ingress": {}}}, {}, {"dns01": {}}]})
    assert messages(validate_issuer_create(obj, DEFAULT_GATES)) == [
        "spec.acme.solvers[1]: Required value: no solver type configured",
        "spec.acme.solvers[2].dns01: Required value: no DNS01 provider configured",
    ]


@pytest.mark.parametrize(
    ("bundle", "reason"),
    [
        (CA_PEM, None),
        (b"junk\n" + CA_PEM + b"\ntrailing", None),
        (base64.b64decode(NOT_A_BUNDLE) + CA_PEM, None),
        (b"", "cert bundle didn't contain any valid certificates"),
        (CA_PEM.replace(b"CERTIFICATE", b"X509 CRL"), "cert bundle didn't contain any valid certificates"),
        (b"x" * 330_001, "provided PEM data was larger than the maximum 330000B"),
    ],
    ids=["one", "with junk", "after a bad block", "empty", "wrong type", "too large"],
)
def test_ca_bundle_soft_check(bundle: bytes, reason: str | None) -> None:
    assert ca_bundle_error(bundle) == reason
