"""Reading and writing the transparency log's tables (tiles, tree heads, checkpoints).

The processor writes them inside its batch transaction (processor/store.py); the read API and
`argus verify` read them. What the rows mean is defined in argus_spec.tiles / tlog and
docs/transparency.md; this module only moves bytes.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import psycopg2
from sqlalchemy import Connection, and_, func, or_, select
from sqlalchemy.dialects import postgresql, sqlite

from argus.db.schema import (
    audit_records,
    checkpoint_cosignatures,
    checkpoints,
    merkle_tiles,
    merkle_trees,
    partition_commits,
)
from argus_spec.tiles import TileId, TileReader


@dataclass(frozen=True)
class TreeWrite:
    """What one batch changes in one partition's tree (all written in the batch transaction)."""

    topic: str
    partition: int
    commit_seq: int
    size: int
    root: bytes
    tiles: dict[TileId, bytes]
    checkpoint: str | None  # the signed note, when one is due


@dataclass(frozen=True)
class StoredCheckpoint:
    topic: str
    partition: int
    tree_size: int
    root_hash: str
    commit_seq: int
    note: str
    created_at: Any


def _upsert(connection: Connection, table: Any, rows: list[dict[str, Any]], keys: Sequence[str]) -> None:
    dialect = postgresql if connection.dialect.name == "postgresql" else sqlite
    statement = dialect.insert(table)
    updates = {c.name: statement.excluded[c.name] for c in table.columns if c.name not in keys}
    connection.execute(statement.on_conflict_do_update(index_elements=list(keys), set_=updates), rows)


def write_trees(connection: Connection, writes: Sequence[TreeWrite]) -> None:
    """Upsert changed tiles and tree heads; insert due checkpoints (a duplicate size conflicts)."""
    if not writes:
        return
    if connection.dialect.name == "postgresql":
        _write_trees_postgresql(connection, writes)
        return
    tiles = [
        {"topic": w.topic, "kafka_partition": w.partition, "level": level, "tile_index": index, "hashes": data}
        for w in writes
        for (level, index), data in w.tiles.items()
    ]
    if tiles:
        _upsert(connection, merkle_tiles, tiles, ("topic", "kafka_partition", "level", "tile_index"))
    heads = [
        {
            "topic": w.topic,
            "kafka_partition": w.partition,
            "tree_size": w.size,
            "root_hash": w.root.hex(),
            "commit_seq": w.commit_seq,
        }
        for w in writes
    ]
    _upsert(connection, merkle_trees, heads, ("topic", "kafka_partition"))
    notes = [
        {
            "topic": w.topic,
            "kafka_partition": w.partition,
            "tree_size": w.size,
            "root_hash": w.root.hex(),
            "commit_seq": w.commit_seq,
            "note": w.checkpoint,
        }
        for w in writes
        if w.checkpoint is not None
    ]
    if notes:
        connection.execute(checkpoints.insert(), notes)


#: One round trip for a whole batch's trees: each table's rows travel as column arrays (a fixed
#: statement whatever the row count) and the three writes are data-modifying CTEs of one statement.
#: Measured per 2,000-event batch over 4 partitions: 3 statements with executemany took ~2x as long.
_WRITE_TREES_SQL = """
WITH tiles AS (
    INSERT INTO merkle_tiles (topic, kafka_partition, level, tile_index, hashes)
    SELECT * FROM unnest(%(tile_topic)s::text[], %(tile_partition)s::int[], %(tile_level)s::int[],
                         %(tile_index)s::bigint[], %(tile_hashes)s::bytea[])
    ON CONFLICT (topic, kafka_partition, level, tile_index) DO UPDATE SET hashes = excluded.hashes
), heads AS (
    INSERT INTO merkle_trees (topic, kafka_partition, tree_size, root_hash, commit_seq)
    SELECT * FROM unnest(%(topic)s::text[], %(partition)s::int[], %(size)s::bigint[], %(root)s::text[],
                         %(commit_seq)s::bigint[])
    ON CONFLICT (topic, kafka_partition) DO UPDATE
    SET tree_size = excluded.tree_size, root_hash = excluded.root_hash, commit_seq = excluded.commit_seq
)
INSERT INTO checkpoints (topic, kafka_partition, tree_size, root_hash, commit_seq, note)
SELECT topic, kafka_partition, tree_size, root_hash, commit_seq, note
FROM unnest(%(topic)s::text[], %(partition)s::int[], %(size)s::bigint[], %(root)s::text[],
            %(commit_seq)s::bigint[], %(note)s::text[])
     AS w(topic, kafka_partition, tree_size, root_hash, commit_seq, note)
WHERE note IS NOT NULL
"""


def _write_trees_postgresql(connection: Connection, writes: Sequence[TreeWrite]) -> None:
    tiles = [(w.topic, w.partition, level, index, data) for w in writes for (level, index), data in w.tiles.items()]
    columns = list(zip(*tiles, strict=True)) if tiles else [(), (), (), (), ()]
    connection.exec_driver_sql(
        _WRITE_TREES_SQL,
        {
            "tile_topic": list(columns[0]),
            "tile_partition": list(columns[1]),
            "tile_level": list(columns[2]),
            "tile_index": list(columns[3]),
            "tile_hashes": [psycopg2.Binary(data) for data in columns[4]],
            "topic": [w.topic for w in writes],
            "partition": [w.partition for w in writes],
            "size": [w.size for w in writes],
            "root": [w.root.hex() for w in writes],
            "commit_seq": [w.commit_seq for w in writes],
            "note": [w.checkpoint for w in writes],
        },
    )


