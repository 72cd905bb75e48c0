"""Certificate rules: the cases of cert-manager's certificate_test.go, with its paths and messages."""

from __future__ import annotations

from typing import Any

import pytest
from msgspec.structs import replace

from certkeeper.api.certmanager import Certificate, CertificateAdditionalOutputFormat, CertificatePrivateKey
from certkeeper.api.features import DEFAULT_GATES, FeatureGates
from certkeeper.validation.certificate import validate_certificate_create, validate_certificate_update
from tests.unit.validation.support import VALID_ISSUER_REF, build, merge, messages

BASE: dict[str, Any] = {"commonName": "testcn", "secretName": "abc", "issuerRef": dict(VALID_ISSUER_REF)}
SUBDOMAIN = (
    "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start "
    "and end with an alphanumeric character (e.g. 'example.com', regex used for validation is "
    "'[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"
)
NO_NAMES = (
    'spec: Invalid value: "": at least one of commonName (from the commonName field or from a literalSubject), '
    "dnsNames, emailSANs, ipAddresses, otherNames, or uriSANs must be set"
)
LABEL_VALUE = (
    "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start "
    "and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for "
    "validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')"
)
CRON_HINT = "cron needs to follow: cron.Minute | cron.Hour | cron.Dom | cron.Month | cron.Dow"
RSA_SIGS = "[SHA256WithRSA SHA384WithRSA SHA512WithRSA]"
ECDSA_SIGS = "[ECDSAWithSHA256 ECDSAWithSHA384 ECDSAWithSHA512]"
NS_HOUR = 3_600_000_000_000


def certificate(changes: dict[str, Any]) -> Certificate:
    return build(Certificate, merge(BASE, changes))


