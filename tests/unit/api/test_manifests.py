"""The manifest loader: bounded YAML parsing, decoding by kind with field paths, dumping."""

from __future__ import annotations

import time

import pytest
from hypothesis import given
from hypothesis import strategies as st

from certkeeper.api import manifests
from certkeeper.api.acme import Challenge, Order
from certkeeper.api.certmanager import Certificate, CertificateRequest, ClusterIssuer, Issuer
from certkeeper.api.core import Secret
from certkeeper.api.manifests import (
    KINDS,
    MAX_MANIFEST_BYTES,
    ManifestError,
    decode_object,
    dump,
    dump_yaml,
    load_documents,
    load_objects,
    model_for,
    parse_yaml,
)

CERT = """\
apiVersion: cert-manager.io/v1
kind: Certificate
metadata:
  name: example
spec:
  secretName: example-tls
  issuerRef:
    name: ca
"""


def _cert_with(extra_spec: str) -> str:
    return CERT + "".join(f"  {line}\n" for line in extra_spec.splitlines())


# --- parsing ---------------------------------------------------------------------------------------


def test_documents_keep_their_position_in_the_stream() -> None:
    text = "---\n" + CERT + "---\n---\n# only a comment\n---\n" + CERT
    documents = parse_yaml(text)
    assert [d.index for d in documents] == [0, 3]
    assert all(d.data["kind"] == "Certificate" for d in documents)


def test_bytes_input_is_accepted() -> None:
    assert parse_yaml(CERT.encode())[0].data["spec"]["secretName"] == "example-tls"


def test_timestamps_stay_strings_and_scalar_keys_become_strings() -> None:
    (document,) = parse_yaml("a: 2024-01-01T00:00:00Z\nb: 2024-01-01\nc: {1: x, true: y, null: z, 1.5: w}\n")
    assert document.data == {
        "a": "2024-01-01T00:00:00Z",
        "b": "2024-01-01",
        "c": {"1": "x", "true": "y", "null": "z", "1.5": "w"},
    }


BAD_YAML = [
    pytest.param("a: [\n", "invalid YAML", 0, None, id="syntax"),
    pytest.param(CERT + "---\nb: {\n", "invalid YAML", 1, None, id="syntax-second-document"),
    pytest.param("a: &x [1]\nb: *x\n", "YAML aliases are not supported", 0, None, id="alias"),
    pytest.param("a: 1\na: 2\n", "duplicate mapping key 'a'", 0, None, id="duplicate-key"),
    pytest.param("a: {1: x, '1': y}\n", "duplicate mapping key '1'", 0, None, id="duplicate-after-conversion"),
    pytest.param("<<: {a: 1}\nb: 2\n", "merge keys", 0, None, id="merge-key"),
    pytest.param("? [a]\n: 1\n", "mapping keys must be scalars", 0, None, id="complex-key"),
    pytest.param("- 1\n", "expected a mapping (an object), got a sequence", 0, None, id="sequence-document"),
    pytest.param("just text\n", "got a scalar of type str", 0, None, id="scalar-document"),
    pytest.param("a: !!binary aGVsbG8=\n", "type bytes cannot be represented in JSON", 0, "a", id="binary"),
    pytest.param("a: [!!timestamp 2024-01-01]\n", "type date cannot be represented", 0, "a[0]", id="timestamp-tag"),
    pytest.param("a: {b: .nan}\n", "NaN and infinite numbers", 0, "a.b", id="nan"),
    pytest.param("a: -.inf\n", "NaN and infinite numbers", 0, "a", id="infinity"),
    pytest.param("a: !custom 1\n", "could not determine a constructor", 0, None, id="unknown-tag"),
    pytest.param("a: !!python/object:os.system 1\n", "could not determine a constructor", 0, None, id="python-tag"),
]


@pytest.mark.parametrize(("text", "message", "document", "field"), BAD_YAML)
def test_bad_yaml(text: str, message: str, document: int, field: str | None) -> None:
    with pytest.raises(ManifestError) as info:
        parse_yaml(text)
    assert message in str(info.value)
    assert info.value.document == document
    assert info.value.field == field


def test_invalid_utf8_is_refused() -> None:
    with pytest.raises(ManifestError, match="not valid UTF-8"):
        parse_yaml(b"a: \xff\n")


@pytest.mark.parametrize("as_bytes", [False, True], ids=["str", "bytes"])
def test_oversize_manifest_is_refused(as_bytes: bool) -> None:
    text = "a: " + "x" * MAX_MANIFEST_BYTES
    with pytest.raises(ManifestError, match="larger than"):
        parse_yaml(text.encode() if as_bytes else text)


