"""Hash-chain hashing and break classification (spec: docs/hash-chain.md)."""

from __future__ import annotations

import hashlib
import json
import math
from pathlib import Path
from typing import Any

import pytest
import rfc8785
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from argus_spec.event import EVENT_FIELDS
from argus_spec.hashchain import (
    GENESIS_HASH,
    RECORD_FIELDS,
    ChainBreak,
    ChainVerifier,
    canonical_metadata,
    chain_record,
    record_hash,
    record_hash_input,
    record_row,
)

VECTORS = Path(__file__).resolve().parent.parent / "vectors" / "hashchain" / "records.json"
HASHED = [f for f in RECORD_FIELDS if f != "currentHash"]


def reference_input(record: dict[str, Any]) -> bytes:
    """The spec read literally, through the rfc8785 reference implementation."""
    return rfc8785.dumps({"v": "argus.record.v1", **{f: record.get(f) for f in HASHED}})


def event(actor: str, i: int, **extra: Any) -> dict[str, Any]:
    base = dict.fromkeys(EVENT_FIELDS)
    base.update(id=f"01900000-0000-7000-8000-{i:012d}", timestamp="2026-01-02T15:04:05Z", action="CREATE",
                status="SUCCESS", actorType="ADMIN", actorId=actor, targetType="RESOURCE", targetId=f"t{i}",
                metadata={"i": i})  # fmt: skip
    base.update(extra)
    return base


def trail(actor: str = "a", n: int = 10, start: int = 1, previous: str = GENESIS_HASH) -> list[dict[str, Any]]:
    out = []
    for seq in range(start, start + n):
        record = chain_record(event(actor, seq), source="tok", received_at="2026-01-02T15:04:06Z", seq=seq,
                              previous_hash=previous)  # fmt: skip
        previous = record["currentHash"]
        out.append(record)
    return out


def verify(records: list[dict[str, Any]], anchored: bool = False) -> list[tuple[str, int, str]]:
    verifier = ChainVerifier(anchored=anchored)
    found: list[ChainBreak] = []
    for record in records:
        found += verifier.feed(record)
    found += verifier.finish()
    return [(b.actor_id, b.seq, b.kind) for b in found]


def rehash(record: dict[str, Any], **changes: Any) -> dict[str, Any]:
    changed = {**record, **changes}
    changed["currentHash"] = record_hash(changed)
    return changed


# --- hashing ---------------------------------------------------------------------------------


@pytest.mark.parametrize("vector", json.loads(VECTORS.read_text("utf-8"))["vectors"], ids=lambda v: v["name"])
def test_vectors(vector: dict[str, Any]) -> None:
    record = chain_record(vector["event"], **{_snake(k): v for k, v in vector["server"].items()})
    assert record == vector["record"]
    assert list(record) == list(RECORD_FIELDS)
    assert record_hash_input(record) == vector["hashInput"].encode("utf-8") == reference_input(record)
    assert record_hash(record) == vector["currentHash"] == hashlib.sha256(vector["hashInput"].encode()).hexdigest()


def _snake(name: str) -> str:
    return {"receivedAt": "received_at", "previousHash": "previous_hash"}.get(name, name)


def test_vectors_chain_and_cover_the_cases() -> None:
    vectors = {v["name"]: v for v in json.loads(VECTORS.read_text("utf-8"))["vectors"]}
    assert vectors["second-record-links"]["record"]["previousHash"] == vectors["genesis-minimal"]["currentHash"]
    assert vectors["genesis-minimal"]["record"]["previousHash"] == GENESIS_HASH
    assert any(v["record"]["signature"] for v in vectors.values())
    assert not verify([vectors["genesis-minimal"]["record"], vectors["second-record-links"]["record"]])


texts = st.one_of(st.none(), st.text(st.characters(codec="utf-8"), max_size=40))


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(values=st.fixed_dictionaries({f: texts for f in HASHED if f != "seq"}), seq=st.integers(1, 2**53 - 1))
def test_fast_path_is_byte_identical_to_rfc8785(values: dict[str, Any], seq: int) -> None:
    record = {**values, "seq": seq, "currentHash": None}
    assert record_hash_input(record) == reference_input(record)


def test_field_order_is_irrelevant_and_missing_means_null() -> None:
    record = trail(n=1)[0]
    shuffled = dict(reversed(list(record.items())))
    assert record_hash(shuffled) == record["currentHash"]
    sparse = {k: v for k, v in record.items() if v is not None}
    assert record_hash(sparse) == record["currentHash"]


