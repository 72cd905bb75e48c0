"""Decoding the newline-delimited JSON of a watch response."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from certkeeper.store.kube.watchstream import LineSplitter, MalformedEvent, decode_event
from certkeeper.store.ports import EventType, Gone, StoreError, Unavailable, WatchEvent


def test_lines_split_across_chunks() -> None:
    splitter = LineSplitter()
    assert splitter.feed(b'{"a":') == []
    assert splitter.feed(b'1}\n{"b"') == [b'{"a":1}']
    assert splitter.feed(b":2}\n\n  \n") == [b'{"b":2}']
    assert splitter.finish() is None


def test_a_last_line_without_newline_is_kept() -> None:
    splitter = LineSplitter()
    assert splitter.feed(b"x\ny") == [b"x"]
    assert splitter.finish() == b"y"


def test_an_endless_line_is_refused() -> None:
    splitter = LineSplitter(max_line_bytes=10)
    splitter.feed(b"12345")
    with pytest.raises(MalformedEvent, match="longer than 10 bytes"):
        splitter.feed(b"678901")
    splitter = LineSplitter(max_line_bytes=10)
    with pytest.raises(MalformedEvent):
        splitter.feed(b"ok\n" + b"x" * 11)


@given(
    st.lists(st.binary(min_size=1, max_size=30).filter(lambda b: b"\n" not in b and b.strip()), max_size=8), st.data()
)
def test_splitting_is_independent_of_chunking(lines: list[bytes], data: st.DataObject) -> None:
    stream = b"".join(line + b"\n" for line in lines)
    cuts = sorted(data.draw(st.lists(st.integers(min_value=0, max_value=len(stream)), max_size=5)))
    splitter = LineSplitter()
    got: list[bytes] = []
    for start, end in zip([0, *cuts], [*cuts, len(stream)], strict=True):
        got += splitter.feed(stream[start:end])
    assert got == lines
    assert splitter.finish() is None


def event(type_: str, obj: object) -> bytes:
    return json.dumps({"type": type_, "object": obj}).encode()


@pytest.mark.parametrize("type_", ["ADDED", "MODIFIED", "DELETED", "BOOKMARK"])
def test_events_decode(type_: str) -> None:
    obj = {"kind": "Secret", "metadata": {"name": "a", "resourceVersion": "7"}}
    decoded = decode_event(event(type_, obj))
    assert decoded is not None
    assert decoded.type is EventType(type_)
    assert decoded.object == obj


def test_an_error_event_with_410_is_gone() -> None:
    status = {"kind": "Status", "status": "Failure", "message": "too old resource version: 5 (9)", "code": 410}
    with pytest.raises(Gone, match="too old resource version"):
        decode_event(event("ERROR", {**status, "reason": "Expired"}))


def test_an_error_event_without_code_is_unavailable() -> None:
    with pytest.raises(Unavailable):
        decode_event(event("ERROR", {"kind": "Status", "message": "internal"}))


def test_unknown_event_types_are_skipped() -> None:
    assert decode_event(event("SOMETHING_NEW", {})) is None


@pytest.mark.parametrize(
    "line",
    [b"not json", b"[1]", b'{"object": {}}', b'{"type": "ADDED"}', b'{"type": "ADDED", "object": 3}'],
    ids=["text", "array", "no-type", "no-object", "object-not-a-map"],
)
def test_malformed_events(line: bytes) -> None:
    with pytest.raises(MalformedEvent):
        decode_event(line)


@given(st.binary(max_size=500))
def test_any_line_decodes_or_fails_cleanly(line: bytes) -> None:
    outcome: object
    try:
        outcome = decode_event(line)
    except (MalformedEvent, StoreError) as exc:
        outcome = exc
    assert outcome is None or isinstance(outcome, WatchEvent | MalformedEvent | StoreError)