CASES: list[tuple[str, dict[str, Any], list[str]]] = [
    ("valid", {}, []),
    (
        "valid external issuer kind in another group",
        {"issuerRef": {"kind": "AWSPCAClusterIssuer", "group": "x.io"}},
        [],
    ),
    (
        "external kind without group hints at the group",
        {"issuerRef": {"kind": "AWSPCAClusterIssuer"}},
        [
            'spec.issuerRef.kind: Invalid value: "AWSPCAClusterIssuer": must be one of Issuer or ClusterIssuer '
            "(did you forget to set spec.issuerRef.kind.group?)"
        ],
    ),
    (
        "unknown kind in cert-manager's group has no hint",
        {"issuerRef": {"kind": "Foo", "group": "cert-manager.io"}},
        ['spec.issuerRef.kind: Invalid value: "Foo": must be one of Issuer or ClusterIssuer'],
    ),
    ("issuer kind Issuer", {"issuerRef": {"kind": "Issuer"}}, []),
    ("missing secretName", {"secretName": ""}, ["spec.secretName: Required value: must be specified"]),
    (
        "secretName not a subdomain",
        {"secretName": "testFoo"},
        [f'spec.secretName: Invalid value: "testFoo": {SUBDOMAIN}'],
    ),
    (
        "secretName too long",
        {"secretName": "a" * 254},
        [f'spec.secretName: Invalid value: "{"a" * 254}": must be no more than 253 characters'],
    ),
    ("no common name and no SANs", {"commonName": None}, [NO_NAMES]),
    ("dnsNames alone", {"commonName": None, "dnsNames": ["example.com"]}, []),
    ("uris alone", {"commonName": None, "uris": ["spiffe://x/y"]}, []),
    ("emails alone", {"commonName": None, "emailAddresses": ["a@b.c"]}, []),
    ("ips alone", {"commonName": None, "ipAddresses": ["10.0.0.1"]}, []),
    ("otherNames alone", {"commonName": None, "otherNames": [{"oid": "1.2.3", "utf8Value": "x"}]}, []),
    ("missing issuer name", {"issuerRef": {"name": ""}}, ["spec.issuerRef.name: Required value: must be specified"]),
    (
        "rsa key too small",
        {"privateKey": {"algorithm": "RSA", "size": 1024}},
        ["spec.privateKey.size: Invalid value: 1024: must be between 2048 and 8192 for rsa keyAlgorithm"],
    ),
    (
        "rsa key too big (no algorithm means rsa)",
        {"privateKey": {"size": 8196}},
        ["spec.privateKey.size: Invalid value: 8196: must be between 2048 and 8192 for rsa keyAlgorithm"],
    ),
    ("rsa 4096", {"privateKey": {"algorithm": "RSA", "size": 4096}}, []),
    (
        "ecdsa size unsupported",
        {"privateKey": {"algorithm": "ECDSA", "size": 100}},
        ['spec.privateKey.size: Unsupported value: 100: supported values: "256", "384", "521"'],
    ),
    ("ecdsa 521", {"privateKey": {"algorithm": "ECDSA", "size": 521}}, []),
    ("ed25519 ignores size", {"privateKey": {"algorithm": "Ed25519", "size": 1}}, []),
    ("negative size is not checked", {"privateKey": {"size": -5}}, []),
    ("explicit rotation policy", {"privateKey": {"rotationPolicy": "Never"}}, []),
    ("bad ip", {"ipAddresses": ["blah"]}, ['spec.ipAddresses[0]: Invalid value: "blah": invalid IP address']),
    (
        "ipv6 with zone",
        {"ipAddresses": ["127.0.0.1", "fe80::1%eth0"]},
        ['spec.ipAddresses[1]: Invalid value: "fe80::1%eth0": invalid IP address'],
    ),
    ("ipv4 and ipv6", {"ipAddresses": ["127.0.0.1", "::1", "::ffff:10.0.0.1"]}, []),
    (
        "common name of 65 bytes",
        {"commonName": "this-is-a-big-long-string-which-has-exactly-sixty-five-characters"},
        ["spec.commonName: Too long: may not be more than 64 bytes"],
    ),
    ("common name of 64 bytes", {"commonName": "x" * 64}, []),
    (
        "common name counted in bytes",
        {"commonName": "é" * 33},
        ["spec.commonName: Too long: may not be more than 64 bytes"],
    ),
    ("valid email", {"emailAddresses": ["alice@example.com"]}, []),
    (
        "email without @",
        {"emailAddresses": ["alice.example.com"]},
        [
            "spec.emailAddresses[0]: Invalid value: \"alice.example.com\": invalid email address: mail: missing '@' "
            "or angle-addr"
        ],
    ),
    (
        "email with display name",
        {"emailAddresses": ["Alice <alice@example.com>"]},
        [
            'spec.emailAddresses[0]: Invalid value: "Alice <alice@example.com>": invalid email address: make sure '
            "the supplied value only contains the email address itself"
        ],
    ),
    (
        "email as mailto URI",
        {"emailAddresses": ["mailto:alice@example.com"]},
        [
            'spec.emailAddresses[0]: Invalid value: "mailto:alice@example.com": invalid email address: mail: '
            "expected comma"
        ],
    ),
    (
        "revisionHistoryLimit 0",
        {"revisionHistoryLimit": 0},
        ["spec.revisionHistoryLimit: Invalid value: 0: must not be less than 1"],
    ),
    ("revisionHistoryLimit 1", {"revisionHistoryLimit": 1}, []),
    ("empty secretTemplate", {"secretTemplate": {"annotations": {}, "labels": {}}}, []),
    (
        "secretTemplate labels and annotations",
        {"secretTemplate": {"annotations": {"my-annotation.com/foo": "app=bar"}, "labels": {"my-label.com/foo": "ev"}}},
        [],
    ),
    (
        "secretTemplate with cert-manager annotations",
        {
            "secretTemplate": {
                "annotations": {
                    "app.com/valid": "valid",
                    "cert-manager.io/alt-names": "example.com",
                    "cert-manager.io/certificate-name": "selfsigned-cert",
                    "cert-manager.io/allow-direct-injection": "true",
                }
            }
        },
        [
            'spec.secretTemplate.annotations: Invalid value: "cert-manager.io/alt-names": '
            "cert-manager.io/* annotations are not allowed",
            'spec.secretTemplate.annotations: Invalid value: "cert-manager.io/certificate-name": '
            "cert-manager.io/* annotations are not allowed",
        ],
    ),
    (
        "secretTemplate annotations too long",
        {"secretTemplate": {"annotations": {"app.com/invalid": "0" * 262144}}},
        ["spec.secretTemplate.annotations: Too long: may not be more than 262144 bytes"],
    ),
    (
        "secretTemplate label value",
        {"secretTemplate": {"labels": {"app.com/invalid-chars": "invalid=chars"}}},
        [f'spec.secretTemplate.labels: Invalid value: "invalid=chars": {LABEL_VALUE}'],
    ),
    (
        "secretTemplate label key",
        {"secretTemplate": {"labels": {"a/b/c": "x", "-bad": "y"}}},
        [
            'spec.secretTemplate.labels: Invalid value: "-bad": name part must consist of alphanumeric characters, '
            "'-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  "
            "or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')",
            'spec.secretTemplate.labels: Invalid value: "a/b/c": a valid label key must consist of alphanumeric '
            "characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or "
            "'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]') with "
            "an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')",
        ],
    ),
    (
        "signature algorithm SHA+RSA for default (RSA) key",
        {"signatureAlgorithm": "SHA256WithRSA"},
        [],
    ),
    (
        "SHA+RSA for RSA key",
        {"privateKey": {"algorithm": "RSA", "size": 3072}, "signatureAlgorithm": "SHA256WithRSA"},
        [],
    ),
    (
        "SHA+RSA for ECDSA key",
        {"privateKey": {"algorithm": "ECDSA"}, "signatureAlgorithm": "SHA256WithRSA"},
        [
            'spec.signatureAlgorithm: Invalid value: "SHA256WithRSA": for key algorithm ECDSA the allowed '
            f"signature algorithms are {ECDSA_SIGS}"
        ],
    ),
    ("ECDSA sig for ECDSA key", {"privateKey": {"algorithm": "ECDSA"}, "signatureAlgorithm": "ECDSAWithSHA256"}, []),
    (
        "ECDSA sig for RSA key",
        {"privateKey": {"algorithm": "RSA"}, "signatureAlgorithm": "ECDSAWithSHA256"},
        [
            'spec.signatureAlgorithm: Invalid value: "ECDSAWithSHA256": for key algorithm RSA the allowed '
            f"signature algorithms are {RSA_SIGS}"
        ],
    ),
    (
        "Ed25519 sig for RSA key",
        {"privateKey": {"algorithm": "RSA"}, "signatureAlgorithm": "PureEd25519"},
        [
            'spec.signatureAlgorithm: Invalid value: "PureEd25519": for key algorithm RSA the allowed signature '
            f"algorithms are {RSA_SIGS}"
        ],
    ),
    (
        "Ed25519 sig for ECDSA key",
        {"privateKey": {"algorithm": "ECDSA"}, "signatureAlgorithm": "PureEd25519"},
        [
            'spec.signatureAlgorithm: Invalid value: "PureEd25519": for key algorithm ECDSA the allowed signature '
            f"algorithms are {ECDSA_SIGS}"
        ],
    ),
    ("Ed25519 sig for Ed25519 key", {"privateKey": {"algorithm": "Ed25519"}, "signatureAlgorithm": "PureEd25519"}, []),
    (
        "other names: empty oid and value",
        {"otherNames": [{"oid": "", "utf8Value": ""}]},
        [
            "spec.otherNames[0].oid: Required value: must be specified",
            'spec.otherNames[0].oid: Invalid value: "": invalid oid syntax',
            "spec.otherNames[0].utf8Value: Required value: must be set to a valid non-empty UTF8 string",
        ],
    ),
    (
        "other names: bad oid",
        {"otherNames": [{"oid": "1.2.3", "utf8Value": "x"}, {"oid": "1.a.3", "utf8Value": "y"}]},
        ['spec.otherNames[1].oid: Invalid value: "1.a.3": invalid oid syntax'],
    ),
    (
        "other names: Go accepts a single or signed arc",
        {"otherNames": [{"oid": "1", "utf8Value": "x"}, {"oid": "+1.-2", "utf8Value": "y"}]},
        [],
    ),
    (
        "additional output formats are unique",
        {"additionalOutputFormats": [{"type": "DER"}, {"type": "CombinedPEM"}]},
        [],
    ),
    (
        "renewal disabled with windows",
        {"renewal": {"policy": "Disabled", "windows": [{"windowDuration": "2h", "cron": "0 12 * * *"}]}},
        ["spec.renewal.windows: Forbidden: windows cannot be set when `renewal.policy` is set to Disabled"],
    ),
    ("renewal disabled", {"renewal": {"policy": "Disabled"}}, []),
    (
        "renewal with one window",
        {"renewal": {"policy": "RenewBefore", "windows": [{"windowDuration": "2h", "cron": "0 12 * * *"}]}},
        [],
    ),
    (
        "renewal window in a time zone",
        {
            "renewal": {
                "policy": "RenewBefore",
                "windows": [{"windowDuration": "1h30m", "cron": "@daily", "timezone": "America/Denver"}],
            }
        },
        [],
    ),
    (
        "renewal without policy",
        {"renewal": {}},
        ['spec.renewal.policy: Unsupported value: "": supported values: "Disabled", "RenewBefore"'],
    ),
    (
        "renewal cron with only a timezone prefix",
        {"renewal": {"policy": "RenewBefore", "windows": [{"windowDuration": "2h", "cron": "CRON_TZ=UTC"}]}},
        [
            'spec.renewal.windows[0].cron: Invalid value: "CRON_TZ=UTC": invalid cron syntax: failed to parse cron '
            f"spec 'CRON_TZ=UTC': expected timezone prefix to be followed by a cron spec: CRON_TZ=UTC. {CRON_HINT}"
        ],
    ),
    (
        "renewal cron with a timezone prefix",
        {
            "renewal": {
                "policy": "RenewBefore",
                "windows": [{"windowDuration": "2h", "cron": "TZ=Europe/Paris 0 12 * * *"}],
            }
        },
        [],
    ),
    (
        "renewal cron with six fields",
        {"renewal": {"policy": "RenewBefore", "windows": [{"windowDuration": "2h", "cron": "0 0 12 * * *"}]}},
        [
            'spec.renewal.windows[0].cron: Invalid value: "0 0 12 * * *": invalid cron syntax: failed to parse cron '
            f"spec '0 0 12 * * *': expected exactly 5 fields, found 6: [0 0 12 * * *]. {CRON_HINT}"
        ],
    ),
    (
        "renewal window with an unknown time zone",
        {
            "renewal": {
                "policy": "RenewBefore",
                "windows": [{"windowDuration": "2h", "cron": "0 12 * * *", "timezone": "Mars/Olympus"}],
            }
        },
        [
            'spec.renewal.windows[0].timezone: Invalid value: "Mars/Olympus": invalid value for timezone. timezone '
            "must be IANA compliant",
            'spec.renewal.windows[0].cron: Invalid value: "0 12 * * *": invalid cron syntax: failed to parse cron '
            f"spec '0 12 * * *': provided bad location Mars/Olympus: unknown time zone Mars/Olympus. {CRON_HINT}",
        ],
    ),
]


