"""CertificateRequest rules: the cases of cert-manager's certificaterequest_test.go and the identity plugin's."""

from __future__ import annotations

import base64
from collections.abc import Sequence
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from certkeeper.api.certmanager import CertificateRequest
from certkeeper.api.features import DEFAULT_GATES
from certkeeper.pki.csr import build_csr
from certkeeper.pki.keys import KeyAlgorithm, KeySpec, generate_ecdsa_private_key
from certkeeper.pki.pem import encode_pem_certificate_request
from certkeeper.pki.template import CertificateTemplate, CsrOptions
from certkeeper.validation.certificaterequest import (
    truncate_request,
    validate_certificate_request_create,
    validate_certificate_request_update,
)
from certkeeper.validation.identity import UserInfo, mutate_identity
from tests.unit.validation.support import VALID_ISSUER_REF, build, messages

KEY = generate_ecdsa_private_key(256)
CONDITIONS = "status.conditions"


def csr_for(*usages: str, is_ca: bool = False, basic_constraints: bool = False) -> bytes:
    """A CSR as cert-manager's GenerateCSR writes it for a Certificate with these usages."""
    template = CertificateTemplate(
        dns_names=("example.com",), usages=usages, is_ca=is_ca, key=KeySpec(algorithm=KeyAlgorithm.ECDSA, size=256)
    )
    csr = build_csr(template, KEY, options=CsrOptions(encode_basic_constraints=basic_constraints))
    return encode_pem_certificate_request(csr)


def custom_csr(*extensions: x509.ExtensionType) -> bytes:
    builder = x509.CertificateSigningRequestBuilder().subject_name(
        x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "example.com")])
    )
    for extension in extensions:
        builder = builder.add_extension(extension, critical=False)
    return encode_pem_certificate_request(builder.sign(KEY, hashes.SHA256()))


NO_KEY_USAGE = x509.KeyUsage(False, False, False, False, False, False, False, False, False)


def request(
    csr: bytes,
    *,
    usages: Sequence[str] | None = None,
    is_ca: bool | None = None,
    conditions: Sequence[tuple[str, str]] = (),
    annotations: dict[str, str] | None = None,
    **spec: Any,
) -> CertificateRequest:
    body: dict[str, Any] = {"issuerRef": dict(VALID_ISSUER_REF), "request": base64.b64encode(csr).decode(), **spec}
    if usages is not None:
        body["usages"] = list(usages)
    if is_ca is not None:
        body["isCA"] = is_ca
    top: dict[str, Any] = {"metadata": {"name": "test", "annotations": annotations or {}}}
    if conditions:
        top["status"] = {
            "conditions": [
                {"type": kind, "status": status, "reason": "r", "lastTransitionTime": "2024-01-01T00:00:00Z"}
                for kind, status in conditions
            ]
        }
    return build(CertificateRequest, body, **top)


def create(cr: CertificateRequest, user: UserInfo | None = None) -> list[str]:
    return messages(validate_certificate_request_create(cr, DEFAULT_GATES, user=user))


DEFAULT_CSR = csr_for()

