"""Numbers kept exactly from the wire to storage (issue 11, items 3 and 4; docs/hash-chain.md 2.2).

orjson widens integers beyond 64 bits to floats and reads `-0` as 0; `exactjson` must keep both,
and the stored metadata text must carry the exact digits whatever the key order rules need.
"""

from __future__ import annotations

import json
import math
from typing import Any

import pytest
import rfc8785
from hypothesis import given, settings
from hypothesis import strategies as st

from argus_spec import exactjson, jcs
from argus_spec.gojson import go_json_dumps
from argus_spec.hashchain import canonical_metadata

BIG = [2**64, 2**64 - 1, -(2**63) - 1, 10**30, -(10**30), 9007199254740993, 10**200]


@pytest.mark.parametrize("number", BIG)
def test_loads_keeps_every_digit(number: int) -> None:
    assert exactjson.loads(f'{{"n":{number}}}'.encode()) == {"n": number}
    assert type(exactjson.loads(str(number))) is int
    assert exactjson.dumps({"n": number}) == f'{{"n":{number}}}'.encode()


def test_loads_keeps_negative_zero_and_everything_else_as_orjson() -> None:
    value = exactjson.loads(b'{"z":-0,"f":-0.0,"t":"2026-01-02T15:04:05-07:00","x":[-0, 1.5, 1e30]}')
    assert math.copysign(1, value["z"]) < 0 and math.copysign(1, value["x"][0]) < 0
    assert value["t"] == "2026-01-02T15:04:05-07:00" and value["x"][1:] == [1.5, 1e30]
    assert type(exactjson.loads(b"1e30")) is float  # a float literal stays a float
    with pytest.raises(exactjson.JSONDecodeError):
        exactjson.loads(b'{"n":1' + b"0" * 5000 + b"}")  # longer than Python parses: a decode error
    with pytest.raises(exactjson.JSONDecodeError):
        exactjson.loads(b'{"n":NaN}')


def test_issue_inputs_store_exact_digits() -> None:
    assert canonical_metadata({"a": 2**64, "b": 10**30}) == (
        '{"a":18446744073709551616,"b":1000000000000000000000000000000}'
    )
    # item 4: a key at or above U+E000 together with an integer beyond 2**53
    assert canonical_metadata(exactjson.loads('{"😀":1,"n":9007199254740993}'.encode())) == (
        '{"n":9007199254740993,"😀":1}'
    )
    assert canonical_metadata({"\ue000": 1, "😀": {"｡": 2**70, "a": 0.5}, "a": -0.0}) == (
        '{"a":-0,"😀":{"a":0.5,"｡":1180591620717411303424},"\ue000":1}'
    )


_key = st.text(st.sampled_from(["a", "z", "é", "\ud7ff", "\ue000", "｡", "\uffff", "😀", "𐀀"]), max_size=3)
_number = st.integers(-(10**40), 10**40) | st.floats(allow_nan=False, allow_infinity=False)
_value = st.recursive(
    _number | st.text(max_size=3) | st.none() | st.booleans(),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(_key, inner, max_size=4),
    max_leaves=12,
)


