"""KubeStore's requests (paths, queries, bodies, headers) and how it shapes what comes back.

Against the scripted peer: what the API server does with these requests is the integration tests' job.
"""

from __future__ import annotations

import json
import random
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from aiohttp import web

from certkeeper.store.kube.config import ClusterConfig
from certkeeper.store.kube.metadata import OTHER_SECRETS, OWNED_SECRETS, MetadataStore, strip_partial_metadata
from certkeeper.store.kube.paths import METADATA_ACCEPT, METADATA_LIST_ACCEPT
from certkeeper.store.kube.store import KubeStore
from certkeeper.store.kube.transport import KubeTransport
from certkeeper.store.ports import EventType, Gone, Invalid, LabelSelector, NotFound, PatchType
from certkeeper.store.resources import CERTIFICATES, CLUSTER_ISSUERS, SECRETS
from tests.unit.store.kube.support import RecordingClock, Script, ok, status_response


def make_store(url: str, **kwargs: Any) -> KubeStore:
    return KubeStore(KubeTransport(ClusterConfig(server=url), clock=RecordingClock()), **kwargs)


def query_of(path_qs: str) -> dict[str, list[str]]:
    return parse_qs(urlsplit(path_qs).query)


MANAGED = [{"manager": "certkeeper", "operation": "Apply", "fieldsType": "FieldsV1", "fieldsV1": {}}]


async def test_get_keeps_managed_fields_unless_told(server: tuple[Script, str]) -> None:
    script, url = server
    obj = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "a", "managedFields": MANAGED}}
    script.responses = [ok(obj)]
    async with make_store(url) as store:
        assert (await store.get(SECRETS, "a", namespace="ns"))["metadata"]["managedFields"] == MANAGED
    async with make_store(url, drop_managed_fields=[SECRETS]) as store:
        assert "managedFields" not in (await store.get(SECRETS, "a", namespace="ns"))["metadata"]
        certificate = {"kind": "Certificate", "metadata": {"managedFields": MANAGED}}
        script.responses = [ok(certificate)]
        assert "managedFields" in (await store.get(CERTIFICATES, "c", namespace="ns"))["metadata"]
    assert script.requests[0][1] == "/api/v1/namespaces/ns/secrets/a"


async def test_list_pages_and_fills_in_type_meta(server: tuple[Script, str]) -> None:
    script, url = server
    page = {
        "kind": "SecretList",
        "apiVersion": "v1",
        "metadata": {"resourceVersion": "77", "continue": "next=="},
        "items": [{"metadata": {"name": "a"}}, {"metadata": {"name": "b"}}],
    }
    script.responses = [ok(page)]
    selector = LabelSelector(match_labels={"app": "x"})
    async with make_store(url) as store:
        got = await store.list(SECRETS, namespace="ns", label_selector=selector, limit=2, continue_token="tok")
    assert got.resource_version == "77"
    assert got.continue_token == "next=="
    assert [i["kind"] for i in got.items] == ["Secret", "Secret"]
    assert [i["apiVersion"] for i in got.items] == ["v1", "v1"]
    path_qs = script.requests[0][1]
    assert urlsplit(path_qs).path == "/api/v1/namespaces/ns/secrets"
    assert query_of(path_qs) == {"labelSelector": ["app=x"], "limit": ["2"], "continue": ["tok"]}


async def test_metadata_only_reads_ask_for_partial_object_metadata(server: tuple[Script, str]) -> None:
    script, url = server
    script.responses = [ok({"kind": "PartialObjectMetadataList", "metadata": {}, "items": [{"metadata": {}}]})]
    async with make_store(url) as store:
        page = await store.list_metadata(SECRETS, label_selector=OTHER_SECRETS)
        assert page.items[0]["kind"] == "PartialObjectMetadata"
        assert page.items[0]["apiVersion"] == "meta.k8s.io/v1"
        script.responses = [ok({"kind": "PartialObjectMetadata", "metadata": {"name": "a"}})]
        await MetadataStore(store).get(SECRETS, "a", namespace="ns")
    (_, list_qs, list_headers, _), (_, _, get_headers, _) = script.requests
    assert list_headers["Accept"] == METADATA_LIST_ACCEPT
    assert query_of(list_qs)["labelSelector"] == ["!controller.cert-manager.io/fao"]
    assert get_headers["Accept"] == METADATA_ACCEPT