CREATE_CASES: list[tuple[str, CertificateRequest, list[str]]] = [
    ("csr with no usages", request(DEFAULT_CSR), []),
    (
        "csr with double signature usages",
        request(csr_for("signing", "digital signature", "key encipherment"), usages=["signing", "key encipherment"]),
        [],
    ),
    (
        "csr with double extended usages",
        request(
            csr_for("digital signature", "key encipherment", "server auth", "client auth"),
            usages=["signing", "key encipherment", "server auth", "client auth"],
        ),
        [],
    ),
    (
        "csr with reordered usages",
        request(
            csr_for("digital signature", "key encipherment", "server auth", "client auth"),
            usages=["server auth", "client auth", "key encipherment", "digital signature"],
        ),
        [],
    ),
    (
        "CA csr with cert sign usage",
        request(
            csr_for("any", "digital signature", "key encipherment", "cert sign", is_ca=True),
            is_ca=True,
            usages=["any", "digital signature", "key encipherment", "cert sign"],
        ),
        [],
    ),
    (
        "CA csr without cert sign usage (added for CAs)",
        request(
            csr_for("any", "digital signature", "key encipherment", "client auth", "server auth", is_ca=True),
            is_ca=True,
            usages=["any", "digital signature", "key encipherment", "client auth", "server auth"],
        ),
        [],
    ),
    ("CA csr with default usages", request(csr_for(is_ca=True), is_ca=True), []),
    ("default usages spelled out", request(DEFAULT_CSR, usages=["key encipherment", "digital signature"]), []),
    ("csr without any usage extension", request(custom_csr(), usages=["key encipherment", "digital signature"]), []),
    (
        "csr with an empty key usage extension",
        request(custom_csr(NO_KEY_USAGE), usages=["key encipherment", "digital signature"]),
        [
            'spec.request: Invalid value: "{}": encoded CSR error: the KeyUsages [] do not match the expected '
            "KeyUsages [ 'digital signature', 'key encipherment' ]"
        ],
    ),
    (
        "csr without every usage of the request",
        request(
            csr_for("digital signature", "key encipherment", "server auth"),
            usages=["signing", "key encipherment", "server auth", "client auth"],
        ),
        [
            "spec.request: Invalid value: \"{}\": encoded CSR error: the ExtKeyUsages [ 'server auth' ] do not match "
            "the expected ExtKeyUsages [ 'server auth', 'client auth' ]"
        ],
    ),
    (
        "request without every usage of the csr",
        request(
            csr_for("digital signature", "key encipherment", "server auth", "client auth"),
            usages=["signing", "key encipherment"],
        ),
        [
            "spec.request: Invalid value: \"{}\": encoded CSR error: the ExtKeyUsages [ 'server auth', 'client "
            "auth' ] "
            "do not match the expected ExtKeyUsages []"
        ],
    ),
    (
        "csr with only an extended key usage",
        request(
            custom_csr(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH])),
            usages=["server auth"],
        ),
        [],
    ),
    (
        "any, signing, key encipherment, client and server auth on a CA",
        request(
            csr_for("any", "signing", "key encipherment", "client auth", "server auth", is_ca=True),
            is_ca=True,
            usages=["any", "signing", "key encipherment", "client auth", "server auth"],
        ),
        [],
    ),
    (
        "basic constraints agree",
        request(csr_for(is_ca=True, basic_constraints=True), is_ca=True),
        [],
    ),
    (
        "basic constraints disagree",
        request(
            csr_for(basic_constraints=True, is_ca=True), usages=["cert sign", "digital signature", "key encipherment"]
        ),
        ['spec.request: Invalid value: "{}": encoded CSR error: IsCA true does not match expected value false'],
    ),
    ("single Approved=True", request(DEFAULT_CSR, conditions=[("Approved", "True")]), []),
    ("single Denied=True", request(DEFAULT_CSR, conditions=[("Denied", "True")]), []),
    (
        "single Approved=False",
        request(DEFAULT_CSR, conditions=[("Approved", "False")]),
        ['status.conditions.Approved: Invalid value: "False": "Approved" condition may only be set to True'],
    ),
    (
        "single Denied=Unknown",
        request(DEFAULT_CSR, conditions=[("Denied", "Unknown")]),
        ['status.conditions.Denied: Invalid value: "Unknown": "Denied" condition may only be set to True'],
    ),
    (
        "Approved=False and Denied=False",
        request(DEFAULT_CSR, conditions=[("Approved", "False"), ("Denied", "False")]),
        [
            'status.conditions.Approved: Invalid value: "False": "Approved" condition may only be set to True',
            'status.conditions.Denied: Invalid value: "False": "Denied" condition may only be set to True',
            "status.conditions: Forbidden: both 'Denied' and 'Approved' conditions cannot coexist",
        ],
    ),
    (
        "Approved=True and Denied=True",
        request(DEFAULT_CSR, conditions=[("Approved", "True"), ("Denied", "True")]),
        ["status.conditions: Forbidden: both 'Denied' and 'Approved' conditions cannot coexist"],
    ),
    (
        "two Approved conditions",
        request(DEFAULT_CSR, conditions=[("Approved", "True"), ("Approved", "True")]),
        ['status.conditions: Forbidden: multiple "Approved" conditions present'],
    ),
    (
        "two Denied conditions",
        request(DEFAULT_CSR, conditions=[("Denied", "True"), ("Denied", "True")]),
        ['status.conditions: Forbidden: multiple "Denied" conditions present'],
    ),
    ("other conditions are not checked", request(DEFAULT_CSR, conditions=[("Ready", "False")]), []),
    (
        "issuer reference",
        request(DEFAULT_CSR, issuerRef={"name": "", "kind": "AWSPCAIssuer"}),
        [
            "spec.issuerRef.name: Required value: must be specified",
            'spec.issuerRef.kind: Invalid value: "AWSPCAIssuer": must be one of Issuer or ClusterIssuer (did you '
            "forget to set spec.issuerRef.kind.group?)",
        ],
    ),
    ("empty request", request(b""), ["spec.request: Required value: must be specified"]),
]


@pytest.mark.parametrize(("cr", "expected"), [(c, e) for _, c, e in CREATE_CASES], ids=[i for i, _, _ in CREATE_CASES])
def test_create(cr: CertificateRequest, expected: list[str]) -> None:
    truncated = truncate_request(cr.spec.request).replace("\\", "\\\\").replace("\n", "\\n")
    assert create(cr) == [message.replace('"{}"', f'"{truncated}"') for message in expected]


