"""Hypothesis strategies that build any API model from its msgspec type information.

The strategy honours what the model declares (required fields, Literal enums, ``msgspec.Meta``
patterns and length/range limits), so every generated object is one the decoder accepts, and a
round trip through the wire form must give it back unchanged.
"""

from __future__ import annotations

from datetime import UTC, datetime
from functools import cache
from typing import Any

import msgspec.inspect as mi
from hypothesis import strategies as st

from certkeeper.api.meta import Resource

_JSON_SCALARS: st.SearchStrategy[Any] = st.none() | st.booleans() | st.integers() | st.text(max_size=8)
#: Arbitrary JSON (the DNS01 webhook ``config``, pod ``affinity``); floats kept finite.
JSON_VALUES: st.SearchStrategy[Any] = st.recursive(
    _JSON_SCALARS | st.floats(allow_nan=False, allow_infinity=False),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=8), children, max_size=3),
    max_leaves=8,
)


def _string(info: mi.StrType, text: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    low = info.min_length or 0
    high = info.max_length
    strategy = text if info.pattern is None else st.from_regex(info.pattern, fullmatch=True)
    return strategy.filter(lambda s: low <= len(s) and (high is None or len(s) <= high))


def _strategy(info: mi.Type, text: st.SearchStrategy[str]) -> st.SearchStrategy[Any]:
    if isinstance(info, mi.StrType):
        return _string(info, text)
    if isinstance(info, mi.BoolType):
        return st.booleans()
    if isinstance(info, mi.IntType):
        low = info.ge if info.ge is not None else -(2**31)
        high = info.le if info.le is not None else 2**31 - 1
        return st.integers(min_value=low, max_value=high)
    if isinstance(info, mi.BytesType):
        return st.binary(max_size=24)
    if isinstance(info, mi.DateTimeType):
        return st.datetimes(min_value=datetime(1970, 1, 1), max_value=datetime(2200, 1, 1), timezones=st.just(UTC))
    if isinstance(info, mi.LiteralType):
        return st.sampled_from(info.values)
    if isinstance(info, mi.NoneType):
        return st.none()
    if isinstance(info, mi.AnyType):
        return JSON_VALUES
    if isinstance(info, mi.UnionType):
        return st.one_of([_strategy(member, text) for member in info.types])
    if isinstance(info, mi.ListType):
        return st.lists(_strategy(info.item_type, text), max_size=2)
    if isinstance(info, mi.DictType):
        return st.dictionaries(text, _strategy(info.value_type, text), max_size=2)
    if isinstance(info, mi.StructType):
        return _struct(info.cls, text)
    raise TypeError(f"no strategy for {info!r}")


def _struct(cls: type[Any], text: st.SearchStrategy[str]) -> st.SearchStrategy[Any]:
    info = mi.type_info(cls)
    assert isinstance(info, mi.StructType)
    kind = isinstance(cls, type) and issubclass(cls, Resource)
    required = {f.name: _strategy(f.type, text) for f in info.fields if f.required}
    optional = {f.name: _strategy(f.type, text) for f in info.fields if not f.required}
    if kind:
        required["api_version"] = st.just(cls.API_VERSION)
    return st.fixed_dictionaries(required, optional=optional).map(lambda kwargs: cls(**kwargs))


@cache
def models(cls: type[Any], *, printable: bool = False) -> st.SearchStrategy[Any]:
    """Instances of the model ``cls``. ``printable`` limits free text to printable ASCII (for YAML)."""
    text = st.text(alphabet=st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=12)
    return _struct(cls, text if printable else st.text(max_size=12))
