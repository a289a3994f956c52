"""What the processor hands the sinks after a batch commits: one typed committed batch.

The processor knows which partition each record came from and which `partition_commits` rows
its transaction wrote, so it says so here; the sinks' lanes (the fast path and the catch-up
planning, sinks/catchup.py) read it as it is and never reconstruct it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sinks.base import Record


@dataclass(frozen=True)
class PartitionCommit:
    """One `partition_commits` row: a commit's offset range, the records it stored and the
    messages it dead-lettered. Written in the batch transaction (processor/store.py), read back
    by the sinks' catch-up (sinks/outbox.py)."""

    partition: int
    commit_seq: int
    first_offset: int
    last_offset: int
    record_count: int
    rejected_count: int = 0


@dataclass(frozen=True)
class PartitionSpan:
    """What one committed batch consumed from a partition (its offset range, stored or not), how
    many of the batch's records came from it, and the commits it made there (ascending commit_seq)."""

    first_offset: int
    last_offset: int
    records: int
    commits: tuple[PartitionCommit, ...] = ()


@dataclass(frozen=True)
class CommittedBatch:
    """The records of one committed batch (in the order consumed), and per partition what it
    consumed and committed. Records handed over without partitions (`CommittedBatch(records)`)
    are still sent, but only a catch-up can then record them as delivered."""

    records: list[Record]
    partitions: dict[int, PartitionSpan] = field(default_factory=dict)
