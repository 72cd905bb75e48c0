"""Wire models (decode what servers send, encode what clients post) and the problem exception tree."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import msgspec
import pytest
from hypothesis import given
from hypothesis import strategies as st

from certkeeper.acme import errors
from certkeeper.acme.errors import AcmeProblem, AuthorizationFailed, OrderFailed, Subproblem, make_problem
from certkeeper.acme.messages import (
    Account,
    Authorization,
    ChallengeType,
    Directory,
    Identifier,
    NewAccountRequest,
    NewOrderRequest,
    Order,
    ProblemDocument,
    RenewalInfo,
    Status,
)

#: pebble v2.10.3's directory, as served.
PEBBLE_DIRECTORY = b"""{
  "keyChange": "https://127.0.0.1:14000/rollover-account-key",
  "meta": {
    "externalAccountRequired": false,
    "profiles": {"default": "The profile you know and love", "shortlived": "A short-lived cert profile"},
    "termsOfService": "data:text/plain,Do%20what%20thou%20wilt"
  },
  "newAccount": "https://127.0.0.1:14000/sign-me-up",
  "newNonce": "https://127.0.0.1:14000/nonce-plz",
  "newOrder": "https://127.0.0.1:14000/order-plz",
  "renewalInfo": "https://127.0.0.1:14000/draft-ietf-acme-ari-03/renewalInfo",
  "revokeCert": "https://127.0.0.1:14000/revoke-cert"
}"""


def test_directory_with_renewal_info_and_profiles() -> None:
    directory = msgspec.json.decode(PEBBLE_DIRECTORY, type=Directory)
    assert directory.new_nonce.endswith("/nonce-plz")
    assert directory.renewal_info == "https://127.0.0.1:14000/draft-ietf-acme-ari-03/renewalInfo"
    assert sorted(directory.profiles) == ["default", "shortlived"]
    assert not directory.external_account_required
    bare = msgspec.json.decode(b'{"newNonce":"a","newAccount":"b","newOrder":"c"}', type=Directory)
    assert (bare.profiles, bare.external_account_required, bare.renewal_info) == ({}, False, None)


def test_order_with_every_member_and_unknown_ones() -> None:
    body = b"""{"status":"invalid","expires":"2030-01-01T00:00:00.123456789Z",
      "identifiers":[{"type":"dns","value":"a"}], "notBefore":"2030-01-01T00:00:00Z",
      "notAfter":"2030-04-01T00:00:00Z","authorizations":["u1"],"finalize":"f",
      "certificate":"c","profile":"shortlived","replaces":"x.y","newFutureMember":{"any":1},
      "error":{"type":"urn:ietf:params:acme:error:caa","detail":"CAA forbids","status":403}}"""
    order = msgspec.json.decode(body, type=Order)
    assert order.status is Status.INVALID
    assert order.not_after == datetime(2030, 4, 1, tzinfo=UTC)
    assert order.expires is not None
    assert order.expires.microsecond == 123457
    assert (order.profile, order.replaces) == ("shortlived", "x.y")
    assert order.error is not None
    assert str(order.error.to_exception()) == "403 urn:ietf:params:acme:error:caa: CAA forbids"


def test_status_is_a_closed_vocabulary() -> None:
    with pytest.raises(msgspec.ValidationError, match="Invalid enum value 'weird'"):
        msgspec.json.decode(b'{"status":"weird"}', type=Account)


def test_unknown_challenge_types_decode_and_stay() -> None:
    body = b"""{"identifier":{"type":"dns","value":"a.example"},"status":"pending","wildcard":true,
      "challenges":[{"type":"dns-01","url":"u1","status":"pending","token":"t"},
                    {"type":"dns-account-01","url":"u2","status":"pending","token":"t","extra":[1]}]}"""
    authz = msgspec.json.decode(body, type=Authorization)
    assert [(c.type, c.known_type) for c in authz.challenges] == [
        ("dns-01", ChallengeType.DNS_01),
        ("dns-account-01", None),
    ]
    assert authz.challenge(ChallengeType.DNS_01) is authz.challenges[0]
    assert authz.challenge(ChallengeType.HTTP_01) is None


def test_renewal_info_maps_explanation_url() -> None:
    body = b'{"suggestedWindow":{"start":"2030-01-01T00:00:00Z","end":"2030-01-02T00:00:00Z"},"explanationURL":"e"}'
    info = msgspec.json.decode(body, type=RenewalInfo)
    assert info.explanation_url == "e"
    assert info.suggested_window.end - info.suggested_window.start == timedelta(days=1)
    assert b'"explanationURL":"e"' in msgspec.json.encode(info)


def test_requests_encode_camel_case_and_omit_unset_members() -> None:
    assert msgspec.json.encode(NewAccountRequest(only_return_existing=True)) == b'{"onlyReturnExisting":true}'
    assert msgspec.json.encode(NewAccountRequest(contact=[], terms_of_service_agreed=True)) == (
        b'{"contact":[],"termsOfServiceAgreed":true}'
    )
    request = NewOrderRequest(
        identifiers=[Identifier.dns("*.a.example"), Identifier.ip("::ffff:1.2.3.4")],
        not_after=datetime(2030, 1, 1, tzinfo=UTC),
        replaces="a.b",
    )
    assert msgspec.json.encode(request) == (
        b'{"identifiers":[{"type":"dns","value":"*.a.example"},{"type":"ip","value":"::ffff:102:304"}],'
        b'"notAfter":"2030-01-01T00:00:00Z","replaces":"a.b"}'
    )


@pytest.mark.parametrize(
    ("address", "expected"), [("10.0.0.1", "10.0.0.1"), ("2001:DB8:0:0::1", "2001:db8::1")], ids=["v4", "v6"]
)
def test_ip_identifiers_are_normalised(address: str, expected: str) -> None:
    assert Identifier.ip(address).value == expected


def test_ip_identifiers_must_be_addresses() -> None:
    with pytest.raises(ValueError, match="does not appear to be an IPv4 or IPv6 address"):
        Identifier.ip("example.com")


@pytest.mark.parametrize(
    ("code", "cls"),
    [
        ("badNonce", errors.BadNonce),
        ("malformed", errors.Malformed),
        ("rateLimited", errors.RateLimited),
        ("alreadyReplaced", errors.AlreadyReplaced),
        ("accountDoesNotExist", errors.AccountDoesNotExist),
        ("externalAccountRequired", errors.ExternalAccountRequired),
        ("unauthorized", errors.Unauthorized),
        ("rejectedIdentifier", errors.RejectedIdentifier),
        ("unsupportedIdentifier", errors.UnsupportedIdentifier),
        ("invalidProfile", errors.InvalidProfile),
        ("orderNotReady", errors.OrderNotReady),
        ("badCSR", errors.BadCsr),
        ("serverInternal", errors.ServerInternal),
        ("userActionRequired", errors.UserActionRequired),
        ("caa", AcmeProblem),
    ],
    ids=str,
)
def test_problem_types_map_to_exception_classes(code: str, cls: type[AcmeProblem]) -> None:
    problem = make_problem(type=f"urn:ietf:params:acme:error:{code}", detail="d", status=400)
    assert type(problem) is cls
    assert problem.code == code
    assert isinstance(problem, errors.AcmeError)


def test_problem_types_outside_the_acme_namespace_stay_generic() -> None:
    problem = make_problem(type="urn:example:badNonce", status=503)
    assert type(problem) is AcmeProblem
    assert (problem.code, problem.is_client_error) == ("urn:example:badNonce", False)


def test_problem_text_reads_like_golang_acme_with_subproblems() -> None:
    document = msgspec.json.decode(
        b"""{"type":"urn:ietf:params:acme:error:rejectedIdentifier","detail":"Some names were rejected",
        "subproblems":[{"type":"urn:ietf:params:acme:error:rejectedIdentifier","detail":"forbidden",
        "identifier":{"type":"dns","value":"bad.example"}},{"type":"urn:ietf:params:acme:error:malformed","detail":"x"}]}""",
        type=ProblemDocument,
    )
    problem = document.to_exception(http_status=400, retry_after=timedelta(seconds=3))
    assert problem.status == 400  # the document had no status: the HTTP one
    assert problem.retry_after == timedelta(seconds=3)
    assert str(problem) == (
        "400 urn:ietf:params:acme:error:rejectedIdentifier: Some names were rejected; subproblems:\n"
        "\turn:ietf:params:acme:error:rejectedIdentifier: [dns: bad.example] forbidden\n"
        "\turn:ietf:params:acme:error:malformed: x"
    )
    assert problem.subproblems[0] == Subproblem(
        type="urn:ietf:params:acme:error:rejectedIdentifier",
        detail="forbidden",
        identifier_type="dns",
        identifier_value="bad.example",
    )
    assert "RejectedIdentifier(" in repr(problem)


def test_long_details_are_cut() -> None:
    problem = make_problem(type="t", detail="x" * 10_000)
    assert len(problem.detail) == errors.MAX_DETAIL_CHARS + 1


def test_authorization_and_order_failures_read_like_golang_acme() -> None:
    challenge_error = make_problem(type="urn:ietf:params:acme:error:dns", detail="NXDOMAIN", status=400)
    assert str(AuthorizationFailed(url="u", identifier="", status="invalid", errors=[challenge_error])) == (
        "acme: authorization error: 400 urn:ietf:params:acme:error:dns: NXDOMAIN"
    )
    assert str(OrderFailed(url="https://ca/o/1", status="invalid", problem=None)) == (
        "acme: order https://ca/o/1 status: invalid"
    )


@given(st.binary(max_size=2000))
def test_problem_documents_from_any_bytes_decode_or_fail_cleanly(data: bytes) -> None:
    try:
        document = msgspec.json.decode(data, type=ProblemDocument)
    except msgspec.DecodeError:
        return
    assert isinstance(document.to_exception(http_status=400), AcmeProblem)
