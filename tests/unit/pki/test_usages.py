"""Usage strings <-> KeyUsage bits and EKU OIDs, as cert-manager maps them."""

from __future__ import annotations

import pytest
from cryptography import x509
from cryptography.x509.oid import ExtendedKeyUsageOID, ObjectIdentifier

from certkeeper.pki.errors import InvalidTemplate
from certkeeper.pki.usages import (
    CERT_SIGN,
    DIGITAL_SIGNATURE,
    ENCIPHER_ONLY,
    EXT_KEY_USAGES,
    KEY_AGREEMENT,
    KEY_ENCIPHERMENT,
    KEY_USAGES,
    ext_key_usage_strings,
    format_usages,
    key_usage_bits,
    key_usage_extension,
    key_usage_strings,
    key_usages_for,
    split_ext_key_usages,
)


@pytest.mark.parametrize(
    ("usages", "is_ca", "bits", "ekus"),
    [
        ((), False, DIGITAL_SIGNATURE | KEY_ENCIPHERMENT, ()),
        ((), True, DIGITAL_SIGNATURE | KEY_ENCIPHERMENT | CERT_SIGN, ()),
        (("signing",), False, DIGITAL_SIGNATURE, ()),
        (
            ("server auth", "digital signature", "client auth"),
            False,
            DIGITAL_SIGNATURE,
            (ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH),
        ),
        (("s/mime", "email protection"), False, 0, (ExtendedKeyUsageOID.EMAIL_PROTECTION,) * 2),
        (("cert sign",), True, CERT_SIGN, ()),
    ],
    ids=["default", "default-ca", "signing-alias", "mixed-order-kept", "smime-alias", "ca-cert-sign"],
)
def test_key_usages_for(usages: tuple[str, ...], is_ca: bool, bits: int, ekus: tuple[ObjectIdentifier, ...]) -> None:
    assert key_usages_for(usages, is_ca=is_ca) == (bits, ekus)


def test_unknown_usages_are_listed_like_go() -> None:
    with pytest.raises(InvalidTemplate) as caught:
        key_usages_for(("digital signature", "bogus", "server  auth"), is_ca=False)
    assert str(caught.value) == "unknown key usages: [bogus server  auth]"


def test_every_usage_string_is_known() -> None:
    assert len(KEY_USAGES) + len(EXT_KEY_USAGES) == 23
    for usage in [*KEY_USAGES, *EXT_KEY_USAGES]:
        key_usages_for((usage,), is_ca=False)


def test_bits_round_trip_through_the_extension() -> None:
    every = 0
    for bit in range(9):
        if (1 << bit) & (ENCIPHER_ONLY | (1 << 8)):
            continue
        every |= 1 << bit
    assert key_usage_bits(key_usage_extension(every)) == every
    with_agreement = KEY_AGREEMENT | ENCIPHER_ONLY | (1 << 8)
    assert key_usage_bits(key_usage_extension(with_agreement)) == with_agreement


def test_encipher_only_requires_key_agreement() -> None:
    with pytest.raises(InvalidTemplate, match="require 'key agreement'"):
        key_usage_extension(ENCIPHER_ONLY)


def test_strings_for_bits_and_ekus() -> None:
    assert key_usage_strings(DIGITAL_SIGNATURE | KEY_ENCIPHERMENT | CERT_SIGN) == [
        "digital signature",
        "key encipherment",
        "cert sign",
    ]
    unknown = ObjectIdentifier("1.2.3.4")
    assert ext_key_usage_strings([ExtendedKeyUsageOID.EMAIL_PROTECTION, unknown]) == ["email protection", "unknown"]


def test_split_follows_gos_known_list() -> None:
    kernel = ObjectIdentifier("1.3.6.1.4.1.311.61.1.1")
    other = ObjectIdentifier("1.2.3.4")
    assert split_ext_key_usages([other, ExtendedKeyUsageOID.SERVER_AUTH, kernel]) == (
        (ExtendedKeyUsageOID.SERVER_AUTH, kernel),
        (other,),
    )


@pytest.mark.parametrize(
    ("usages", "text"),
    [((), "[]"), (("a",), "[ 'a' ]"), (("a", "b"), "[ 'a', 'b' ]")],
    ids=["empty", "one", "two"],
)
def test_format_usages_like_print_key_usage(usages: tuple[str, ...], text: str) -> None:
    assert format_usages(usages) == text


def test_key_usage_extension_matches_cryptography_flags() -> None:
    value = key_usage_extension(DIGITAL_SIGNATURE | CERT_SIGN)
    assert value == x509.KeyUsage(
        digital_signature=True,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=True,
        crl_sign=False,
        encipher_only=False,
        decipher_only=False,
    )
