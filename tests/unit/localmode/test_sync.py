from collections.abc import Sequence
from pathlib import Path

import yaml

from certkeeper.localmode.scan import list_manifest_files
from certkeeper.localmode.sync import ManifestSync, ParsedDocument
from certkeeper.runtime.clock import FakeClock
from certkeeper.store.local import LocalStore
from certkeeper.store.ports import RawObject, ResourceType
from certkeeper.store.resources import CERTIFICATES, CLUSTER_ISSUERS, SECRETS
from tests.unit.controllers.harness import defaulting_admit

ISSUER = """
apiVersion: cert-manager.io/v1
kind: ClusterIssuer
metadata: {name: selfsigned}
spec: {selfSigned: {}}
"""

CERT = """
apiVersion: cert-manager.io/v1
kind: Certificate
metadata: {name: web}
spec:
  secretName: web-tls
  dnsNames: [web.example.com]
  issuerRef: {name: selfsigned, kind: ClusterIssuer}
"""


def parse(data: bytes) -> Sequence[ParsedDocument]:
    try:
        docs = list(yaml.safe_load_all(data))
    except yaml.YAMLError as exc:
        raise ValueError(f"invalid YAML: {exc}") from exc
    return [ParsedDocument(i, d) for i, d in enumerate(docs) if d is not None]


async def open_store() -> LocalStore:
    clock = FakeClock()
    return await LocalStore.open(None, now=clock.now, admit=defaulting_admit, bookmark_interval=None)


async def get(store: LocalStore, resource: ResourceType, name: str, ns: str | None = None) -> RawObject:
    return await store.get(resource, name, namespace=ns)


async def test_create_update_delete_and_errors_per_file(tmp_path: Path) -> None:
    store = await open_store()
    (tmp_path / "issuer.yaml").write_text(ISSUER)
    (tmp_path / "cert.yaml").write_text(CERT)
    sync = ManifestSync(tmp_path, store, parse=parse, index_path=tmp_path / ".certkeeper" / "manifests.json")
    result = await sync.sync(list(list_manifest_files(tmp_path)))
    assert sorted(result.created) == ["Certificate/default/web", "ClusterIssuer//selfsigned"]
    assert not result.errors
    cert = await get(store, CERTIFICATES, "web", "default")
    assert cert["spec"]["issuerRef"]["group"] == "cert-manager.io"  # defaulted on write

    # an unchanged directory writes nothing
    again = await sync.sync(list(list_manifest_files(tmp_path)))
    assert (again.created, again.updated, again.deleted) == ([], [], [])

    # an edit updates the spec and keeps the status the engine wrote
    cert["status"] = {"revision": 3}
    await store.update_status(CERTIFICATES, cert)
    (tmp_path / "cert.yaml").write_text(CERT.replace("[web.example.com]", "[web.example.com, www.example.com]"))
    edited = await sync.sync(list(list_manifest_files(tmp_path)))
    assert edited.updated == ["Certificate/default/web"]
    cert = await get(store, CERTIFICATES, "web", "default")
    assert cert["spec"]["dnsNames"] == ["web.example.com", "www.example.com"]
    assert cert["status"] == {"revision": 3}

    # broken YAML: an error naming the file, and the objects it held stay
    (tmp_path / "cert.yaml").write_text("kind: [unclosed\n")
    broken = await sync.sync(list(list_manifest_files(tmp_path)))
    assert [e.path for e in broken.errors] == ["cert.yaml"]
    assert "invalid YAML" in str(broken.errors[0])
    assert broken.deleted == []
    await get(store, CERTIFICATES, "web", "default")

    # unknown kind and duplicate definition are errors of their document; others still apply
    (tmp_path / "cert.yaml").write_text(
        CERT + "---\napiVersion: example.com/v1\nkind: Widget\nmetadata: {name: w}\n---\n" + CERT
    )
    mixed = await sync.sync(list(list_manifest_files(tmp_path)))
    messages = [str(e) for e in mixed.errors]
    assert messages[0] == 'cert.yaml (document 2): no matches for kind "Widget" in version "example.com/v1"'
    assert messages[1].startswith("cert.yaml (document 3): Certificate/default/web is already defined in cert.yaml")

    # removing the file deletes what it defined, and only that
    await store.create(
        SECRETS,
        {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "made-by-engine", "namespace": "default"}},
    )
    (tmp_path / "cert.yaml").unlink()
    removed = await sync.sync(list(list_manifest_files(tmp_path)))
    assert removed.deleted == ["Certificate/default/web"]
    await get(store, SECRETS, "made-by-engine", "default")
    await get(store, CLUSTER_ISSUERS, "selfsigned")
    await store.close()


async def test_invalid_object_names_the_field_and_keeps_the_stored_one(tmp_path: Path) -> None:
    store = await open_store()
    (tmp_path / "cert.yaml").write_text(CERT)
    sync = ManifestSync(tmp_path, store, parse=parse, index_path=tmp_path / ".state" / "index.json")
    await sync.sync(list(list_manifest_files(tmp_path)))
    (tmp_path / "cert.yaml").write_text(CERT.replace("secretName: web-tls", "secretName: 42"))
    result = await sync.sync(list(list_manifest_files(tmp_path)))
    assert len(result.errors) == 1
    assert result.errors[0].object_key == "Certificate/default/web"
    cert = await get(store, CERTIFICATES, "web", "default")
    assert cert["spec"]["secretName"] == "web-tls"
    await store.close()
