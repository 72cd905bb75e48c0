"""Issuance as an ACME issuer runs it, against pebble, for the integration tests; and openssl checks."""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from certkeeper.acme.client import AcmeClient
from certkeeper.acme.messages import Authorization, Challenge, ChallengeType, Identifier, Status
from certkeeper.acme.resources import CertificateChainResource, OrderResource
from certkeeper.pki.csr import build_csr
from certkeeper.pki.keys import KeyAlgorithm, KeySpec, generate_private_key
from certkeeper.pki.pem import load_pem_certificate_bundle
from certkeeper.pki.template import CertificateTemplate


@dataclass(frozen=True, slots=True, kw_only=True)
class Issued:
    """An order, the downloaded chain, and the chain's certificates (leaf first)."""

    order: OrderResource
    chain: CertificateChainResource
    certificates: list[x509.Certificate]


def identifiers(dns_names: tuple[str, ...], ip_addresses: tuple[str, ...] = ()) -> list[Identifier]:
    """Order identifiers for names and addresses."""
    return [Identifier.dns(n) for n in dns_names] + [Identifier.ip(a) for a in ip_addresses]


#: Publishes a challenge's response before it is accepted (nothing to do while pebble always validates).
Presenter = Callable[[AcmeClient, Authorization, Challenge], None]


async def authorize(client: AcmeClient, order: OrderResource, present: Presenter | None = None) -> None:
    """Accept one challenge per pending authorization (dns-01 for wildcards, else http-01) and wait."""
    for url in order.order.authorizations:
        authz = (await client.get_authorization(url)).authorization
        if authz.status is Status.VALID:
            continue
        wanted = ChallengeType.DNS_01 if authz.wildcard else ChallengeType.HTTP_01
        challenge = authz.challenge(wanted)
        assert challenge is not None, f"{wanted} not offered for {authz.identifier.value}"
        if present is not None:
            present(client, authz, challenge)
        await client.accept_challenge(challenge.url)
        await client.wait_authorization(url)


async def issue(
    client: AcmeClient,
    dns_names: tuple[str, ...],
    ip_addresses: tuple[str, ...] = (),
    *,
    replaces: str | None = None,
    profile: str | None = None,
    present: Presenter | None = None,
) -> Issued:
    """New order, authorizations, CSR from certkeeper.pki (ECDSA P-256), finalize, download."""
    order = await client.new_order(identifiers(dns_names, ip_addresses), replaces=replaces, profile=profile)
    await authorize(client, order, present)
    ready = await client.wait_order(order.uri)
    assert ready.order.status is Status.READY
    template = CertificateTemplate(
        dns_names=dns_names, ip_addresses=ip_addresses, key=KeySpec(algorithm=KeyAlgorithm.ECDSA)
    )
    csr = build_csr(template, generate_private_key(template.key))
    valid = await client.finalize_order(ready, csr.public_bytes(serialization.Encoding.DER))
    assert valid.order.status is Status.VALID
    assert valid.order.certificate
    chain = await client.fetch_certificate(valid.order.certificate)
    return Issued(order=valid, chain=chain, certificates=load_pem_certificate_bundle(chain.pem))


def openssl_verify(directory: Path, *, chain_pem: bytes, trusted_pem: bytes) -> str:
    """``openssl verify -CAfile <trusted> -untrusted <rest of chain> <leaf>``; returns its output."""
    certificates = load_pem_certificate_bundle(chain_pem)
    pem = [c.public_bytes(serialization.Encoding.PEM) for c in certificates]
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "leaf.pem").write_bytes(pem[0])
    (directory / "trusted.pem").write_bytes(trusted_pem)
    command = ["openssl", "verify", "-CAfile", str(directory / "trusted.pem")]
    if len(pem) > 1:
        (directory / "untrusted.pem").write_bytes(b"".join(pem[1:]))
        command += ["-untrusted", str(directory / "untrusted.pem")]
    result = subprocess.run([*command, str(directory / "leaf.pem")], capture_output=True, text=True, check=False)
    assert result.returncode == 0, f"openssl verify failed: {result.stdout}{result.stderr}"
    return result.stdout
