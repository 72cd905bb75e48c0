"""Which CA source a target configures, whether the cainjector may read it, and what a source Secret
must carry: cert-manager's conditions and messages from sources.go and reconciler.go."""

from __future__ import annotations

from collections.abc import Mapping

import pytest
from hypothesis import given
from hypothesis import strategies as st

from certkeeper.cainjector.sources import (
    CAData,
    Refusal,
    Scope,
    SourceKind,
    SourceRef,
    ca_from_api_server,
    ca_from_certificate_secret,
    ca_from_secret,
    configured_source,
    has_injectable_annotation,
    indexed_reference,
    resolve_reference,
    split_namespaced_name,
)
from tests.unit.cainjector.builders import ca_pem, from_apiserver, from_certificate, from_secret, secret

ALL = frozenset(SourceKind)
CA = ca_pem("source-ca")


@pytest.mark.parametrize(
    ("annotations", "enabled", "expected"),
    [
        pytest.param({}, ALL, None, id="none"),
        pytest.param(from_secret("ns/s"), ALL, SourceKind.SECRET, id="secret"),
        pytest.param(from_certificate("ns/c"), ALL, SourceKind.CERTIFICATE, id="certificate"),
        pytest.param(from_apiserver(), ALL, SourceKind.API_SERVER, id="apiserver"),
        pytest.param(from_apiserver("True"), ALL, None, id="apiserver-only-lowercase-true"),
        pytest.param(from_apiserver("false"), ALL, None, id="apiserver-false"),
        pytest.param(from_secret(""), ALL, SourceKind.SECRET, id="secret-empty-value-still-configures"),
        pytest.param(
            {**from_secret("ns/s"), **from_certificate("ns/c"), **from_apiserver()},
            ALL,
            SourceKind.SECRET,
            id="secret-wins",
        ),
        pytest.param(
            {**from_certificate("ns/c"), **from_apiserver()}, ALL, SourceKind.CERTIFICATE, id="cert-before-api"
        ),
        pytest.param(
            {**from_certificate("ns/c"), **from_apiserver()},
            ALL - {SourceKind.CERTIFICATE},
            SourceKind.API_SERVER,
            id="certificate-source-disabled-falls-through",
        ),
        pytest.param(from_certificate("ns/c"), ALL - {SourceKind.CERTIFICATE}, None, id="certificate-source-disabled"),
    ],
)
def test_configured_source(
    annotations: Mapping[str, str], enabled: frozenset[SourceKind], expected: SourceKind | None
) -> None:
    assert configured_source(annotations, enabled) is expected


@pytest.mark.parametrize(
    ("annotations", "expected"),
    [
        pytest.param({}, False, id="none"),
        pytest.param({"other": "x"}, False, id="unrelated"),
        pytest.param(from_apiserver("false"), True, id="apiserver-any-value"),
        pytest.param(from_secret(""), True, id="secret-empty"),
        pytest.param(from_certificate("c"), True, id="certificate-no-namespace"),
    ],
)
def test_has_injectable_annotation(annotations: dict[str, str], expected: bool) -> None:
    assert has_injectable_annotation({"metadata": {"annotations": annotations}}) is expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        pytest.param("ns/name", ("ns", "name"), id="plain"),
        pytest.param("name", ("", "name"), id="no-namespace"),
        pytest.param("/name", ("", "name"), id="empty-namespace"),
        pytest.param("ns/", ("ns", ""), id="empty-name"),
        pytest.param("a/b/c", ("a", "b/c"), id="split-at-first-slash"),
        pytest.param("", ("", ""), id="empty"),
    ],
)
def test_split_namespaced_name(value: str, expected: tuple[str, str]) -> None:
    assert split_namespaced_name(value) == expected


@given(st.text(max_size=300))
def test_split_namespaced_name_round_trips(value: str) -> None:
    namespace, name = split_namespaced_name(value)
    assert (f"{namespace}/{name}" if "/" in value else name) == value