@pytest.mark.parametrize(
    ("field", "value"),
    [("metadata", {"a": 1}), ("seq", 0), ("seq", True), ("seq", 2**53), ("seq", "1"), ("status", 1), ("source", 1.5)],
)
def test_unhashable_records_are_rejected(field: str, value: Any) -> None:
    with pytest.raises(ValueError):
        record_hash({**trail(n=1)[0], field: value})


def test_canonical_metadata() -> None:
    assert canonical_metadata(None) is None
    assert canonical_metadata({}) == "{}"
    assert canonical_metadata({"b": 1.0, "a": [1e21, "é"]}) == '{"a":[1e+21,"é"],"b":1}'
    # integers beyond 2**53 keep their exact digits (Go int64 such as UnixNano)
    assert canonical_metadata({"n": 2**53, "m": -(2**63)}) == '{"m":-9223372036854775808,"n":9007199254740992}'
    for bad in ({"n": math.nan}, {"n": math.inf}):
        with pytest.raises(ValueError, match="RFC 8785"):
            canonical_metadata(bad)


def test_chain_record_stores_metadata_text_and_links() -> None:
    first, second = trail(n=2)
    assert first["metadata"] == '{"i":1}' and first["previousHash"] == GENESIS_HASH
    assert second["previousHash"] == first["currentHash"]
    assert record_row(first) == tuple(first[f] for f in RECORD_FIELDS)


# --- verification ----------------------------------------------------------------------------


def test_intact_trails_verify() -> None:
    verifier = ChainVerifier()
    records = trail("a") + trail("b", 3) + trail("c", 1)
    assert verify(records) == []
    for record in records:
        verifier.feed(record)
    verifier.finish()
    assert (verifier.records, verifier.actors) == (14, 3)


def test_modified_field() -> None:
    records = trail()
    records[4] = {**records[4], "targetId": "x"}
    assert verify(records) == [("a", 5, "modified")]


def test_deleted_record_is_missing() -> None:
    records = trail()
    del records[4]
    assert verify(records) == [("a", 5, "missing")]
    assert verify(trail()[3:]) == [("a", 1, "missing")]  # the start is gone
    assert verify(trail()[3:], anchored=True) == []  # a time range anchors on its first record


def test_rehashed_record_is_blamed_not_its_successor() -> None:
    records = trail()
    records[4] = rehash(records[4], targetId="x")
    assert verify(records) == [("a", 5, "modified")]
    records = trail()
    records[0] = rehash(records[0], targetId="x")
    assert verify(records) == [("a", 1, "modified")]


@pytest.mark.parametrize(("i", "j"), [(3, 4), (3, 7), (0, 9)])
def test_swapped_seqs_are_reordered(i: int, j: int) -> None:
    records = trail()
    records[i], records[j] = {**records[j], "seq": i + 1}, {**records[i], "seq": j + 1}
    assert verify(records) == [("a", i + 1, "reordered"), ("a", j + 1, "reordered")]


def test_out_of_order_input_is_reordered() -> None:
    records = trail()
    records[3], records[4] = records[4], records[3]
    assert verify(records) == [("a", 4, "reordered")]
    assert verify(trail("a", 5) + trail("b", 2) + trail("a", 5, 6, trail("a", 5)[-1]["currentHash"])) == [
        ("a", 6, "reordered")
    ]


def test_inserted_duplicate_seq() -> None:
    genuine = trail()
    forged = rehash(genuine[4], targetId="forged", previousHash="1" * 64)
    for at in (4, 5):  # before or after the genuine one: order within a seq does not matter
        records = list(genuine)
        records.insert(at, forged)
        assert verify(records) == [("a", 5, "inserted")]
    records = list(genuine)
    records.insert(5, {**forged, "currentHash": "2" * 64})
    assert verify(records) == [("a", 5, "inserted")]


def test_duplicated_line_is_inserted_not_forked() -> None:
    records = trail()
    records.insert(5, dict(records[4]))
    assert verify(records) == [("a", 5, "inserted")]


def test_forked_seq() -> None:
    records = trail()
    records.insert(5, rehash(records[4], targetId="fork"))
    assert verify(records) == [("a", 5, "forked")]


def test_replaced_record_linking_nowhere_is_inserted() -> None:
    records = trail()
    records[4] = rehash(records[4], targetId="forged", previousHash="1" * 64)
    assert verify(records) == [("a", 5, "inserted")]
    records = trail()
    records[9] = rehash(records[9], previousHash="1" * 64)  # a forged newest record
    assert verify(records) == [("a", 10, "inserted")]


