"""argus_native (native/, Rust) against the Python reference it stands in for: byte for byte.

Why: the processor writes what argus_native computes, but auditors recompute hashes with
argus_spec.hashchain; one byte of difference would be a chain break. The module is imported
unconditionally: deploy/local/install.sh builds it, so a test run without it fails instead of
skipping. For any input the reference refuses, argus_native must decline (answer None) so that
the reference runs and refuses it exactly as before.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from types import ModuleType
from typing import Any

import argus_native
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from argus_spec.event import EVENT_FIELDS
from argus_spec.hashchain import GENESIS_HASH, MAX_SEQ, RECORD_FIELDS, canonical_metadata, chain_record
from processor.chain import _chained_row
from processor.decode import Decoded, RawMessage
from processor.native import NATIVE, usable
from processor.store import _copy_text, stored_row

VECTORS = Path(__file__).resolve().parent.parent / "vectors" / "hashchain" / "records.json"
#: Characters that need an escape in JSON or COPY, make a v1 signature ambiguous, or are astral.
SPECIAL = ["\\", "\t", "\n", "\r", "|", '"', "\x00", "\x08", "\x0c", "\x1f", "\x7f", "\u2028", "é", "😀",
           "\U00010000", "\U0010ffff", "N", " "]  # fmt: skip
TEXT = st.text(st.one_of(st.characters(codec="utf-8"), st.sampled_from(SPECIAL)), max_size=40)
UNICODE_DIGITS = "٠١٢٣٤٥٦٧٨٩"


class Text(str):
    """A str subclass: the reference refuses it as a hashed value (its type is not exactly str)."""


@st.composite
def timestamps(draw: st.DrawFn, *, valid: bool) -> str:
    """RFC 3339 text; `valid=False` also draws what the reference refuses or reads differently."""
    if valid:
        moment = draw(st.datetimes(min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30, 23, 59, 59)))
        fields = [moment.year, moment.month, moment.day, moment.hour, moment.minute, moment.second]
        zone_hours, zone_minutes = draw(st.integers(0, 15)), draw(st.integers(0, 59))
    else:
        year = draw(st.one_of(st.integers(0, 10000), st.sampled_from([0, 1, 1900, 2000, 2023, 2024, 9999])))
        month = draw(st.one_of(st.integers(0, 13), st.just(2)))
        day = draw(st.one_of(st.integers(0, 32), st.integers(28, 31)))
        fields = [year, month, day, draw(st.integers(0, 25)), draw(st.integers(0, 61)), draw(st.integers(0, 61))]
        zone_hours, zone_minutes = draw(st.integers(0, 19)), draw(st.integers(0, 99))
    text = "{:04d}-{:02d}-{:02d}{}{:02d}:{:02d}:{:02d}".format(*fields[:3], draw(st.sampled_from("Tt")), *fields[3:])
    digits = draw(st.integers(0, 9 if valid else 11))
    if digits:
        text += "." + "".join(draw(st.lists(st.sampled_from("0123456789"), min_size=digits, max_size=digits)))
    zone = draw(st.sampled_from(["Z", "z", "+", "-"]))
    text += zone if zone in "Zz" else f"{zone}{zone_hours:02d}:{zone_minutes:02d}"
    if not valid and draw(st.booleans()):
        at = draw(st.integers(0, len(text) - 1))
        text = text[:at] + draw(st.sampled_from([*UNICODE_DIGITS, " ", "\n", "", "x", "0"])) + text[at + 1 :]
    return text


def common_events() -> st.SearchStrategy[dict[str, Any]]:
    """Events as the processor sees them after validation: str or None fields, a valid timestamp."""
    fields = {name: st.one_of(st.none(), TEXT) for name in EVENT_FIELDS}
    fields["timestamp"] = timestamps(valid=True)
    fields["signatureFormat"] = st.sampled_from([None, "", "v1", "v2", "v3"])
    fields["metadata"] = st.one_of(st.none(), st.dictionaries(TEXT, st.one_of(TEXT, st.integers())))
    return st.fixed_dictionaries(fields)


ODD = st.one_of(st.integers(), st.booleans(), st.binary(max_size=4), TEXT.map(Text), st.sampled_from(["\ud800"]))


@st.composite
def one_odd_input(draw: st.DrawFn) -> tuple[dict[str, Any], dict[str, Any]]:
    """A validated event and its server fields with one thing odd: a value of another type, a lone
    surrogate, a malformed timestamp, a seq out of range, an absent field."""
    event = dict(draw(common_events()))
    server = {**draw(st.fixed_dictionaries(SERVER)), "metadata_text": canonical_metadata(event["metadata"])}
    name = draw(st.sampled_from([*EVENT_FIELDS, "timestamp", "timestamp", "timestamp", *SERVER, "metadata_text"]))
    if name == "timestamp" and draw(st.booleans()):
        event[name] = draw(timestamps(valid=False))
    elif name == "seq":
        server[name] = draw(SEQS)
    elif name in server:
        server[name] = draw(ODD)
    elif draw(st.booleans()):
        event[name] = draw(ODD)
    else:
        del event[name]
    return event, server


SEQS = st.one_of(st.integers(1, MAX_SEQ), st.sampled_from([0, -1, MAX_SEQ, MAX_SEQ + 1, 2**64, True]), st.none())
SERVER = {
    "source": st.one_of(st.none(), TEXT),
    "received_at": st.one_of(TEXT, timestamps(valid=True)),
    "seq": st.integers(1, MAX_SEQ),
    "previous_hash": st.one_of(st.just(GENESIS_HASH), st.text("0123456789abcdef", min_size=64, max_size=64)),
}
WHERE = {
    "topic": st.sampled_from(["argus.events", "t\\ab\tc"]),
    "partition": st.integers(0, 2**31 - 1),
    "offset": st.integers(0, 2**63 - 1),
    "commit_seq": st.integers(1, 2**63 - 1),
    "attestation": st.one_of(st.none(), TEXT),
    "unattested_claim": st.booleans(),
}


def reference(event: dict[str, Any], server: dict[str, Any], where: dict[str, Any]) -> Any:
    """What the processor computed before argus_native: the record and its row, or the exception."""
    try:
        record = chain_record(event, **server)
        return record, stored_row(record, *(where[name] for name in WHERE))
    except Exception as exc:  # the refusal itself is what is compared
        return exc


def native(event: dict[str, Any], server: dict[str, Any], where: dict[str, Any]) -> Any:
    names = ("source", "received_at", "seq", "previous_hash", "metadata_text")
    return argus_native.chain_row(event, *(server[name] for name in names), *(where[name] for name in WHERE))


def assert_same(got: tuple[dict[str, Any], tuple[Any, ...]], expected: tuple[dict[str, Any], tuple[Any, ...]]) -> None:
    (record, row), (want_record, want_row) = got, expected
    assert record == want_record
    assert list(record) == list(want_record) == list(RECORD_FIELDS)
    assert row == want_row
    assert [type(v) for v in row] == [type(v) for v in want_row]
    event_time = next(v for v in row if isinstance(v, datetime))
    assert event_time.tzinfo is UTC and str(event_time) == str(next(v for v in want_row if isinstance(v, datetime)))
    assert argus_native.copy_text([row]) == _copy_text([want_row]).encode("utf-8")


@settings(max_examples=800, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(common_events(), st.fixed_dictionaries(SERVER), st.fixed_dictionaries(WHERE))
def test_common_events_are_chained_by_argus_native_exactly_as_the_reference(
    event: dict[str, Any], server: dict[str, Any], where: dict[str, Any]
) -> None:
    server = {**server, "metadata_text": canonical_metadata(event["metadata"])}
    expected = reference(event, server, where)
    assert not isinstance(expected, Exception)
    got = native(event, server, where)
    assert got is not None, "a validated event must take the compiled path"
    assert_same(got, expected)


@settings(max_examples=800, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(one_odd_input(), st.fixed_dictionaries(WHERE))
def test_argus_native_declines_what_the_reference_refuses_and_agrees_on_the_rest(
    odd: tuple[dict[str, Any], dict[str, Any]], where: dict[str, Any]
) -> None:
    event, server = odd
    expected = reference(event, server, where)
    got = native(event, server, where)
    if isinstance(expected, Exception):
        assert got is None, f"the reference refuses this ({expected!r}); argus_native must not chain it"
    elif got is not None:
        assert_same(got, expected)


@given(one_odd_input())
@settings(max_examples=200, deadline=None)
def test_the_processor_chains_through_argus_native_and_raises_as_the_reference(
    odd: tuple[dict[str, Any], dict[str, Any]],
) -> None:
    assert NATIVE is argus_native
    event, server = odd
    metadata_text = server["metadata_text"]
    message = RawMessage("argus.events", 3, 17, None, b"", None)
    item = Decoded(message=message, event=event, source=server["source"], received_at=server["received_at"],
                   metadata_text=metadata_text, attestation="att", unattested_claim=False)  # fmt: skip
    expected = reference(event, server, {"topic": "argus.events", "partition": 3, "offset": 17, "commit_seq": 5,
                                         "attestation": "att", "unattested_claim": False})  # fmt: skip
    if isinstance(expected, Exception):
        with pytest.raises(type(expected)) as raised:
            _chained_row(item, server["seq"], server["previous_hash"], 5)
        assert str(raised.value) == str(expected)
    else:
        assert _chained_row(item, server["seq"], server["previous_hash"], 5) == expected


@pytest.mark.parametrize("vector", json.loads(VECTORS.read_text("utf-8"))["vectors"], ids=lambda v: v["name"])
def test_vectors(vector: dict[str, Any]) -> None:
    event, server = vector["event"], vector["server"]
    got = argus_native.chain_row(event, server["source"], server["receivedAt"], server["seq"], server["previousHash"],
                                 canonical_metadata(event["metadata"]), "t", 0, 0, 1, None, False)  # fmt: skip
    assert got is not None
    assert got[0] == vector["record"]
    assert got[0]["currentHash"] == vector["currentHash"]


ROW_VALUES = st.one_of(
    st.none(), TEXT, st.booleans(), st.integers(), st.integers(-(2**70), 2**70), st.floats(allow_nan=True),
    st.datetimes(timezones=st.sampled_from([UTC, timezone(timedelta(hours=-3, minutes=-30))])), st.datetimes(),
    st.binary(max_size=5), TEXT.map(Text),
)  # fmt: skip


@given(st.lists(st.one_of(st.tuples(ROW_VALUES, ROW_VALUES, ROW_VALUES), st.lists(ROW_VALUES, max_size=4)), max_size=6))
@settings(max_examples=1000, deadline=None)
def test_copy_text_is_the_references_utf8(rows: list[Any]) -> None:
    assert argus_native.copy_text(rows) == _copy_text(rows).encode("utf-8")


def test_copy_text_refuses_a_lone_surrogate_as_encoding_the_reference_does() -> None:
    rows = [("a\ud800",)]
    with pytest.raises(UnicodeEncodeError):
        _copy_text(rows).encode("utf-8")
    with pytest.raises(UnicodeEncodeError):
        argus_native.copy_text(rows)


#: Timestamps at the edges the strategies above reach rarely, and whether argus_native takes them:
#: offsets carrying the UTC instant across years 1 and 9999, the largest offsets, lowercase, fraction
#: truncation, hour 24, a leap second, offset minutes past 59 (declined; the reference decides).
EDGE_TIMESTAMPS = {
    "0001-01-01T00:00:00-15:59": True, "0001-01-01T15:58:59+15:59": False, "0001-01-01T00:00:00+00:01": False,
    "9999-12-31T08:00:59+15:59": True, "9999-12-31T23:59:59.999999999Z": True, "9999-12-31T23:59:59-00:01": False,
    "2024-02-29t23:59:59.9999999z": True, "2026-01-02T03:04:05-00:00": True, "2026-01-02T03:04:05+16:00": False,
    "2026-01-02T03:04:05+14:60": False, "2026-01-02T24:00:00Z": False, "2016-12-31T23:59:60Z": False,
    "2026-01-02T03:04:05.1234567890Z": False, " 2026-01-02T03:04:05Z": False, "2026-01-02T03:04:05Z ": False,
}  # fmt: skip


@pytest.mark.parametrize(("timestamp", "taken"), EDGE_TIMESTAMPS.items())
def test_edge_timestamps_are_taken_or_declined_as_the_reference_decides(timestamp: str, taken: bool) -> None:
    event = {name: None for name in EVENT_FIELDS} | {"timestamp": timestamp, "actorId": "a\u2028\x7f\x85b"}
    server = {"source": None, "received_at": "r", "seq": 1, "previous_hash": GENESIS_HASH, "metadata_text": None}
    where = {"topic": "t", "partition": 0, "offset": 0, "commit_seq": 1, "attestation": None, "unattested_claim": False}
    expected, got = reference(event, server, where), native(event, server, where)
    assert (got is not None) is taken
    if isinstance(expected, Exception):
        assert got is None
    elif got is not None:
        assert_same(got, expected)


def test_a_stale_build_is_not_used() -> None:
    """An argus_native built before batch_message existed (same version, 0.1.0) made the processor's
    start-up raise AttributeError in claims_policy; such a build now leaves the reference to run."""
    assert usable(argus_native) is argus_native
    stale = ModuleType("argus_native")
    stale.chain_row, stale.copy_text = argus_native.chain_row, argus_native.copy_text  # type: ignore[attr-defined]
    assert usable(stale) is None
