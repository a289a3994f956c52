"""Storing a prepared batch exactly once: the per-partition caches (progress, chain heads,
Merkle trees), the database reads the chain step needs, and the retry policy around the one
transaction (processor/chain.py decides, processor/store.py writes).

`BatchProcessor.store` never raises for a bad message or a storage failure: bad messages
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

from argus.db.schema import audit_records
from argus.runtime.backoff import backoff_delays
from argus.runtime.metrics import field_label
from argus.tlog.store import TreeWrite
from argus.trust.identity import stored_digests
from argus.trust.signatures import BatchVerifier
from processor import faults, metrics
from processor.chain import NO_PROGRESS, Chained, chain, contiguous, dead_letter, partition_commits
from processor.chain_heads import ChainHeads
from processor.decode import Claims, Decoded, RawMessage
from processor.prepare import PreparedBatch, Preparer, Refused
from processor.store import (
    AMBIGUOUS,
    CURRENT_HASH,
    OFFSET,
    PARTITION,
    DeadLetter,
    Progress,
    commit_batch,
    existing_ids,
    load_heads,
    load_progress,
)
from processor.tlog import PartitionLogs, TreeMismatch
from sinks.committed import PartitionCommit

log = logging.getLogger(__name__)

MAX_CONFLICTS = 5
#: Batches that look up their ids before COPY after start-up or after any constraint violation.
#: Otherwise the primary key finds an already-stored id (a client retry) and the batch is
#: retried with the lookup: the lookup cost ~4% of the pipeline's CPU (processor and PostgreSQL)
#: for a case that is rare while things are healthy and clustered when they are not.
ID_CHECK_BATCHES = 20
RECORD_PRIMARY_KEY = str(audit_records.primary_key.name)  # named by the schema's naming convention


class _Poison(Exception):
    """The database refuses this batch as data; retrying it unchanged can never succeed."""


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
        self._logs = logs
        self._topic = topic
        self.prepare = Preparer(enums, verifier, claims)
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
                result.dead_letters.append(dead_letter(message, reject))
            elif isinstance(outcome, Refused):
                if outcome.signature:
                    metrics.SIGNATURE_ERRORS.inc()
                result.dead_letters.append(dead_letter(message, outcome.reason))
            else:
                valid.append(outcome)
        result.skipped = len(messages) - len(fresh)
        if not fresh:
            return result

        commit_seqs = {p: self._progress[p].commit_seq + 1 for p in {m.partition for m in fresh}}
        self._load_trees(sorted(commit_seqs))
        chained = self._chain(valid, commit_seqs)
        rows = chained.rows
        result.records, result.duplicates = chained.records, chained.duplicates
        result.dead_letters.extend(chained.dead_letters)
        commits = partition_commits(fresh, commit_seqs, rows, result.dead_letters)
        started, cpu = time.perf_counter(), time.thread_time()
        trees = self._extend_trees(rows, commit_seqs)
        extend_seconds, extend_cpu = time.perf_counter() - started, time.thread_time() - cpu
        faults.checkpoint("before_commit")
        write_seconds, write_cpu = commit_batch(self._engine, self._topic, rows, result.dead_letters, commits, trees)
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
        for actor_id, (seq, current_hash, partition) in chained.heads.items():
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

    def _chain(self, valid: list[Decoded], commit_seqs: dict[int, int]) -> Chained:
        """Read what chaining needs (heads of uncached actors, digests of ids already stored), then chain."""
        actors = sorted({d.event["actorId"] for d in valid if self._heads.get(d.event["actorId"]) is None})
        with self._engine.connect() as connection:
            check = self._id_checks_left > 0  # else the primary key catches a stored id (ID_CHECK_BATCHES)
            stored_ids = existing_ids(connection, [d.event["id"] for d in valid]) if check else set()
            stored = stored_digests(connection, sorted(stored_ids)) if stored_ids else {}
            loaded_heads = load_heads(connection, actors)
        return chain(valid, commit_seqs, lambda actor: self._heads.get(actor) or loaded_heads.get(actor), stored)


def _violated_constraint(exc: IntegrityError) -> str | None:
    """The constraint PostgreSQL names for a violation (None elsewhere, e.g. SQLite)."""
    diag = getattr(exc.orig, "diag", None)
    return getattr(diag, "constraint_name", None)
