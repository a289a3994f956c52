"""The critical store: one transaction per batch holding records, dead letters and consumer progress.

Because progress (the last offset per partition) commits atomically with the records, a crash
at any point leaves the database either before or after the whole batch; on restart the
processor seeks each partition to the stored offset + 1. Unique constraints make a zombie
writer's batch fail instead of forking a chain. PostgreSQL gets COPY (per-row INSERT round
trips are ~15x slower); SQLite, the embedded default, gets executemany.
"""

from __future__ import annotations

import io
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from operator import itemgetter
from typing import Any

import psycopg2
from sqlalchemy import Connection, Engine, bindparam, func, insert, select, text, tuple_
from sqlalchemy.exc import DBAPIError

from argus.db.engine import is_sqlite
from argus.db.schema import audit_records, dead_letters, partition_commits, record_columns
from argus.tlog.store import TreeWrite, write_trees
from argus_spec.canonical import signature_is_ambiguous
from argus_spec.event import event_time_of
from argus_spec.hashchain import RECORD_FIELDS
from processor.native import NATIVE
from sinks.committed import PartitionCommit

#: What the processor writes for each record, in row order: the record's own fields, then where it
#: was read from and what storage derives from it (stored_at is the database's default).
WRITTEN_FIELDS: tuple[str, ...] = (
    *RECORD_FIELDS,
    "eventTime",
    "kafkaTopic",
    "kafkaPartition",
    "kafkaOffset",
    "commitSeq",
    "attestation",
    "unattestedClaim",
    "signatureAmbiguous",
)
#: The columns of a written row (COPY's column list), following from WRITTEN_FIELDS.
RECORD_COLUMNS: tuple[str, ...] = tuple(column.name for column in record_columns(WRITTEN_FIELDS))
#: Where a written row holds these fields, for the processor's per-row bookkeeping.
PARTITION, OFFSET, CURRENT_HASH, AMBIGUOUS = (
    WRITTEN_FIELDS.index(f) for f in ("kafkaPartition", "kafkaOffset", "currentHash", "signatureAmbiguous")
)
_written = itemgetter(*WRITTEN_FIELDS)


def stored_row(
    record: dict[str, Any], topic: str, partition: int, offset: int, commit_seq: int,
    attestation: str | None = None, unattested_claim: bool = False,
) -> tuple[Any, ...]:  # fmt: skip
    """A chained record as the row written to audit_records (RECORD_COLUMNS order); `attestation` is
    the gateway's receipt signature, `unattested_claim` an envelope's source claim that had none."""
    return _written({
        **record,
        "eventTime": event_time_of(record["timestamp"]),  # in UTC: SQLite keeps a datetime's wall clock, not its offset
        "kafkaTopic": topic,
        "kafkaPartition": partition,
        "kafkaOffset": offset,
        "commitSeq": commit_seq,
        "attestation": attestation,
        "unattestedClaim": unattested_claim,
        "signatureAmbiguous": signature_is_ambiguous(record),
    })  # fmt: skip


@dataclass(frozen=True)
class Progress:
    """Where a partition stands in the database."""

    commit_seq: int
    last_offset: int


@dataclass(frozen=True)
class DeadLetter:
    topic: str
    partition: int
    offset: int
    reason: str
    payload: bytes
    key: bytes | None


def load_progress(connection: Connection, topic: str, partitions: Iterable[int]) -> dict[int, Progress]:
    """Latest commit per partition (absent = nothing stored yet)."""
    wanted = sorted(set(partitions))
    if not wanted:
        return {}
    latest = (
        select(partition_commits.c.kafka_partition, func.max(partition_commits.c.commit_seq).label("seq"))
        .where(partition_commits.c.topic == topic, partition_commits.c.kafka_partition.in_(wanted))
        .group_by(partition_commits.c.kafka_partition)
        .subquery()
    )
    rows = connection.execute(
        select(partition_commits.c.kafka_partition, partition_commits.c.commit_seq, partition_commits.c.last_offset)
        .join(
            latest,
            (partition_commits.c.kafka_partition == latest.c.kafka_partition)
            & (partition_commits.c.commit_seq == latest.c.seq),
        )
        .where(partition_commits.c.topic == topic)
    )
    return {row.kafka_partition: Progress(row.commit_seq, row.last_offset) for row in rows}


def load_heads(connection: Connection, actor_ids: Sequence[str]) -> dict[str, tuple[int, str]]:
    """The newest (seq, current_hash) of each actor that has records; one query per batch."""
    if not actor_ids:
        return {}
    if connection.dialect.name == "postgresql":
        rows = connection.execute(
            text(
                "SELECT h.actor_id, h.seq, h.current_hash FROM unnest(CAST(:actors AS text[])) AS a(actor_id) "
                "CROSS JOIN LATERAL (SELECT r.actor_id, r.seq, r.current_hash FROM audit_records r "
                "WHERE r.actor_id = a.actor_id ORDER BY r.seq DESC LIMIT 1) h"
            ),
            {"actors": list(actor_ids)},
        )
    else:
        newest = (
            select(audit_records.c.actor_id, func.max(audit_records.c.seq).label("seq"))
            .where(audit_records.c.actor_id.in_(bindparam("actors", expanding=True)))
            .group_by(audit_records.c.actor_id)
            .subquery()
        )
        rows = connection.execute(
            select(audit_records.c.actor_id, audit_records.c.seq, audit_records.c.current_hash).where(
                tuple_(audit_records.c.actor_id, audit_records.c.seq).in_(select(newest.c.actor_id, newest.c.seq))
            ),
            {"actors": list(actor_ids)},
        )
    return {row.actor_id: (row.seq, row.current_hash) for row in rows}


