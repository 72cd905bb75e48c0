"""Pure rules of the local store: metadata messages, kind policies, and bounded parsers of user input."""

from __future__ import annotations

import base64
import json
import random
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from certkeeper.store.local import LocalStore, policy_for
from certkeeper.store.local.apply import apply
from certkeeper.store.local.kinds import is_config_key
from certkeeper.store.local.objectmeta import generate_name, validate_create
from certkeeper.store.ports import Invalid, ResourceType
from certkeeper.validation.kube import is_dns1123_label, is_dns1123_subdomain, is_label_value
from certkeeper.validation.kube import is_label_key as is_qualified_name

from .conftest import CERTIFICATES, SECRETS, FakeClock, cert

LABEL_KEY_REGEX = "([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]"


@pytest.mark.parametrize(
    ("value", "errors"),
    [
        ("example.com/name", []),
        ("name", []),
        (
            "a/b/c",
            [
                "a valid label key must consist of alphanumeric characters, '-', '_' or '.', and must start and end "
                "with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for "
                f"validation is '{LABEL_KEY_REGEX}') with an optional DNS subdomain prefix and '/' "
                "(e.g. 'example.com/MyName')"
            ],
        ),
        ("/name", ["prefix part must be non-empty"]),
        ("x/", ["name part must be non-empty", f"name part must consist of alphanumeric characters, '-', '_' or '.', "
                f"and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', "
                f"regex used for validation is '{LABEL_KEY_REGEX}')"]),
        ("n" * 64, ["name part must be no more than 63 bytes"]),
    ],
    ids=["prefixed", "plain", "two-slashes", "empty-prefix", "empty-name", "long-name"],
)  # fmt: skip
def test_qualified_name_messages(value: str, errors: list[str]) -> None:
    assert is_qualified_name(value) == errors


def test_dns_and_label_value_messages() -> None:
    assert is_dns1123_label("a.b") == ["must not contain dots"]
    assert is_dns1123_label("A") == [
        "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and "
        "end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is "
        "'[a-z0-9]([-a-z0-9]*[a-z0-9])?')"
    ]
    assert is_dns1123_subdomain("a" * 254)[0] == "must be no more than 253 characters"
    assert is_label_value("") == []
    assert is_label_value("-x")[0].startswith("a valid label must be an empty string or consist of")
    assert is_config_key("tls.crt") == []
    assert is_config_key(".") == ["must not be '.'"]
    assert is_config_key("a/b") == [
        "a valid config key must consist of alphanumeric characters, '-', '_' or '.' (e.g. 'key.name',  or "
        "'KEY_NAME',  or 'key-name', regex used for validation is '[-._a-zA-Z0-9]+')"
    ]


@pytest.mark.parametrize(
    "check",
    [is_dns1123_label, is_dns1123_subdomain, is_qualified_name, is_label_value, is_config_key],
    ids=["label", "subdomain", "qualified-name", "label-value", "config-key"],
)
def test_a_trailing_newline_is_refused(check: Any) -> None:
    # Go's "^...$" spans the whole string; Python's "$" would also match before a final newline.
    assert check("name") == []
    assert check("name\n") != []


async def test_a_name_with_a_newline_is_not_stored(clock: FakeClock) -> None:
    async with await LocalStore.open(None, now=clock.now, bookmark_interval=None) as store:
        with pytest.raises(Invalid, match=r"metadata\.name"):
            await store.create(SECRETS, {"metadata": {"name": "evil\n", "namespace": "ns"}, "data": {}})


def test_generate_name_prefix_may_end_in_a_dash() -> None:
    assert validate_create({"generateName": "req-", "name": "req-abcde", "namespace": "ns"}, namespaced=True) == []
    name = generate_name("p" * 80, random.Random(1))
    assert len(name) == 63
    assert name.startswith("p" * 58)


@pytest.mark.parametrize(
    ("resource", "generation", "unconditional", "secret"),
    [
        (CERTIFICATES, True, False, False),
        (SECRETS, False, True, True),
        (ResourceType(group="coordination.k8s.io", version="v1", kind="Lease", plural="leases"), False, True, False),
        (ResourceType(group="acme.cert-manager.io", version="v1", kind="Order", plural="orders"), True, False, False),
    ],
    ids=["crd", "secret", "lease", "acme"],
)
def test_kind_policies(resource: ResourceType, generation: bool, unconditional: bool, secret: bool) -> None:
    policy = policy_for(resource)
    assert (policy.tracks_generation, policy.allow_unconditional_update, policy.secret) == (
        generation,
        unconditional,
        secret,
    )


@given(st.text(max_size=300))
def test_name_validators_never_crash(value: str) -> None:
    for check in (is_qualified_name, is_dns1123_label, is_dns1123_subdomain, is_label_value, is_config_key):
        errors = check(value)
        assert all(isinstance(e, str) and e for e in errors)
    if not is_config_key(value):
        assert "/" not in value
        assert value not in (".", "..")


_leaf = st.none() | st.booleans() | st.integers() | st.text(max_size=4)
_config = st.recursive(
    st.dictionaries(st.sampled_from(["spec", "status", "a", "b"]), _leaf, max_size=3),
    lambda inner: st.dictionaries(
        st.sampled_from(["spec", "status", "metadata", "conditions", "finalizers", "a"]),
        inner | st.lists(st.fixed_dictionaries({"type": st.sampled_from(["A", "B"]), "status": _leaf}), max_size=3),
        max_size=3,
    ),
    max_leaves=12,
)


@given(current=_config, first=_config, second=_config)
def test_apply_is_idempotent_and_never_crashes(
    current: dict[str, Any], first: dict[str, Any], second: dict[str, Any]
) -> None:
    obj, managers = apply(current, first, {}, "one")
    obj, managers = apply(obj, second, managers, "two")
    again, managers_again = apply(obj, second, managers, "two")
    assert again == obj
    assert managers_again == managers
    json.dumps(obj)


@given(token=st.text(max_size=80) | st.binary(max_size=60).map(lambda b: base64.urlsafe_b64encode(b).decode()))
async def test_continue_tokens_from_users_are_checked(token: str) -> None:
    async with await LocalStore.open(None, now=FakeClock().now, bookmark_interval=None) as store:
        await store.create(CERTIFICATES, cert("a"))
        try:
            page = await store.list(CERTIFICATES, limit=1, continue_token=token)
        except Invalid as exc:
            outcome = str(exc)
        else:
            outcome = f"continue at {page.resource_version}"
        assert "continue" in outcome
