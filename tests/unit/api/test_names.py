import hashlib

from certkeeper.api.names import certificate_request_name, dns_safe_shorten, secure_unique_name


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
