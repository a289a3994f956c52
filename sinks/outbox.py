"""The database as the sinks' outbox: per-sink progress, and the records of commits a sink missed.

Every call is a short synchronous statement on its own connection (lanes run them with
`asyncio.to_thread`) on an engine separate from the processor's, so a slow catch-up read never
holds a connection the batch transaction needs. Nothing here writes audit_records or
partition_commits, and nothing runs inside the batch transaction.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

from sqlalchemy import Engine, and_, func, select
from sqlalchemy.dialects import postgresql, sqlite

from argus.audit.export import COLUMNS
from argus.db.schema import audit_records, partition_commits, sink_progress
from argus.tlog import store as tlog_store
from argus_spec.hashchain import RECORD_FIELDS
from argus_spec.merkle import root_hash
from argus_spec.tiles import tile_node_source
from sinks.base import Record, TreeHead
from sinks.catchup import NOTHING, Chunk, Delivered
from sinks.committed import PartitionCommit

Assignment = Callable[[], Iterable[int]]
_SPAN = (
    partition_commits.c.kafka_partition,
    partition_commits.c.commit_seq,
    partition_commits.c.first_offset,
    partition_commits.c.last_offset,
    partition_commits.c.record_count,
    partition_commits.c.rejected_count,
)


class SinkOutbox:
    """Database access shared by the durable lanes of one processor replica.

    `assignment` returns the partitions of `topic` this replica consumes now; lanes catch up only
    those, so replicas do not deliver each other's partitions. Without it (or while it cannot be
    read) a lane catches up the partitions this replica committed to since it started.
    """

    def __init__(self, engine: Engine, topic: str, assignment: Assignment | None = None) -> None:
        self.engine = engine
        self.topic = topic
        self._assignment = assignment

    def assignment(self) -> set[int] | None:
        """The current assignment, or None when unknown (consumer not started, no callback)."""
        if self._assignment is None:
            return None
        try:
            return set(self._assignment())
        except Exception:
            return None

    def load(self, sink: str, partitions: Iterable[int]) -> dict[int, Delivered]:
        """The sink's stored progress per partition (NOTHING when it has none yet)."""
        wanted = sorted(set(partitions))
        if not wanted:
            return {}
        s, c = sink_progress, partition_commits
        stmt = (
            select(s.c.kafka_partition, s.c.commit_seq, c.c.last_offset)
            .outerjoin(
                c,
                and_(
                    c.c.topic == s.c.topic, c.c.kafka_partition == s.c.kafka_partition, c.c.commit_seq == s.c.commit_seq
                ),
            )
            .where(s.c.sink == sink, s.c.topic == self.topic, s.c.kafka_partition.in_(wanted))
        )
        with self.engine.connect() as connection:
            rows = connection.execute(stmt)
            found = {
                r.kafka_partition: Delivered(r.commit_seq, -1 if r.last_offset is None else r.last_offset) for r in rows
            }
        return {p: found.get(p, NOTHING) for p in wanted}

    def latest(self, partitions: Iterable[int]) -> dict[int, int]:
        """The newest commit_seq stored per partition (0 = none), for the lag gauge."""
        wanted = sorted(set(partitions))
        if not wanted:
            return {}
        t = partition_commits
        with self.engine.connect() as connection:
            rows = connection.execute(
                select(t.c.kafka_partition, func.max(t.c.commit_seq).label("seq"))
                .where(t.c.topic == self.topic, t.c.kafka_partition.in_(wanted))
                .group_by(t.c.kafka_partition)
            )
            return dict.fromkeys(wanted, 0) | {r.kafka_partition: r.seq for r in rows}

    def commits_after(
        self, partition: int, commit_seq: int, limit: int, below_offset: int | None = None
    ) -> list[PartitionCommit]:
        """The next `limit` commits of a partition after `commit_seq`, ending before
        `below_offset` if given (where batches queued in memory take over)."""
        t = partition_commits
        stmt = select(*_SPAN).where(
            t.c.topic == self.topic, t.c.kafka_partition == partition, t.c.commit_seq > commit_seq
        )
        if below_offset is not None:
            stmt = stmt.where(t.c.last_offset < below_offset)
        with self.engine.connect() as connection:
            rows = connection.execute(stmt.order_by(t.c.commit_seq).limit(limit))
            return [PartitionCommit(*row) for row in rows]

    def read_records(self, chunk: Chunk) -> list[Record]:
        """The chunk's records in (commit_seq, offset) order, as the exact dicts the processor hands
        to sinks: `argus.audit.export`'s row mapping (RECORD_FIELDS order, metadata as stored canonical
        text). The unique (kafka_topic, kafka_partition, kafka_offset) index finds them: commits of a partition
        cover disjoint offset ranges; the commit_seq bounds only guard that invariant."""
        t = audit_records
        stmt = (
            select(*COLUMNS)
            .where(
                t.c.kafka_topic == self.topic,
                t.c.kafka_partition == chunk.partition,
                t.c.kafka_offset.between(chunk.first_offset, chunk.last_offset),
                t.c.commit_seq.between(chunk.first_seq, chunk.through_seq),
            )
            .order_by(t.c.kafka_offset)
        )
        with self.engine.connect() as connection:
            return [dict(zip(RECORD_FIELDS, row, strict=True)) for row in connection.execute(stmt)]

    def tree_after(self, chunk: Chunk) -> TreeHead | None:
        """The partition's Merkle tree after the chunk's commits, from the tiles the processor wrote
        in those commits' transactions: size = the partition's records up to `through_seq` (every
        stored record is a leaf), root recomputed from the append-only tiles at that size. None when
        the stored tree does not reach that size (no transparency log kept for this partition)."""
        t = partition_commits
        with self.engine.connect() as connection:
            size = connection.execute(
                select(func.coalesce(func.sum(t.c.record_count), 0)).where(
                    t.c.topic == self.topic, t.c.kafka_partition == chunk.partition, t.c.commit_seq <= chunk.through_seq
                )
            ).scalar_one()
            head = tlog_store.tree_head(connection, self.topic, chunk.partition)
            if head is None or head[0] < size:
                return None
            read = tlog_store.tile_reader(connection, self.topic, chunk.partition)
            root = root_hash(tile_node_source(read), int(size)).hex()
            a = audit_records.c
            leaves = connection.execute(
                select(a.kafka_offset, a.commit_seq)
                .where(
                    a.kafka_topic == self.topic,
                    a.kafka_partition == chunk.partition,
                    a.kafka_offset.between(chunk.first_offset, chunk.last_offset),
                    a.commit_seq.between(chunk.first_seq, chunk.through_seq),
                )
                .order_by(a.kafka_offset)
            )
            return TreeHead(self.topic, int(size), root, [(r.kafka_offset, r.commit_seq) for r in leaves])

    def save(self, sink: str, progress: Mapping[int, int]) -> None:
        """Upsert the sink's progress. Never moves a partition backwards: another replica may have
        delivered further, and every stored value is a true 'received up to here'."""
        if not progress:
            return
        t = sink_progress
        dialect: Any = postgresql if self.engine.dialect.name == "postgresql" else sqlite
        rows = [
            {"sink": sink, "topic": self.topic, "kafka_partition": p, "commit_seq": c}
            for p, c in sorted(progress.items())
        ]
        stmt = dialect.insert(t).values(rows)
        stmt = stmt.on_conflict_do_update(
            index_elements=[t.c.sink, t.c.topic, t.c.kafka_partition],
            set_={"commit_seq": stmt.excluded.commit_seq, "updated_at": func.now()},
            where=t.c.commit_seq < stmt.excluded.commit_seq,
        )
        with self.engine.begin() as connection:
            connection.execute(stmt)
