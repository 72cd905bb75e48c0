"""The RFC 2136 provider's settings and update messages (no network; BIND is in the integration tests)."""

from __future__ import annotations

import base64

import dns.message
import dns.name
import dns.rdataclass
import dns.rdatatype
import dns.tsig
import dns.update
import pytest
from hypothesis import given
from hypothesis import strategies as st

from certkeeper.acme.solvers.base import DNS01Record, SolverConfigError, SolverContext
from certkeeper.acme.solvers.rfc2136 import (
    RECORD_TTL,
    RFC2136Provider,
    TSIGKey,
    decode_tsig_secret,
    rfc2136_provider,
    tsig_algorithm,
    valid_nameserver,
)
from certkeeper.api.acme_solvers import ACMEChallengeSolverDNS01, ACMEIssuerDNS01ProviderRFC2136
from certkeeper.api.cmmeta import SecretKeySelector
from tests.unit.acme.solvers.builders import MemorySecrets

SECRET = base64.b64encode(bytes(range(32)))
RECORD = DNS01Record(
    dns_name="www.example.test", fqdn="_acme-challenge.www.example.test.", zone="example.test.", value="abc-DEF_123"
)


@pytest.mark.parametrize(
    ("nameserver", "expected"),
    [
        ("8.8.8.8", "8.8.8.8:53"),
        ("8.8.8.8:", "8.8.8.8:53"),
        ("8.8.8.8:5353", "8.8.8.8:5353"),
        (" 8.8.8.8 ", "8.8.8.8:53"),
        ("[2001:db8::1]", "[2001:db8::1]:53"),
        ("[2001:db8::1]:", "[2001:db8::1]:53"),
        ("[2001:db8::1]:5353", "[2001:db8::1]:5353"),
        ("nameserver.com", "nameserver.com:53"),
        ("nameserver.com:", "nameserver.com:53"),
        ("nameserver.com:5353", "nameserver.com:5353"),
    ],
    ids=repr,
)
def test_valid_nameserver(nameserver: str, expected: str) -> None:
    assert valid_nameserver(nameserver) == expected


@pytest.mark.parametrize(
    ("nameserver", "message"),
    [
        ("", "RFC2136 nameserver missing"),
        ("   ", "RFC2136 nameserver missing"),
        ("2001:db8::1", "RFC2136 nameserver is invalid: address 2001:db8::1: too many colons in address"),
        (":53", "RFC2136 nameserver has no host defined, :53"),
        ("[::1", "RFC2136 nameserver is invalid: address [::1: missing ']' in address"),
    ],
    ids=["empty", "blank", "unbracketed-ipv6", "port-only", "unclosed-bracket"],
)
def test_invalid_nameserver(nameserver: str, message: str) -> None:
    with pytest.raises(SolverConfigError) as caught:
        valid_nameserver(nameserver)
    assert str(caught.value) == message


@pytest.mark.parametrize(
    ("name", "algorithm"),
    [
        (None, dns.tsig.HMAC_MD5),
        ("", dns.tsig.HMAC_MD5),
        ("HMACMD5", dns.tsig.HMAC_MD5),
        ("hmacsha1", dns.tsig.HMAC_SHA1),
        ("HmacSha256", dns.tsig.HMAC_SHA256),
        ("HMACSHA512", dns.tsig.HMAC_SHA512),
    ],
    ids=repr,
)
def test_tsig_algorithm(name: str | None, algorithm: dns.name.Name) -> None:
    assert tsig_algorithm(name) == algorithm


@pytest.mark.parametrize("name", ["HMACSHA384", "hmac-sha256", "MD5"])
def test_unsupported_tsig_algorithm(name: str) -> None:
    with pytest.raises(SolverConfigError) as caught:
        tsig_algorithm(name)
    assert str(caught.value) == f"algorithm '{name}' is not supported"


@pytest.mark.parametrize(
    "text", [SECRET, SECRET + b"\n", SECRET[:20] + b"\r\n" + SECRET[20:]], ids=["plain", "newline", "crlf-inside"]
)
def test_decode_tsig_secret(text: bytes) -> None:
    assert decode_tsig_secret(text) == bytes(range(32))


@pytest.mark.parametrize("text", [b"not base64!", b"abc", b"YWJj$"], ids=["symbols", "padding", "trailing"])
def test_decode_tsig_secret_rejects_without_echoing(text: bytes) -> None:
    with pytest.raises(SolverConfigError) as caught:
        decode_tsig_secret(text)
    assert str(caught.value).startswith("error decoding the provided TSIG secret: ")
    assert text.decode() not in str(caught.value)


def _key(algorithm: dns.name.Name = dns.tsig.HMAC_SHA256) -> TSIGKey:
    return TSIGKey(name=dns.name.from_text("cm-key"), algorithm=algorithm, secret=bytes(range(32)))


@pytest.mark.parametrize(
    ("action", "deleting", "ttl"),
    [("add", None, RECORD_TTL), ("delete", dns.rdataclass.NONE, 0)],
    ids=["add", "delete-this-value"],
)
def test_update_message(action: str, deleting: dns.rdataclass.RdataClass | None, ttl: int) -> None:
    provider = RFC2136Provider(nameserver="192.0.2.53")
    update = provider.update_message(RECORD, action=action)  # type: ignore[arg-type]  # parametrized literal
    parsed = dns.message.from_wire(update.to_wire())
    assert isinstance(parsed, dns.update.UpdateMessage)
    assert [rrset.name.to_text() for rrset in parsed.zone] == ["example.test."]
    (rrset,) = parsed.update
    assert rrset.name.to_text() == "_acme-challenge.www.example.test."
    assert rrset.rdtype == dns.rdatatype.TXT
    # A value deletion is sent with class NONE (RFC 2136 §2.5.4); dnspython reports it as `deleting`.
    assert rrset.rdclass == dns.rdataclass.IN
    assert rrset.deleting == deleting
    assert rrset.ttl == ttl
    assert [b"".join(rdata.strings) for rdata in rrset] == [b"abc-DEF_123"]
    assert not parsed.had_tsig