@pytest.mark.parametrize(
    ("csr", "reason"),
    [
        (b"not a csr", "error decoding certificate request PEM block: no PEM data was found in given input"),
        (
            b"-----BEGIN CERTIFICATE REQUEST-----\n" + b"A" * 40_000 + b"\n-----END CERTIFICATE REQUEST-----\n",
            "error decoding certificate request PEM block: provided PEM data was larger than the maximum 36500B",
        ),
    ],
    ids=["garbage", "too large"],
)
def test_unusable_requests(csr: bytes, reason: str) -> None:
    (error,) = validate_certificate_request_create(request(csr), DEFAULT_GATES).errors
    assert (error.field, error.detail) == ("spec.request", reason)
    # The request is quoted, cut to 100 bytes, never whole.
    assert error.bad_value == truncate_request(csr)
    assert len(str(error.bad_value)) <= 100


def test_a_csr_whose_signature_does_not_verify_is_refused() -> None:
    der = bytearray(x509.load_pem_x509_csr(custom_csr()).public_bytes(Encoding.DER))
    der[-5] ^= 0xFF  # inside the signature value, which closes the structure
    tampered = x509.load_der_x509_csr(bytes(der)).public_bytes(Encoding.PEM)
    (error,) = validate_certificate_request_create(request(tampered), DEFAULT_GATES).errors
    assert (error.field, error.detail) == ("spec.request", "certificate request signature is invalid")


def test_truncate_request() -> None:
    assert truncate_request(b"x" * 100) == "x" * 100
    assert truncate_request(b"x" * 101) == "x" * 97 + "..."


# --- update --------------------------------------------------------------------------------------

BASE_ANNOTATIONS = {"cert-manager.io/foo": "abc", "acme.cert-manager.io/bar": "123", "other": "x"}


def update(old: CertificateRequest, new: CertificateRequest) -> list[str]:
    return messages(validate_certificate_request_update(old, new, DEFAULT_GATES))


def test_update_frozen_annotations_and_spec() -> None:
    old = request(DEFAULT_CSR, annotations=BASE_ANNOTATIONS)
    changed = request(csr_for("server auth"), annotations={"acme.cert-manager.io/bar": "123", "123": "abc"})
    assert update(old, changed) == [
        "metadata.annotations.cert-manager.io/foo: Forbidden: cannot change cert-manager annotation after creation",
        "spec: Forbidden: cannot change spec after creation",
    ]
    changed = request(DEFAULT_CSR, annotations={"cert-manager.io/foo": "abc", "acme.cert-manager.io/bar": "9"})
    assert update(old, changed) == [
        "metadata.annotations.acme.cert-manager.io/bar: Forbidden: cannot change cert-manager annotation after "
        "creation",
        "metadata.annotations.acme.cert-manager.io/bar: Forbidden: cannot change cert-manager annotation after "
        "creation",
    ]
    added = request(DEFAULT_CSR, annotations={**BASE_ANNOTATIONS, "cert-manager.io/new": "1"})
    assert update(old, added) == [
        "metadata.annotations.cert-manager.io/new: Forbidden: cannot change cert-manager annotation after creation"
    ]
    others = request(DEFAULT_CSR, annotations={**BASE_ANNOTATIONS, "other": "y", "example.com/z": "1"})
    assert update(old, others) == []


def test_update_compares_specs_with_issuer_defaults() -> None:
    stored = request(DEFAULT_CSR, issuerRef={"name": "ca", "kind": "Issuer", "group": "cert-manager.io"})
    reapplied = request(DEFAULT_CSR, issuerRef={"name": "ca"})
    assert update(stored, reapplied) == []
    other_issuer = request(DEFAULT_CSR, issuerRef={"name": "ca", "kind": "ClusterIssuer"})
    assert update(stored, other_issuer) == ["spec: Forbidden: cannot change spec after creation"]


