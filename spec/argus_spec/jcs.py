"""RFC 8785 JSON Canonicalization Scheme (JCS), fast where it provably can be.

Why: the processor canonicalizes every record for the hash chain and every v2 signature, so this
is on the hot path. The `rfc8785` package is the exact reference but runs at ~50k small events/s;
orjson is ~50x faster and produces the *same bytes* whenever the value stays inside what both agree on:

* orjson escapes strings exactly like JCS (`\\b \\f \\n \\r \\t`, other C0 as lowercase `\\u00xx`, all else
  raw UTF-8) and rejects lone surrogates (we then fall back, and the reference raises);
* orjson sorts keys by UTF-8 bytes, JCS by UTF-16 code units. The two orders differ only when a key
  holds a character >= U+E000 (BMP private-use/specials vs astral), so values with such keys get
  every object pre-sorted by UTF-16 and are written without orjson's sorting;
* integers print the same inside the JCS domain +-(2**53-1); outside it the reference raises (or,
  with the storage extension, they are inserted with their exact digits as orjson.Fragment);
* floats print differently (orjson `1.0`, `1e16`, `1e-5`), so they are pre-rendered with ECMAScript
  rules (`gojson.format_float`, which Go and ECMAScript share except for -0) and inserted as
  orjson.Fragment. Except the common case, a float with a fraction and 1e-4 <= |x| < 1e16: both print
  its shortest round-trip digits in fixed notation (orjson `0.5`, `123.456`), so orjson writes it
  as is and the value needs no copy (checked against format_float on import, and by hypothesis).

Anything else (tuples, subclasses, NaN, non-str keys, ...) goes to the reference implementation.
tests/unit/test_canonical.py checks fast == reference with hypothesis.
"""

from __future__ import annotations

import math
from typing import Any, Final

import rfc8785

from argus_spec.gojson import format_float

try:
    import orjson
except ImportError:  # pragma: no cover - the light client may run without orjson
    orjson = None  # type: ignore[assignment]

CanonicalizationError = rfc8785.CanonicalizationError

_MAX_INT: Final = 2**53 - 1
#: _scan's findings, a bit set: floats or big ints to pre-render, keys to sort by UTF-16, or
#: something only the reference implementation handles (and, mostly, refuses); _PLAIN_FLOATS:
#: floats orjson already prints as JCS does (rendered only when something else needs rendering).
_RENDER, _UTF16_KEYS, _EXACT, _PLAIN_FLOATS = 1, 2, 4, 8
_FIRST_UNSAFE_KEY_CHAR: Final = "\ue000"
#: Where a float with a fraction is printed alike by orjson and ECMAScript: fixed notation, shortest digits.
_PLAIN_MIN, _PLAIN_MAX = 1e-4, 1e16
_PLAIN_PROBES: Final = (0.5, -0.5, 1e-4 + 2**-60, 0.1 + 0.2, 123.456, 4503599627370495.5, -9.87654321e-3, 1 / 3)


def _scan(value: Any, exact_numbers: bool) -> int:
    """What canonicalizing `value` needs beyond plain orjson (0 = nothing), as a bit set.

    Iterative, so nesting deeper than Python's recursion limit is classified, not crashed on.
    """
    found = 0
    stack = [value]
    while stack:
        item = stack.pop()
        kind = type(item)
        if kind is str or item is None or kind is bool:
            continue
        if kind is int:
            if not -_MAX_INT <= item <= _MAX_INT:
                found |= _RENDER if exact_numbers else _EXACT
        elif kind is float:
            if _PLAIN_MIN <= abs(item) < _PLAIN_MAX and not item.is_integer() and _ORJSON_PRINTS_PLAIN_FLOATS:
                found |= _PLAIN_FLOATS
            else:
                found |= _RENDER if math.isfinite(item) else _EXACT
        elif kind is dict:
            for key, child in item.items():
                if type(key) is not str:
                    return _EXACT
                if not key.isascii() and max(key) >= _FIRST_UNSAFE_KEY_CHAR:
                    found |= _UTF16_KEYS
                if type(child) is not str:
                    stack.append(child)
        elif kind is list:
            stack.extend(child for child in item if type(child) is not str)
        else:
            return _EXACT
        if found & _EXACT:
            return _EXACT
    return found