def test_moved_record_names_where_it_came_from() -> None:
    records = trail()
    moved = {**records.pop(4), "seq": 12}
    breaks = verify([*records, moved])
    assert ("a", 12, "reordered") in breaks and ("a", 5, "missing") not in breaks


def test_pending_anomalies_are_bounded() -> None:
    records = [{**r, "targetId": "x"} for r in trail(n=20)]
    verifier = ChainVerifier(max_pending=5)
    found: list[ChainBreak] = []
    for record in records:
        found += verifier.feed(record)
    found += verifier.finish()
    assert [(b.seq, b.kind) for b in found] == [(s, "modified") for s in range(1, 21)]


def test_malformed_seq_raises() -> None:
    with pytest.raises(ValueError, match="malformed"):
        verify([{**trail(n=1)[0], "seq": "1"}])


def test_break_as_dict() -> None:
    assert ChainBreak("a", 3, "missing", "why").as_dict() == {
        "actorId": "a",
        "seq": 3,
        "kind": "missing",
        "detail": "why",
    }


# --- properties ------------------------------------------------------------------------------

actors = st.lists(st.text(st.characters(codec="utf-8"), min_size=1, max_size=8), min_size=1,
                  max_size=4, unique=True)  # fmt: skip


@settings(max_examples=60, deadline=None)
@given(names=actors, lengths=st.lists(st.integers(1, 8), min_size=4, max_size=4))
def test_any_valid_construction_verifies(names: list[str], lengths: list[int]) -> None:
    records = [r for name, n in zip(names, lengths, strict=False) for r in trail(name, n)]
    assert verify(records) == []


CHANGEABLE = [f for f in RECORD_FIELDS if f not in ("seq", "actorId")]


@settings(max_examples=300, deadline=None)
@given(n=st.integers(1, 8), data=st.data())
def test_every_single_field_change_is_modified_at_its_seq(n: int, data: st.DataObject) -> None:
    records = trail("a", n)
    i = data.draw(st.integers(0, n - 1))
    field = data.draw(st.sampled_from(CHANGEABLE))
    value = data.draw(texts.filter(lambda v: v != records[i][field]))
    records[i] = {**records[i], field: value}
    assert verify(records) == [("a", i + 1, "modified")]


@settings(max_examples=100, deadline=None)
@given(n=st.integers(2, 8), data=st.data())
def test_changing_seq_or_actor_is_detected(n: int, data: st.DataObject) -> None:
    records = trail("a", n)
    i = data.draw(st.integers(0, n - 1))
    if data.draw(st.booleans()):
        records[i] = {**records[i], "actorId": "b"}
    else:
        records[i] = {**records[i], "seq": data.draw(st.integers(1, 20).filter(lambda s: s != i + 1))}
        records.sort(key=lambda r: r["seq"])
    assert verify(records)


@pytest.mark.parametrize("at", [1, 4, 9, 10])
def test_forgery_inserted_mid_chain_is_named_not_the_displaced_records(at: int) -> None:
    """A forged record put at seq `at` with a proper link, the genuine records from there on renumbered
    one up (not re-hashed): the forgery is `inserted`, the renumbered genuine records are not blamed."""
    records = trail(n=10)
    previous = records[at - 2]["currentHash"] if at > 1 else GENESIS_HASH
    forged = rehash({**records[at - 1], "id": "01900000-0000-7000-8000-999999999999", "targetId": "forged"},
                    previousHash=previous)  # fmt: skip
    shifted = [{**r, "seq": r["seq"] + 1} for r in records[at - 1 :]]
    tampered = [*records[: at - 1], forged, *shifted]
    assert verify(tampered) == [("a", at, "inserted")]
    verifier = ChainVerifier()
    for record in tampered:
        verifier.feed(record)
    [finding] = verifier.finish()
    moved = "seq 11 holds" if at == 10 else f"seqs {at + 1}..11 hold"
    assert f"{moved} the genuine records from seq {at} on" in finding.detail


def test_forgery_inserted_mid_chain_of_a_partial_shift_is_named() -> None:
    records = trail(n=10)
    forged = rehash({**records[4], "targetId": "forged"}, previousHash=records[3]["currentHash"])
    shifted = [{**r, "seq": r["seq"] + 1} for r in records[4:7]]  # 5..7 -> 6..8, the old 8 deleted
    tampered = [*records[:4], forged, *shifted, *records[8:]]
    assert verify(tampered) == [("a", 5, "inserted"), ("a", 8, "missing")]  # the genuine 8 was pushed out