@pytest.mark.parametrize(("changes", "expected"), [(c, e) for _, c, e in CASES], ids=[i for i, _, _ in CASES])
def test_certificate_rules(changes: dict[str, Any], expected: list[str]) -> None:
    result = validate_certificate_create(certificate(changes), DEFAULT_GATES)
    assert messages(result) == expected
    assert result.warnings == ()


DURATION_CASES: list[tuple[str, dict[str, Any], list[str]]] = [
    ("valid duration and renewBefore", {"duration": "8760h", "renewBefore": "4320h"}, []),
    ("default duration, valid renewBefore", {"renewBefore": "720h"}, []),
    ("valid duration, default renewBefore", {"duration": "8760h"}, []),
    (
        "renewBefore longer than the default duration",
        {"renewBefore": "87600h"},
        [
            f"spec.renewBefore: Invalid value: {87600 * NS_HOUR}: certificate duration 2160h0m0s must be greater "
            "than renewBefore 87600h0m0s"
        ],
    ),
    (
        "renewBefore longer than the duration",
        {"duration": "720h", "renewBefore": "8760h"},
        [
            f"spec.renewBefore: Invalid value: {8760 * NS_HOUR}: certificate duration 720h0m0s must be greater than "
            "renewBefore 8760h0m0s"
        ],
    ),
    (
        "renewBefore equal to the duration",
        {"duration": "2h", "renewBefore": "120m"},
        [
            f"spec.renewBefore: Invalid value: {2 * NS_HOUR}: certificate duration 2h0m0s must be greater than "
            "renewBefore 2h0m0s"
        ],
    ),
    (
        "renewBefore below the minimum",
        {"renewBefore": "1s"},
        ["spec.renewBefore: Invalid value: 1000000000: certificate renewBefore must be greater than 5m0s"],
    ),
    (
        "renewBefore and renewBeforePercentage",
        {"renewBefore": "720h", "renewBeforePercentage": 95},
        [
            f"spec.renewBefore: Invalid value: {720 * NS_HOUR}: renewBefore and renewBeforePercentage are mutually "
            "exclusive and cannot both be set",
            "spec.renewBeforePercentage: Invalid value: 95: renewBefore and renewBeforePercentage are mutually "
            "exclusive and cannot both be set",
        ],
    ),
    ("duration and renewBeforePercentage", {"duration": "8760h", "renewBeforePercentage": 95}, []),
    # As upstream: with neither duration nor renewBefore, the percentage is not checked at all.
    ("renewBeforePercentage alone is not checked", {"renewBeforePercentage": 0}, []),
    (
        "renewBeforePercentage 0",
        {"duration": "2160h", "renewBeforePercentage": 0},
        [
            "spec.renewBeforePercentage: Invalid value: 0: certificate renewBeforePercentage must result in a "
            "renewBefore less than duration"
        ],
    ),
    (
        "renewBeforePercentage 100",
        {"duration": "2160h", "renewBeforePercentage": 100},
        [
            "spec.renewBeforePercentage: Invalid value: 100: certificate renewBeforePercentage must result in a "
            "renewBefore greater than 5m0s"
        ],
    ),
    (
        "duration below the minimum",
        {"duration": "30m", "renewBefore": "10m"},
        ["spec.duration: Invalid value: 1800000000000: certificate duration must be greater than 1h0m0s"],
    ),
    ("1% of ten years does not overflow", {"duration": "87600h", "renewBeforePercentage": 1}, []),
    ("1% of three years does not overflow", {"duration": "26280h", "renewBeforePercentage": 1}, []),
    (
        "zero duration is not the default",
        {"duration": "0s"},
        ["spec.duration: Invalid value: 0: certificate duration must be greater than 1h0m0s"],
    ),
    (
        "duration that is no Go duration",
        {"duration": "90d"},
        ['spec.duration: Invalid value: "90d": time: unknown unit "d" in duration "90d"'],
    ),
    (
        "renewBefore that is no Go duration",
        {"renewBefore": "soon"},
        ['spec.renewBefore: Invalid value: "soon": time: invalid duration "soon"'],
    ),
]


