"""Pure decisions of a durable sink lane: which commits an in-memory batch holds, whether it may be
sent as it is, and how to read a partition's missed commits back in bounded chunks.

Kept free of I/O so the rules that make delivery at-least-once can be unit-tested exhaustively.
The one invariant everything rests on: within a partition, commits cover disjoint offset ranges
that increase with commit_seq, and every record lies in its commit's range (processor/store.py).
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from sinks.committed import PartitionCommit, PartitionSpan


@dataclass(frozen=True)
class Delivered:
    """Where a sink stands on a partition: every record of commits up to `commit_seq` received;
    `last_offset` is that commit's last offset (-1 when unknown or nothing yet)."""

    commit_seq: int
    last_offset: int


NOTHING = Delivered(0, -1)


class Verdict(enum.Enum):
    SEND = "send"  # send the batch as it is, then advance `Plan.advance`
    SKIP = "skip"  # everything in it was already delivered (a catch-up read it from the database)
    CATCH_UP = "catch_up"  # commits are missing before it, or it cannot be proven: use the database


@dataclass(frozen=True)
class Plan:
    verdict: Verdict
    advance: dict[int, PartitionCommit] = field(default_factory=dict)


def is_stale(mark: PartitionSpan, delivered: Delivered) -> bool:
    """Every commit the batch made on this partition is at or before the delivered one."""
    return mark.last_offset <= delivered.last_offset


def resolve(
    marks: Mapping[int, PartitionSpan],
    delivered: Mapping[int, Delivered],
    owned: Callable[[int], bool],
    found: Mapping[int, Sequence[PartitionCommit]],
    has_records: bool,
) -> Plan:
    """Decide what to do with an in-memory batch.

    `found[p]` are the commits the batch made on partition p after the delivered one (the
    processor hands them over with the records, sinks/committed.py). The batch may advance p only when they follow
    the delivered commit without a hole and hold exactly as many records as the batch has from
    p: then every record of those commits is in the batch. Anything else (a commit missed before
    it, a count that does not add up) means catching up from the database, and so does a batch whose
    records are partly delivered already (a catch-up read past it): the database has exactly the
    missing part. Records of partitions this replica does not own are sent (a duplicate is
    allowed, a loss is not) but never advanced.
    """
    advance: dict[int, PartitionCommit] = {}
    unproven = delivered_records = False
    for partition, mark in marks.items():
        if not owned(partition):
            unproven = unproven or mark.records != 0
            continue
        done = delivered[partition]
        if is_stale(mark, done):
            delivered_records = delivered_records or mark.records != 0
            continue
        commits = found.get(partition, ())
        if sum(c.record_count for c in commits) != mark.records:
            return Plan(Verdict.CATCH_UP)
        expected = list(range(done.commit_seq + 1, done.commit_seq + 1 + len(commits)))
        if [c.commit_seq for c in commits] != expected:
            return Plan(Verdict.CATCH_UP)
        if commits:
            advance[partition] = commits[-1]
    if advance and delivered_records:
        return Plan(Verdict.CATCH_UP)
    if advance or unproven or (has_records and not marks):
        return Plan(Verdict.SEND, advance)
    return Plan(Verdict.SKIP)


def plan_chunks(partition: int, commits: Sequence[PartitionCommit], max_records: int) -> list[Chunk]:
    """Group consecutive commits (ascending commit_seq) into chunks of at most `max_records`
    records; a single bigger commit is its own chunk, since progress moves only at commit ends."""
    chunks: list[Chunk] = []
    group: list[PartitionCommit] = []
    count = 0
    for commit in commits:
        if group and count + commit.record_count > max_records:
            chunks.append(Chunk.of(partition, group, count))
            group, count = [], 0
        group.append(commit)
        count += commit.record_count
    if group:
        chunks.append(Chunk.of(partition, group, count))
    return chunks


@dataclass(frozen=True)
class Chunk:
    """Consecutive commits of one partition read and sent together."""

    partition: int
    first_seq: int
    through_seq: int
    first_offset: int
    last_offset: int
    record_count: int

    @classmethod
    def of(cls, partition: int, group: Sequence[PartitionCommit], count: int) -> Chunk:
        first, last = group[0], group[-1]
        return cls(partition, first.commit_seq, last.commit_seq, first.first_offset, last.last_offset, count)
