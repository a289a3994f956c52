"""gojson.go_json_dumps against real Go output (tests/vectors/signatures/gojson.json, from tests/vectors/gen)."""

from __future__ import annotations

import json
import math
import os
import shutil
import struct
import subprocess
from pathlib import Path
from typing import Any

import pytest
import rfc8785
from hypothesis import given
from hypothesis import strategies as st

from argus_spec.gojson import format_float, go_json_dumps

VECTORS = json.loads(
    (Path(__file__).resolve().parents[1] / "vectors" / "signatures" / "gojson.json").read_text("utf-8")
)
CASES = VECTORS["cases"]


@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_matches_go_marshal_of_json_decoded_value(case: dict[str, str]) -> None:
    assert go_json_dumps(json.loads(case["input"])) == case["float64"]


@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_exact_ints_match_go_native_integers(case: dict[str, str]) -> None:
    assert go_json_dumps(json.loads(case["input"]), ints="exact") == case["exact"]


def test_float_vectors_from_go() -> None:
    assert len(VECTORS["floats"]) > 3000
    for bits, expected in VECTORS["floats"]:
        value = struct.unpack(">d", bytes.fromhex(bits))[0]
        assert format_float(value) == expected, (bits, value)


def test_go_float_text_equals_ecmascript_except_negative_zero() -> None:
    """Why jcs.py may reuse format_float: RFC 8785 (ECMAScript) numbers equal Go's for every vector."""
    for bits, expected in VECTORS["floats"]:
        value = struct.unpack(">d", bytes.fromhex(bits))[0]
        jcs = rfc8785.dumps(value).decode()
        assert jcs == ("0" if value == 0 else expected)
        assert format_float(value, negative_zero=False) == jcs


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (2**53 + 1, "9007199254740992"),
        (10**21, "1e+21"),
        (1e-7, "1e-7"),
        (0.1, "0.1"),
        (-0.0, "-0"),
        (1.0, "1"),
        (1e20, "100000000000000000000"),
        (123456789.123456789, "123456789.12345679"),
    ],
)
def test_brief_examples(value: Any, text: str) -> None:
    assert go_json_dumps(value) == text


def test_escaping() -> None:
    assert go_json_dumps({"k": "<a href='x'>&</a>"}) == '{"k":"\\u003ca href=\'x\'\\u003e\\u0026\\u003c/a\\u003e"}'
    assert go_json_dumps("\b\f\n\r\t\x00\x1f\x7f") == '"\\b\\f\\n\\r\\t\\u0000\\u001f\x7f"'
    assert go_json_dumps("\u2028\u2029é😀") == '"\\u2028\\u2029é😀"'
    assert go_json_dumps({"\ud800": "x\udfff"}) == '{"\ufffd":"x\ufffd"}'


def test_keys_sort_by_utf8_bytes() -> None:
    assert go_json_dumps({"😀": 1, "\uffff": 2, "\ue000": 3, "z": 4}) == '{"z":4,"\ue000":3,"\uffff":2,"😀":1}'


def test_errors_like_marshal() -> None:
    for bad in (math.nan, math.inf, -math.inf):
        with pytest.raises(ValueError):
            go_json_dumps({"x": bad})
    with pytest.raises(TypeError):
        go_json_dumps({1: "x"})
    with pytest.raises(TypeError):
        go_json_dumps({"x": object()})
    with pytest.raises(ValueError):
        go_json_dumps(10**400)


def test_tuples_and_subclasses_encode_as_their_json_kind() -> None:
    class Text(str):
        pass

    assert go_json_dumps({"t": (1, Text("a<"))}) == '{"t":[1,"a\\u003c"]}'


@given(st.floats(allow_nan=False, allow_infinity=False))
def test_format_float_round_trips(value: float) -> None:
    text = format_float(value)
    assert float(text) == value
    assert math.copysign(1.0, float(text)) == math.copysign(1.0, value)
    if value != 0:
        assert rfc8785.dumps(value).decode() == text


_json = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**60), 2**60)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner, max_size=4),
    max_leaves=20,
)


@given(_json)
def test_output_is_json_that_decodes_to_the_go_view(value: Any) -> None:
    """Go's bytes decode back to the same value, with ints rounded through float64 as Go holds them."""

    def as_go(v: Any) -> Any:
        if isinstance(v, bool) or v is None or isinstance(v, str):
            return v
        if isinstance(v, (int, float)):
            return float(v)
        if isinstance(v, list):
            return [as_go(i) for i in v]
        return {k: as_go(i) for k, i in v.items()}

    assert as_go(json.loads(go_json_dumps(value))) == as_go(value)


def test_go_generator_reproduces_the_committed_vectors(tmp_path: Path) -> None:
    """Guards against drift between tests/vectors/gen and the committed files (needs Go >= 1.24)."""
    go = shutil.which("go")
    if go is None:
        pytest.skip("Go toolchain not installed")
    sigdir = Path(__file__).resolve().parents[1] / "vectors" / "signatures"
    shutil.copy(sigdir / "test-rsa-2026.private.pem", tmp_path)  # the one key that is not derived from a seed
    env = {**os.environ, "GOTOOLCHAIN": "local", "GOFLAGS": "-mod=mod", "GOPROXY": "off"}
    run = subprocess.run(
        [go, "run", ".", "-out", str(tmp_path)],
        cwd=sigdir.parent / "gen",
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    if run.returncode != 0 and "go.mod requires go" in run.stderr:
        pytest.skip(f"Go too old: {run.stderr.strip()}")
    assert run.returncode == 0, run.stderr
    produced = sorted(p.name for p in tmp_path.iterdir())
    assert produced == sorted(p.name for p in sigdir.iterdir())
    for name in produced:
        assert (tmp_path / name).read_bytes() == (sigdir / name).read_bytes(), name
