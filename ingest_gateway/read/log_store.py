"""Read side of the transparency log: checkpoints, inclusion and consistency proofs from the tiles.

Runs on the read engine (ReadStore's: REPEATABLE READ, read only on PostgreSQL), so a proof and
the checkpoint it is checked against come from one snapshot. Proofs are computed from the stored
tiles (one tile query per proof); clients verify them with argus_spec (docs/transparency.md).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, Engine, select

from argus.db.schema import audit_records
from argus.tlog.store import (
    StoredCheckpoint,
    checkpoint_at,
    checkpoint_history,
    cosignature_lines,
    latest_checkpoints,
    leaf_index,
    tile_reader,
)
from argus_spec.cosignature import add_signature_lines
from argus_spec.merkle import consistency_proof, inclusion_proof
from argus_spec.tiles import tile_node_source
from argus_spec.tlog import record_leaf


class ProofUnavailable(Exception):
    """The proof cannot be given for these parameters; `field` names the one to change."""

    def __init__(self, field: str, message: str, status: int = 404) -> None:
        super().__init__(message)
        self.field, self.message, self.status = field, message, status


def checkpoint_json(stored: StoredCheckpoint, cosignatures: list[str] | None = None) -> dict[str, Any]:
    """The API's checkpoint object; `note` carries the witnesses' cosignature lines (docs/witness.md)."""
    created = stored.created_at
    return {
        "topic": stored.topic,
        "partition": stored.partition,
        "treeSize": stored.tree_size,
        "rootHash": stored.root_hash,
        "commitSeq": stored.commit_seq,
        "createdAt": created.isoformat() if hasattr(created, "isoformat") else str(created),
        "note": add_signature_lines(stored.note, cosignatures) if cosignatures else stored.note,
    }


def _cosigned(connection: Connection, stored: list[StoredCheckpoint]) -> list[dict[str, Any]]:
    lines = cosignature_lines(connection, stored)
    return [checkpoint_json(s, lines.get((s.topic, s.partition, s.tree_size))) for s in stored]


class LogStore:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def latest(self, topic: str | None) -> list[dict[str, Any]]:
        with self.engine.connect() as connection:
            return _cosigned(connection, latest_checkpoints(connection, topic))

    def history(self, topic: str, partition: int, after_size: int, limit: int) -> tuple[list[dict[str, Any]], bool]:
        with self.engine.connect() as connection:
            found = checkpoint_history(connection, topic, partition, after_size=after_size, limit=limit + 1)
            return _cosigned(connection, found[:limit]), len(found) > limit

    def tile(self, topic: str, partition: int, level: int, index: int) -> bytes | None:
        """The stored hashes of one tile (None: not stored)."""
        with self.engine.connect() as connection:
            return tile_reader(connection, topic, partition)([(level, index)]).get((level, index))

    def latest_note(self, topic: str, partition: int) -> str | None:
        """The partition's newest checkpoint note, with its witnesses' cosignature lines."""
        with self.engine.connect() as connection:
            latest = _cosigned(connection, latest_checkpoints(connection, topic, [partition]))
        return latest[0]["note"] if latest else None

    def _checkpoint(self, connection: Connection, topic: str, partition: int, size: int | None, field: str) -> Any:
        if size is None:
            latest = latest_checkpoints(connection, topic, [partition])
            if not latest:
                raise ProofUnavailable(field, f"partition {partition} of {topic} has no checkpoint yet")
            return latest[0]
        stored = checkpoint_at(connection, topic, partition, size)
        if stored is None:
            raise ProofUnavailable(field, f"no checkpoint of size {size} for partition {partition} of {topic}")
        return stored

    def inclusion(self, record_id: str, tree_size: int | None) -> dict[str, Any] | None:
        """The record's leaf, its index and audit path to a checkpoint of its partition (None: no record)."""
        r = audit_records.c
        with self.engine.connect() as connection:
            row = connection.execute(
                select(r.kafka_topic, r.kafka_partition, r.kafka_offset, r.commit_seq, r.current_hash).where(
                    r.id == record_id
                )
            ).first()
            if row is None:
                return None
            topic, partition = row.kafka_topic, row.kafka_partition
            index = leaf_index(connection, topic, partition, row.commit_seq, row.kafka_offset)
            stored = self._checkpoint(connection, topic, partition, tree_size, "treeSize")
            if index >= stored.tree_size:
                raise ProofUnavailable("treeSize", f"leaf {index} is not in the tree of size {stored.tree_size}")
            source = tile_node_source(tile_reader(connection, topic, partition))
            path = inclusion_proof(source, index, stored.tree_size)
        leaf = record_leaf(topic, partition, row.kafka_offset, row.commit_seq, row.current_hash)
        return {
            "id": record_id,
            "topic": topic,
            "partition": partition,
            "kafkaOffset": row.kafka_offset,
            "commitSeq": row.commit_seq,
            "currentHash": row.current_hash,
            "leafIndex": index,
            "leafHash": leaf.hex(),
            "treeSize": stored.tree_size,
            "inclusionPath": [h.hex() for h in path],
            "checkpoint": checkpoint_json(stored),
        }

    def consistency(self, topic: str, partition: int, first: int, second: int | None) -> dict[str, Any]:
        """A proof that the checkpoint of size `second` (default: the latest) extends the one of size `first`."""
        with self.engine.connect() as connection:
            newer = self._checkpoint(connection, topic, partition, second, "second")
            older = self._checkpoint(connection, topic, partition, first, "first") if first else None
            if first > newer.tree_size:
                raise ProofUnavailable("first", f"must not exceed second ({newer.tree_size})", 400)
            source = tile_node_source(tile_reader(connection, topic, partition))
            proof = consistency_proof(source, first, newer.tree_size)
        return {
            "topic": topic,
            "partition": partition,
            "first": first,
            "second": newer.tree_size,
            "firstCheckpoint": None if older is None else checkpoint_json(older),
            "secondCheckpoint": checkpoint_json(newer),
            "proof": [h.hex() for h in proof],
        }
