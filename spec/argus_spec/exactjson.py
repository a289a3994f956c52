"""JSON decoding and encoding that keep every number exactly as the sender wrote it.

Why: orjson (fast, used on every hot path) reads an integer beyond 64 bits (2**64, 10**30) as a
float and `-0` as the integer 0, and refuses to encode integers beyond 64 bits. Metadata must be
stored and hashed with the exact digits sent (docs/hash-chain.md), and a v1 signature over Go's
`json.Marshal` output covers `-0` as written (docs/signatures.md). So: orjson first, and only when
its result may have lost something - an integral float of magnitude >= 2**63 (only such a float can
come from an oversized integer literal) or a `-0` literal - the input is parsed again with the
standard library, which keeps integers exact; `-0` becomes the float -0.0 (what Go holds for it).
Digits and `-0` inside strings (hex or snowflake ids, UUIDs) are told apart from number literals in
the bytes, so they cost neither a walk of the whole value nor a second parse.
"""

from __future__ import annotations

import json
import re
from typing import Any, Final

import orjson

#: What every decoding failure raises (orjson's error is a subclass, so callers need only this).
JSONDecodeError = json.JSONDecodeError

_TWO_63: Final = float(2**63)
#: A `-0` literal: "-0" where a value may start (after `:` `,` `[`, JSON whitespace or at the document's
#: start) and not followed by digits, fraction or exponent. Without the look-behind every UUID with a group
#: such as "-0c11" (most bulk bodies, many envelopes) sent the whole document through the slow second parse.
#: (The look-behind follows the "-", so the search still skips ahead to each "-" in C.)
_NEGATIVE_ZERO: Final = re.compile(rb"-(?<![^:,\[ \t\n\r]-)0(?![0-9.eE])")
_STRUCTURAL: Final = b":,[]{} \t\n\r"  # what may stand before a number literal (and more)


def _mark(byte: int) -> int:
    if chr(byte).isdigit() and byte < 128:
        return ord("0")
    return ord(":") if byte in _STRUCTURAL else ord("-") if byte == ord("-") else ord(" ")


#: Every digit to "0", `-` kept, structural characters and whitespace to ":", everything else to " ":
#: a run of 19 zeros then marks a literal that may not fit 64 bits (-(2**63)-1 has 19 digits) when
#: ":" or ":-" (or the document's start) stands before it. bytes.translate and find run in C, ~20x
#: faster than a regex here.
_MARKS: Final = bytes(_mark(i) for i in range(256))
_NINETEEN_DIGITS: Final = b"0" * 19
_SAFE_INT: Final = 2**63


def _parse_int(text: str) -> int | float:
    return -0.0 if text == "-0" else int(text)


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def _has_long_literal(marks: bytes) -> bool:
    """Whether a run of 19 digits in `marks` (raw bytes translated with _MARKS) begins a number literal:
    a literal follows `:` `,` `[` or whitespace, or starts the document; digits in a string do not."""
    start = marks.find(_NINETEEN_DIGITS)
    while start >= 0:
        sign = 1 if marks[start - 1 : start] == b"-" else 0
        if start - sign == 0 or marks[start - sign - 1] == ord(":"):
            return True
        start = marks.find(_NINETEEN_DIGITS, start + len(_NINETEEN_DIGITS))
    return False


def _may_have_lost_digits(value: Any) -> bool:
    """True when a float in `value` could be an integer literal orjson widened (iterative: no recursion limit)."""
    stack = [value]
    while stack:
        item = stack.pop()
        kind = type(item)
        if kind is float:
            if abs(item) >= _TWO_63 and item.is_integer():
                return True
        elif kind is dict:
            stack.extend(v for v in item.values() if type(v) is not str)
        elif kind is list:
            stack.extend(v for v in item if type(v) is not str)
    return False


def loads(data: bytes | str) -> Any:
    """Parse JSON like orjson.loads, but integers keep every digit and `-0` stays negative (-0.0).

    Raises JSONDecodeError for invalid JSON, including NaN/Infinity literals and integers too long
    for Python to parse (over 4,300 digits).
    """
    value = orjson.loads(data)
    raw = data.encode("utf-8", "surrogatepass") if isinstance(data, str) else data
    long_number = _has_long_literal(raw.translate(_MARKS)) and _may_have_lost_digits(value)
    if not long_number and _NEGATIVE_ZERO.search(raw) is None:
        return value
    text = data if isinstance(data, str) else data.decode("utf-8")  # orjson accepted it: valid UTF-8
    try:
        return json.loads(text, parse_int=_parse_int, parse_constant=_refuse_constant)
    except RecursionError:
        raise JSONDecodeError("JSON nested too deeply", text, 0) from None
    except JSONDecodeError:
        raise
    except ValueError as exc:  # int() refusing a number of over 4,300 digits
        raise JSONDecodeError(str(exc), text, 0) from None


def _big_ints_as_fragments(value: Any) -> Any:
    kind = type(value)
    if kind is int:
        return value if -_SAFE_INT <= value < 2 * _SAFE_INT else orjson.Fragment(str(value))
    if kind is dict:
        return {key: _big_ints_as_fragments(item) for key, item in value.items()}
    if kind is list or kind is tuple:
        return [_big_ints_as_fragments(item) for item in value]
    return value


def dumps(value: Any) -> bytes:
    """orjson.dumps, except that integers beyond 64 bits are written with their exact digits."""
    try:
        return orjson.dumps(value)
    except orjson.JSONEncodeError as exc:
        if "64-bit" not in str(exc):
            raise
    return orjson.dumps(_big_ints_as_fragments(value))
