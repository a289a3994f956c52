"""JCS fast paths against the rfc8785 reference, and the v1/v2 signing bytes (docs/signatures.md)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import orjson
import pytest
import rfc8785
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from argus_spec import exactjson, jcs
from argus_spec.canonical import (
    V2_FIELDS,
    CanonicalFormError,
    signing_bytes,
    signing_bytes_v1,
    signing_bytes_v2,
    v1_ambiguity,
    v2_document,
)
from argus_spec.enums import EnumConfig
from argus_spec.event import validate_event
from tests.event_samples import DOCS_EVENT

SIGDIR = Path(__file__).resolve().parents[1] / "vectors" / "signatures"
GO_VECTORS = [
    v for name in ("go_v1", "go_v2") for v in json.loads((SIGDIR / f"{name}.json").read_text("utf-8"))["vectors"]
]

# Every character class that matters: C0 controls, DEL, HTML, U+2028, BMP specials around U+E000,
# astral, and lone surrogates (which both implementations must refuse).
_chars = st.characters(codec=None, min_codepoint=0, max_codepoint=0x10FFFF) | st.sampled_from(
    ["\x00", "\x08", "\x1f", "\x7f", "<", "&", "\u2028", "\ud7ff", "\ud800", "\ue000", "\uffff", "😀", "𐀀"]
)
_text = st.text(_chars, max_size=8)
_scalar = (
    st.none()
    | st.booleans()
    | st.integers(-(2**60), 2**60)
    | st.integers(-(2**53), 2**53)
    | st.floats(allow_nan=False, allow_infinity=False)
    | _text
)
_json = st.recursive(
    _scalar, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(_text, inner, max_size=5), max_leaves=25
)


def _outcome(fn: Any, value: Any) -> bytes | str:
    try:
        return bytes(fn(value))
    except (rfc8785.CanonicalizationError, UnicodeError):  # rfc8785 0.1.4 leaks UnicodeEncodeError
        return "error"


@settings(max_examples=1500, suppress_health_check=[HealthCheck.too_slow])
@given(_json)
def test_canonicalize_equals_rfc8785_reference(value: Any) -> None:
    assert _outcome(jcs.canonicalize, value) == _outcome(rfc8785.dumps, value)


@given(st.dictionaries(st.text(st.characters(max_codepoint=0xD7FF), max_size=6), _json, max_size=6))
def test_fast_path_taken_and_exact_for_bmp_keys(value: dict[str, Any]) -> None:
    if jcs.path_for(value) in {"fast", "render"}:  # nested values may hold lone surrogates: both refuse
        assert _outcome(jcs.canonicalize, value) == _outcome(rfc8785.dumps, value)


def test_path_selection() -> None:
    assert jcs.path_for({"a": [1, "x", None, True]}) == "fast"
    assert jcs.path_for({"a": [0.5, -123.456]}) == "fast"  # orjson prints these as JCS does
    assert jcs.path_for({"a": 1.0}) == jcs.path_for({"a": 1e-5}) == jcs.path_for({"a": 1e16}) == "render"
    assert jcs.path_for({"a": 0.5, "b": 2**53}, exact_numbers=True) == "render"
    assert jcs.path_for({"a": 2**53}) == "exact"  # refused by default, exact digits on request
    assert jcs.path_for({"a": 2**53}, exact_numbers=True) == "render"
    assert (
        jcs.canonicalize({"b": 2**63, "a": -(2**60)}, exact_numbers=True)
        == b'{"a":-1152921504606846976,"b":9223372036854775808}'
    )
    with pytest.raises(jcs.CanonicalizationError):
        jcs.canonicalize({"a": 2**53})
    assert jcs.path_for({"\ue000": 1}) == "render"  # UTF-16 and UTF-8 key orders may differ: pre-sorted
    assert jcs.path_for({"a": (1, 2)}) == "exact"
    assert jcs.canonicalize({"a": (1, 2.5)}) == b'{"a":[1,2.5]}'


def test_key_order_is_utf16() -> None:
    assert jcs.canonicalize({"\ue000": 1, "😀": 2, "a": 3}) == '{"a":3,"😀":2,"\ue000":1}'.encode()


def test_rfc8785_numbers() -> None:
    values = [0.0, -0.0, 1.0, 1e21, 1e-7, 333333333.3333333, 4.5, 2e-3, 0.000001, 1e23, 5e-324]
    assert jcs.canonicalize(values) == b"[0,0,1,1e+21,1e-7,333333333.3333333,4.5,0.002,0.000001,1e+23,5e-324]"


_plain_float = st.floats(min_value=1e-4, max_value=1e16, exclude_max=True).filter(lambda x: not x.is_integer())


@settings(max_examples=2000)
@given(_plain_float, st.booleans())
def test_plain_floats_are_printed_by_orjson_as_jcs_prints_them(magnitude: float, negative: bool) -> None:
    """The fast path's premise (jcs._PLAIN_MIN): orjson, format_float and the reference print the same."""
    value = -magnitude if negative else magnitude
    assert orjson.dumps(value) == jcs.format_float(value).encode() == rfc8785.dumps(value)