def _utf16(key: str) -> bytes:
    return key.encode("utf-16-be", "surrogatepass")  # big-endian bytes order like UTF-16 code units


def _render(value: Any, sort_utf16: bool, negative_zero: bool) -> Any:
    """Copy of `value` with floats and big integers as their JCS text (orjson.Fragment) and, with
    `sort_utf16`, every object's members already in UTF-16 order (orjson keeps insertion order)."""
    kind = type(value)
    if kind is float:
        return orjson.Fragment(format_float(value, negative_zero=negative_zero))
    if kind is int:
        return value if -_MAX_INT <= value <= _MAX_INT else orjson.Fragment(str(value))
    if kind is dict:
        keys = sorted(value, key=_utf16) if sort_utf16 else value
        return {key: _render(value[key], sort_utf16, negative_zero) for key in keys}
    if kind is list:
        return [_render(item, sort_utf16, negative_zero) for item in value]
    return value


def _orjson_prints_plain_floats() -> bool:
    """Whether the installed orjson prints plain floats (see _PLAIN_MIN) as format_float does."""
    return orjson is not None and all(orjson.dumps(x) == format_float(x).encode() for x in _PLAIN_PROBES)


_ORJSON_PRINTS_PLAIN_FLOATS: Final = _orjson_prints_plain_floats()


def path_for(obj: Any, *, exact_numbers: bool = False) -> str:
    """Which implementation `canonicalize` uses for `obj`: "fast", "render" or "exact" (for tests/bench)."""
    if orjson is None:
        return "exact"
    found = _scan(obj, exact_numbers)
    return "exact" if found & _EXACT else "render" if found & ~_PLAIN_FLOATS else "fast"


def canonicalize_exact(obj: Any) -> bytes:
    """The reference implementation (rfc8785 package); raises CanonicalizationError.

    rfc8785 0.1.4 lets a UnicodeEncodeError escape when it sorts keys holding lone surrogates;
    we report that as the CanonicalizationError it is.
    """
    try:
        return rfc8785.dumps(obj)
    except UnicodeError as exc:
        raise CanonicalizationError(f"input contains non-UTF-8 codepoints: {exc}") from None
    except RecursionError:
        raise CanonicalizationError("value is nested too deeply") from None


def canonicalize(obj: Any, *, exact_numbers: bool = False) -> bytes:
    """Return the RFC 8785 canonical UTF-8 bytes of a JSON value (dicts, lists, str, int, float, bool, None).

    Raises CanonicalizationError for values JCS cannot represent (NaN, ints beyond 2**53-1, lone
    surrogates, non-string keys, unsupported types). `exact_numbers` selects the Argus extension
    used for stored metadata (docs/hash-chain.md 2.2): integers beyond +-(2**53-1) are written with
    their exact decimal digits instead of being refused (Go clients send int64/uint64 and big.Int
    values), and -0 stays `-0` (what the sender wrote, and what a Go v1 signature covers).
    """
    if orjson is None:
        return canonicalize_exact(obj)
    found = _scan(obj, exact_numbers)
    if found & _EXACT:
        return canonicalize_exact(obj)
    if found & _PLAIN_FLOATS:
        if found == _PLAIN_FLOATS:
            try:
                return orjson.dumps(obj, option=orjson.OPT_SORT_KEYS)
            except orjson.JSONEncodeError:
                pass  # fail, or fall back, exactly as the rendered copy below does
        found = (found & ~_PLAIN_FLOATS) | _RENDER
    try:
        if not found:
            return orjson.dumps(obj, option=orjson.OPT_SORT_KEYS)
        if not found & _UTF16_KEYS:
            return orjson.dumps(_render(obj, False, exact_numbers), option=orjson.OPT_SORT_KEYS)
        return orjson.dumps(_render(obj, True, exact_numbers))
    except orjson.JSONEncodeError as exc:  # a lone surrogate, or nesting beyond orjson's limit
        if exact_numbers:  # the reference knows neither extension: refuse here
            raise CanonicalizationError(str(exc)) from None
        return canonicalize_exact(obj)
    except RecursionError:
        raise CanonicalizationError("value is nested too deeply") from None