def test_the_secret_selectors_split_every_secret() -> None:
    for labels in ({}, {"controller.cert-manager.io/fao": "true"}, {"controller.cert-manager.io/fao": "false"}):
        assert OWNED_SECRETS.matches(labels) + OTHER_SECRETS.matches(labels) <= 1
    assert OWNED_SECRETS.matches({"controller.cert-manager.io/fao": "true"})
    assert OTHER_SECRETS.matches({"app": "x"})


def test_strip_partial_metadata() -> None:
    obj = {"metadata": {"name": "a", "labels": {"a": "b"}, "annotations": {}, "managedFields": [], "uid": "u"}}
    assert strip_partial_metadata(obj) == {"metadata": {"name": "a", "uid": "u"}}


def event_stream(*events: dict[str, Any]) -> Any:
    async def respond(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "application/json"})
        await response.prepare(request)
        for event in events:
            await response.write(json.dumps(event).encode() + b"\n")
        await response.write_eof()
        return response

    return respond


async def test_watch_request_and_events(server: tuple[Script, str]) -> None:
    script, url = server
    script.responses = [
        event_stream(
            {"type": "ADDED", "object": {"kind": "Secret", "metadata": {"name": "a", "managedFields": MANAGED}}},
            {"type": "BOOKMARK", "object": {"kind": "Secret", "metadata": {"resourceVersion": "9"}}},
            {"type": "SURPRISE", "object": {}},
            {"type": "DELETED", "object": {"kind": "Secret", "metadata": {"name": "a"}}},
        )
    ]
    async with make_store(url, watch_timeout_seconds=100, drop_managed_fields=[SECRETS], rng=random.Random(3)) as store:
        events = [e async for e in store.watch(SECRETS, resource_version="5", namespace="ns")]
    assert [e.type for e in events] == [EventType.ADDED, EventType.BOOKMARK, EventType.DELETED]
    assert "managedFields" not in events[0].object["metadata"]
    query = query_of(script.requests[0][1])
    assert query["watch"] == ["true"]
    assert query["allowWatchBookmarks"] == ["true"]
    assert query["resourceVersion"] == ["5"]
    assert 100 <= int(query["timeoutSeconds"][0]) < 200


async def test_watch_timeouts_are_jittered(server: tuple[Script, str]) -> None:
    script, url = server
    script.responses = [event_stream()]
    async with make_store(url, watch_timeout_seconds=300) as store:
        for _ in range(8):
            async for _event in store.watch(SECRETS, resource_version="1"):
                pass
    timeouts = {int(query_of(r[1])["timeoutSeconds"][0]) for r in script.requests}
    assert all(300 <= t < 600 for t in timeouts)
    assert len(timeouts) > 1


async def test_watch_error_event_410_is_gone(server: tuple[Script, str]) -> None:
    script, url = server
    status = {"kind": "Status", "code": 410, "reason": "Expired", "message": "too old resource version: 1 (5)"}
    script.responses = [event_stream({"type": "ERROR", "object": status})]
    async with make_store(url) as store:
        with pytest.raises(Gone, match="too old"):
            async for _ in store.watch(SECRETS, resource_version="1"):
                pass