_plain_json = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**70), 2**70) | st.floats(allow_nan=False) | _plain_float
    | st.text(st.characters(max_codepoint=0xFFFF, blacklist_categories=("Cs",)), max_size=4),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=3), inner, max_size=4),
    max_leaves=20,
)  # fmt: skip


@settings(max_examples=1000, suppress_health_check=[HealthCheck.too_slow])
@given(_plain_json, st.booleans())
def test_canonicalize_equals_the_fully_rendered_copy(value: Any, exact_numbers: bool) -> None:
    """Writing plain floats with orjson == rendering every float (the path before the fast one),
    with and without the storage extension (exact big integers, -0)."""
    assert _outcome(lambda v: jcs.canonicalize(v, exact_numbers=exact_numbers), value) == _outcome(
        lambda v: _rendered(v, exact_numbers), value
    )


def _rendered(value: Any, exact_numbers: bool) -> bytes:
    found = jcs._scan(value, exact_numbers)
    if found & jcs._EXACT:
        return jcs.canonicalize_exact(value)
    sort_utf16 = bool(found & jcs._UTF16_KEYS)
    rendered = jcs._render(value, sort_utf16, exact_numbers)
    return orjson.dumps(rendered, option=0 if sort_utf16 else orjson.OPT_SORT_KEYS)


@pytest.mark.parametrize(
    "bad", [{"x": float("nan")}, {"x": 2**53}, {"x": "\ud800"}, {"\ud800": 1, "a": 2}, {1: "x"}, {"x": object()}]
)
def test_unrepresentable_values_raise(bad: Any) -> None:
    with pytest.raises(jcs.CanonicalizationError):
        jcs.canonicalize(bad)


EVENT = {
    **DOCS_EVENT,
    "signature": None,
    "signatureAlgorithm": "EdDSA",
    "publicKeyId": "k1",
    "signatureFormat": None,
}


def test_v1_worked_example() -> None:
    """The example in docs/signatures.md."""
    assert signing_bytes(EVENT) == (
        b"0192f0c4-5e6a-7b8c-9d0e-1f2a3b4c5d6e|2026-03-01T12:00:00Z|DATA_FETCH|READ|SUCCESS|SERVICE|"
        b'orders-svc|RESOURCE|invoice-42|aGVsbG8=|{"a":"\\u003cx\\u003e","b":1}'
    )
    minimal = {"timestamp": "2026-03-01T12:00:00Z", "action": "READ", "status": "SUCCESS"}
    assert signing_bytes_v1(minimal) == b"|2026-03-01T12:00:00Z||READ|SUCCESS||||||{}"
    assert signing_bytes_v1({**minimal, "metadata": {}}) == signing_bytes_v1(minimal)


