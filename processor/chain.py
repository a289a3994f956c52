"""Step 3 of a batch: keep what extends stored progress, drop duplicate ids, hash-chain the rest.

Pure: what the database holds (progress, chain heads, digests of ids already stored) is read
by the caller (processor/batch.py) and passed in, and the rows come out for one transaction
(processor/store.py).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from argus.trust.identity import content_digest
from argus_spec.hashchain import GENESIS_HASH, chain_record
from processor import metrics
from processor.decode import Decoded, RawMessage
from processor.native import NATIVE
from processor.store import PARTITION, DeadLetter, Progress, stored_row
from sinks.committed import PartitionCommit

NO_PROGRESS = Progress(commit_seq=0, last_offset=-1)


@dataclass
class Taken:
    keep: dict[int, bool]  # id(message) -> store it
    reread: dict[int, int]  # partition -> offset to read again from


def contiguous(messages: Sequence[RawMessage], progress: dict[int, Progress]) -> Taken:
    """Which messages extend each partition's stored offsets without a hole.

    A partition is stored in offset order with no offset skipped (the topic is written by
    idempotent, non-transactional producers and never compacted, so its offsets have no holes).
    A message at or below stored progress was stored already. A message beyond progress + 1
    means a fetch came from the wrong position (a stale buffer after a rebalance): storing it
    would move progress past events never stored, so that message and every later one of its
    partition in the batch are left out, and the partition is read again from progress + 1.
    A partition with nothing stored takes its first message as the start (the log may have
    been trimmed by retention).
    """
    keep: dict[int, bool] = {}
    reread: dict[int, int] = {}
    expected: dict[int, int] = {}
    for message in messages:
        partition = message.partition
        if partition not in expected:
            last = progress[partition].last_offset
            expected[partition] = last + 1 if last >= 0 else message.offset
        want = expected[partition]
        if partition in reread or message.offset < want:
            keep[id(message)] = False
        elif message.offset == want:
            keep[id(message)] = True
            expected[partition] = want + 1
        else:
            keep[id(message)] = False
            reread[partition] = want
    return Taken(keep, reread)


#: An actor's chain head: (seq, currentHash) of its newest record.
Head = tuple[int, str]


@dataclass
class Chained:
    """The rows to write, the records they hold (for the sinks), and what chaining decided."""

    rows: list[tuple[Any, ...]] = field(default_factory=list)
    records: list[dict[str, Any]] = field(default_factory=list)
    #: actorId -> (seq, currentHash, partition) of its new head, to cache once the batch commits
    heads: dict[str, tuple[int, str, int]] = field(default_factory=dict)
    dead_letters: list[DeadLetter] = field(default_factory=list)
    duplicates: int = 0


def chain(
    valid: Sequence[Decoded],
    commit_seqs: Mapping[int, int],
    head_of: Callable[[str], Head | None],
    stored: Mapping[str, bytes],
) -> Chained:
    """Assign seq/previousHash/currentHash in offset order; skip ids already stored (`stored`:
    id -> content digest) or seen earlier in the batch: a retry of the same content is counted as
    a duplicate, different content under a used id is dead-lettered."""
    out = Chained()
    seen: dict[str, Decoded] = {}
    for item in valid:
        event, message = item.event, item.message
        earlier = seen.get(event["id"])
        if event["id"] in stored or earlier is not None:
            known = stored[event["id"]] if earlier is None else _digest(earlier)
            if known == _digest(item):
                out.duplicates += 1  # a retry of an event stored (or about to be): once is enough
            else:
                metrics.ID_CONFLICTS.inc()
                where = "a stored record" if earlier is None else f"offset {earlier.message.offset}"
                reason = f"id: {event['id']} is already used by {where} with different content"
                out.dead_letters.append(dead_letter(message, reason))
            continue
        seen[event["id"]] = item
        actor_id = event["actorId"]
        head = out.heads.get(actor_id)
        if head is not None:
            seq, previous = head[0], head[1]
        else:
            cached = head_of(actor_id)
            seq, previous = cached if cached is not None else (0, GENESIS_HASH)
        record, row = _chained_row(item, seq + 1, previous, commit_seqs[message.partition])
        out.heads[actor_id] = (seq + 1, record["currentHash"], message.partition)
        out.rows.append(row)
        out.records.append(record)
    return out


def _chained_row(item: Decoded, seq: int, previous: str, commit_seq: int) -> tuple[dict[str, Any], tuple[Any, ...]]:
    """The event's record (for the sinks) and its row (to write): argus_native's when it takes the
    input, else the reference's, which decides every unusual input (raising where it always did)."""
    message = item.message
    if NATIVE is not None:
        done = NATIVE.chain_row(item.event, item.source, item.received_at, seq, previous, item.metadata_text,
                                message.topic, message.partition, message.offset, commit_seq, item.attestation,
                                item.unattested_claim)  # fmt: skip
        if done is not None:
            return done
    record = chain_record(item.event, source=item.source, received_at=item.received_at, seq=seq,
                          previous_hash=previous, metadata_text=item.metadata_text)  # fmt: skip
    row = stored_row(record, message.topic, message.partition, message.offset, commit_seq, item.attestation,
                     item.unattested_claim)  # fmt: skip
    return record, row


def partition_commits(
    fresh: Sequence[RawMessage],
    commit_seqs: Mapping[int, int],
    rows: Sequence[tuple[Any, ...]],
    letters: Sequence[DeadLetter],
) -> list[PartitionCommit]:
    """The partition_commits rows of a batch: per partition, the offsets of its fresh messages,
    the records stored and the messages dead-lettered."""
    commits = []
    for partition, commit_seq in sorted(commit_seqs.items()):
        offsets = [m.offset for m in fresh if m.partition == partition]
        commits.append(
            PartitionCommit(
                partition=partition,
                commit_seq=commit_seq,
                first_offset=min(offsets),
                last_offset=max(offsets),
                record_count=sum(1 for row in rows if row[PARTITION] == partition),
                rejected_count=sum(1 for d in letters if d.partition == partition),
            )
        )
    return commits


def dead_letter(message: RawMessage, reason: str) -> DeadLetter:
    return DeadLetter(
        topic=message.topic,
        partition=message.partition,
        offset=message.offset,
        reason=reason,
        payload=message.value or b"",
        key=message.key,
    )


def _digest(item: Decoded) -> bytes:
    return content_digest(item.event, item.metadata_text)
