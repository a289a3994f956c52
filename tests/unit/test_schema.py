"""The one mapping from record fields to audit_records columns (argus/db/schema.py), and the
processor's written row that follows from it."""

from __future__ import annotations

from argus.db.schema import FIELD_COLUMNS, audit_records
from argus_spec.hashchain import GENESIS_HASH, RECORD_FIELDS, chain_record
from processor.store import RECORD_COLUMNS, WRITTEN_FIELDS, stored_row
from tests.integration.harness import make_event


def test_every_column_has_exactly_one_field() -> None:
    assert sorted(FIELD_COLUMNS.values()) == sorted(audit_records.c.keys())
    assert len(set(FIELD_COLUMNS.values())) == len(FIELD_COLUMNS)


def test_every_record_field_is_mapped_first_in_canonical_order() -> None:
    assert tuple(FIELD_COLUMNS)[: len(RECORD_FIELDS)] == RECORD_FIELDS


def test_written_row_puts_each_value_in_its_column() -> None:
    event = make_event("svc-1", 3, id="0190a0a0-0000-7000-8000-000000000003")
    record = chain_record(event, source="tok", received_at="2026-03-04T05:06:07.000000Z", seq=1,
                          previous_hash=GENESIS_HASH)  # fmt: skip
    row = dict(zip(RECORD_COLUMNS, stored_row(record, "audit.t", 2, 41, 7), strict=True))
    assert tuple(FIELD_COLUMNS[field] for field in WRITTEN_FIELDS) == RECORD_COLUMNS
    assert "stored_at" not in row  # the database's default
    for field in RECORD_FIELDS:
        assert row[FIELD_COLUMNS[field]] == record[field]
    assert (row["kafka_topic"], row["kafka_partition"], row["kafka_offset"], row["commit_seq"]) == ("audit.t", 2, 41, 7)
    assert row["event_time"].isoformat() == "2026-03-04T05:06:03.000003+00:00"
    assert row["signature_ambiguous"] is False
