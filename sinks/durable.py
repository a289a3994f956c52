"""At-least-once delivery of every committed record to one sink, surviving crashes, driven by the
database (an outbox keyed by the partition commit sequence).

Fast path: right after a batch commits, the processor hands it over in memory as a
`CommittedBatch` (sinks/committed.py): its records, and per partition what it consumed (offset
range, record count) and the partition commits it made; a batch whose commits follow the sink's
progress and hold exactly its records is sent as it is (no database read). Everything else falls
back to the database, where every committed record already is: on start, on a newly assigned
partition, when the in-memory backlog overflows (a slow or failing sink), on a gap, or after an
error, the lane reads the records of the commits after its progress in (partition, commit_seq,
offset) order and bounded chunks, and sends those. After each successful send it upserts
`sink_progress` (rate-limited, outside the batch transaction), so a restarted replica resumes
where the sink left off. Nothing is dropped; memory is bounded by the backlog bound plus one
chunk; commits never wait for a sink.

A crash between a send and its progress upsert re-sends those records: consumers deduplicate on
`id` (or `actorId` + `seq`). That is the duplicate window: the records of commits after the last
progress upsert before the crash (at most PERSIST_INTERVAL_SECONDS of deliveries plus the send
in flight). A graceful stop records its progress first and re-sends nothing.

A range sink (`sinks.base.RangeSink`, e.g. S3) takes only the database path: every submitted batch
just wakes a catch-up, at most every `sink.interval` seconds, and each chunk goes to
`send_range(partition, first_seq, through_seq, records)`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from collections.abc import Callable, Iterable
from typing import cast

from argus.runtime.backoff import backoff_delays
from sinks import metrics
from sinks.base import RangeSink, Record, Sink, TreeHead, is_range_sink
from sinks.catchup import Chunk, Delivered, Verdict, is_stale, plan_chunks, resolve
from sinks.committed import CommittedBatch
from sinks.outbox import SinkOutbox

log = logging.getLogger(__name__)

PERSIST_INTERVAL_SECONDS = 0.5  # progress upserts per lane at most this often while busy
POLL_SECONDS = 1.0  # an idle lane notices newly assigned partitions this fast
LAG_REFRESH_SECONDS = 5.0
COMMIT_READ_LIMIT = 500  # partition_commits rows per catch-up read
CHUNK_RECORDS = 5000  # records per catch-up read and send (plus at most one commit)


async def send_with_retry(sink: Sink, records: list[Record], chunk: Chunk | None = None,
                          tree_after: Callable[[Chunk], TreeHead | None] | None = None) -> None:  # fmt: skip
    """Send until the sink takes the records, backing off exponentially; only cancellation stops it.
    A range sink gets the chunk's partition and commit range with them, and the partition's stored
    Merkle tree head after the range (`tree_after`, read from the database)."""
    delays = backoff_delays()
    while True:
        try:
            if chunk is not None and is_range_sink(sink):
                tree = await asyncio.to_thread(tree_after, chunk) if tree_after is not None else None
                ranged = cast(RangeSink, sink)
                await ranged.send_range(chunk.partition, chunk.first_seq, chunk.through_seq, records, tree)
            else:
                await sink.send(records)
            metrics.SINK_DELIVERED.labels(sink=sink.name).inc(len(records))
            return
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            metrics.SINK_FAILURES.labels(sink=sink.name).inc()
            delay = next(delays)
            log.warning("sink %s failed (%s), retrying in %.1fs", sink.name, exc, delay)
            await asyncio.sleep(delay)


class DurableLane:
    """One sink's delivery: in-memory fast path, database catch-up, persisted progress."""

    def __init__(self, sink: Sink, outbox: SinkOutbox, max_backlog: int, chunk_records: int = CHUNK_RECORDS) -> None:
        self.sink = sink
        self.outbox = outbox
        self.max_backlog = max_backlog
        self.chunk_records = chunk_records
        self.items: deque[CommittedBatch] = deque()
        self.queued = 0  # records in `items`
        self.inflight = 0
        self.delivered: dict[int, Delivered] = {}  # loaded, owned partitions only
        self.latest: dict[int, int] = {}  # newest commit_seq known to be stored, for the lag gauge
        self.seen: set[int] = set()  # partitions committed to since start (the scope without an assignment)
        self.assigned: set[int] | None = None
        self.dirty: set[int] = set()
        self.catchup_needed = True
        self.catching_up = False
        self.wake = asyncio.Event()
        self.idle = asyncio.Event()
        self.tasks: list[asyncio.Task[None]] = []
        self._last_persist = 0.0
        self.by_range = is_range_sink(sink)
        self.interval = float(getattr(sink, "interval", 0.0)) if self.by_range else 0.0
        self._last_catch_up = 0.0

    def start(self) -> None:
        """Start the delivery and lag tasks (a running lane is left alone)."""
        if not self.tasks or self.tasks[0].done():
            self.tasks = [
                asyncio.create_task(self.run(), name=f"sink-{self.sink.name}"),
                asyncio.create_task(self._watch_lag(), name=f"sink-{self.sink.name}-lag"),
            ]

    def submit(self, batch: CommittedBatch) -> None:
        """Queue a committed batch (never blocks). Past the backlog bound the whole in-memory
        backlog is let go and read back from the database instead: nothing is lost."""
        self.seen.update(batch.partitions)
        if self.by_range:  # the database is its only path: just catch up (soon)
            self.catchup_needed = True
            self.idle.clear()
            self.wake.set()
            return
        self.items.append(batch)
        self.queued += len(batch.records)
        if self.queued > self.max_backlog:
            if not (self.catchup_needed or self.catching_up):
                log.warning("sink %s backlog over %d records: delivering from the database", self.sink.name,
                            self.max_backlog)  # fmt: skip
            self.items.clear()
            self.queued = 0
            self.catchup_needed = True
        self.idle.clear()
        self.wake.set()
        self._set_backlog()

    async def run(self) -> None:
        """Deliver forever. Any error (the database, a bug) restarts from the database after a backoff."""
        delays = backoff_delays()
        while True:
            try:
                await self._step()
                delays = backoff_delays()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                delay = next(delays)
                log.warning("sink %s: %r; catching up from the database in %.1fs", self.sink.name, exc, delay)
                self.catchup_needed, self.catching_up, self.inflight = True, False, 0
                await asyncio.sleep(delay)

    async def _step(self) -> None:
        await self._follow_assignment()
        if self.catchup_needed:
            wait = self._last_catch_up + self.interval - time.monotonic()
            if wait > 0:  # a range sink gathers `interval` seconds of commits per object
                await asyncio.sleep(wait)
            self.catchup_needed = False
            self._last_catch_up = time.monotonic()
            await self._catch_up()
        elif self.items:
            batch = self.items.popleft()
            self.queued -= len(batch.records)
            self.inflight = len(batch.records)
            try:
                await self._deliver(batch)
            finally:
                self.inflight = 0
                self._set_backlog()
        else:
            await self._persist(force=True)
            self.idle.set()
            self.wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.wake.wait(), POLL_SECONDS)

    async def _deliver(self, batch: CommittedBatch) -> None:
        records, marks = batch.records, batch.partitions
        await self._load(p for p in marks if self._owned(p) and p not in self.delivered)
        found = {
            p: [c for c in m.commits if c.commit_seq > self.delivered[p].commit_seq]
            for p, m in marks.items()
            if self._owned(p) and not is_stale(m, self.delivered[p])
        }
        plan = resolve(marks, self.delivered, self._owned, found, bool(records))
        if plan.verdict is Verdict.CATCH_UP:
            self.catchup_needed = True
        elif plan.verdict is Verdict.SEND:
            if records:
                await send_with_retry(self.sink, records)
            for partition, commit in plan.advance.items():
                self._advance(partition, Delivered(commit.commit_seq, commit.last_offset))
            await self._persist()

    async def _catch_up(self) -> None:
        """Send the records of every commit after each in-scope partition's progress, round after
        round, up to the oldest batch still queued for that partition (or the newest commit).
        Stopping where the queue takes over keeps catch-up finite while ingest continues."""
        self.catching_up = True
        self.idle.clear()
        sent = 0
        while True:
            await self._load(p for p in self._scope() if p not in self.delivered)
            progressed = False
            for partition in sorted(self._scope() & set(self.delivered)):
                if partition not in self.delivered:
                    continue  # revoked during this round
                commits = await asyncio.to_thread(
                    self.outbox.commits_after, partition, self.delivered[partition].commit_seq, COMMIT_READ_LIMIT,
                    self._queue_floor(partition),
                )  # fmt: skip
                for chunk in plan_chunks(partition, commits, self.chunk_records):
                    if not self._owned(partition):
                        break  # revoked meanwhile: its new owner catches it up
                    records = await asyncio.to_thread(self.outbox.read_records, chunk) if chunk.record_count else []
                    if len(records) != chunk.record_count:
                        log.error("sink %s: partition %d commits %d..%d hold %d records, partition_commits says %d",
                                  self.sink.name, partition, chunk.first_seq, chunk.through_seq, len(records),
                                  chunk.record_count)  # fmt: skip
                    if records or self.by_range:  # a range sink keeps its ranges contiguous
                        await send_with_retry(self.sink, records, chunk, self.outbox.tree_after)
                        metrics.SINK_CATCHUP.labels(sink=self.sink.name).inc(len(records))
                        sent += len(records)
                    self._advance(partition, Delivered(chunk.through_seq, chunk.last_offset))
                    progressed = True
                    await self._persist()
                await self._follow_assignment()
            if not progressed:
                break
        await self._persist(force=True)
        self.catching_up = False
        if sent:
            log.info("sink %s: caught up %d records from the database", self.sink.name, sent)

    def _queue_floor(self, partition: int) -> int | None:
        """The first offset of the oldest batch queued for the partition and not yet delivered."""
        done = self.delivered[partition]
        for batch in self.items:
            mark = batch.partitions.get(partition)
            if mark is not None and not is_stale(mark, done):
                return mark.first_offset
        return None

    def _advance(self, partition: int, delivered: Delivered) -> None:
        self.delivered[partition] = delivered
        self.latest[partition] = max(self.latest.get(partition, 0), delivered.commit_seq)
        self.dirty.add(partition)
        self._set_lag()

    def _owned(self, partition: int) -> bool:
        return self.assigned is None or partition in self.assigned

    def _scope(self) -> set[int]:
        return self.seen | set(self.delivered) if self.assigned is None else set(self.assigned)

    async def _follow_assignment(self) -> None:
        """Catch up newly assigned partitions; forget revoked ones (after recording their progress)
        so that their new owner alone delivers them from now on."""
        current = self.outbox.assignment()
        if current is None or current == self.assigned:
            return
        gone = set(self.delivered) - current
        if gone & self.dirty:
            await self._persist(force=True)
        for partition in gone:
            self.delivered.pop(partition, None)
            self.latest.pop(partition, None)
            self.dirty.discard(partition)
        self.seen &= current
        if current - (self.assigned or set()):
            self.catchup_needed = True
        if current:
            log.info("sink %s: delivering partitions %s", self.sink.name, sorted(current))
        self.assigned = current
        self._set_lag()

    async def _load(self, partitions: Iterable[int]) -> None:
        wanted = sorted(set(partitions))
        if wanted:
            loaded = await asyncio.to_thread(self.outbox.load, self.sink.name, wanted)
            for partition in wanted:
                self.delivered.setdefault(partition, loaded[partition])

    async def _persist(self, force: bool = False) -> None:
        """Upsert the progress delivered since the last upsert, at most every
        PERSIST_INTERVAL_SECONDS unless forced. A failure only means more duplicates after a crash."""
        if not self.dirty or (not force and time.monotonic() - self._last_persist < PERSIST_INTERVAL_SECONDS):
            return
        progress = {p: self.delivered[p].commit_seq for p in self.dirty if p in self.delivered}
        try:
            await asyncio.to_thread(self.outbox.save, self.sink.name, progress)
        except Exception as exc:
            log.warning("sink %s: progress not recorded (%s); retrying later", self.sink.name, exc)
            return
        self.dirty.difference_update(progress)
        self._last_persist = time.monotonic()

    async def _watch_lag(self) -> None:
        """Refresh the newest stored commit of owned partitions, so the lag gauge moves even while
        a send is stuck retrying; an idle lane that is behind (a hand-over that never came) catches up."""
        while True:
            await asyncio.sleep(LAG_REFRESH_SECONDS)
            with contextlib.suppress(Exception):
                for partition, seq in (await asyncio.to_thread(self.outbox.latest, list(self.delivered))).items():
                    self.latest[partition] = max(self.latest.get(partition, 0), seq)
                self._set_lag()
                behind = any(self.latest.get(p, 0) > d.commit_seq for p, d in self.delivered.items() if self._owned(p))
                if behind and self.idle.is_set():
                    self.catchup_needed = True
                    self.wake.set()

    def _set_backlog(self) -> None:
        metrics.SINK_BACKLOG.labels(sink=self.sink.name).set(self.queued + self.inflight)

    def _set_lag(self) -> None:
        lag = sum(max(0, self.latest.get(p, 0) - d.commit_seq) for p, d in self.delivered.items() if self._owned(p))
        metrics.SINK_LAG.labels(sink=self.sink.name).set(lag)

    async def close(self) -> None:
        """Stop, record the progress made, close the sink; anything undelivered is read back on start."""
        for task in self.tasks:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self.tasks = []
        await self._persist(force=True)
        await self.sink.close()
