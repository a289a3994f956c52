"""Pure decisions of a durable sink lane: which commits an in-memory batch holds, whether it may be
sent as it is, and how to read a partition's missed commits back in bounded chunks.

Kept free of I/O so the rules that make delivery at-least-once can be unit-tested exhaustively.
The one invariant everything rests on: within a partition, commits cover disjoint offset ranges
that increase with commit_seq, and every record lies in its commit's range (processor/store.py).
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from sinks.base import Record

#: (partition, offset, key) of a consumed message, as the processor read it.
Consumed = tuple[int, int, bytes | None]


@dataclass(frozen=True)
class CommitSpan:
    """One `partition_commits` row: a commit's offset range and how many records it stored."""

    commit_seq: int
    first_offset: int
    last_offset: int
    record_count: int


@dataclass(frozen=True)
class Delivered:
    """Where a sink stands on a partition: every record of commits up to `commit_seq` received;
    `last_offset` is that commit's last offset (-1 when unknown or nothing yet)."""

    commit_seq: int
    last_offset: int


NOTHING = Delivered(0, -1)


@dataclass(frozen=True)
class BatchMark:
    """What one processor batch consumed from a partition: its offset range, how many of the
    batch's records came from it (None when that cannot be told, which forces a catch-up), and
    the partition commits the batch itself made there (ascending commit_seq)."""

    first_offset: int
    last_offset: int
    records: int | None
    commits: tuple[CommitSpan, ...] = ()


def _seq(span: CommitSpan) -> int:
    return span.commit_seq


def batch_marks(
    consumed: Iterable[Consumed], records: Sequence[Record], commits: Iterable[tuple[int, CommitSpan]] = ()
) -> dict[int, BatchMark]:
    """Marks per partition of a committed batch; `commits` are (partition, span) of the commits it
    made. A record's partition is its message's: the key is the actorId (the processor
    dead-letters any other message). An actor seen in two partitions of one batch leaves both
    uncounted."""
    spans: dict[int, tuple[int, int]] = {}
    actors: dict[bytes | None, set[int]] = {}
    for partition, offset, key in consumed:
        low, high = spans.get(partition, (offset, offset))
        spans[partition] = (min(low, offset), max(high, offset))
        actors.setdefault(key, set()).add(partition)
    counts = dict.fromkeys(spans, 0)
    unknown: set[int] = set()
    for record in records:
        found = actors.get(str(record["actorId"]).encode())
        if found is not None and len(found) == 1:
            counts[next(iter(found))] += 1
        else:
            unknown |= found or set(spans)
    made: dict[int, list[CommitSpan]] = {}
    for partition, span in commits:
        made.setdefault(partition, []).append(span)
    return {
        p: BatchMark(low, high, None if p in unknown else counts[p], tuple(sorted(made.get(p, []), key=_seq)))
        for p, (low, high) in spans.items()
    }


class Verdict(enum.Enum):
    SEND = "send"  # send the batch as it is, then advance `Plan.advance`
    SKIP = "skip"  # everything in it was already delivered (a catch-up read it from the database)
    CATCH_UP = "catch_up"  # commits are missing before it, or it cannot be proven: use the database


@dataclass(frozen=True)
class Plan:
    verdict: Verdict
    advance: dict[int, CommitSpan] = field(default_factory=dict)


def is_stale(mark: BatchMark, delivered: Delivered) -> bool:
    """Every commit the batch made on this partition is at or before the delivered one."""
    return mark.last_offset <= delivered.last_offset


def resolve(
    marks: Mapping[int, BatchMark],
    delivered: Mapping[int, Delivered],
    owned: Callable[[int], bool],
    found: Mapping[int, Sequence[CommitSpan]],
    has_records: bool,
) -> Plan:
    """Decide what to do with an in-memory batch.

    `found[p]` are the commits the batch made on partition p after the delivered one (the
    processor hands them over with the records). The batch may advance p only when they follow
    the delivered commit without a hole and hold exactly as many records as the batch has from
    p: then every record of those commits is in the batch. Anything else (a commit missed before
    it, uncountable records) means catching up from the database, and so does a batch whose
    records are partly delivered already (a catch-up read past it): the database has exactly the
    missing part. Records of partitions this replica does not own are sent (a duplicate is
    allowed, a loss is not) but never advanced.
    """
    advance: dict[int, CommitSpan] = {}
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
        if mark.records is None or sum(c.record_count for c in commits) != mark.records:
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


def plan_chunks(partition: int, commits: Sequence[CommitSpan], max_records: int) -> list[Chunk]:
    """Group consecutive commits (ascending commit_seq) into chunks of at most `max_records`
    records; a single bigger commit is its own chunk, since progress moves only at commit ends."""
    chunks: list[Chunk] = []
    group: list[CommitSpan] = []
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
    def of(cls, partition: int, group: Sequence[CommitSpan], count: int) -> Chunk:
        first, last = group[0], group[-1]
        return cls(partition, first.commit_seq, last.commit_seq, first.first_offset, last.last_offset, count)
