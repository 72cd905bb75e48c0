import hashlib

from certkeeper.api.names import (
    certificate_request_name,
    compute_name,
    dns_safe_shorten,
    fnv32,
    order_name,
    order_spec_go_json,
    secure_unique_name,
)


def test_shorten_ends_on_alphanumeric() -> None:
    assert dns_safe_shorten("abc", 52) == "abc"
    assert dns_safe_shorten("a" * 60, 52) == "a" * 52
    assert dns_safe_shorten("abcd.-efgh", 6) == "abcd"
    assert dns_safe_shorten("...", 2) == ""


def test_certificate_request_names() -> None:
    assert certificate_request_name("my-cert", 3) == "my-cert-3"
    long = "x" * 240
    name = certificate_request_name(long, 1)
    assert name == "x" * 168 + "-" + hashlib.sha256(long.encode()).hexdigest() + "-1"
    assert len(name) <= 253
    assert secure_unique_name("y" * 233, 233) == "y" * 233


def test_order_spec_json_and_hash_match_go() -> None:
    # Vectors from Go 1.26 encoding/json + hash/fnv New32 on cert-manager's OrderSpec shape.
    first = order_spec_go_json(
        issuer_name="letsencrypt",
        issuer_kind="ClusterIssuer",
        issuer_group="cert-manager.io",
        common_name="a.example.com",
        dns_names=["a.example.com", "b<&>.example.com"],
        ip_addresses=[],
        duration=None,
        profile="",
        replaces="",
    )
    assert first == (
        b'{"request":null,"issuerRef":{"name":"letsencrypt","kind":"ClusterIssuer","group":"cert-manager.io"},'
        b'"commonName":"a.example.com","dnsNames":["a.example.com","b\\u003c\\u0026\\u003e.example.com"]}'
    )
    assert fnv32(first) == 608561140
    second = order_spec_go_json(
        issuer_name="x",
        issuer_kind="",
        issuer_group="",
        common_name="",
        dns_names=[],
        ip_addresses=["10.0.0.1"],
        duration="2160h0m0s",
        profile="tlsserver",
        replaces="abc.def",
    )
    assert fnv32(second) == 2812765561
    assert order_name("web-1", second) == "web-1-2812765561"
    long = "r" * 60
    assert order_name(long, second).startswith("r" * 52 + "-")
    assert order_name(long, second) != compute_name(long, second)