UPDATE_CONDITION_CASES: list[tuple[str, list[tuple[str, str]], list[tuple[str, str]], list[str]]] = [
    ("Approved=True unchanged", [("Approved", "True")], [("Approved", "True")], []),
    ("Denied=True unchanged", [("Denied", "True")], [("Denied", "True")], []),
    ("Approved added", [], [("Approved", "True")], []),
    ("Denied added next to Ready", [("Ready", "False")], [("Ready", "False"), ("Denied", "True")], []),
    (
        "Approved=True changed to False",
        [("Approved", "True")],
        [("Approved", "False")],
        [
            "status.conditions: Forbidden: 'Approved' condition may not be modified once set",
            'status.conditions.Approved: Invalid value: "False": "Approved" condition may only be set to True',
        ],
    ),
    (
        "Denied changed to Approved",
        [("Denied", "True")],
        [("Approved", "True")],
        ["status.conditions: Forbidden: 'Denied' condition may not be modified once set"],
    ),
    (
        "Approved changed to Denied",
        [("Approved", "True")],
        [("Denied", "True")],
        ["status.conditions: Forbidden: 'Approved' condition may not be modified once set"],
    ),
    (
        "Approved removed",
        [("Approved", "True")],
        [],
        ["status.conditions: Forbidden: 'Approved' condition may not be modified once set"],
    ),
    (
        "Denied added to Approved",
        [("Approved", "True")],
        [("Approved", "True"), ("Denied", "True")],
        ["status.conditions: Forbidden: both 'Denied' and 'Approved' conditions cannot coexist"],
    ),
]


@pytest.mark.parametrize(
    ("before", "after", "expected"),
    [(b, a, e) for _, b, a, e in UPDATE_CONDITION_CASES],
    ids=[i for i, _, _, _ in UPDATE_CONDITION_CASES],
)
def test_update_conditions(before: list[tuple[str, str]], after: list[tuple[str, str]], expected: list[str]) -> None:
    assert update(request(DEFAULT_CSR, conditions=before), request(DEFAULT_CSR, conditions=after)) == expected


def test_a_changed_reason_is_a_modified_condition() -> None:
    old = request(DEFAULT_CSR, conditions=[("Approved", "True")])
    new_raw = {"type": "Approved", "status": "True", "reason": "other", "lastTransitionTime": "2024-01-01T00:00:00Z"}
    new = build(
        CertificateRequest,
        {"issuerRef": dict(VALID_ISSUER_REF), "request": base64.b64encode(DEFAULT_CSR).decode()},
        metadata={"name": "test", "annotations": {}},
        status={"conditions": [new_raw]},
    )
    assert update(old, new) == ["status.conditions: Forbidden: 'Approved' condition may not be modified once set"]


# --- identity ------------------------------------------------------------------------------------

ALICE = UserInfo(username="alice", uid="u-1", groups=("a", "b"), extra={"scopes": ("x", "y")})


def with_identity(**identity: Any) -> CertificateRequest:
    return request(DEFAULT_CSR, **identity)


def test_identity_create_must_be_the_requester() -> None:
    forged = with_identity(username="bob", uid="u-2", groups=["a"], extra={"scopes": ["x"]})
    assert create(forged, ALICE) == [
        "spec.uid: Forbidden: uid identity must be that of the requester",
        "spec.username: Forbidden: username identity must be that of the requester",
        "spec.groups: Forbidden: groups identity must be that of the requester",
        "spec.extra: Forbidden: extra identity must be that of the requester",
    ]
    # Groups and extra values compare as unordered lists.
    same = with_identity(username="alice", uid="u-1", groups=["b", "a"], extra={"scopes": ["y", "x"]})
    assert create(same, ALICE) == []
    assert create(mutate_identity(forged, ALICE), ALICE) == []
    # Without a known requester there is nothing to compare with.
    assert create(forged) == []


def test_identity_mutation_sets_every_field() -> None:
    cr = mutate_identity(with_identity(username="bob", extra={"k": ["v"]}), UserInfo(username="carol"))
    assert (cr.spec.username, cr.spec.uid, cr.spec.groups, cr.spec.extra) == ("carol", "", [], None)
    cr = mutate_identity(cr, ALICE)
    assert (cr.spec.username, cr.spec.uid, cr.spec.groups, cr.spec.extra) == (
        "alice",
        "u-1",
        ["a", "b"],
        {"scopes": ["x", "y"]},
    )


def test_identity_update_is_frozen() -> None:
    old = with_identity(username="alice", uid="u-1", groups=["a", "b"], extra={"scopes": ["x", "y"]})
    new = with_identity(username="bob", uid="u-2", groups=["a"], extra={"scopes": ["y", "x"]})
    assert update(old, new) == [
        "spec.uid: Forbidden: uid identity cannot be changed once set",
        "spec.username: Forbidden: username identity cannot be changed once set",
        "spec.groups: Forbidden: groups identity cannot be changed once set",
        "spec.extra: Forbidden: extra identity cannot be changed once set",
        "spec: Forbidden: cannot change spec after creation",
    ]
    reordered = with_identity(username="alice", uid="u-1", groups=["b", "a"], extra={"scopes": ["x", "y"]})
    assert update(old, reordered) == ["spec: Forbidden: cannot change spec after creation"]
    assert validate_certificate_request_update(old, new, DEFAULT_GATES, check_identity=False).errors[-1].field == "spec"
