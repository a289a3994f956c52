"""The tables Argus writes. One definition, used by Alembic migrations, the processor and the verifier.

Unique constraints are the last line of defence against forks: a second writer that tries to
extend an actor's chain or re-commit a partition batch hits one of them and is rolled back.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    false,
    func,
    text,
)

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "pk": "pk_%(table_name)s",
    }
)

#: One stored audit record: the event as sent, the server-side fields and its chain position.
audit_records = Table(
    "audit_records",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("actor_id", String(1024), nullable=False),
    Column("seq", BigInteger, nullable=False),
    Column("previous_hash", String(64), nullable=False),
    Column("current_hash", String(64), nullable=False),
    Column("timestamp", String(64), nullable=False, comment="as sent by the client (hashed, signed)"),
    Column("event_time", DateTime(timezone=True), nullable=False, comment="timestamp parsed, for range queries"),
    Column("trace_id", String(36)),
    Column("event_type", String(1024)),
    Column("action", String(1024), nullable=False),
    Column("status", String(16), nullable=False),
    Column("actor_type", String(1024), nullable=False),
    Column("target_type", String(1024), nullable=False),
    Column("target_id", String(1024)),
    Column("message", Text, comment="standard base64, as sent"),
    Column("metadata", Text, comment="RFC 8785 canonical JSON text, exactly what was hashed"),
    Column("signature", Text),
    Column("signature_algorithm", String(16)),
    Column("public_key_id", String(256)),
    Column("signature_format", String(8)),
    Column("source", String(256), comment="authenticated caller (token name); NULL for direct Kafka writes"),
    Column("received_at", String(64), nullable=False, comment="RFC 3339 UTC, set at ingest (hashed)"),
    Column("kafka_partition", Integer, nullable=False),
    Column("kafka_offset", BigInteger, nullable=False),
    Column("commit_seq", BigInteger, nullable=False, comment="the partition batch that stored it"),
    Column("kafka_topic", String(249), nullable=False, comment="the topic it was read from (migration 0004)"),
    Column(
        "signature_ambiguous",
        Boolean,
        nullable=False,
        server_default=false(),
        comment="v1 signature over a field holding '|': it also verifies for another split (migration 0005)",
    ),
    Column("attestation", Text, comment="the gateway's receipt-key signature over id, content, source and "
           "receivedAt; NULL: not attested (migration 0009)"),
    Column(
        "unattested_claim",
        Boolean,
        nullable=False,
        server_default=false(),
        comment="the envelope claimed a source/receivedAt without a valid attestation; not stored (migration 0009)",
    ),
    Column("stored_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    # No forks: one record per (actor, seq). Migration 0008 dropped the unique (actor_id,
    # previous_hash) and current_hash: implied by this key and the primary key, and random-key
    # indexes whose insert cost grew with the table.
    UniqueConstraint("actor_id", "seq"),
    # A Kafka position is (topic, partition, offset): without the topic, a second topic's
    # events would collide with the first one's (migration 0004).
    UniqueConstraint("kafka_topic", "kafka_partition", "kafka_offset"),
    # Mirrors migration 0002 (query indexes); see its docstring for why each exists.
    Index(None, "event_time", "id"),
    Index(None, "actor_id", "event_time"),
    Index(
        None,
        "target_id",
        "event_time",
        postgresql_where=text("target_id IS NOT NULL"),
        sqlite_where=text("target_id IS NOT NULL"),
    ),
    Index(None, "trace_id", postgresql_where=text("trace_id IS NOT NULL"), sqlite_where=text("trace_id IS NOT NULL")),
)

#: The one mapping from a stored record's fields (camelCase: as hashed, exported and served) to the
#: columns of audit_records. First the record's own fields (argus_spec.hashchain.RECORD_FIELDS,
#: the hashed ones), then what storage adds. Every column is here exactly once (tests/unit/test_schema.py).
FIELD_COLUMNS: dict[str, str] = {
    "id": "id",
    "timestamp": "timestamp",
    "traceId": "trace_id",
    "eventType": "event_type",
    "action": "action",
    "status": "status",
    "actorType": "actor_type",
    "actorId": "actor_id",
    "targetType": "target_type",
    "targetId": "target_id",
    "message": "message",
    "metadata": "metadata",
    "signature": "signature",
    "signatureAlgorithm": "signature_algorithm",
    "publicKeyId": "public_key_id",
    "signatureFormat": "signature_format",
    "source": "source",
    "receivedAt": "received_at",
    "seq": "seq",
    "previousHash": "previous_hash",
    "currentHash": "current_hash",
    # added by storage
    "eventTime": "event_time",
    "kafkaTopic": "kafka_topic",
    "kafkaPartition": "kafka_partition",
    "kafkaOffset": "kafka_offset",
    "commitSeq": "commit_seq",
    "attestation": "attestation",
    "unattestedClaim": "unattested_claim",
    "signatureAmbiguous": "signature_ambiguous",
    "storedAt": "stored_at",
}


def record_columns(fields: Iterable[str]) -> tuple[Column[Any], ...]:
    """The audit_records columns holding these record fields, in the fields' order."""
    return tuple(audit_records.c[FIELD_COLUMNS[field]] for field in fields)


