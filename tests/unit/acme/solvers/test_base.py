"""The solver interface's helpers: which DNS provider a dns01 block names, and reading Secret keys."""

from __future__ import annotations

import msgspec
import pytest

from certkeeper.acme.solvers.base import (
    DNS01_PROVIDER_NAMES,
    SolverConfigError,
    dns01_provider_name,
    read_secret_key,
)
from certkeeper.api.acme_solvers import (
    ACMEChallengeSolverDNS01,
    ACMEIssuerDNS01ProviderAcmeDNS,
    ACMEIssuerDNS01ProviderCloudflare,
    ACMEIssuerDNS01ProviderRFC2136,
    ACMEIssuerDNS01ProviderWebhook,
)
from certkeeper.api.cmmeta import SecretKeySelector
from tests.unit.acme.solvers.builders import MemorySecrets

REF = SecretKeySelector(name="s", key="k")


@pytest.mark.parametrize(
    ("config", "name"),
    [
        (ACMEChallengeSolverDNS01(), None),
        (ACMEChallengeSolverDNS01(rfc2136=ACMEIssuerDNS01ProviderRFC2136(nameserver="ns")), "rfc2136"),
        (
            ACMEChallengeSolverDNS01(cloudflare=ACMEIssuerDNS01ProviderCloudflare(api_token_secret_ref=REF)),
            "cloudflare",
        ),
        (
            ACMEChallengeSolverDNS01(acme_dns=ACMEIssuerDNS01ProviderAcmeDNS(host="h", account_secret_ref=REF)),
            "acmeDNS",
        ),
        (ACMEChallengeSolverDNS01(webhook=ACMEIssuerDNS01ProviderWebhook(group_name="g", solver_name="s")), "webhook"),
        (
            ACMEChallengeSolverDNS01(
                cloudflare=ACMEIssuerDNS01ProviderCloudflare(api_token_secret_ref=REF),
                rfc2136=ACMEIssuerDNS01ProviderRFC2136(nameserver="ns"),
            ),
            "cloudflare",
        ),
    ],
    ids=["none", "rfc2136", "cloudflare", "acmeDNS", "webhook", "first-in-cert-manager-order"],
)
def test_dns01_provider_name(config: ACMEChallengeSolverDNS01, name: str | None) -> None:
    assert dns01_provider_name(config) == name


def test_provider_names_are_the_wire_names() -> None:
    wire_names = {field.encode_name for field in msgspec.structs.fields(ACMEChallengeSolverDNS01)}
    assert set(DNS01_PROVIDER_NAMES) == wire_names - {"cnameStrategy", "nameservers"}


def test_read_secret_key() -> None:
    secrets = MemorySecrets({("ns", "s"): {"k": b"value"}})
    assert read_secret_key(secrets, "ns", REF) == b"value"


@pytest.mark.parametrize(
    ("secrets", "selector", "message"),
    [
        (MemorySecrets(), REF, 'failed to load secret "ns/s": secret "s" not found'),
        (MemorySecrets({("ns", "s"): {"other": b"x"}}), REF, 'no key "k" in secret "ns/s"'),
        (MemorySecrets({("ns", "s"): {"k": b"x"}}), SecretKeySelector(name="s"), 'no key "" in secret "ns/s"'),
    ],
    ids=["missing-secret", "missing-key", "no-key-given"],
)
def test_read_secret_key_errors(secrets: MemorySecrets, selector: SecretKeySelector, message: str) -> None:
    with pytest.raises(SolverConfigError) as caught:
        read_secret_key(secrets, "ns", selector)
    assert str(caught.value) == message
