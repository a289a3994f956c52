"""One batch, start to finish: decode → validate → verify (`prepare`) → deduplicate → chain → commit (`store`).

`BatchProcessor.handle` never raises for a bad message or a storage failure: bad messages
become dead letters, and storage failures are retried (with backoff, after reloading chain
heads and progress) until the batch commits. Only then does it return, so the stream never
moves past an event that is not stored.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.exc import DataError, DBAPIError, IntegrityError

from argus.backoff import backoff_delays
from argus.db.schema import audit_records
from argus.identity import content_digest, stored_digests
from argus.metrics import field_label
from argus.signatures import BatchVerifier
from argus.tlog_store import TreeWrite
from argus_spec.hashchain import GENESIS_HASH, chain_record
from processor import faults, metrics
from processor.chain_heads import ChainHeads
from processor.decode import Claims, Decoded, RawMessage, Rejected, decode_message
from processor.store import (
    AMBIGUOUS,
    CURRENT_HASH,
    OFFSET,
    PARTITION,
    DeadLetter,
    PartitionCommit,
    Progress,
    commit_batch,
    existing_ids,
    load_heads,
    load_progress,
    stored_row,
)
from processor.tlog import PartitionLogs, TreeMismatch

log = logging.getLogger(__name__)

NO_PROGRESS = Progress(commit_seq=0, last_offset=-1)
MAX_CONFLICTS = 5
#: Batches that look up their ids before COPY after start-up or after any constraint violation.
#: Otherwise the primary key finds an already-stored id (a client retry) and the batch is
#: retried with the lookup: the lookup cost ~4% of the pipeline's CPU (processor and PostgreSQL)
#: for a case that is rare while things are healthy and clustered when they are not.
ID_CHECK_BATCHES = 20
RECORD_PRIMARY_KEY = str(audit_records.primary_key.name)  # named by the schema's naming convention


class _Poison(Exception):
    """The database refuses this batch as data; retrying it unchanged can never succeed."""


@dataclass(frozen=True)
class Refused:
    """Why a message cannot be stored (its dead-letter reason); `signature` marks a failed verification."""

    reason: str
    signature: bool = False


@dataclass(frozen=True)
class PreparedBatch:
    """A batch decoded, validated and signature-checked, one outcome per message (same order).

    Preparing needs no database and no per-partition state, so batch N+1 is prepared while
    batch N is stored (processor/app.py); which messages are fresh is decided when storing.
    """

    messages: Sequence[RawMessage]
    outcomes: Sequence[Decoded | Refused]


@dataclass
class BatchResult:
    """What one committed batch produced, for the non-critical sinks and the dead-letter topic."""

    records: list[dict[str, Any]] = field(default_factory=list)
    dead_letters: list[DeadLetter] = field(default_factory=list)
    commits: list[PartitionCommit] = field(default_factory=list)  # the partition_commits rows written
    checkpoints: list[str] = field(default_factory=list)  # signed checkpoint notes written
    duplicates: int = 0
    skipped: int = 0
    #: partition -> the offset it must be read from again: its messages jumped past stored
    #: progress (a stale fetch), so none from the jump on were stored (see `contiguous`).
    reread: dict[int, int] = field(default_factory=dict)


class BatchProcessor:
    """Holds the per-partition caches; one instance per processor replica, one batch at a time."""

    def __init__(
        self,
        engine: Engine,
        topic: str,
        enums: Any,
        verifier: BatchVerifier,
        head_capacity: int,
        logs: PartitionLogs | None = None,
        claims: Claims | None = None,
    ) -> None:
        self._engine = engine
        self._claims = claims or Claims()
        self._logs = logs
        self._topic = topic
        self._enums = enums
        self._verify = verifier
        self._heads = ChainHeads(head_capacity)
        self._progress: dict[int, Progress] = {}
        self._id_checks_left = ID_CHECK_BATCHES
        # Rebalance callbacks run on the event loop while a batch runs in a worker thread.
        self._lock = threading.Lock()

    def forget_partitions(self, partitions: Sequence[int]) -> None:
        """Drop cached state of partitions this replica no longer owns (or may be stale on)."""
        with self._lock:
            self._heads.forget_partitions(partitions)
            if self._logs is not None:
                self._logs.forget(partitions)
            for partition in partitions:
                self._progress.pop(partition, None)

    def stored_progress(self, partitions: Sequence[int]) -> dict[int, Progress]:
        """Read progress from the database (the source of truth for where to resume)."""
        with self._engine.connect() as connection:
            return load_progress(connection, self._topic, partitions)

    def prepare(self, messages: Sequence[RawMessage]) -> PreparedBatch:
        """Decode, validate and verify every message (CPU only; run it in a worker thread)."""
        outcomes: list[Decoded | Refused] = []
        decoded: list[Decoded] = []
        for message in messages:
            try:
                item = decode_message(message, self._enums, self._claims)
            except Rejected as exc:
                outcomes.append(Refused(exc.reason))
                continue
            outcomes.append(item)
            decoded.append(item)
        reasons = iter(self._verify([d.event for d in decoded], [d.source for d in decoded]) if decoded else [])
        for index, outcome in enumerate(outcomes):
            if isinstance(outcome, Decoded) and (reason := next(reasons)) is not None:
                outcomes[index] = Refused(reason, signature=True)
        return PreparedBatch(messages, outcomes)

    async def handle(self, messages: Sequence[RawMessage]) -> BatchResult:
        """Prepare and store a batch (`store` for a batch prepared already)."""
        return await self.store(await asyncio.to_thread(self.prepare, messages))

    async def store(self, batch: PreparedBatch) -> BatchResult:
        """Store the batch exactly once, retrying storage failures until it commits.

        Conflicts with another writer reload state and retry; a database outage retries with
        backoff for as long as it lasts; a batch the database refuses as data (or that keeps
        conflicting after reloads) is split so only the offending message is dead-lettered.
        """
        try:
            return await self._commit_with_retries(batch)
        except _Poison:
            return await self._isolate(batch)

    async def _commit_with_retries(self, batch: PreparedBatch, reject: str | None = None) -> BatchResult:
        delays = backoff_delays()
        conflicts = 0
        partitions = sorted({m.partition for m in batch.messages})
        while True:
            started = time.perf_counter()
            try:
                result = await asyncio.to_thread(self._process_locked, batch, reject)
                metrics.BATCH_SECONDS.observe(time.perf_counter() - started)
                metrics.CHAIN_HEADS.set(len(self._heads))
                return result
            except IntegrityError as exc:
                checked = self._id_checks_left > 0
                self._id_checks_left = ID_CHECK_BATCHES
                if not checked and _violated_constraint(exc) == RECORD_PRIMARY_KEY:
                    # An id already stored came again (a client retry): retry looking ids up.
                    metrics.BATCH_RETRIES.labels(reason="duplicate_id").inc()
                    continue
                # Another writer (a zombie or the new owner after a rebalance) got there first.
                metrics.BATCH_RETRIES.labels(reason="conflict").inc()
                log.warning("batch conflicted with another writer, reloading state: %s", exc.orig)
                self.forget_partitions(partitions)
                conflicts += 1
                if conflicts >= MAX_CONFLICTS:
                    raise _Poison(f"storage: {exc.orig}") from exc
            except DataError as exc:
                self.forget_partitions(partitions)
                raise _Poison(f"storage: {exc.orig}") from exc
            except TreeMismatch as exc:
                # Fail closed: never extend a tree (or chain onto heads) the store no longer backs.
                metrics.TREE_MISMATCHES.labels(partition=str(exc.partition)).inc()
                delay = next(delays)
                log.error("refusing to extend the transparency log, retrying in %.1fs: %s", delay, exc)
                self.forget_partitions(partitions)
                await asyncio.sleep(delay)
            except DBAPIError as exc:
                metrics.BATCH_RETRIES.labels(reason="database").inc()
                delay = next(delays)
                log.error("database error, retrying batch in %.1fs: %s", delay, exc.orig)
                self.forget_partitions(partitions)
                await asyncio.sleep(delay)

    async def _isolate(self, batch: PreparedBatch) -> BatchResult:
        """Store message by message; one the database will not take becomes a dead letter."""
        merged = BatchResult()
        for message, outcome in zip(batch.messages, batch.outcomes, strict=True):
            single = PreparedBatch([message], [outcome])
            try:
                part = await self._commit_with_retries(single)
            except _Poison as poison:
                log.error("dead-lettering %s/%d@%d: %s", message.topic, message.partition, message.offset, poison)
                part = await self._commit_with_retries(single, reject=str(poison)[:2000])
            merged.records.extend(part.records)
            merged.dead_letters.extend(part.dead_letters)
            merged.commits.extend(part.commits)
            merged.checkpoints.extend(part.checkpoints)
            merged.duplicates += part.duplicates
            merged.skipped += part.skipped
            merged.reread.update(part.reread)
        return merged

    def _process_locked(self, batch: PreparedBatch, reject: str | None = None) -> BatchResult:
        with self._lock:
            return self._process(batch, reject)

    def _process(self, batch: PreparedBatch, reject: str | None = None) -> BatchResult:
        result = BatchResult()
        messages = batch.messages
        partitions = sorted({m.partition for m in messages})
        unknown = [p for p in partitions if p not in self._progress]
        if unknown:
            self._load_progress(unknown)
        taken = contiguous(messages, self._progress)
        if any(p in taken.reread for p in partitions if p not in unknown):
            # The cache may lag behind another writer: judge the jump against the database.
            self._load_progress([p for p in taken.reread if p not in unknown])
            taken = contiguous(messages, self._progress)
        result.reread = taken.reread
        for partition, offset in taken.reread.items():
            metrics.OFFSET_JUMPS.labels(partition=str(partition)).inc()
            log.warning("partition %d jumped past its stored progress; not storing from offset %d on, "
                        "reading it again from there", partition, offset)  # fmt: skip
        fresh: list[RawMessage] = []
        valid: list[Decoded] = []
        for message, outcome in zip(messages, batch.outcomes, strict=True):
            if not taken.keep[id(message)]:
                continue  # stored already (a redelivery), or past a jump
            fresh.append(message)
            if reject is not None:
                result.dead_letters.append(_dead_letter(message, reject))
            elif isinstance(outcome, Refused):
                if outcome.signature:
                    metrics.SIGNATURE_ERRORS.inc()
                result.dead_letters.append(_dead_letter(message, outcome.reason))
            else:
                valid.append(outcome)
        result.skipped = len(messages) - len(fresh)
        if not fresh:
            return result

        commit_seqs = {p: self._progress[p].commit_seq + 1 for p in {m.partition for m in fresh}}
        self._load_trees(sorted(commit_seqs))
        rows, pending_heads = self._chain(valid, commit_seqs, result)
        commits = _partition_commits(self._topic, fresh, commit_seqs, rows, result.dead_letters)
        started, cpu = time.perf_counter(), time.thread_time()
        trees = self._extend_trees(rows, commit_seqs)
        extend_seconds, extend_cpu = time.perf_counter() - started, time.thread_time() - cpu
        faults.checkpoint("before_commit")
        write_seconds, write_cpu = commit_batch(self._engine, rows, result.dead_letters, commits, trees)
        faults.checkpoint("after_commit")
        if self._logs is not None:
            self._logs.committed(trees)
            metrics.TLOG_SECONDS.observe(extend_seconds + write_seconds)
            metrics.TLOG_CPU_SECONDS.inc(extend_cpu + write_cpu)
        result.checkpoints = [t.checkpoint for t in trees if t.checkpoint is not None]

        self._id_checks_left = max(0, self._id_checks_left - 1)
        result.commits = commits
        for commit in commits:
            self._progress[commit.partition] = Progress(commit.commit_seq, commit.last_offset)
        for actor_id, (seq, current_hash, partition) in pending_heads.items():
            self._heads.put(actor_id, seq, current_hash, partition)
        metrics.RECORDS_STORED.inc(len(rows))
        metrics.SIGNATURES_AMBIGUOUS.inc(sum(1 for row in rows if row[AMBIGUOUS]))
        metrics.CHECKPOINTS.inc(len(result.checkpoints))
        metrics.DUPLICATES.inc(result.duplicates)
        for letter in result.dead_letters:
            metrics.DEAD_LETTERS.labels(field=field_label(letter.reason.partition(":")[0])).inc()
        return result

    def _load_progress(self, partitions: Sequence[int]) -> None:
        loaded = self.stored_progress(partitions)
        for partition in partitions:
            self._progress[partition] = loaded.get(partition, NO_PROGRESS)

    def _load_trees(self, partitions: Sequence[int]) -> None:
        """Load (and check) the trees of partitions this replica has not written since it got them."""
        if self._logs is None:
            return
        missing = [p for p in partitions if not self._logs.known(p)]
        if missing:
            with self._engine.connect() as connection:
                for partition in missing:
                    self._logs.load(connection, partition)

    def _extend_trees(self, rows: Sequence[tuple[Any, ...]], commit_seqs: dict[int, int]) -> list[TreeWrite]:
        """Each partition's new leaves (its rows, in offset order) as a tree write for the batch transaction."""
        if self._logs is None:
            return []
        per_partition: dict[int, list[tuple[int, str]]] = {}
        for row in rows:
            per_partition.setdefault(row[PARTITION], []).append((row[OFFSET], row[CURRENT_HASH]))
        return [
            self._logs.extend(partition, commit_seqs[partition], leaves)
            for partition, leaves in sorted(per_partition.items())
        ]

    def _chain(
        self, valid: list[Decoded], commit_seqs: dict[int, int], result: BatchResult
    ) -> tuple[list[tuple[Any, ...]], dict[str, tuple[int, str, int]]]:
        """Assign seq/previousHash/currentHash in offset order; skip ids already stored."""
        actors = sorted({d.event["actorId"] for d in valid if self._heads.get(d.event["actorId"]) is None})
        with self._engine.connect() as connection:
            check = self._id_checks_left > 0  # else the primary key catches a stored id (ID_CHECK_BATCHES)
            stored_ids = existing_ids(connection, [d.event["id"] for d in valid]) if check else set()
            stored = stored_digests(connection, sorted(stored_ids)) if stored_ids else {}
            loaded_heads = load_heads(connection, actors)
        pending: dict[str, tuple[int, str, int]] = {}
        seen: dict[str, Decoded] = {}
        rows: list[tuple[Any, ...]] = []
        for item in valid:
            event, message = item.event, item.message
            earlier = seen.get(event["id"])
            if event["id"] in stored or earlier is not None:
                known = stored[event["id"]] if earlier is None else _digest(earlier)
                if known == _digest(item):
                    result.duplicates += 1  # a retry of an event stored (or about to be): once is enough
                else:
                    metrics.ID_CONFLICTS.inc()
                    where = "a stored record" if earlier is None else f"offset {earlier.message.offset}"
                    reason = f"id: {event['id']} is already used by {where} with different content"
                    result.dead_letters.append(_dead_letter(message, reason))
                continue
            seen[event["id"]] = item
            actor_id = event["actorId"]
            head = pending.get(actor_id)
            if head is not None:
                seq, previous = head[0], head[1]
            else:
                cached = self._heads.get(actor_id) or loaded_heads.get(actor_id)
                seq, previous = cached if cached is not None else (0, GENESIS_HASH)
            record = chain_record(
                event,
                source=item.source,
                received_at=item.received_at,
                seq=seq + 1,
                previous_hash=previous,
                metadata_text=item.metadata_text,
            )
            pending[actor_id] = (seq + 1, record["currentHash"], message.partition)
            commit_seq = commit_seqs[message.partition]
            rows.append(stored_row(record, message.topic, message.partition, message.offset, commit_seq,
                                   item.attestation, item.unattested_claim))  # fmt: skip
            result.records.append(record)
        return rows, pending


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


