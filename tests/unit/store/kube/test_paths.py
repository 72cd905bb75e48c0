"""REST paths and query strings of the kube backend."""

from __future__ import annotations

from urllib.parse import parse_qsl

import pytest
from hypothesis import given
from hypothesis import strategies as st

from certkeeper.store.kube import paths
from certkeeper.store.ports import LabelSelector, ResourceType
from certkeeper.store.resources import CERTIFICATES, CLUSTER_ISSUERS, SECRETS

LEASES = ResourceType(group="coordination.k8s.io", version="v1", kind="Lease", plural="leases")
NODES = ResourceType(group="", version="v1", kind="Node", plural="nodes", namespaced=False)


@pytest.mark.parametrize(
    ("resource", "namespace", "expected"),
    [
        (SECRETS, "ns", "/api/v1/namespaces/ns/secrets"),
        (SECRETS, None, "/api/v1/secrets"),
        (CERTIFICATES, "ns", "/apis/cert-manager.io/v1/namespaces/ns/certificates"),
        (CERTIFICATES, None, "/apis/cert-manager.io/v1/certificates"),
        (CLUSTER_ISSUERS, "ignored", "/apis/cert-manager.io/v1/clusterissuers"),
        (NODES, None, "/api/v1/nodes"),
        (LEASES, "kube-system", "/apis/coordination.k8s.io/v1/namespaces/kube-system/leases"),
    ],
    ids=["core-ns", "core-all", "group-ns", "group-all", "cluster-scoped-ignores-ns", "core-cluster", "lease"],
)
def test_collection_path(resource: ResourceType, namespace: str | None, expected: str) -> None:
    assert paths.collection_path(resource, namespace) == expected


@pytest.mark.parametrize(
    ("resource", "name", "namespace", "subresource", "expected"),
    [
        (SECRETS, "tls", "ns", "", "/api/v1/namespaces/ns/secrets/tls"),
        (CERTIFICATES, "web", "ns", "status", "/apis/cert-manager.io/v1/namespaces/ns/certificates/web/status"),
        (CLUSTER_ISSUERS, "ca", None, "status", "/apis/cert-manager.io/v1/clusterissuers/ca/status"),
        (SECRETS, "a:b@c", "ns", "", "/api/v1/namespaces/ns/secrets/a%3Ab%40c"),
    ],
    ids=["object", "status", "cluster-status", "quoted"],
)
def test_object_path(resource: ResourceType, name: str, namespace: str | None, subresource: str, expected: str) -> None:
    assert paths.object_path(resource, name, namespace, subresource) == expected


@pytest.mark.parametrize("name", ["", ".", "..", "a/b", "a%2Fb", "../../../api"], ids=repr)
def test_object_path_refuses_names_that_are_not_path_segments(name: str) -> None:
    assert not paths.valid_path_segment(name)
    with pytest.raises(ValueError, match="not a valid path segment"):
        paths.object_path(SECRETS, name, "ns")
    with pytest.raises(ValueError, match="not a valid path segment"):
        paths.object_path(SECRETS, "ok", name or "..")


def test_object_path_of_a_namespaced_kind_needs_a_namespace() -> None:
    with pytest.raises(ValueError, match="namespace is required"):
        paths.object_path(SECRETS, "tls", None)


def test_list_query() -> None:
    selector = LabelSelector(match_labels={"a": "b"}, not_exists=frozenset({"controller.cert-manager.io/fao"}))
    query = paths.list_query(label_selector=selector, limit=500, continue_token="tok+/=")
    assert query == [
        ("labelSelector", "a=b,!controller.cert-manager.io/fao"),
        ("limit", "500"),
        ("continue", "tok+/="),
    ]
    assert paths.list_query() == []
    assert paths.list_query(label_selector=LabelSelector(), limit=0) == []


def test_watch_query_always_asks_for_bookmarks() -> None:
    assert paths.watch_query(resource_version="42", timeout_seconds=317) == [
        ("watch", "true"),
        ("allowWatchBookmarks", "true"),
        ("resourceVersion", "42"),
        ("timeoutSeconds", "317"),
    ]
    assert paths.watch_query(resource_version="") == [("watch", "true"), ("allowWatchBookmarks", "true")]


def test_write_query() -> None:
    assert paths.write_query(field_manager="certkeeper", force=True) == [
        ("fieldManager", "certkeeper"),
        ("force", "true"),
    ]
    assert paths.write_query(field_manager="m", force=False) == [("fieldManager", "m"), ("force", "false")]
    assert paths.write_query() == []


def test_encode_query_escapes_selector_syntax() -> None:
    selector = LabelSelector(in_={"env": frozenset({"a", "b"})}, not_exists=frozenset({"x"}))
    encoded = paths.encode_query(paths.list_query(label_selector=selector, continue_token="a+b=="))
    assert encoded == "labelSelector=%21x%2Cenv%20in%20%28a%2Cb%29&continue=a%2Bb%3D%3D"


@given(st.lists(st.tuples(st.text(min_size=1), st.text()), max_size=6))
def test_encode_query_round_trips(pairs: list[tuple[str, str]]) -> None:
    encoded = paths.encode_query(pairs)
    assert parse_qsl(encoded, keep_blank_values=True) == pairs