@pytest.mark.parametrize(
    ("changes", "expected"), [(c, e) for _, c, e in DURATION_CASES], ids=[i for i, _, _ in DURATION_CASES]
)
def test_durations(changes: dict[str, Any], expected: list[str]) -> None:
    assert messages(validate_certificate_create(certificate(changes), DEFAULT_GATES)) == expected


NC_GATE_OFF = DEFAULT_GATES.with_gates(name_constraints=False)
NAME_CONSTRAINT_CASES: list[tuple[str, dict[str, Any], FeatureGates, list[str]]] = [
    ("valid", {"isCA": True, "nameConstraints": {"permitted": {"dnsDomains": ["example.com"]}}}, DEFAULT_GATES, []),
    (
        "nothing constrained",
        {"isCA": True, "nameConstraints": {}},
        DEFAULT_GATES,
        ["spec.nameConstraints: Invalid value: {}: either permitted or excluded must be set"],
    ),
    (
        "gate disabled hides every other problem",
        {"isCA": True, "nameConstraints": {"permitted": {"dnsDomains": ["example.com"], "ipRanges": ["10.0.0.0"]}}},
        NC_GATE_OFF,
        ["spec.nameConstraints: Forbidden: feature gate NameConstraints must be enabled"],
    ),
    (
        "valid ip ranges",
        {
            "isCA": True,
            "nameConstraints": {
                "permitted": {"ipRanges": ["10.0.0.0/8", "192.168.0.0/16", "2001:db8::/32"]},
                "excluded": {"ipRanges": ["172.16.0.0/12", "fd00::/8"]},
            },
        },
        DEFAULT_GATES,
        [],
    ),
    (
        "invalid ip ranges",
        {
            "isCA": True,
            "nameConstraints": {
                "permitted": {"ipRanges": ["10.0.0.0", "10.0.0.0/8", "not-a-cidr"]},
                "excluded": {"ipRanges": ["2001:db8::/32", "192.168.0.1"]},
            },
        },
        DEFAULT_GATES,
        [
            'spec.nameConstraints.permitted.ipRanges[0]: Invalid value: "10.0.0.0": invalid CIDR address',
            'spec.nameConstraints.permitted.ipRanges[2]: Invalid value: "not-a-cidr": invalid CIDR address',
            'spec.nameConstraints.excluded.ipRanges[1]: Invalid value: "192.168.0.1": invalid CIDR address',
        ],
    ),
]


