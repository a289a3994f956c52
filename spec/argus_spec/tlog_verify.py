"""Check one partition's stored records against trusted checkpoints: sizes, roots, first divergence.

Pure (no storage code): the caller streams the partition's records in offset order and, when it
has them, the stored leaf hashes (tiles) already authenticated against the trusted checkpoint.
Each record's leaf is computed from its *recomputed* hash, so any change to its content, its
chain fields or its partition/offset/commit_seq changes the leaf (docs/transparency.md, 5).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from argus_spec.hashchain import ACTOR, SEQ, row_hash
from argus_spec.merkle import CompactRange, leaf_hash
from argus_spec.tlog import Checkpoint, record_leaf

TRUNCATED, DIVERGED, UNCOVERED, HISTORY, TILES = "truncated", "diverged", "uncovered", "history", "tiles"
_ID = 0  # RECORD_FIELDS[0] is "id"


@dataclass(frozen=True)
class LogProblem:
    """Where a partition's store and its checkpoints part: the partition and, when known, the leaf."""

    topic: str
    partition: int
    kind: str
    leaf: int | None
    detail: str

    def as_dict(self) -> dict[str, Any]:
        return {"topic": self.topic, "partition": self.partition, "kind": self.kind, "leaf": self.leaf,
                "detail": self.detail}  # fmt: skip


@dataclass
class PartitionCheck:
    """Feed records in offset order, then `finish()`.

    `trusted`: checkpoints the caller verified against a trusted key (the largest is the anchor).
    `stored`: the store's own checkpoints whose signatures verified (history to check and, when
    the tiles cannot be trusted, to narrow down where the trees part).
    `stored_leaf(i)`: the stored leaf hash i, only if the stored tiles authenticate against the
    anchor (so they are the leaves the checkpoint was signed over).
    """

    topic: str
    partition: int
    trusted: Sequence[Checkpoint]
    stored: Sequence[Checkpoint] = ()
    stored_leaf: Callable[[int], bytes] | None = None
    tiles_problem: str | None = None
    size: int = 0
    _range: CompactRange = field(default_factory=CompactRange)
    _roots: dict[int, bytes] = field(default_factory=dict)
    _first: tuple[int, str] | None = None

    def __post_init__(self) -> None:
        self.anchor = max(self.trusted, key=lambda c: c.size)
        self._sizes = {c.size for c in (*self.trusted, *self.stored)}
        if 0 in self._sizes:
            self._roots[0] = self._range.root()

    def feed(self, offset: int, commit_seq: int, row: Sequence[Any]) -> None:
        try:
            leaf = record_leaf(self.topic, self.partition, offset, commit_seq, row_hash(row))
        except (ValueError, TypeError):
            leaf = leaf_hash(b"")  # a record that cannot be hashed is not the leaf that was signed
        index = self.size
        stored = self.stored_leaf
        if self._first is None and stored is not None and index < self.anchor.size and stored(index) != leaf:
            self._first = (index, _describe(offset, row))
        self._range.append(leaf)
        self.size += 1
        if self.size in self._sizes:
            self._roots[self.size] = self._range.root()

    def finish(self) -> list[LogProblem]:
        problems: list[LogProblem] = []

        def add(kind: str, leaf: int | None, detail: str) -> None:
            problems.append(LogProblem(self.topic, self.partition, kind, leaf, detail))

        if self.tiles_problem:
            add(TILES, None, self.tiles_problem)
        anchor = self.anchor
        for checkpoint in sorted(self.trusted, key=lambda c: c.size):
            root = self._roots.get(checkpoint.size)
            if root == checkpoint.root:
                continue
            leaf, detail = self._locate(checkpoint)
            if checkpoint.size > self.size and root is None:
                add(TRUNCATED, leaf, f"the store holds {self.size} records, checkpoint {checkpoint.size} was "
                                     f"signed{detail}")  # fmt: skip
            else:
                add(DIVERGED, leaf, f"the records do not hash to checkpoint {checkpoint.size}{detail}")
        for checkpoint in self.stored:
            root = self._roots.get(checkpoint.size)
            if root is not None and root != checkpoint.root:
                add(HISTORY, None, f"stored checkpoint {checkpoint.size} does not match the records")
            same = [t for t in self.trusted if t.size == checkpoint.size and t.root != checkpoint.root]
            if same:
                add(HISTORY, None, f"two signed roots for size {checkpoint.size}: the log forked")
        covered = max([c.size for c in self.stored if self._roots.get(c.size) == c.root] + [anchor.size])
        if self.size > covered:
            add(UNCOVERED, covered, f"records {covered}..{self.size - 1} are in no signed checkpoint "
                                    f"(the newest covers {covered})")  # fmt: skip
        return problems

    def _locate(self, checkpoint: Checkpoint) -> tuple[int | None, str]:
        """The first leaf where the store parts from `checkpoint`, as precisely as the evidence allows."""
        if self._first is not None and self._first[0] < checkpoint.size:
            return self._first[0], f"; first diverging leaf {self._first[0]}: {self._first[1]}"
        if self.stored_leaf is not None and checkpoint is self.anchor:
            return self.size, f"; leaves {self.size}..{checkpoint.size - 1} are missing"
        good = [c.size for c in self.stored if c.size < checkpoint.size and self._roots.get(c.size) == c.root]
        low = max(good, default=0)
        bad = [c.size for c in self.stored if low < c.size <= checkpoint.size and self._roots.get(c.size) != c.root]
        high = min(bad, default=checkpoint.size)
        return low, f"; the first diverging leaf is in {low}..{high - 1} (located by the stored checkpoints)"


def _describe(offset: int, row: Sequence[Any]) -> str:
    return f"record {row[_ID]!r} (actor {row[ACTOR]!r} seq {row[SEQ]}) at offset {offset}"
