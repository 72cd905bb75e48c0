"""Load multi-document YAML manifests into typed objects, and dump objects back.

Loading happens in two steps so that callers can check the raw JSON-like data (the structural schema
validator does) before decoding it:

1. :func:`parse_yaml` turns text into one plain ``dict`` per document, refusing anything that could
   exhaust memory, CPU or the C stack: more than :data:`MAX_MANIFEST_BYTES` of text, YAML aliases
   (the "billion laughs" expansion), nesting deeper than :data:`MAX_DEPTH` (libyaml's composer
   recurses in C and crashes the process on very deep input, and its scanner is quadratic in flow
   nesting), more than :data:`MAX_NODES` nodes, duplicate mapping keys, and values JSON cannot
   hold. Untagged timestamps stay strings, as they do in Kubernetes' YAML-to-JSON conversion.
2. :func:`decode_object` picks the model by ``apiVersion`` + ``kind`` and decodes the dict, naming
   the offending field on failure (``spec.dnsNames[0]: Expected `str`, got `int```).

:func:`load_documents` does both and returns one :class:`Document` per YAML document, each with its
position in the stream so that callers can name file and document. :func:`dump` gives back the
manifest dict (for a manifest that uses only known fields, exactly the parsed dict).

Exceptions: every failure is a :class:`ManifestError` (a ``ValueError``). Pure.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

import msgspec
import yaml

from certkeeper.api.acme import Challenge, Order
from certkeeper.api.certmanager import Certificate, CertificateRequest, ClusterIssuer, Issuer
from certkeeper.api.core import Secret
from certkeeper.api.meta import Resource

#: Largest manifest text accepted, in bytes of UTF-8 (all documents together).
MAX_MANIFEST_BYTES: Final = 3 * 1024 * 1024
#: Deepest nesting of mappings and sequences accepted (cert-manager objects nest about 16 deep).
MAX_DEPTH: Final = 100
#: Most YAML nodes (scalars, mappings, sequences) accepted in one text.
MAX_NODES: Final = 250_000

#: Every kind certkeeper decodes from a manifest.
KnownObject = Certificate | CertificateRequest | Issuer | ClusterIssuer | Order | Challenge | Secret

#: The model of each (apiVersion, kind).
KINDS: Final[Mapping[tuple[str, str], type[KnownObject]]] = {
    (cls.API_VERSION, cls.kind_name()): cls
    for cls in (Certificate, CertificateRequest, Issuer, ClusterIssuer, Order, Challenge, Secret)
}


class ManifestError(ValueError):
    """A manifest could not be parsed or decoded.

    ``document`` is the 0-based position of the document in the YAML stream (None when the whole
    text is at fault before any document starts), ``field`` the path of the offending field
    (``spec.dnsNames[0]``) when one is known, and ``detail`` what is wrong. ``str()`` combines them,
    numbering documents from 1 for people.
    """

    def __init__(self, detail: str, *, document: int | None = None, field: str | None = None) -> None:
        self.detail = detail
        self.document = document
        self.field = field
        super().__init__(self._format())

    def _format(self) -> str:
        parts = []
        if self.document is not None:
            parts.append(f"document #{self.document + 1}")
        if self.field:
            parts.append(self.field)
        parts.append(self.detail)
        return ": ".join(parts)


@dataclass(frozen=True, slots=True, kw_only=True)
class RawDocument:
    """One YAML document as a plain JSON-compatible mapping, and its 0-based position in the stream."""

    index: int
    data: dict[str, Any]


@dataclass(frozen=True, slots=True, kw_only=True)
class Document:
    """One decoded document: exactly one of ``obj`` and ``error`` is set."""

    index: int
    raw: dict[str, Any]
    obj: KnownObject | None = None
    error: ManifestError | None = None


# --- YAML parsing --------------------------------------------------------------------------------

_TIMESTAMP_TAG: Final = "tag:yaml.org,2002:timestamp"
_MERGE_TAG: Final = "tag:yaml.org,2002:merge"


class _Loader(yaml.CSafeLoader):
    """The C safe loader with string keys only, no duplicate keys, no merge keys, no implicit timestamps."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        mapping: dict[str, Any] = {}
        for key_node, value_node in node.value:
            if key_node.tag == _MERGE_TAG:
                raise yaml.constructor.ConstructorError(
                    None, None, "YAML merge keys (<<) are not supported", key_node.start_mark
                )
            key = _json_key(self.construct_object(key_node, deep=True))
            if key is None:
                raise yaml.constructor.ConstructorError(None, None, "mapping keys must be scalars", key_node.start_mark)
            if key in mapping:
                raise yaml.constructor.ConstructorError(
                    None, None, f"duplicate mapping key {key!r}", key_node.start_mark
                )
            mapping[key] = self.construct_object(value_node, deep=deep)
        return mapping


