"""Go's `encoding/json.Marshal`, reproduced byte for byte for JSON-decoded values.

Why: v1 signatures (the reference Go client, LSFLK/argus pkg/audit) cover `json.Marshal(metadata)`.
To verify them we must rebuild Go's exact bytes from the metadata dict we decoded, so every
detail matters: map keys sorted by UTF-8 bytes, no whitespace, `<` `>` `&` U+2028 U+2029 escaped,
`\\b` `\\f` short escapes (Go >= 1.22; the reference client requires Go 1.24), other C0 controls as
`\\u00xx`, and float64 printed as Go prints it. Vectors from real Go: tests/vectors/signatures/gojson.json.
"""

from __future__ import annotations

import math
import re
from json.encoder import encode_basestring  # C: escapes " \\ \b \f \n \r \t, other C0 as \u00xx (lowercase)
from typing import Any, Literal

#: How Python ints are printed. "float64": as Go's json.Unmarshal into interface{} would hold them
#: (ints beyond 2**53 get rounded). "exact": the integer as written, which is what a Go client that
#: holds native int/int64/uint64 (or float64 printed as an integer) put on the wire *and* signed.
IntMode = Literal["float64", "exact"]

_SAFE_INT = 2**53
_SURROGATES = re.compile("[\ud800-\udfff]")
_HTML_ESCAPES = (("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026"), ("\u2028", "\\u2028"), ("\u2029", "\\u2029"))


def format_float(value: float, *, negative_zero: bool = True) -> str:
    """Shortest round-trip decimal in the notation shared by Go's encoding/json and ECMAScript.

    Both print fixed notation for 1e-6 <= |x| < 1e21 and `d.ddde±X` (no exponent padding) outside;
    they differ only for -0 (Go "-0", ECMAScript/JCS "0"), hence `negative_zero`.
    """
    if math.isnan(value) or math.isinf(value):
        raise ValueError(f"unsupported value: {value!r} (JSON has no NaN or Infinity)")
    if value == 0.0:
        return "-0" if negative_zero and math.copysign(1.0, value) < 0 else "0"
    magnitude = abs(value)
    if magnitude < 1e16 and value.is_integer():
        return str(int(value))
    mantissa, _, exp_text = repr(magnitude).partition("e")
    int_part, _, frac_part = mantissa.partition(".")
    if frac_part == "0":
        frac_part = ""
    digits = (int_part + frac_part).lstrip("0")
    exp10 = (int(exp_text) if exp_text else 0) - len(frac_part)
    trimmed = digits.rstrip("0")
    exp10 += len(digits) - len(trimmed)
    digits = trimmed
    point = len(digits) + exp10  # value = 0.<digits> * 10**point
    sign = "-" if value < 0 else ""
    if 1e-6 <= magnitude < 1e21:
        if point <= 0:
            return f"{sign}0.{'0' * -point}{digits}"
        if point >= len(digits):
            return f"{sign}{digits}{'0' * (point - len(digits))}"
        return f"{sign}{digits[:point]}.{digits[point:]}"
    exponent = point - 1
    head = digits[0] + ("." + digits[1:] if len(digits) > 1 else "")
    return f"{sign}{head}e{'+' if exponent >= 0 else '-'}{abs(exponent)}"


def _fix_key(key: str) -> str:
    """Go's decoder turns lone surrogates into U+FFFD, so sort and print keys as Go holds them."""
    if key.isascii():
        return key
    return _SURROGATES.sub("\ufffd", key)


def _encode(value: Any, out: list[str], ints: IntMode) -> None:
    kind = type(value)
    if kind is str:
        out.append(encode_basestring(value))
    elif value is None:
        out.append("null")
    elif value is True:
        out.append("true")
    elif value is False:
        out.append("false")
    elif kind is dict or isinstance(value, dict):
        if not value:
            out.append("{}")
            return
        items: dict[str, Any] = {}
        for key, item in value.items():
            if not isinstance(key, str):
                raise TypeError(f"json: unsupported map key type {type(key).__name__}")
            items[_fix_key(key)] = item  # a key that collides after U+FFFD fixing: last wins, as in Go
        sep = "{"
        for key in sorted(items):  # code point order == UTF-8 byte order once surrogates are gone
            out.append(sep)
            out.append(encode_basestring(key))
            out.append(":")
            _encode(items[key], out, ints)
            sep = ","
        out.append("}")
    elif kind is float or isinstance(value, float):
        out.append(format_float(float(value)))
    elif kind is int or isinstance(value, int):
        number = int(value)
        if ints == "exact" or -_SAFE_INT <= number <= _SAFE_INT:
            out.append(str(number))
        else:
            try:
                out.append(format_float(float(number)))
            except OverflowError:
                raise ValueError(f"json: number {number} overflows float64") from None
    elif isinstance(value, (list, tuple)):
        if not value:
            out.append("[]")
            return
        sep = "["
        for item in value:
            out.append(sep)
            _encode(item, out, ints)
            sep = ","
        out.append("]")
    elif isinstance(value, str):
        out.append(encode_basestring(str(value)))
    else:
        raise TypeError(f"json: unsupported type {type(value).__name__}")


def go_json_dumps(obj: Any, *, ints: IntMode = "float64") -> str:
    """Return what Go's `json.Marshal` prints for `obj` as Go would hold it after decoding JSON.

    Values: None, bool, int, float, str, list/tuple, dict with str keys. Lone surrogates (what
    Python keeps for an unpaired `\\ud800` escape) become U+FFFD, as Go's decoder does.
    Raises ValueError for NaN/Infinity and TypeError for other types, like Marshal's errors.
    """
    out: list[str] = []
    _encode(obj, out, ints)
    text = "".join(out)
    if not text.isascii() and _SURROGATES.search(text):
        text = _SURROGATES.sub("\ufffd", text)
    for char, escaped in _HTML_ESCAPES:  # these can only occur inside strings, so a global replace is exact
        if char in text:
            text = text.replace(char, escaped)
    return text