#: One row per committed processor batch and partition: consumer progress kept in the same
#: transaction as the records, and the per-partition commit sequence checkpoints build on.
partition_commits = Table(
    "partition_commits",
    metadata,
    Column("topic", String(249), primary_key=True),
    Column("kafka_partition", Integer, primary_key=True),
    Column("commit_seq", BigInteger, primary_key=True),
    Column("first_offset", BigInteger, nullable=False),
    Column("last_offset", BigInteger, nullable=False),
    Column("record_count", Integer, nullable=False),
    Column("rejected_count", Integer, nullable=False),
    Column("committed_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)

#: Events the processor refused, with the reason and the original bytes, stored exactly once
#: in the batch transaction and then published to the dead-letter topic.
dead_letters = Table(
    "dead_letters",
    metadata,
    Column("topic", String(249), primary_key=True),
    Column("kafka_partition", Integer, primary_key=True),
    Column("kafka_offset", BigInteger, primary_key=True),
    Column("reason", Text, nullable=False),
    Column("payload", LargeBinary, nullable=False),
    Column("key", LargeBinary),
    Column("rejected_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)

#: Per sink and partition, the last partition commit whose records the sink has fully received
#: (sinks/durable.py). Written by the sink lanes after each delivery, never in the batch
#: transaction; a lane resumes (catches up from the database) after this commit.
sink_progress = Table(
    "sink_progress",
    metadata,
    Column("sink", String(256), primary_key=True),
    Column("topic", String(249), primary_key=True),
    Column("kafka_partition", Integer, primary_key=True),
    Column("commit_seq", BigInteger, nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)

#: The Merkle tree of each topic partition (docs/transparency.md), stored as C2SP tlog-tiles:
#: tile (level, tile_index) holds the hashes at tree level 8 * level, indices 256 * tile_index
#: onwards (up to 256 of them, 32 bytes each; fewer while the tile is partial). Written in the
#: batch transaction; proofs for any tree size are computed from these rows.
merkle_tiles = Table(
    "merkle_tiles",
    metadata,
    Column("topic", String(249), primary_key=True),
    Column("kafka_partition", Integer, primary_key=True),
    Column("level", Integer, primary_key=True),
    Column("tile_index", BigInteger, primary_key=True),
    Column("hashes", LargeBinary, nullable=False),
)

#: The current size and root of each partition's tree, in the batch transaction.
merkle_trees = Table(
    "merkle_trees",
    metadata,
    Column("topic", String(249), primary_key=True),
    Column("kafka_partition", Integer, primary_key=True),
    Column("tree_size", BigInteger, nullable=False),
    Column("root_hash", String(64), nullable=False),
    Column("commit_seq", BigInteger, nullable=False, comment="the partition commit that grew it last"),
)

#: Signed checkpoints (C2SP tlog-checkpoint notes) of each partition's tree, in the batch transaction.
checkpoints = Table(
    "checkpoints",
    metadata,
    Column("topic", String(249), primary_key=True),
    Column("kafka_partition", Integer, primary_key=True),
    Column("tree_size", BigInteger, primary_key=True),
    Column("root_hash", String(64), nullable=False),
    Column("commit_seq", BigInteger, nullable=False),
    Column("note", Text, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)

#: Witness cosignatures (C2SP tlog-cosignature lines) on stored checkpoints; the gateway checks each
#: against ARGUS_WITNESS_KEYS before storing it and appends them to the note it serves.
checkpoint_cosignatures = Table(
    "checkpoint_cosignatures",
    metadata,
    Column("topic", String(249), primary_key=True),
    Column("kafka_partition", Integer, primary_key=True),
    Column("tree_size", BigInteger, primary_key=True),
    Column("witness", String(255), primary_key=True, comment="the witness verifier key, name+id+key"),
    Column("root_hash", String(64), nullable=False, comment="the root it cosigned: served only with that root"),
    Column("signature_line", Text, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)