def _json_key(key: object) -> str | None:
    """The JSON object key of a YAML scalar key, as Kubernetes' YAML-to-JSON conversion writes it.

    ``1`` becomes ``"1"`` and ``true`` ``"true"``, so ``{1: a, "1": b}`` is a duplicate, as in JSON.
    """
    if isinstance(key, str):
        return key
    if isinstance(key, bool):
        return "true" if key else "false"
    if key is None:
        return "null"
    if isinstance(key, int | float):
        return str(key)
    return None


# Kubernetes converts YAML to JSON, where an unquoted 2024-01-01T00:00:00Z is a string.
_Loader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != _TIMESTAMP_TAG]
    for first, resolvers in yaml.CSafeLoader.yaml_implicit_resolvers.items()
}

_OPEN_EVENTS: Final = (yaml.MappingStartEvent, yaml.SequenceStartEvent)
_CLOSE_EVENTS: Final = (yaml.MappingEndEvent, yaml.SequenceEndEvent)


def _check_events(text: str) -> None:
    """Walk libyaml's event stream (flat, no recursion) and stop at the first unsafe construct.

    Stopping early matters: the scanner's cost grows with the flow nesting depth, so the walk must
    abort as soon as the depth limit is crossed rather than after the whole text is scanned.
    """
    document = -1
    depth = 0
    nodes = 0
    try:
        for event in yaml.parse(text, Loader=_Loader):
            if isinstance(event, yaml.DocumentStartEvent):
                document += 1
            elif isinstance(event, yaml.AliasEvent):
                raise ManifestError("YAML aliases are not supported", document=document)
            elif isinstance(event, _OPEN_EVENTS):
                depth += 1
                if depth > MAX_DEPTH:
                    raise ManifestError(f"YAML nesting deeper than {MAX_DEPTH} levels", document=document)
            elif isinstance(event, _CLOSE_EVENTS):
                depth -= 1
            if isinstance(event, yaml.NodeEvent):
                nodes += 1
                if nodes > MAX_NODES:
                    raise ManifestError(f"more than {MAX_NODES} YAML nodes", document=document)
    except yaml.YAMLError as exc:
        raise ManifestError(f"invalid YAML: {exc}", document=max(document, 0)) from None


def _check_json(value: object, document: int, path: str) -> None:
    """Check that a constructed YAML value holds only JSON types (keys are strings already)."""
    if isinstance(value, dict):
        for key, item in value.items():
            _check_json(item, document, f"{path}.{key}" if path else key)
        return
    if isinstance(value, list):
        for i, item in enumerate(value):
            _check_json(item, document, f"{path}[{i}]")
        return
    if isinstance(value, float) and not math.isfinite(value):
        raise ManifestError("NaN and infinite numbers are not valid JSON", document=document, field=path or None)
    if value is None or isinstance(value, str | int | float):
        return
    detail = f"YAML value of type {type(value).__name__} cannot be represented in JSON"
    raise ManifestError(detail, document=document, field=path or None)


def _iter_documents(text: str) -> Iterator[tuple[int, object]]:
    index = -1
    try:
        for index, value in enumerate(yaml.load_all(text, Loader=_Loader)):
            yield index, value
    except yaml.YAMLError as exc:
        raise ManifestError(f"invalid YAML: {exc}", document=index + 1) from None


def parse_yaml(text: str | bytes) -> list[RawDocument]:
    """Parse a multi-document YAML text into one JSON-compatible dict per non-empty document.

    Empty documents (``---`` followed by nothing) are skipped but keep their position, so ``index``
    always counts from the start of the stream. Raises :class:`ManifestError` when the text is too
    big, not valid UTF-8 or YAML, uses aliases, nests too deep, has too many nodes or duplicate keys,
    or a document is not a mapping.
    """
    if isinstance(text, bytes):
        if len(text) > MAX_MANIFEST_BYTES:
            raise ManifestError(f"manifest is larger than {MAX_MANIFEST_BYTES} bytes")
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise ManifestError(f"manifest is not valid UTF-8: {exc.reason} at byte {exc.start}") from None
    # Cheap bound first (a character is at most 4 bytes), the exact byte count only when needed.
    if len(text) > MAX_MANIFEST_BYTES or (
        len(text) * 4 > MAX_MANIFEST_BYTES and len(text.encode("utf-8", "surrogatepass")) > MAX_MANIFEST_BYTES
    ):
        raise ManifestError(f"manifest is larger than {MAX_MANIFEST_BYTES} bytes")
    _check_events(text)
    documents = []
    for index, value in _iter_documents(text):
        if value is None:
            continue
        if not isinstance(value, dict):
            raise ManifestError(f"expected a mapping (an object), got {_yaml_type_name(value)}", document=index)
        _check_json(value, index, "")
        documents.append(RawDocument(index=index, data=value))
    return documents