@pytest.mark.parametrize(
    ("changes", "gates", "expected"),
    [(c, g, e) for _, c, g, e in NAME_CONSTRAINT_CASES],
    ids=[i for i, _, _, _ in NAME_CONSTRAINT_CASES],
)
def test_name_constraints(changes: dict[str, Any], gates: FeatureGates, expected: list[str]) -> None:
    assert messages(validate_certificate_create(certificate(changes), gates)) == expected


def test_name_constraints_need_a_ca() -> None:
    cert = certificate({"nameConstraints": {"permitted": {"dnsDomains": ["example.com"]}}})
    (error,) = validate_certificate_create(cert, DEFAULT_GATES).errors
    assert (error.field, error.detail) == ("spec.nameConstraints", "isCA should be true when nameConstraints is set")
    # The value is the constraints' JSON, as apimachinery prints a struct.
    assert error.bad_value == {"permitted": {"dnsDomains": ["example.com"]}}


LITERAL_GATE = (
    "spec.literalSubject: Forbidden: Feature gate LiteralCertificateSubject must be enabled on both webhook and "
    "controller to use the alpha `literalSubject` field"
)
LITERAL_OFF = DEFAULT_GATES.with_gates(literal_certificate_subject=False)
LITERAL_CASES: list[tuple[str, dict[str, Any], FeatureGates, list[str]]] = [
    ("gate disabled", {"commonName": None, "literalSubject": "CN=testcn"}, LITERAL_OFF, [LITERAL_GATE]),
    ("only literalSubject", {"commonName": None, "literalSubject": "CN=testcn"}, DEFAULT_GATES, []),
    (
        "special characters, several DCs and well-known RDNs",
        {
            "commonName": None,
            "literalSubject": 'CN=James \\"Jim\\" Smith\\, III,DC=dc,DC=net,UID=jamessmith,STREET=La Rambla,'
            "L=Barcelona,C=Spain,O=Acme,OU=IT,OU=Admins",
        },
        DEFAULT_GATES,
        [],
    ),
    ("numeric OID types", {"commonName": None, "literalSubject": "2.5.4.3=foo,1.2.3.4=bar"}, DEFAULT_GATES, []),
    ("no CN and no SANs", {"commonName": None, "literalSubject": "O=SomeCorp"}, DEFAULT_GATES, [NO_NAMES]),
    (
        "with a commonName",
        {"literalSubject": "CN=testcn"},
        DEFAULT_GATES,
        [
            'spec.commonName: Invalid value: "testcn": When providing a `LiteralSubject` no `commonName` may be '
            "provided."
        ],
    ),
    (
        "unknown attribute type",
        {"commonName": None, "literalSubject": "C=O,B=TX,CN=foo"},
        DEFAULT_GATES,
        [
            'spec.literalSubject: Invalid value: "C=O,B=TX,CN=foo": Literal subject contains unrecognized key with '
            "value [TX]"
        ],
    ),
    (
        "does not parse",
        {"commonName": None, "literalSubject": "CN=a,=b", "dnsNames": ["x.example"]},
        DEFAULT_GATES,
        ['spec.literalSubject: Invalid value: "CN=a,=b": DN ended with incomplete type, value pair'],
    ),
    (
        "hex (BER) values are refused",
        {"commonName": None, "literalSubject": "CN=x,DF=#6666", "dnsNames": ["x.example"]},
        DEFAULT_GATES,
        [
            'spec.literalSubject: Invalid value: "CN=x,DF=#6666": unsupported distinguished name (DN) '
            '"CN=x,DF=#6666": notation does not support x509.subject identities containing "=#"'
        ],
    ),
    (
        "common name from the literal subject is length checked",
        {"commonName": None, "literalSubject": "CN=" + "x" * 65},
        DEFAULT_GATES,
        ["spec.commonName: Too long: may not be more than 64 bytes"],
    ),
]


