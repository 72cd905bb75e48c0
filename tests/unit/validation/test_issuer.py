"""Issuer and ClusterIssuer rules: cert-manager's issuer_test.go cases for the issuer types but ACME."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import NameOID

from certkeeper.api.certmanager import ClusterIssuer, Issuer
from certkeeper.api.features import DEFAULT_GATES
from certkeeper.pki.keys import generate_ecdsa_private_key
from certkeeper.validation.issuer import (
    contains_dot_dot_segment,
    validate_cluster_issuer_create,
    validate_cluster_issuer_update,
    validate_issuer_create,
    validate_issuer_update,
)
from tests.unit.validation.support import build, merge, messages

_KEY = generate_ecdsa_private_key(256)
_NAME = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "test ca")])
CA_PEM = (
    x509.CertificateBuilder()
    .subject_name(_NAME)
    .issuer_name(_NAME)
    .public_key(_KEY.public_key())
    .serial_number(1)
    .not_valid_before(datetime(2024, 1, 1, tzinfo=UTC))
    .not_valid_after(datetime(2024, 1, 1, tzinfo=UTC) + timedelta(days=365))
    .sign(_KEY, hashes.SHA256())
    .public_bytes(Encoding.PEM)
)
CA_BUNDLE = base64.b64encode(CA_PEM).decode()
NOT_A_BUNDLE = base64.b64encode(b"-----BEGIN CERTIFICATE-----\naGVsbG8=\n-----END CERTIFICATE-----\n").decode()
VAULT: dict[str, Any] = {"server": "https://vault", "path": "pki/sign/role", "auth": {"tokenSecretRef": {"name": "t"}}}
AUTH_CHOICES = "please supply one of: appRole, kubernetes, tokenSecretRef, clientCertificate, aws"
DOT_DOT = "must not contain '..' path segments"


def issuer(spec: dict[str, Any]) -> Issuer:
    return build(Issuer, spec)


def vault(changes: dict[str, Any]) -> Issuer:
    return issuer({"vault": merge(VAULT, changes)})


def errors(obj: Issuer) -> list[str]:
    return messages(validate_issuer_create(obj, DEFAULT_GATES))


CASES: list[tuple[str, Issuer, list[str]]] = [
    ("no issuer type", issuer({}), ["spec: Required value: at least one issuer must be configured"]),
    ("self signed", issuer({"selfSigned": {}}), []),
    ("self signed with CRL distribution points", issuer({"selfSigned": {"crlDistributionPoints": ["http://x"]}}), []),
    (
        "two types: the second is one too many",
        issuer({"ca": {"secretName": "valid"}, "selfSigned": {}}),
        ["spec.selfSigned: Forbidden: may not specify more than one issuer type"],
    ),
    (
        "three types: only the first is checked",
        issuer({"ca": {"secretName": ""}, "vault": {"server": "", "path": "", "auth": {}}, "venafi": {"zone": ""}}),
        [
            "spec.ca.secretName: Required value",
            "spec.vault: Forbidden: may not specify more than one issuer type",
            "spec.venafi: Forbidden: may not specify more than one issuer type",
        ],
    ),
    ("ca", issuer({"ca": {"secretName": "valid"}}), []),
    ("ca without secret", issuer({"ca": {"secretName": ""}}), ["spec.ca.secretName: Required value"]),
    (
        "ca with an empty OCSP server",
        issuer({"ca": {"secretName": "valid", "ocspServers": ["http://ocsp", ""]}}),
        ['spec.ca.ocspServer[1]: Invalid value: "": must be a valid URL, e.g., http://ocsp.int-x3.letsencrypt.org'],
    ),
    (
        "ca with an empty issuing certificate URL",
        issuer({"ca": {"secretName": "valid", "issuingCertificateURLs": [""]}}),
        ['spec.ca.issuingCertificateURLs[0]: Invalid value: "": must be a valid URL'],
    ),
    ("vault with token", vault({}), []),
    ("vault with a CA bundle", vault({"caBundle": CA_BUNDLE}), []),
    (
        "vault with caBundle and caBundleSecretRef",
        vault({"caBundle": CA_BUNDLE, "caBundleSecretRef": {"name": "test-secret", "key": "ca.crt"}}),
        [
            'spec.vault.caBundle: Invalid value: "<snip>": specified caBundle and caBundleSecretRef cannot be used '
            "together",
            'spec.vault.caBundleSecretRef: Invalid value: "test-secret": specified caBundleSecretRef and caBundle '
            "cannot be used together",
        ],
    ),
    (
        "vault with nothing",
        issuer({"vault": {"server": "", "path": "", "auth": {}}}),
        [
            "spec.vault.server: Required value",
            "spec.vault.path: Required value",
            f"spec.vault.auth: Required value: {AUTH_CHOICES}",
        ],
    ),
    (
        "vault with a CA bundle without certificates",
        vault({"caBundle": NOT_A_BUNDLE}),
        ['spec.vault.caBundle: Invalid value: "<snip>": cert bundle didn\'t contain any valid certificates'],
    ),
    (
        "vault with client certificate and key",
        vault({"clientCertSecretRef": {"name": "c"}, "clientKeySecretRef": {"name": "k"}}),
        [],
    ),
    (
        "vault with a client certificate only",
        vault({"clientCertSecretRef": {"name": "c"}}),
        [
            'spec.vault.clientKeySecretRef: Invalid value: "<snip>": clientKeySecretRef must be provided when '
            "defining the clientCertSecretRef"
        ],
    ),
    (
        "vault with a client key only",
        vault({"clientKeySecretRef": {"name": "k"}}),
        [
            'spec.vault.clientCertSecretRef: Invalid value: "<snip>": clientCertSecretRef must be provided when '
            "defining the clientKeySecretRef"
        ],
    ),
    (
        "vault path with a .. segment",
        vault({"path": "pki/../sys/seal"}),
        [f'spec.vault.path: Invalid value: "pki/../sys/seal": {DOT_DOT}'],
    ),
    ("vault path with dots that are no segment", vault({"path": "pki..x/sign/..role"}), []),
    (
        "vault app role",
        vault(
            {
                "auth": {
                    "tokenSecretRef": None,
                    "appRole": {"path": "approle", "roleId": "r", "secretRef": {"name": "s", "key": "k"}},
                }
            }
        ),
        [],
    ),
    (
        "vault app role without role id and secret name, path escaping",
        vault(
            {
                "auth": {
                    "tokenSecretRef": None,
                    "appRole": {"path": "../../sys/seal", "roleId": "", "secretRef": {"name": ""}},
                }
            }
        ),
        [
            "spec.vault.auth.appRole.roleId: Required value",
            "spec.vault.auth.appRole.secretRef.name: Required value",
            f'spec.vault.auth.appRole.path: Invalid value: "../../sys/seal": {DOT_DOT}',
        ],
    ),
    (
        "vault client certificate auth escaping",
        vault({"auth": {"tokenSecretRef": None, "clientCertificate": {"mountPath": "../other"}}}),
        [f'spec.vault.auth.clientCertificate.path: Invalid value: "../other": {DOT_DOT}'],
    ),
    ("vault client certificate auth", vault({"auth": {"tokenSecretRef": None, "clientCertificate": {}}}), []),
    (
        "vault kubernetes auth with a secret",
        vault({"auth": {"tokenSecretRef": None, "kubernetes": {"role": "r", "secretRef": {"name": "s"}}}}),
        [],
    ),
    (
        "vault kubernetes auth with a service account",
        vault({"auth": {"tokenSecretRef": None, "kubernetes": {"role": "r", "serviceAccountRef": {"name": "sa"}}}}),
        [],
    ),
    (
        "vault kubernetes auth without role or token source, escaping",
        vault({"auth": {"tokenSecretRef": None, "kubernetes": {"role": "", "mountPath": "../other"}}}),
        [
            "spec.vault.auth.kubernetes.role: Required value",
            f'spec.vault.auth.kubernetes.path: Invalid value: "../other": {DOT_DOT}',
            "spec.vault.auth.kubernetes: Required value: please supply one of: secretRef, serviceAccountRef",
        ],
    ),
    (
        "vault kubernetes auth with both token sources",
        vault(
            {
                "auth": {
                    "tokenSecretRef": None,
                    "kubernetes": {"role": "r", "secretRef": {"name": "s"}, "serviceAccountRef": {"name": ""}},
                }
            }
        ),
        [
            "spec.vault.auth.kubernetes.serviceAccountRef.name: Required value",
            "spec.vault.auth.kubernetes: Forbidden: please supply one of: secretRef, serviceAccountRef",
        ],
    ),
    (
        "vault kubernetes auth with an empty secret name counts as none",
        vault({"auth": {"tokenSecretRef": None, "kubernetes": {"role": "r", "secretRef": {"name": ""}}}}),
        ["spec.vault.auth.kubernetes: Required value: please supply one of: secretRef, serviceAccountRef"],
    ),
    ("vault aws auth", vault({"auth": {"tokenSecretRef": None, "aws": {"role": "r"}}}), []),
    (
        "vault aws auth IRSA",
        vault(
            {
                "auth": {
                    "tokenSecretRef": None,
                    "aws": {"role": "r", "serviceAccountRef": {"name": "sa"}, "iamRoleArn": "arn"},
                }
            }
        ),
        [],
    ),
    (
        "vault aws auth IRSA without role ARN or account name, escaping",
        vault(
            {
                "auth": {
                    "tokenSecretRef": None,
                    "aws": {"role": "r", "mountPath": "../other", "serviceAccountRef": {"name": ""}},
                }
            }
        ),
        [
            f'spec.vault.auth.aws.mountPath: Invalid value: "../other": {DOT_DOT}',
            "spec.vault.auth.aws.serviceAccountRef.name: Required value",
            "spec.vault.auth.aws.iamRoleArn: Required value: iamRoleArn is required when using serviceAccountRef "
            "for IRSA",
        ],
    ),
    (
        "vault with several auth methods is tolerated",
        vault({"auth": {"appRole": {"path": "p", "roleId": "r", "secretRef": {"name": "s"}}}}),
        [],
    ),
    ("venafi cloud", issuer({"venafi": {"zone": "z", "cloud": {"apiTokenSecretRef": {"name": "s"}}}}), []),
    (
        "venafi tpp",
        issuer({"venafi": {"zone": "z", "tpp": {"url": "https://tpp", "credentialsRef": {"name": "c"}}}}),
        [],
    ),
    (
        "venafi without zone",
        issuer({"venafi": {"zone": "", "cloud": {"apiTokenSecretRef": {"name": "s"}}}}),
        ["spec.venafi.zone: Required value"],
    ),
    (
        "venafi with nothing",
        issuer({"venafi": {"zone": "z"}}),
        ["spec.venafi: Required value: please supply one of: tpp, cloud, ngts"],
    ),
    (
        "venafi with two",
        issuer(
            {
                "venafi": {
                    "zone": "z",
                    "tpp": {"url": "https://tpp", "credentialsRef": {"name": "c"}},
                    "cloud": {"apiTokenSecretRef": {"name": "s"}},
                }
            }
        ),
        ["spec.venafi: Forbidden: please supply one of: tpp, cloud, ngts"],
    ),
    (
        "venafi tpp without URL",
        issuer({"venafi": {"zone": "z", "tpp": {"url": "", "credentialsRef": {"name": "c"}}}}),
        ["spec.venafi.tpp.url: Required value"],
    ),
    (
        "venafi tpp with two CA sources",
        issuer(
            {
                "venafi": {
                    "zone": "z",
                    "tpp": {
                        "url": "https://tpp",
                        "credentialsRef": {"name": "c"},
                        "caBundle": CA_BUNDLE,
                        "caBundleSecretRef": {"name": "s"},
                    },
                }
            }
        ),
        ["spec.venafi.tpp: Forbidden: may not specify more than one of caBundle/caBundleSecretRef as TPP CA Bundle"],
    ),
    ("venafi ngts", issuer({"venafi": {"zone": "z", "ngts": {"tsgID": "1", "credentialsRef": {"name": "c"}}}}), []),
    (
        "venafi ngts without tsgID and credentials",
        issuer({"venafi": {"zone": "z", "ngts": {"tsgID": "", "credentialsRef": {"name": ""}}}}),
        ["spec.venafi.ngts.tsgID: Required value", "spec.venafi.ngts.credentialsRef.name: Required value"],
    ),
]


@pytest.mark.parametrize(("obj", "expected"), [(o, e) for _, o, e in CASES], ids=[i for i, _, _ in CASES])
def test_issuer_rules(obj: Issuer, expected: list[str]) -> None:
    result = validate_issuer_create(obj, DEFAULT_GATES)
    assert messages(result) == expected
    assert result.warnings == ()


def test_cluster_issuers_and_updates_follow_the_same_rules() -> None:
    spec = {"vault": {"server": "", "path": "x", "auth": {"tokenSecretRef": {"name": "t"}}}}
    expected = ["spec.vault.server: Required value"]
    cluster = build(ClusterIssuer, spec)
    assert messages(validate_cluster_issuer_create(cluster, DEFAULT_GATES)) == expected
    assert messages(validate_cluster_issuer_update(cluster, cluster, DEFAULT_GATES)) == expected
    good = issuer({"selfSigned": {}})
    assert messages(validate_issuer_update(good, issuer(spec), DEFAULT_GATES)) == expected
    assert validate_issuer_update(issuer(spec), good, DEFAULT_GATES).ok


@pytest.mark.parametrize(
    ("path", "escapes"),
    [
        ("pki/sign/role", False),
        ("..", True),
        ("../x", True),
        ("a/../b", True),
        ("a/..", True),
        ("a/.../b", False),
        ("a//b/", False),
        ("", False),
        (None, False),
    ],
)
def test_dot_dot_segments(path: str | None, escapes: bool) -> None:
    assert contains_dot_dot_segment(path) is escapes
