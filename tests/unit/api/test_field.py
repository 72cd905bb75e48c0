from certkeeper.api import field
from certkeeper.api.field import ErrorList, FieldPath


def test_path_rendering() -> None:
    path = FieldPath("spec").child("dnsNames").index(2)
    assert str(path) == "spec.dnsNames[2]"
    assert str(FieldPath("metadata", "annotations").key("a/b")) == "metadata.annotations[a/b]"
    assert FieldPath("spec").child("x") == FieldPath("spec", "x")
    assert str(FieldPath("spec")) == "spec"  # parents are not changed by child()


def test_error_bodies_match_apimachinery() -> None:
    spec = FieldPath("spec")
    assert str(field.required(spec.child("secretName"), "")) == "spec.secretName: Required value"
    assert (
        str(field.invalid(spec.child("dnsNames").index(0), "a b", "not a DNS name"))
        == 'spec.dnsNames[0]: Invalid value: "a b": not a DNS name'
    )
    assert str(field.invalid(spec.child("size"), 17, "bad")) == "spec.size: Invalid value: 17: bad"
    assert str(field.forbidden(spec.child("x"), "nope")) == "spec.x: Forbidden: nope"
    assert (
        str(field.not_supported(spec.child("k"), "X", ["A", "B"]))
        == 'spec.k: Unsupported value: "X": supported values: "A", "B"'
    )
    assert str(field.duplicate(spec.child("t").index(1), "DER")) == 'spec.t[1]: Duplicate value: "DER"'
    assert str(field.too_long(spec.child("cn"), "x", 64)) == "spec.cn: Too long: may not be more than 64 bytes"


def test_aggregate_and_result() -> None:
    errs = ErrorList()
    errs.add(field.required(FieldPath("spec", "a")))
    one = errs.result()
    assert not one.ok
    assert one.invalid_message("Certificate.cert-manager.io", "x") == (
        'Certificate.cert-manager.io "x" is invalid: spec.a: Required value'
    )
    errs.add(field.required(FieldPath("spec", "b")))
    errs.warn("careful")
    two = errs.result()
    assert field.aggregate(two.errors) == "[spec.a: Required value, spec.b: Required value]"
    assert two.warnings == ("careful",)
    assert (one + two).errors == one.errors + two.errors