async def test_a_malformed_event_ends_the_watch(server: tuple[Script, str]) -> None:
    script, url = server

    async def garbage(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse()
        await response.prepare(request)
        await response.write(b'{"type":"ADDED","object":{"kind":"Secret"}}\nnot json\n{"type":"ADDED","object":{}}\n')
        await response.write_eof()
        return response

    script.responses = [garbage]
    async with make_store(url) as store:
        events = [e async for e in store.watch(SECRETS, resource_version="1")]
    assert len(events) == 1


async def test_writes(server: tuple[Script, str]) -> None:
    script, url = server
    script.responses = [ok({"kind": "Certificate", "metadata": {"name": "c"}})]
    cert = {"metadata": {"name": "c", "namespace": "ns"}, "spec": {}}
    async with make_store(url) as store:
        await store.create(CERTIFICATES, cert)
        await store.update(CERTIFICATES, cert)
        await store.update_status(CERTIFICATES, cert)
        await store.patch(CERTIFICATES, "c", {"spec": {}}, namespace="ns")
        await store.patch(
            CERTIFICATES, "c", [{"op": "remove", "path": "/x"}], namespace="ns", patch_type=PatchType.JSON
        )
        await store.patch(
            CERTIFICATES,
            "c",
            {"apiVersion": "cert-manager.io/v1", "kind": "Certificate", "status": {}},
            namespace="ns",
            patch_type=PatchType.APPLY,
            field_manager="issuing",
            force=True,
            subresource="status",
        )
        await store.delete(CERTIFICATES, "c", namespace="ns", uid="u-1")
        await store.delete(CLUSTER_ISSUERS, "ca")
    sent = [(m, p, h.get("Content-Type"), json.loads(b) if b else None) for m, p, h, b in script.requests]
    base = "/apis/cert-manager.io/v1/namespaces/ns/certificates"
    typed = {"apiVersion": "cert-manager.io/v1", "kind": "Certificate", **cert}
    assert sent[0] == ("POST", base, "application/json", typed)
    assert sent[1] == ("PUT", f"{base}/c", "application/json", typed)
    assert sent[2] == ("PUT", f"{base}/c/status", "application/json", typed)
    assert sent[3][:3] == ("PATCH", f"{base}/c?fieldManager=certkeeper", "application/merge-patch+json")
    assert sent[4][:3] == ("PATCH", f"{base}/c?fieldManager=certkeeper", "application/json-patch+json")
    assert sent[5][:3] == ("PATCH", f"{base}/c/status?fieldManager=issuing&force=true", "application/apply-patch+yaml")
    assert sent[6] == (
        "DELETE",
        f"{base}/c",
        "application/json",
        {
            "apiVersion": "v1",
            "kind": "DeleteOptions",
            "propagationPolicy": "Background",
            "preconditions": {"uid": "u-1"},
        },
    )
    assert sent[7][:2] == ("DELETE", "/apis/cert-manager.io/v1/clusterissuers/ca")
    assert sent[7][3] == {"apiVersion": "v1", "kind": "DeleteOptions", "propagationPolicy": "Background"}


@pytest.mark.parametrize("name", ["", ".", "..", "a/b", "50%"], ids=repr)
async def test_names_that_cannot_exist_are_not_found_without_a_request(server: tuple[Script, str], name: str) -> None:
    script, url = server
    async with make_store(url) as store:
        with pytest.raises(NotFound):
            await store.get(SECRETS, name, namespace="ns")
        with pytest.raises(NotFound):
            await store.delete(SECRETS, name, namespace="ns")
        with pytest.raises(NotFound):
            await store.patch(SECRETS, name, {}, namespace="ns")
        with pytest.raises(NotFound):
            await store.get(SECRETS, "fine", namespace=name or None)
    assert script.requests == []


async def test_local_refusals(server: tuple[Script, str]) -> None:
    script, url = server
    async with make_store(url) as store:
        with pytest.raises(Invalid, match=r"metadata\.name: Required value: name is required"):
            await store.update(SECRETS, {"metadata": {"namespace": "ns"}})
        with pytest.raises(Invalid, match=r"metadata\.namespace: Required value"):
            await store.create(SECRETS, {"metadata": {"name": "a"}})
        with pytest.raises(NotFound, match="could not find the requested resource"):
            await store.update_status(SECRETS, {"metadata": {"name": "a", "namespace": "ns"}})
        with pytest.raises(NotFound, match=r'namespaces "\.\./x" not found'):
            await store.create(SECRETS, {"metadata": {"name": "a", "namespace": "../x"}})
        assert (await store.list(SECRETS, namespace="a/b")).items == []
        assert [e async for e in store.watch(SECRETS, resource_version="", namespace="..")] == []
    assert script.requests == []


async def test_server_errors_name_the_object(server: tuple[Script, str]) -> None:
    script, url = server
    script.responses = [status_response(404, "NotFound", 'secrets "a" not found')]
    async with make_store(url) as store:
        with pytest.raises(NotFound, match='secrets "a" not found'):
            await store.get(SECRETS, "a", namespace="ns")


def test_constructor_validation() -> None:
    with pytest.raises(ValueError, match="watch_timeout_seconds"):
        make_store("http://127.0.0.1:1", watch_timeout_seconds=0)