@pytest.mark.parametrize(
    "algorithm", [dns.tsig.HMAC_MD5, dns.tsig.HMAC_SHA1, dns.tsig.HMAC_SHA256, dns.tsig.HMAC_SHA512], ids=str
)
def test_update_is_signed_with_the_key(algorithm: dns.name.Name) -> None:
    key = _key(algorithm)
    wire = RFC2136Provider(nameserver="192.0.2.53", tsig=key).update_message(RECORD, action="add").to_wire()
    keyring = {key.name: dns.tsig.Key(key.name, key.secret, algorithm)}
    parsed = dns.message.from_wire(wire, keyring=keyring)
    assert parsed.had_tsig
    assert parsed.keyalgorithm == algorithm
    wrong = {key.name: dns.tsig.Key(key.name, b"\x00" * 32, algorithm)}
    with pytest.raises(dns.tsig.BadSignature):
        dns.message.from_wire(wire, keyring=wrong)


def test_txt_value_over_255_bytes_is_refused() -> None:
    record = DNS01Record(dns_name="a", fqdn="_acme-challenge.a.", zone="a.", value="x" * 256)
    with pytest.raises(SolverConfigError, match="longer than 255"):
        RFC2136Provider(nameserver="192.0.2.53").update_message(record, action="add")


def _config(
    *,
    nameserver: str = "192.0.2.53",
    ref: SecretKeySelector | None = None,
    key_name: str | None = "cm-key",
    algorithm: str | None = None,
    protocol: str | None = None,
) -> ACMEChallengeSolverDNS01:
    return ACMEChallengeSolverDNS01(
        rfc2136=ACMEIssuerDNS01ProviderRFC2136(
            nameserver=nameserver,
            tsig_secret_secret_ref=ref,
            tsig_key_name=key_name,
            tsig_algorithm=algorithm,
            protocol=protocol,  # type: ignore[arg-type]  # tests pass the literals
        )
    )


def _ctx(data: dict[str, bytes] | None = None) -> SolverContext:
    secrets = {("certs", "tsig"): data} if data is not None else {}
    return SolverContext(resource_namespace="certs", secrets=MemorySecrets(secrets))


def test_factory_reads_the_secret_from_the_resource_namespace() -> None:
    ctx = _ctx({"secret": SECRET})
    provider = rfc2136_provider(
        _config(ref=SecretKeySelector(name="tsig", key="secret"), algorithm="hmacsha512", protocol="TCP"), ctx
    )
    assert provider.nameserver == "192.0.2.53:53"
    assert provider.protocol == "TCP"
    assert provider.tsig == TSIGKey(
        name=dns.name.from_text("cm-key"), algorithm=dns.tsig.HMAC_SHA512, secret=bytes(range(32))
    )
    assert isinstance(ctx.secrets, MemorySecrets)
    assert ctx.secrets.reads == [("certs", "tsig")]
    assert SECRET.decode() not in repr(provider)
    assert "bytes" not in repr(provider.tsig)


@pytest.mark.parametrize(
    ("config", "data"),
    [
        (_config(), None),
        (_config(ref=SecretKeySelector(name="", key="secret")), None),
        (_config(ref=SecretKeySelector(name="tsig", key="secret"), key_name=None), {"secret": SECRET}),
        (_config(ref=SecretKeySelector(name="tsig", key="secret")), {"secret": b""}),
    ],
    ids=["no-secret-ref", "empty-secret-name", "no-key-name", "empty-secret"],
)
def test_factory_unsigned(config: ACMEChallengeSolverDNS01, data: dict[str, bytes] | None) -> None:
    provider = rfc2136_provider(config, _ctx(data))
    assert provider.tsig is None
    assert provider.protocol == "UDP"


@pytest.mark.parametrize(
    ("config", "data", "message"),
    [
        (
            _config(ref=SecretKeySelector(name="tsig")),
            {"x": SECRET},
            "key of data in Secret resource must be specified",
        ),
        (_config(ref=SecretKeySelector(name="tsig", key="secret")), None, 'secret "tsig" not found'),
        (
            _config(ref=SecretKeySelector(name="tsig", key="other")),
            {"secret": SECRET},
            'data entry with key "other" not found in secret',
        ),
        (
            _config(ref=SecretKeySelector(name="tsig", key="secret")),
            {"secret": b"%%%"},
            "error decoding the provided TSIG secret",
        ),
        (
            _config(ref=SecretKeySelector(name="tsig", key="secret"), algorithm="HMACSHA384"),
            {"secret": SECRET},
            "algorithm 'HMACSHA384' is not supported",
        ),
        (_config(nameserver=""), None, "RFC2136 nameserver missing"),
        (ACMEChallengeSolverDNS01(), None, "no rfc2136 provider config"),
    ],
    ids=["no-key", "missing-secret", "missing-key", "bad-base64", "bad-algorithm", "no-nameserver", "no-rfc2136"],
)
def test_factory_errors(config: ACMEChallengeSolverDNS01, data: dict[str, bytes] | None, message: str) -> None:
    with pytest.raises(SolverConfigError, match=message):
        rfc2136_provider(config, _ctx(data))


@given(st.text(max_size=80))
def test_nameserver_parsing_is_total(text: str) -> None:
    """Any string is either a host:port or a SolverConfigError, never another exception."""
    try:
        result = valid_nameserver(text)
    except SolverConfigError:
        return
    assert result.rsplit(":", 1)[1]
