"""The processor's side of the transparency log: one Merkle tree per partition it owns.

The processor is the single writer of a partition, so it owns that partition's tree: each batch
appends its records' leaves, and the changed tiles, the new head and (when due) a signed
checkpoint go into the batch transaction (`TreeWrite`). Before it extends a tree for the first
time after start or assignment, it checks that the store still matches it (`check_stored`) and
refuses to write otherwise: a truncated or rewritten store is never silently built upon.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from sqlalchemy import Connection, func, select

from argus.db.schema import audit_records
from argus.runtime.settings import ConfigError
from argus.tlog.store import TreeWrite, latest_checkpoints, tile_reader, tree_head
from argus_spec.merkle import root_hash
from argus_spec.note import NoteError, Signer, Verifier
from argus_spec.tiles import TileTree, tile_node_source
from argus_spec.tlog import Checkpoint, open_checkpoint, origin, partition_leaves, record_leaf

log = logging.getLogger(__name__)


class TreeMismatch(Exception):
    """The stored records, tree or checkpoints of a partition disagree: do not extend it."""

    def __init__(self, partition: int, reason: str) -> None:
        super().__init__(f"partition {partition}: {reason}")
        self.partition = partition


def load_signer(path: str | None) -> Signer | None:
    """The log's note signing key from a file holding `PRIVATE+KEY+<name>+<hash>+<key>` (or None)."""
    if not path:
        return None
    try:
        with open(path, encoding="utf-8") as handle:
            return Signer.parse(handle.read())
    except (OSError, NoteError) as exc:
        raise ConfigError(f"ARGUS_LOG_KEY: cannot load the checkpoint signing key from {path}: {exc}") from None


@dataclass
class _Partition:
    tree: TileTree
    checkpoint_size: int
    checkpoint_time: float
    leaf: Callable[[int, int, str], bytes]  # (offset, commit_seq, currentHash) -> leaf hash


class PartitionLogs:
    """Trees of this replica's partitions; every method runs under the batch processor's lock."""

    def __init__(self, topic: str, log_name: str, signer: Signer | None, checkpoint_interval: float) -> None:
        self.topic = topic
        self.log_name = log_name
        self.signer = signer
        self.interval = checkpoint_interval
        self._trees: dict[int, _Partition] = {}
        self._pending: dict[int, TileTree] = {}  # trees of writes not yet committed

    def forget(self, partitions: Sequence[int]) -> None:
        for partition in partitions:
            self._trees.pop(partition, None)

    def known(self, partition: int) -> bool:
        return partition in self._trees

    def load(self, connection: Connection, partition: int) -> None:
        """Load a partition's tree after checking it against its records and checkpoint (or raise TreeMismatch)."""
        tree = check_stored(connection, self.topic, partition, self.signer.verifier if self.signer else None)
        latest = latest_checkpoints(connection, self.topic, [partition])
        size = latest[0].tree_size if latest else -1
        self._trees[partition] = _Partition(tree, size, 0.0, partition_leaves(self.topic, partition))

    def extend(self, partition: int, commit_seq: int, rows: Sequence[tuple[int, str]]) -> TreeWrite:
        """The write that appends records ((offset, currentHash), in offset order) to the partition's tree.

        Nothing changes in memory until `committed` is called with it.
        """
        state = self._trees[partition]
        tree, leaf = state.tree.copy(), state.leaf
        tiles = tree.append([leaf(offset, commit_seq, current_hash) for offset, current_hash in rows])
        root = tree.root()
        note = None
        now = time.monotonic()
        due = tree.size > state.checkpoint_size and now - state.checkpoint_time >= self.interval
        if self.signer is not None and due:
            note = self.signer.sign(Checkpoint(origin(self.log_name, self.topic, partition), tree.size, root).text())
        self._pending[partition] = tree
        return TreeWrite(self.topic, partition, commit_seq, tree.size, root, tiles, note)

    def committed(self, writes: Sequence[TreeWrite]) -> None:
        """The writes are stored: their trees become the partitions' state."""
        now = time.monotonic()
        for write in writes:
            state = self._trees[write.partition]
            state.tree = self._pending.pop(write.partition)
            if write.checkpoint is not None:
                state.checkpoint_size, state.checkpoint_time = write.size, now


def check_stored(connection: Connection, topic: str, partition: int, verifier: Verifier | None) -> TileTree:
    """The partition's stored tree, after checking that records, tiles, head and checkpoint agree.

    Checked: the head's root is the tiles' root; the tree has one leaf per stored record and its
    last leaf is the newest record's; the latest checkpoint (signature, when the key is known)
    is a prefix of the tree (its root recomputed from the tiles). Costs a few indexed queries,
    not a scan of the records' content; `argus verify --checkpoint` checks every leaf.
    """
    head = tree_head(connection, topic, partition)
    count, newest = _records_summary(connection, topic, partition)
    latest = latest_checkpoints(connection, topic, [partition])
    if head is None:
        if count or latest:
            raise TreeMismatch(partition, f"{count} stored records and {len(latest)} checkpoints but no tree")
        return TileTree()
    size, root_hex, _ = head
    read = tile_reader(connection, topic, partition)
    try:
        tree = TileTree.load(size, read)
    except ValueError as exc:
        raise TreeMismatch(partition, f"tiles do not hold the tree of size {size}: {exc}") from None
    if tree.root().hex() != root_hex:
        raise TreeMismatch(partition, f"stored root of size {size} is not the root of the stored tiles")
    if count != size:
        raise TreeMismatch(partition, f"{count} stored records, but the tree has {size} leaves")
    source = tile_node_source(read)
    if newest is not None:
        offset, commit_seq, current_hash = newest
        if source([(0, size - 1)])[0] != record_leaf(topic, partition, offset, commit_seq, current_hash):
            raise TreeMismatch(partition, f"newest record (offset {offset}) is not the tree's last leaf")
    if latest:
        stored = latest[0]
        if verifier is not None:
            try:
                checkpoint = open_checkpoint(stored.note, [verifier])
            except NoteError as exc:
                raise TreeMismatch(partition, f"latest checkpoint does not verify: {exc}") from None
            if (checkpoint.size, checkpoint.root.hex()) != (stored.tree_size, stored.root_hash):
                raise TreeMismatch(partition, "latest checkpoint row does not match its signed note")
        if stored.tree_size > size:
            raise TreeMismatch(partition, f"tree has {size} leaves but checkpoint {stored.tree_size} was signed")
        if root_hash(source, stored.tree_size).hex() != stored.root_hash:
            raise TreeMismatch(partition, f"tree is not consistent with checkpoint {stored.tree_size}")
    return tree


def _records_summary(connection: Connection, topic: str, partition: int) -> tuple[int, tuple[int, int, str] | None]:
    r = audit_records.c
    mine = (r.kafka_topic == topic) & (r.kafka_partition == partition)
    count = int(connection.execute(select(func.count()).where(mine)).scalar() or 0)
    row = connection.execute(
        select(r.kafka_offset, r.commit_seq, r.current_hash)
        .where(mine)
        .order_by(r.kafka_offset.desc())
        .limit(1)
    ).first()
    return count, None if row is None else (row.kafka_offset, row.commit_seq, row.current_hash)