@pytest.mark.parametrize(
    ("changes", "gates", "expected"),
    [(c, g, e) for _, c, g, e in LITERAL_CASES],
    ids=[i for i, _, _, _ in LITERAL_CASES],
)
def test_literal_subject(changes: dict[str, Any], gates: FeatureGates, expected: list[str]) -> None:
    assert messages(validate_certificate_create(certificate(changes), gates)) == expected


@pytest.mark.parametrize(
    "subject",
    [{"serialNumber": "1"}, {"organizations": ["US"]}, {"postalCodes": ["1"]}],
    ids=["serial", "org", "postal"],
)
def test_literal_subject_excludes_subject_properties(subject: dict[str, Any]) -> None:
    cert = certificate({"commonName": None, "literalSubject": "CN=testcn", "subject": subject})
    (error,) = validate_certificate_create(cert, DEFAULT_GATES).errors
    detail = "When providing a `LiteralSubject` no `Subject` properties may be provided."
    assert (error.field, error.detail, error.bad_value) == ("spec.subject", detail, subject)


def test_literal_subject_allows_an_empty_subject() -> None:
    cert = certificate({"commonName": None, "literalSubject": "CN=testcn", "subject": {"organizations": []}})
    assert validate_certificate_create(cert, DEFAULT_GATES).ok