def _digest(item: Decoded) -> bytes:
    return content_digest(item.event, item.metadata_text)


def _violated_constraint(exc: IntegrityError) -> str | None:
    """The constraint PostgreSQL names for a violation (None elsewhere, e.g. SQLite)."""
    diag = getattr(exc.orig, "diag", None)
    return getattr(diag, "constraint_name", None)


def _dead_letter(message: RawMessage, reason: str) -> DeadLetter:
    return DeadLetter(
        topic=message.topic,
        partition=message.partition,
        offset=message.offset,
        reason=reason,
        payload=message.value or b"",
        key=message.key,
    )


def _partition_commits(
    topic: str,
    fresh: Sequence[RawMessage],
    commit_seqs: dict[int, int],
    rows: Sequence[tuple[Any, ...]],
    letters: Sequence[DeadLetter],
) -> list[PartitionCommit]:
    commits = []
    for partition, commit_seq in sorted(commit_seqs.items()):
        offsets = [m.offset for m in fresh if m.partition == partition]
        commits.append(
            PartitionCommit(
                topic=topic,
                partition=partition,
                commit_seq=commit_seq,
                first_offset=min(offsets),
                last_offset=max(offsets),
                record_count=sum(1 for row in rows if row[PARTITION] == partition),
                rejected_count=sum(1 for d in letters if d.partition == partition),
            )
        )
    return commits