def test_v2_worked_example() -> None:
    assert signing_bytes({**EVENT, "signatureFormat": "v2"}) == (
        b'{"action":"READ","actorId":"orders-svc","actorType":"SERVICE","eventType":"DATA_FETCH",'
        b'"format":"argus.sig.v2","id":"0192f0c4-0000-7000-8000-000000000001",'
        b'"message":"aGVsbG8=","metadata":{"a":"<x>","b":1},"publicKeyId":"k1",'
        b'"signatureAlgorithm":"EdDSA","status":"SUCCESS","targetId":"invoice-42","targetType":"RESOURCE",'
        b'"timestamp":"2026-03-01T12:00:00Z","traceId":"0192f0c4-5e6a-7b8c-9d0e-1f2a3b4c5d6e"}'
    )


def test_v2_field_list_and_normalization() -> None:
    doc = v2_document({"action": "READ", "targetId": "", "metadata": {}, "signature": "x", "signatureFormat": "v2"})
    assert list(doc) == ["format", *V2_FIELDS]
    assert doc["targetId"] is None and doc["metadata"] is None and doc["action"] == "READ"
    assert "signature" not in doc and "signatureFormat" not in doc


def test_v1_ambiguity_is_real() -> None:
    """Two different events, one v1 string: why v1 events with '|' are rejected."""
    a = {**EVENT, "actorId": "a|SERVICE", "targetType": "RESOURCE", "targetId": None}
    b = {**EVENT, "actorId": "a", "targetType": "SERVICE", "targetId": "RESOURCE|"}
    assert signing_bytes_v1(a) == signing_bytes_v1(b)
    assert v1_ambiguity(a) == "actorId" and v1_ambiguity(b) == "targetId"
    assert signing_bytes_v2(a) != signing_bytes_v2(b)
    assert v1_ambiguity(EVENT) is None
    assert v1_ambiguity({**EVENT, "metadata": {"x": "a|b"}}) is None  # last field: unambiguous


@pytest.mark.parametrize("field", ["timestamp", "eventType", "action", "status", "actorType", "targetType", "traceId"])
def test_v1_ambiguity_checks_every_text_field(field: str) -> None:
    assert v1_ambiguity({**EVENT, field: "x|y"}) == field


def test_v1_prints_integers_exactly() -> None:
    """A Go client signing int64 1767225600123456789 signed those digits, not a float64 rounding."""
    assert signing_bytes_v1({"metadata": {"n": 2**53 + 1}}).endswith(b'{"n":9007199254740993}')


def test_errors_name_the_field() -> None:
    with pytest.raises(CanonicalFormError, match=r"^signatureFormat:"):
        signing_bytes({**EVENT, "signatureFormat": "v3"})
    with pytest.raises(CanonicalFormError, match=r"^metadata:"):
        signing_bytes_v2({**EVENT, "metadata": {"n": 2**60}})
    with pytest.raises(CanonicalFormError, match=r"^actorId:"):
        signing_bytes_v2({**EVENT, "actorId": "\ud800"})
    with pytest.raises(CanonicalFormError, match=r"^metadata:"):
        signing_bytes_v1({**EVENT, "metadata": {"x": float("nan")}})
    with pytest.raises(CanonicalFormError, match=r"^actorId: must be a string"):
        signing_bytes_v1({**EVENT, "actorId": 5})


@pytest.mark.parametrize("vector", GO_VECTORS, ids=[f"{v['format']} {v['name']} {v['keyId']}" for v in GO_VECTORS])
def test_go_vectors_canonical_bytes(vector: dict[str, Any]) -> None:
    """What Go signed, byte for byte, rebuilt from the event Go sent (after our own validation)."""
    event = validate_event(exactjson.loads(vector["wire"]), EnumConfig())  # -0 kept, as the gateway reads it
    assert signing_bytes(event) == vector["canonical"].encode("utf-8")
