"""Read manifest files: multi-document YAML or JSON, bounded in size and refusing YAML aliases.

A file larger than ``MAX_FILE_BYTES`` is refused before parsing. Aliases are refused outright: a few
hundred bytes of nested aliases ("billion laughs") expand into gigabytes once the documents are
copied or serialised, and Kubernetes manifests have no use for them.
"""

from __future__ import annotations

from collections.abc import Sequence

import yaml

from certkeeper.localmode.sync import ParsedDocument

#: Larger than any sane manifest file; the API server refuses request bodies above 3 MiB too.
MAX_FILE_BYTES = 3 * 1024 * 1024

_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def parse_manifest_bytes(data: bytes) -> Sequence[ParsedDocument]:
    """The documents of one file; raises ValueError when the file as a whole cannot be read."""
    if len(data) > MAX_FILE_BYTES:
        raise ValueError(f"file is larger than {MAX_FILE_BYTES} bytes")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ValueError(f"file is not UTF-8: {exc.reason} at byte {exc.start}") from exc
    try:
        for event in yaml.parse(text, Loader=_Loader):
            if isinstance(event, yaml.AliasEvent) or getattr(event, "anchor", None):
                line = event.start_mark.line + 1 if event.start_mark is not None else 0
                raise ValueError(f"invalid YAML: anchors and aliases are not supported (line {line})")
        documents = list(yaml.load_all(text, Loader=_Loader))
    except yaml.YAMLError as exc:
        raise ValueError(f"invalid YAML: {exc}") from exc
    return [ParsedDocument(index, doc) for index, doc in enumerate(documents) if doc is not None]
