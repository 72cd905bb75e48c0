"""Read manifest files for the directory sync, through the api layer's bounded YAML loader
(size, nesting depth, node count and alias limits: ``certkeeper.api.manifests.parse_yaml``)."""

from __future__ import annotations

from collections.abc import Sequence

from certkeeper.api.manifests import parse_yaml
from certkeeper.localmode.sync import ParsedDocument


def parse_manifest_bytes(data: bytes) -> Sequence[ParsedDocument]:
    """The documents of one file; raises ValueError (ManifestError) when the file cannot be read."""
    return [ParsedDocument(document.index, document.data) for document in parse_yaml(data)]