def _yaml_type_name(value: object) -> str:
    if isinstance(value, list):
        return "a sequence"
    return f"a scalar of type {type(value).__name__}"


# --- Decoding ------------------------------------------------------------------------------------

_ERROR_AT = re.compile(r"^(?P<detail>.*) - at `\$(?P<path>[^`]*)`$", re.DOTALL)
_MISSING_FIELD = re.compile(r"^Object missing required field `(?P<name>[^`]+)`$")


def _field_error(exc: msgspec.ValidationError, document: int) -> ManifestError:
    """Turn msgspec's ``detail - at `$.spec.x[0]``` into a field path and a detail."""
    message = str(exc)
    match = _ERROR_AT.match(message)
    # Errors at the root carry no " - at `$`" suffix.
    detail, path = (message, "") if match is None else (match["detail"], match["path"].removeprefix("."))
    missing = _MISSING_FIELD.match(detail)
    if missing is not None:
        # Name the missing field itself, as Kubernetes does: "spec.secretName: Required value".
        path = f"{path}.{missing['name']}" if path else missing["name"]
        detail = "Required value"
    return ManifestError(detail, document=document, field=path or None)


def model_for(api_version: str, kind: str) -> type[KnownObject] | None:
    """The model of an apiVersion + kind, or None when certkeeper does not know it."""
    return KINDS.get((api_version, kind))


def decode_object(data: Mapping[str, Any], *, index: int = 0) -> KnownObject:
    """Decode one manifest dict into its typed model, chosen by ``apiVersion`` and ``kind``.

    ``index`` is the document's position, used in errors. Fields the model does not know are
    ignored (the structural schema check reports them). Raises :class:`ManifestError`.
    """
    api_version = data.get("apiVersion")
    kind = data.get("kind")
    if not isinstance(api_version, str) or not api_version:
        raise ManifestError("apiVersion not set", document=index, field="apiVersion")
    if not isinstance(kind, str) or not kind:
        raise ManifestError("kind not set", document=index, field="kind")
    model = model_for(api_version, kind)
    if model is None:
        raise ManifestError(f'no matches for kind "{kind}" in version "{api_version}"', document=index)
    try:
        return msgspec.convert(data, type=model)
    except msgspec.ValidationError as exc:
        raise _field_error(exc, index) from None


def load_documents(text: str | bytes) -> list[Document]:
    """Parse ``text`` and decode every document, keeping per-document errors.

    Problems of the text as a whole (size, YAML syntax, aliases, depth) raise :class:`ManifestError`;
    a document that does not decode gets its error in :attr:`Document.error`.
    """
    documents = []
    for raw in parse_yaml(text):
        try:
            documents.append(Document(index=raw.index, raw=raw.data, obj=decode_object(raw.data, index=raw.index)))
        except ManifestError as exc:
            documents.append(Document(index=raw.index, raw=raw.data, error=exc))
    return documents


def load_objects(text: str | bytes) -> list[KnownObject]:
    """Parse and decode every document, raising the first :class:`ManifestError`."""
    objects = []
    for document in load_documents(text):
        if document.error is not None:
            raise document.error
        assert document.obj is not None
        objects.append(document.obj)
    return objects


# --- Dumping -------------------------------------------------------------------------------------

_LEADING_KEYS: Final = ("apiVersion", "kind", "metadata")


def dump(obj: Resource) -> dict[str, Any]:
    """The manifest dict of ``obj``: camelCase keys, unset fields omitted, bytes base64, times RFC 3339."""
    data: dict[str, Any] = msgspec.to_builtins(obj)
    ordered: dict[str, Any] = {key: data[key] for key in _LEADING_KEYS if key in data}
    ordered.update((key, value) for key, value in data.items() if key not in ordered)
    return ordered


def dump_yaml(objects: Resource | Sequence[Resource]) -> str:
    """YAML text of one object, or of several as a multi-document stream."""
    items = [objects] if isinstance(objects, Resource) else list(objects)
    return yaml.dump_all(
        [dump(obj) for obj in items], Dumper=yaml.CSafeDumper, sort_keys=False, default_flow_style=False
    )


__all__ = [
    "KINDS",
    "MAX_DEPTH",
    "MAX_MANIFEST_BYTES",
    "MAX_NODES",
    "Document",
    "KnownObject",
    "ManifestError",
    "RawDocument",
    "decode_object",
    "dump",
    "dump_yaml",
    "load_documents",
    "load_objects",
    "model_for",
    "parse_yaml",
]