def tile_reader(connection: Connection, topic: str, partition: int) -> TileReader:
    """Reads tiles of one partition's tree through `connection` (one query per call)."""

    def read(ids: Sequence[TileId]) -> dict[TileId, bytes]:
        if not ids:
            return {}
        c = merkle_tiles.c
        wanted = or_(*(and_(c.level == level, c.tile_index == index) for level, index in ids))
        rows = connection.execute(
            select(c.level, c.tile_index, c.hashes).where(c.topic == topic, c.kafka_partition == partition, wanted)
        )
        return {(row.level, row.tile_index): bytes(row.hashes) for row in rows}

    return read


def tree_head(connection: Connection, topic: str, partition: int) -> tuple[int, str, int] | None:
    """(tree_size, root_hash hex, commit_seq) of the stored head, or None."""
    row = connection.execute(
        select(merkle_trees.c.tree_size, merkle_trees.c.root_hash, merkle_trees.c.commit_seq).where(
            merkle_trees.c.topic == topic, merkle_trees.c.kafka_partition == partition
        )
    ).first()
    return None if row is None else (row.tree_size, row.root_hash, row.commit_seq)


def _checkpoint(row: Any) -> StoredCheckpoint:
    return StoredCheckpoint(
        row.topic, row.kafka_partition, row.tree_size, row.root_hash, row.commit_seq, row.note, row.created_at
    )


def latest_checkpoints(
    connection: Connection, topic: str | None = None, partitions: Sequence[int] | None = None
) -> list[StoredCheckpoint]:
    """The largest checkpoint of each (topic, partition), optionally filtered."""
    c = checkpoints.c
    newest = select(c.topic, c.kafka_partition, func.max(c.tree_size).label("size")).group_by(
        c.topic, c.kafka_partition
    )
    if topic is not None:
        newest = newest.where(c.topic == topic)
    if partitions is not None:
        newest = newest.where(c.kafka_partition.in_(list(partitions)))
    sub = newest.subquery()
    rows = connection.execute(
        select(checkpoints)
        .join(
            sub,
            (c.topic == sub.c.topic) & (c.kafka_partition == sub.c.kafka_partition) & (c.tree_size == sub.c.size),
        )
        .order_by(c.topic, c.kafka_partition)
    )
    return [_checkpoint(row) for row in rows]


def checkpoint_history(
    connection: Connection,
    topic: str,
    partition: int,
    *,
    after_size: int = -1,
    limit: int | None = None,
) -> list[StoredCheckpoint]:
    """Checkpoints of one partition in size order, after `after_size` (a page of `limit`)."""
    c = checkpoints.c
    query = (
        select(checkpoints)
        .where(c.topic == topic, c.kafka_partition == partition, c.tree_size > after_size)
        .order_by(c.tree_size)
    )
    if limit is not None:
        query = query.limit(limit)
    return [_checkpoint(row) for row in connection.execute(query)]


def checkpoint_at(connection: Connection, topic: str, partition: int, size: int) -> StoredCheckpoint | None:
    c = checkpoints.c
    row = connection.execute(
        select(checkpoints).where(c.topic == topic, c.kafka_partition == partition, c.tree_size == size)
    ).first()
    return None if row is None else _checkpoint(row)


def cosignature_lines(
    connection: Connection, stored: Sequence[StoredCheckpoint]
) -> dict[tuple[str, int, int], list[str]]:
    """The stored witness cosignature lines of these checkpoints, by (topic, partition, size); only
    lines made for the checkpoint's current root (a rewritten row does not inherit them)."""
    if not stored:
        return {}
    c = checkpoint_cosignatures.c
    keys = [
        and_(
            c.topic == s.topic, c.kafka_partition == s.partition, c.tree_size == s.tree_size, c.root_hash == s.root_hash
        )
        for s in stored
    ]
    rows = connection.execute(
        select(c.topic, c.kafka_partition, c.tree_size, c.signature_line)
        .where(or_(*keys))
        .order_by(c.created_at, c.witness)
    )
    found: dict[tuple[str, int, int], list[str]] = {}
    for row in rows:
        found.setdefault((row.topic, row.kafka_partition, row.tree_size), []).append(row.signature_line)
    return found


def add_cosignature(connection: Connection, stored: StoredCheckpoint, witness: str, line: str) -> bool:
    """Store a (verified) cosignature line; False when this witness already cosigned this checkpoint."""
    c = checkpoint_cosignatures.c
    topic, partition, size = stored.topic, stored.partition, stored.tree_size
    exists = connection.execute(
        select(c.witness).where(
            c.topic == topic, c.kafka_partition == partition, c.tree_size == size, c.witness == witness
        )
    ).first()
    if exists is not None:
        return False
    connection.execute(checkpoint_cosignatures.insert().values(
        topic=topic, kafka_partition=partition, tree_size=size, witness=witness, root_hash=stored.root_hash,
        signature_line=line))  # fmt: skip
    return True


def leaf_index(connection: Connection, topic: str, partition: int, commit_seq: int, offset: int) -> int:
    """Records of the partition before this one: whole earlier commits, then this commit's lower offsets
    (an index range bounded by one batch, whatever the partition's size)."""
    c, r = partition_commits.c, audit_records.c
    before = connection.execute(
        select(func.coalesce(func.sum(c.record_count), 0)).where(
            c.topic == topic, c.kafka_partition == partition, c.commit_seq < commit_seq
        )
    ).scalar_one()
    first = connection.execute(
        select(c.first_offset).where(c.topic == topic, c.kafka_partition == partition, c.commit_seq == commit_seq)
    ).scalar()
    within = connection.execute(
        select(func.count()).where(
            r.kafka_topic == topic,
            r.kafka_partition == partition,
            r.kafka_offset >= (first if first is not None else 0),
            r.kafka_offset < offset,
        )
    ).scalar_one()
    return int(before) + int(within)