@pytest.mark.parametrize(
    ("kind", "value", "scope", "expected"),
    [
        pytest.param(
            SourceKind.CERTIFICATE,
            "serving",
            Scope(),
            Refusal("invalid certificate name: needs a namespace/ prefix"),
            id="certificate-without-namespace",
        ),
        pytest.param(
            SourceKind.SECRET,
            "serving",
            Scope(),
            Refusal("invalid secret source: missing namespace/ prefix"),
            id="secret-without-namespace",
        ),
        pytest.param(
            SourceKind.CERTIFICATE,
            "kube-system/serving",
            Scope(ignore_namespaces=frozenset({"kube-system"})),
            Refusal(
                'certificates.cert-manager.io "serving" is forbidden: cannot read CA data from Certificate in '
                "namespace kube-system, namespace is ignored",
                forbidden=True,
            ),
            id="certificate-in-ignored-namespace",
        ),
        pytest.param(
            SourceKind.SECRET,
            "kube-system/serving",
            Scope(ignore_namespaces=frozenset({"kube-system"})),
            Refusal(
                'certificates.cert-manager.io "serving" is forbidden: cannot read CA data from Secret in '
                "namespace kube-system, namespace is ignored",
                forbidden=True,
            ),
            id="secret-in-ignored-namespace",
        ),
        pytest.param(
            SourceKind.SECRET,
            "other/serving",
            Scope(namespace="mine"),
            Refusal(
                'certificates.cert-manager.io "serving" is forbidden: cannot read CA data from Secret in '
                "namespace other, cainjector is scoped to namespace mine",
                forbidden=True,
            ),
            id="secret-outside-scope",
        ),
        pytest.param(
            SourceKind.CERTIFICATE,
            "other/serving",
            Scope(namespace="mine"),
            Refusal(
                'certificates.cert-manager.io "serving" is forbidden: cannot read CA data from Certificate in '
                "namespace other, cainjector is scoped to namespace mine",
                forbidden=True,
            ),
            id="certificate-outside-scope",
        ),
        pytest.param(
            SourceKind.SECRET,
            "mine/serving",
            Scope(namespace="mine"),
            SourceRef(SourceKind.SECRET, "mine", "serving"),
            id="inside-scope",
        ),
        pytest.param(
            SourceKind.CERTIFICATE,
            "ns/serving",
            Scope(ignore_namespaces=frozenset({"kube-system"})),
            SourceRef(SourceKind.CERTIFICATE, "ns", "serving"),
            id="not-ignored",
        ),
    ],
)
def test_resolve_reference(kind: SourceKind, value: str, scope: Scope, expected: SourceRef | Refusal) -> None:
    assert resolve_reference(kind, {kind.value: value}, scope) == expected


@pytest.mark.parametrize(
    ("obj", "expected"),
    [
        pytest.param(secret("ns", "s", ca=CA, allow_injection=True), CAData(CA), id="allowed"),
        pytest.param(
            secret("ns", "s", ca=CA),
            Refusal("Secret resource does not allow direct injection - refusing to inject CA"),
            id="not-allowed",
        ),
        pytest.param(
            secret("ns", "s", ca=CA, annotations={"cert-manager.io/allow-direct-injection": "True"}),
            Refusal("Secret resource does not allow direct injection - refusing to inject CA"),
            id="allowed-must-be-lowercase-true",
        ),
        pytest.param(secret("ns", "s", allow_injection=True), Refusal("secret contains no CA data"), id="no-ca-crt"),
        pytest.param(secret("ns", "s", ca=b"", allow_injection=True), CAData(b""), id="empty-ca-crt-is-data"),
    ],
)
def test_ca_from_secret(obj: dict[str, object], expected: CAData | Refusal) -> None:
    assert ca_from_secret(obj) == expected


REF = SourceRef(SourceKind.CERTIFICATE, "ns", "serving")


@pytest.mark.parametrize(
    ("obj", "expected"),
    [
        pytest.param(secret("ns", "serving-tls", ca=CA, certificate="serving"), CAData(CA), id="owned"),
        pytest.param(
            secret("ns", "serving-tls", ca=CA),
            Refusal(
                "refusing to target secret: cert-manager.io/certificate-name annotation does not match "
                "(annotationValue=<nil>, expected=ns/serving)"
            ),
            id="no-certificate-name",
        ),
        pytest.param(
            secret("ns", "serving-tls", ca=CA, certificate="other"),
            Refusal(
                "refusing to target secret: cert-manager.io/certificate-name annotation does not match "
                "(annotationValue=ns/other, expected=ns/serving)"
            ),
            id="other-certificate",
        ),
        pytest.param(
            secret("ns", "serving-tls", certificate="serving"), Refusal("certificate has no CA data"), id="no-ca-crt"
        ),
    ],
)
def test_ca_from_certificate_secret(obj: dict[str, object], expected: CAData | Refusal) -> None:
    assert ca_from_certificate_secret(REF, obj) == expected


def test_ca_from_api_server() -> None:
    assert ca_from_api_server(CA) == CAData(CA)
    assert isinstance(ca_from_api_server(None), Refusal)
    assert isinstance(ca_from_api_server(b""), Refusal)


@pytest.mark.parametrize(
    ("annotations", "kind", "expected"),
    [
        pytest.param(from_secret("ns/s"), SourceKind.SECRET, ["ns/s"], id="secret"),
        pytest.param(from_certificate("ns/c"), SourceKind.CERTIFICATE, ["ns/c"], id="certificate"),
        pytest.param(from_certificate("c"), SourceKind.CERTIFICATE, [], id="no-namespace-not-indexed"),
        pytest.param(from_secret(""), SourceKind.SECRET, [], id="empty-not-indexed"),
        pytest.param(from_secret("ns/s"), SourceKind.CERTIFICATE, [], id="other-kind"),
    ],
)
def test_indexed_reference(annotations: dict[str, str], kind: SourceKind, expected: list[str]) -> None:
    assert indexed_reference({"metadata": {"annotations": annotations}}, kind) == expected


def test_ca_data_repr_hides_the_bytes() -> None:
    assert repr(CAData(CA)) == f"CAData(<{len(CA)} bytes>)"