def existing_ids(connection: Connection, ids: Sequence[str]) -> set[str]:
    """Ids already stored: retries of acknowledged events, which must not be stored twice."""
    if not ids:
        return set()
    if connection.dialect.name == "postgresql":  # one array parameter: no 2,000-parameter statement to build
        rows = connection.exec_driver_sql("SELECT id FROM audit_records WHERE id = ANY(%(ids)s)", {"ids": list(ids)})
        return {row[0] for row in rows}
    found: set[str] = set()
    for start in range(0, len(ids), 5000):
        chunk = list(ids[start : start + 5000])
        rows = connection.execute(select(audit_records.c.id).where(audit_records.c.id.in_(chunk)))
        found.update(row.id for row in rows)
    return found


_COPY_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})


def _copy_text(rows: Sequence[Sequence[Any]]) -> str:
    """The rows as COPY text: None as \\N, other non-strings by `str`, strings with backslash, tab,
    newline and CR escaped. Inlined, and strings are translated only when they hold a character to
    escape: 3 us a row instead of 12, which was ~5% of the processor's CPU (docs/benchmarks.md)."""
    table = _COPY_ESCAPES
    lines = []
    for row in rows:
        values = []
        for value in row:
            if not isinstance(value, str):
                value = "\\N" if value is None else str(value)
            elif "\\" in value or "\t" in value or "\n" in value or "\r" in value:
                value = value.translate(table)
            values.append(value)
        lines.append("\t".join(values))
    lines.append("")
    return "\n".join(lines)


def _copy_records(connection: Connection, rows: Sequence[Sequence[Any]]) -> None:
    """COPY in PostgreSQL's text format: NULL is \\N and backslash, tab, newline, CR are escaped,
    so no string value (not even a literal "\\N") can be mistaken for NULL."""
    statement = f"COPY audit_records ({', '.join(RECORD_COLUMNS)}) FROM STDIN"
    cursor = connection.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
    try:
        buffer: io.IOBase
        if NATIVE is not None and cursor.connection.encoding == "UTF8":  # the bytes psycopg2 would send
            buffer = io.BytesIO(NATIVE.copy_text(rows))
        else:
            buffer = io.StringIO(_copy_text(rows))
        cursor.copy_expert(statement, buffer)
    except psycopg2.Error as exc:
        # The raw cursor bypasses SQLAlchemy's error translation; the pipeline's retry policy
        # tells a conflict (IntegrityError) from data (DataError) from an outage by those types.
        raise DBAPIError.instance(statement, None, exc, psycopg2.Error, dialect=connection.dialect) from exc
    finally:
        cursor.close()


def commit_batch(
    engine: Engine,
    topic: str,
    records: Sequence[Sequence[Any]],
    letters: Sequence[DeadLetter],
    commits: Sequence[PartitionCommit],
    trees: Sequence[TreeWrite] = (),
) -> tuple[float, float]:
    """Write one batch atomically, with its partitions' Merkle tree updates and checkpoints.
    Raises IntegrityError if another writer got there first. Returns the wall and this thread's
    CPU seconds the tree writes took (what the log costs is a metric, docs/transparency.md)."""
    tree_seconds = (0.0, 0.0)
    with engine.begin() as connection:
        if records:
            if is_sqlite(str(engine.url)):
                connection.execute(
                    insert(audit_records), [dict(zip(RECORD_COLUMNS, row, strict=True)) for row in records]
                )
            else:
                _copy_records(connection, records)
        if letters:
            connection.execute(
                insert(dead_letters),
                [
                    {
                        "topic": d.topic,
                        "kafka_partition": d.partition,
                        "kafka_offset": d.offset,
                        "reason": d.reason,
                        "payload": d.payload,
                        "key": d.key,
                    }
                    for d in letters
                ],
            )
        connection.execute(
            insert(partition_commits),
            [
                {
                    "topic": topic,
                    "kafka_partition": c.partition,
                    "commit_seq": c.commit_seq,
                    "first_offset": c.first_offset,
                    "last_offset": c.last_offset,
                    "record_count": c.record_count,
                    "rejected_count": c.rejected_count,
                }
                for c in commits
            ],
        )
        if trees:
            started, cpu = time.perf_counter(), time.thread_time()
            write_trees(connection, trees)
            tree_seconds = (time.perf_counter() - started, time.thread_time() - cpu)
    return tree_seconds