def test_multibyte_text_is_measured_in_bytes() -> None:
    text = "a: " + "é" * (MAX_MANIFEST_BYTES // 2)  # fewer characters than the limit, more bytes
    assert len(text) < MAX_MANIFEST_BYTES
    with pytest.raises(ManifestError, match="larger than"):
        parse_yaml(text)


BILLION_LAUGHS = """\
a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]
b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]
c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]
d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]
e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]
f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]
g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]
h: &h [*g,*g,*g,*g,*g,*g,*g,*g,*g]
i: &i [*h,*h,*h,*h,*h,*h,*h,*h,*h]
"""


# libyaml's composer recurses in C (a segfault at ~100k levels) and its scanner is quadratic in
# flow nesting (minutes at 1M levels): each of these must be refused quickly.
HOSTILE = [
    pytest.param(BILLION_LAUGHS, "aliases", id="billion-laughs"),
    pytest.param("[" * 1_000_000 + "]" * 1_000_000, "nesting deeper than 100", id="deep-flow-sequence"),
    pytest.param("{a: " * 700_000, "nesting deeper than 100", id="deep-flow-mapping"),
    pytest.param("- " * 1_000_000 + "x\n", "nesting deeper than 100", id="deep-block-sequence"),
    pytest.param("".join(" " * i + "a:\n" for i in range(150)), "nesting deeper than 100", id="deep-block-mapping"),
]


@pytest.mark.parametrize(("text", "message"), HOSTILE)
def test_hostile_yaml_is_refused_quickly(text: str, message: str) -> None:
    started = time.monotonic()
    with pytest.raises(ManifestError, match=message):
        parse_yaml(text)
    assert time.monotonic() - started < 2.0


def test_depth_limit_allows_the_documented_depth() -> None:
    # The document's own mapping is the first level.
    inner = manifests.MAX_DEPTH - 1
    assert parse_yaml("a: " + "[" * inner + "]" * inner)[0].data["a"] is not None
    with pytest.raises(ManifestError, match="nesting"):
        parse_yaml("a: " + "[" * (inner + 1) + "]" * (inner + 1))


def test_node_count_is_capped(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(manifests, "MAX_NODES", 10)
    parse_yaml("a: [1, 2, 3]\n")
    with pytest.raises(ManifestError, match="more than 10 YAML nodes"):
        parse_yaml("a: [" + ", ".join("1" * 1 for _ in range(20)) + "]\n")


@given(st.text(alphabet=st.sampled_from(list("ab:-[]{},&*!?|>'\"#%@` \n\t\\.1")), max_size=120))
def test_arbitrary_text_only_ever_raises_manifest_error(text: str) -> None:
    try:
        documents = parse_yaml(text)
    except ManifestError:
        return
    assert all(isinstance(d.data, dict) for d in documents)


# --- decoding --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("api_version", "kind", "model"),
    [
        ("cert-manager.io/v1", "Certificate", Certificate),
        ("cert-manager.io/v1", "CertificateRequest", CertificateRequest),
        ("cert-manager.io/v1", "Issuer", Issuer),
        ("cert-manager.io/v1", "ClusterIssuer", ClusterIssuer),
        ("acme.cert-manager.io/v1", "Order", Order),
        ("acme.cert-manager.io/v1", "Challenge", Challenge),
        ("v1", "Secret", Secret),
    ],
    ids=lambda v: v if isinstance(v, str) else v.__name__,
)
def test_model_for(api_version: str, kind: str, model: type) -> None:
    assert model_for(api_version, kind) is model
    assert KINDS[(api_version, kind)] is model


DECODE_ERRORS = [
    pytest.param(
        CERT.replace("kind: Certificate", "kind: Certificat"),
        None,
        'no matches for kind "Certificat" in version "cert-manager.io/v1"',
        id="unknown-kind",
    ),
    pytest.param(
        CERT.replace("cert-manager.io/v1", "cert-manager.io/v1alpha2"),
        None,
        'no matches for kind "Certificate" in version "cert-manager.io/v1alpha2"',
        id="old-version",
    ),
    pytest.param(CERT.replace("kind: Certificate\n", ""), "kind", "kind not set", id="no-kind"),
    pytest.param(
        CERT.replace("apiVersion: cert-manager.io/v1\n", ""), "apiVersion", "apiVersion not set", id="no-api-version"
    ),
    pytest.param(
        CERT.replace("apiVersion: cert-manager.io/v1", "apiVersion: 1"),
        "apiVersion",
        "apiVersion not set",
        id="api-version-not-string",
    ),
    pytest.param(
        _cert_with("dnsNames: [a.example.com, 5]"),
        "spec.dnsNames[1]",
        "Expected `str`, got `int`",
        id="wrong-item-type",
    ),
    pytest.param(
        CERT.replace("  secretName: example-tls\n", ""), "spec.secretName", "Required value", id="missing-required"
    ),
    pytest.param(
        CERT.replace("    name: ca\n", "    kind: Issuer\n"),
        "spec.issuerRef.name",
        "Required value",
        id="missing-nested-required",
    ),
    pytest.param("apiVersion: cert-manager.io/v1\nkind: Certificate\n", "spec", "Required value", id="missing-spec"),
    pytest.param(
        _cert_with("usages: [server auth, telepathy]"),
        "spec.usages[1]",
        "Invalid enum value 'telepathy'",
        id="bad-enum",
    ),
    pytest.param(
        _cert_with("privateKey: {size: '2048'}"),
        "spec.privateKey.size",
        "Expected `int | null`, got `str`",
        id="string-for-int",
    ),
    pytest.param(
        CERT + "status: {notAfter: tomorrow}\n", "status.notAfter", "Invalid RFC3339 encoded datetime", id="bad-time"
    ),
    pytest.param(
        CERT.replace("  name: example\n", "  name: example\n  labels: {a: 1}\n"),
        "metadata.labels[...]",
        "Expected `str`, got `int`",
        id="label-value",
    ),
    pytest.param(
        "apiVersion: v1\nkind: Secret\ndata: {tls.crt: not-base64!}\n", "data[...]", "Invalid base64", id="bad-base64"
    ),
]


@pytest.mark.parametrize(("text", "field", "message"), DECODE_ERRORS)
def test_decode_errors_name_the_field(text: str, field: str | None, message: str) -> None:
    (document,) = load_documents(text)
    assert document.obj is None
    assert document.error is not None
    assert document.error.field == field
    assert message in document.error.detail
    assert document.error.document == 0
    with pytest.raises(ManifestError):
        load_objects(text)


def test_error_text_names_document_and_field() -> None:
    text = CERT + "---\n" + _cert_with("dnsNames: [5]")
    with pytest.raises(ManifestError) as info:
        load_objects(text)
    assert str(info.value) == "document #2: spec.dnsNames[0]: Expected `str`, got `int`"


def test_good_and_bad_documents_are_reported_separately() -> None:
    text = CERT + "---\n" + CERT.replace("Certificate", "Gadget") + "---\n" + CERT
    documents = load_documents(text)
    assert [(d.index, d.obj is not None, d.error is not None) for d in documents] == [
        (0, True, False),
        (1, False, True),
        (2, True, False),
    ]
    assert documents[1].raw["kind"] == "Gadget"


def test_unknown_fields_are_ignored_by_decoding_but_kept_in_raw() -> None:
    (document,) = load_documents(_cert_with("frobnicate: true"))
    assert document.obj is not None
    assert document.raw["spec"]["frobnicate"] is True
    assert "frobnicate" not in dump(document.obj)["spec"]


def test_decode_object_accepts_a_dict() -> None:
    obj = decode_object(
        {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s"}, "data": {"tls.crt": "aGVsbG8="}}, index=4
    )
    assert isinstance(obj, Secret)
    assert obj.data == {"tls.crt": b"hello"}


# --- dumping ---------------------------------------------------------------------------------------


def test_dump_puts_api_version_kind_metadata_first() -> None:
    (cert,) = load_objects(CERT)
    assert list(dump(cert)) == ["apiVersion", "kind", "metadata", "spec"]


def test_dump_yaml_of_several_objects_is_a_stream() -> None:
    objects = load_objects(CERT + "---\napiVersion: v1\nkind: Secret\nmetadata: {name: s}\ndata: {k: aGk=}\n")
    text = dump_yaml(objects)
    assert text.count("\n---\n") == 1
    assert load_objects(text) == objects
    assert load_objects(dump_yaml(objects[0])) == objects[:1]


def test_dump_yaml_quotes_strings_that_would_change_type() -> None:
    (cert,) = load_objects(_cert_with("commonName: 'yes'\ndnsNames: ['2024-01-01T00:00:00Z', '123', 'null']"))
    assert load_objects(dump_yaml(cert)) == [cert]