def test_other_names_need_their_gate() -> None:
    cert = certificate({"otherNames": [{"oid": "", "utf8Value": ""}]})
    result = validate_certificate_create(cert, DEFAULT_GATES.with_gates(other_names=False))
    assert messages(result) == [
        "spec.OtherNames: Forbidden: Feature gate OtherNames must be enabled on both webhook and controller to use "
        "the alpha `otherNames` field"
    ]


def test_values_the_schema_would_refuse_are_still_checked() -> None:
    # The CRD enums stop these before the webhook; the rules still report them if called directly.
    cert = certificate({})
    spec = replace(
        cert.spec,
        private_key=CertificatePrivateKey(algorithm="blah"),  # type: ignore[arg-type]
        usages=["nonexistent"],
        additional_output_formats=[
            CertificateAdditionalOutputFormat(type=t)  # type: ignore[arg-type]
            for t in ("foo", "random", "foo", "bar", "bar", "bar")
        ],
    )
    assert messages(validate_certificate_create(replace(cert, spec=spec), DEFAULT_GATES)) == [
        'spec.privateKey.algorithm: Invalid value: "blah": must be either empty or one of rsa, ecdsa or ed25519',
        'spec.usages[0]: Invalid value: "nonexistent": unknown keyusage',
        'spec.additionalOutputFormats[type]: Duplicate value: "foo"',
        'spec.additionalOutputFormats[type]: Duplicate value: "bar"',
        'spec.additionalOutputFormats[type]: Duplicate value: "bar"',
    ]