def _safe(value: Any) -> Any:
    """`value` with big integers as strings and -0.0 as 0.0: something the reference JCS accepts."""
    if isinstance(value, dict):
        return {key: _safe(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_safe(item) for item in value]
    if type(value) is int and abs(value) > 2**53 - 1:
        return f"<{value}>"
    if type(value) is float and value == 0:
        return 0.0
    return value


@settings(max_examples=200, deadline=None, derandomize=True)
@given(st.dictionaries(_key, _value, max_size=5))
def test_stored_text_round_trips_exactly_and_is_jcs_apart_from_numbers(metadata: dict[str, Any]) -> None:
    text = canonical_metadata(metadata)
    assert text is not None
    back = exactjson.loads(text.encode())
    assert _same(back, metadata)  # every integer digit survives; floats as the same double
    assert go_json_dumps(back, ints="exact") == go_json_dumps(metadata, ints="exact")  # v1 bytes too (-0 kept)
    # apart from the number extensions, the text is RFC 8785: the same members in the same (UTF-16) order
    assert _key_order(text) == _key_order(rfc8785.dumps(_safe(metadata)).decode())


def _same(a: Any, b: Any) -> bool:
    """JSON equality where a float and the integer JCS printed for it (`1e20` -> 100000000000000000000) match."""
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    if float in (type(a), type(b)) and type(a) in (int, float) and type(b) in (int, float):
        return float(a) == float(b)
    return type(a) is type(b) and a == b


def _key_order(text: str) -> list[str]:
    keys: list[str] = []
    json.loads(text, object_pairs_hook=lambda pairs: keys.extend(k for k, _ in pairs))
    return keys


def test_default_jcs_still_refuses_big_ints_and_prints_zero_for_negative_zero() -> None:
    with pytest.raises(jcs.CanonicalizationError):
        jcs.canonicalize({"😀": 1, "n": 2**53})
    assert jcs.canonicalize({"😀": -0.0}) == '{"😀":0}'.encode()


#: Strings full of digit runs, dashes and zeros: what a number-literal scan must not mistake for numbers.
_digits = st.text(st.sampled_from("0123456789-.eE:, [x"), max_size=30)
_NEG_ZERO = "\x00-0"  # stands for a `-0` literal in the generated document
_loose = st.recursive(
    st.integers(-(10**25), 10**25) | st.floats(allow_nan=False, allow_infinity=False) | st.just(_NEG_ZERO)
    | _digits | st.booleans() | st.none(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(_digits, inner, max_size=4),
    max_leaves=15,
)  # fmt: skip


@settings(max_examples=1000, deadline=None)
@given(_loose, st.sampled_from([None, 0, 1]))
def test_loads_equals_the_standard_library_reading_exact_numbers(value: Any, indent: int | None) -> None:
    """exactjson.loads (orjson, a second parse only when the bytes hold a long or `-0` literal) ==
    the reference: json.loads keeping integers exact and `-0` as -0.0, on every generated document."""
    text = json.dumps(value, indent=indent).replace(json.dumps(_NEG_ZERO), "-0")
    reference = json.loads(text, parse_int=lambda t: -0.0 if t == "-0" else int(t))
    assert _strict(exactjson.loads(text.encode()), reference)
    assert _strict(exactjson.loads(text), reference)


def _strict(a: Any, b: Any) -> bool:
    """Equal with the same types everywhere and the same sign of zero."""
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return list(a) == list(b) and all(_strict(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return len(a) == len(b) and all(_strict(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, float):
        return a == b and math.copysign(1, a) == math.copysign(1, b)
    return bool(a == b)


@pytest.mark.parametrize("text", [b'{"id":"1234567890123456789012"}', b'{"t":"2026-01-02","u":"a-0-b"}'])
def test_digits_in_strings_are_not_number_literals(text: bytes) -> None:
    assert not exactjson._has_long_literal(text.translate(exactjson._MARKS))
    assert exactjson.loads(text) == json.loads(text)


@pytest.mark.parametrize("text", [b"12345678901234567890", b" -9223372036854775809", b'{"a":[1,\n2%s]}' % (b"0" * 19)])
def test_long_literals_are_found_anywhere(text: bytes) -> None:
    assert exactjson._has_long_literal(text.translate(exactjson._MARKS))
    assert exactjson.loads(text) == json.loads(text)


@pytest.mark.parametrize("text", [b'{"id":"01a237bf-21cb-7a09-b50c-0c11"}', b'["doc-0","x-0a","-0b"]'])
def test_negative_zero_in_strings_needs_no_second_parse(text: bytes) -> None:
    assert exactjson._NEGATIVE_ZERO.search(text) is None
    assert exactjson.loads(text) == json.loads(text)


@pytest.mark.parametrize("text", [b"-0", b" -0", b"[-0]", b'{"a":-0}', b"[1,-0]", b"[1,\n\t-0 ]", b'{"a":"x:-0b"}'])
def test_negative_zero_literals_are_found_anywhere(text: bytes) -> None:
    """(The last is a string, which only costs a needless second parse: still the right value.)"""
    assert exactjson._NEGATIVE_ZERO.search(text) is not None
    assert _strict(exactjson.loads(text), json.loads(text, parse_int=lambda t: -0.0 if t == "-0" else int(t)))
