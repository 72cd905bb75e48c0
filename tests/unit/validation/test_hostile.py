"""Hostile input: anything a user can write reaches the rules without a crash and in bounded time."""

from __future__ import annotations

import base64
import time
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from certkeeper.api.field import FieldError
from certkeeper.validation.admission import AdmissionResult, admit
from tests.unit.validation.test_certificaterequest import DEFAULT_CSR

_TEXT = st.text(alphabet=st.characters(codec="utf-8"), max_size=120)
_DN_TEXT = st.text(alphabet='CNOUDL=,+;#\\"<> 0123456789abcdef.é', max_size=120)
_DURATION = st.one_of(_TEXT, st.from_regex(r"-?[0-9]{1,20}(\.[0-9]{1,12})?(ns|us|ms|s|m|h|d)", fullmatch=True))
_BUDGET_SECONDS = 2.0


def _certificate(**spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "cert-manager.io/v1",
        "kind": "Certificate",
        "metadata": {"name": "x"},
        "spec": {"secretName": "x", "issuerRef": {"name": "ca"}, **spec},
    }


def _well_formed(result: AdmissionResult) -> None:
    assert all(isinstance(error, FieldError) for error in result.errors)
    assert all(isinstance(str(error), str) for error in result.errors)
    assert result.allowed == (not result.errors)


def _timed(kind: str, raw: dict[str, Any]) -> AdmissionResult:
    started = time.perf_counter()
    result = admit(kind, "CREATE", raw)
    assert time.perf_counter() - started < _BUDGET_SECONDS
    _well_formed(result)
    return result


@settings(suppress_health_check=[HealthCheck.too_slow])
@given(
    literal=st.one_of(_TEXT, _DN_TEXT),
    emails=st.lists(_TEXT, max_size=4),
    ips=st.lists(st.one_of(_TEXT, st.ip_addresses().map(str)), max_size=4),
    uris=st.lists(_TEXT, max_size=3),
    duration=_DURATION,
    renew_before=_DURATION,
    cron=_TEXT,
    timezone=_TEXT,
    oid=_TEXT,
)
def test_certificate_fields(
    literal: str,
    emails: list[str],
    ips: list[str],
    uris: list[str],
    duration: str,
    renew_before: str,
    cron: str,
    timezone: str,
    oid: str,
) -> None:
    window: dict[str, Any] = {"windowDuration": "1h", "cron": cron or "x"}
    if timezone:
        window["timezone"] = timezone
    raw = _certificate(
        literalSubject=literal,
        emailAddresses=emails,
        ipAddresses=ips,
        uris=uris,
        duration=duration,
        renewBefore=renew_before,
        otherNames=[{"oid": oid, "utf8Value": "v"}],
        renewal={"policy": "RenewBefore", "windows": [window]},
        nameConstraints={"permitted": {"ipRanges": ips}},
        isCA=True,
    )
    _timed("Certificate", raw)


@given(st.binary(max_size=2048))
def test_certificate_request_bytes(request: bytes) -> None:
    raw = {
        "apiVersion": "cert-manager.io/v1",
        "kind": "CertificateRequest",
        "metadata": {"name": "x"},
        "spec": {"issuerRef": {"name": "ca"}, "request": base64.b64encode(request).decode()},
    }
    result = _timed("CertificateRequest", raw)
    if request:
        assert all(error.field == "spec.request" for error in result.errors)


@given(st.binary(min_size=1, max_size=64), st.integers(min_value=0, max_value=2000))
def test_mangled_csr(noise: bytes, at: int) -> None:
    mangled = bytearray(DEFAULT_CSR)
    position = at % len(mangled)
    mangled[position : position + len(noise)] = noise
    raw = {
        "apiVersion": "cert-manager.io/v1",
        "kind": "CertificateRequest",
        "metadata": {"name": "x"},
        "spec": {"issuerRef": {"name": "ca"}, "request": base64.b64encode(bytes(mangled)).decode()},
    }
    _timed("CertificateRequest", raw)


@given(st.lists(_TEXT, max_size=4), _TEXT, _TEXT)
def test_issuer_fields(nameservers: list[str], rfc2136: str, path: str) -> None:
    raw = {
        "apiVersion": "cert-manager.io/v1",
        "kind": "Issuer",
        "metadata": {"name": "x"},
        "spec": {
            "acme": {
                "server": "https://acme",
                "privateKeySecretRef": {"name": "k"},
                "solvers": [
                    {"dns01": {"nameservers": nameservers, "rfc2136": {"nameserver": rfc2136}}},
                    {"http01": {"ingress": {"ingressClassName": path}}},
                ],
            }
        },
    }
    _timed("Issuer", raw)
    vault = {
        **raw,
        "spec": {"vault": {"server": "s", "path": path, "auth": {"kubernetes": {"role": "r", "mountPath": path}}}},
    }
    _timed("Issuer", vault)


def test_literal_subject_ber_bomb_is_refused_cheaply() -> None:
    # The 2023 audit's memory bomb: a "#"-hex value whose BER length header claims gigabytes.
    bomb = "CN=x,DF=#6666666666665006838820013100000746939546349182108463491821809FBFFFFFFFFF" * 100
    result = _timed("Certificate", _certificate(literalSubject=bomb, dnsNames=["a.example"]))
    assert [error.field for error in result.errors] == ["spec.literalSubject"]


def test_oversized_literal_subject_is_refused_before_parsing() -> None:
    result = _timed("Certificate", _certificate(literalSubject="CN=" + "a," * 200_000 + "O=x", dnsNames=["a.example"]))
    assert [error.field for error in result.errors] == ["spec.literalSubject"]
    assert "longer than" in result.errors[0].detail


def test_huge_lists_are_bounded() -> None:
    many = {
        "emailAddresses": ["a" * 50 + "@" + "b" * 50] * 5_000,
        "ipAddresses": ["1.2.3." + "4" * 100] * 5_000,
        "dnsNames": ["x.example"] * 5_000,
    }
    result = _timed("Certificate", _certificate(**many))
    assert len(result.errors) == 5_000  # every bad IP, each with its own index
    assert result.errors[-1].field == "spec.ipAddresses[4999]"


def test_over_long_strings_are_bounded() -> None:
    long = "a" * 1_000_000
    raw = _certificate(
        commonName=long,
        emailAddresses=[long],
        ipAddresses=[long],
        secretTemplate={"labels": {long: long}, "annotations": {long: long}},
    )
    result = _timed("Certificate", raw)
    assert {error.field for error in result.errors} >= {"spec.commonName", "spec.ipAddresses[0]"}
    # A duration that is no Go duration stops the webhook before any rule, as in cert-manager.
    result = _timed("Certificate", _certificate(commonName=long, duration=long))
    assert [error.field for error in result.errors] == ["spec.duration"]
    assert "longer than 128 characters" in result.errors[0].detail