KEYSTORE_CASES: list[tuple[str, dict[str, Any], list[str]]] = [
    (
        "JKS ref and password",
        {"jks": {"create": True, "password": "changeit", "passwordSecretRef": {"name": "s", "key": "k"}}},
        [
            "spec.keystores.jks: Forbidden: exactly one of passwordSecretRef and password must be provided for JKS "
            "keystores; cannot set both"
        ],
    ),
    (
        "JKS neither",
        {"jks": {"create": True}},
        [
            "spec.keystores.jks: Forbidden: must set exactly one of passwordSecretRef and password must for JKS "
            "keystores"
        ],
    ),
    (
        "JKS ref with an empty name counts as unset",
        {"jks": {"create": True, "passwordSecretRef": {"name": ""}}},
        [
            "spec.keystores.jks: Forbidden: must set exactly one of passwordSecretRef and password must for JKS "
            "keystores"
        ],
    ),
    (
        "JKS empty password",
        {"jks": {"create": True, "password": ""}},
        ["spec.keystores.jks.password: Forbidden: literal password cannot be empty if set on JKS keystores"],
    ),
    ("JKS password", {"jks": {"create": True, "password": "changeit"}}, []),
    (
        "PKCS12 ref and password",
        {"pkcs12": {"create": True, "password": "changeit", "passwordSecretRef": {"name": "s", "key": "k"}}},
        [
            "spec.keystores.pkcs12: Forbidden: exactly one of passwordSecretRef and password must be provided for "
            "PKCS#12 keystores; cannot set both"
        ],
    ),
    (
        "PKCS12 neither",
        {"pkcs12": {"create": False}},
        [
            "spec.keystores.pkcs12: Forbidden: must set exactly one of passwordSecretRef and password must for "
            "PKCS#12 keystores"
        ],
    ),
    (
        "PKCS12 empty password",
        {"pkcs12": {"create": True, "password": ""}},
        ["spec.keystores.pkcs12.password: Forbidden: literal password cannot be empty if set on PKCS#12 keystores"],
    ),
    ("PKCS12 ref", {"pkcs12": {"create": True, "passwordSecretRef": {"name": "s", "key": "k"}}}, []),
]


@pytest.mark.parametrize(
    ("keystores", "expected"), [(k, e) for _, k, e in KEYSTORE_CASES], ids=[i for i, _, _ in KEYSTORE_CASES]
)
def test_keystores(keystores: dict[str, Any], expected: list[str]) -> None:
    assert messages(validate_certificate_create(certificate({"keystores": keystores}), DEFAULT_GATES)) == expected


def test_every_error_is_reported_at_once() -> None:
    cert = certificate(
        {
            "commonName": None,
            "secretName": "",
            "issuerRef": {"name": ""},
            "ipAddresses": ["x"],
            "revisionHistoryLimit": 0,
        }
    )
    assert messages(validate_certificate_create(cert, DEFAULT_GATES)) == [
        "spec.secretName: Required value: must be specified",
        "spec.issuerRef.name: Required value: must be specified",
        'spec.ipAddresses[0]: Invalid value: "x": invalid IP address',
        "spec.revisionHistoryLimit: Invalid value: 0: must not be less than 1",
    ]


def test_update_applies_the_create_rules_to_the_new_object() -> None:
    old = certificate({})
    new = certificate({"secretName": ""})
    assert messages(validate_certificate_update(old, new, DEFAULT_GATES)) == [
        "spec.secretName: Required value: must be specified"
    ]
    assert validate_certificate_update(new, old, DEFAULT_GATES).ok
