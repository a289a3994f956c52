"""Concurrent fan-out to non-critical sinks, one lane per sink; `submit` never blocks the processor.

With an outbox (the database) every lane is a `DurableLane`: at-least-once delivery of every
committed record, surviving crashes and slow or failing sinks, by catching up from the database
(sinks/durable.py). Without one, lanes are in memory only: a bounded backlog whose oldest batch
is dropped (and counted) on overflow. That is what the dead-letter topic uses, since the
`dead_letters` table, written in the batch transaction, is its record of truth.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from sinks import metrics
from sinks.base import Record, Sink
from sinks.committed import CommittedBatch
from sinks.durable import DurableLane, send_with_retry
from sinks.outbox import SinkOutbox

log = logging.getLogger(__name__)

#: Records a durable lane holds in memory before it lets them go and reads from the database.
DEFAULT_MAX_BACKLOG = 20_000
#: Records an in-memory lane holds before it drops the oldest batch.
MEMORY_MAX_BACKLOG = 200_000


class MemoryLane:
    """Best-effort lane: retries with backoff while the process lives, drops oldest on overflow."""

    def __init__(self, sink: Sink, max_backlog: int) -> None:
        self.sink = sink
        self.max_backlog = max_backlog
        self.queue: asyncio.Queue[list[Record]] = asyncio.Queue()
        self.backlog = 0
        self.task: asyncio.Task[None] | None = None

    def start(self) -> None:
        if self.task is None or self.task.done():
            self.task = asyncio.create_task(self.run(), name=f"sink-{self.sink.name}")

    def submit(self, records: list[Record]) -> None:
        self.queue.put_nowait(records)
        self.backlog += len(records)
        while self.backlog > self.max_backlog and self.queue.qsize() > 1:
            dropped = self.queue.get_nowait()
            self.queue.task_done()
            self.backlog -= len(dropped)
            metrics.SINK_FAILURES.labels(sink=self.sink.name).inc(len(dropped))
            log.error("sink %s backlog over %d: dropped %d records", self.sink.name, self.max_backlog, len(dropped))
        metrics.SINK_BACKLOG.labels(sink=self.sink.name).set(self.backlog)

    async def run(self) -> None:
        while True:
            records = await self.queue.get()
            await send_with_retry(self.sink, records)
            self.backlog -= len(records)
            metrics.SINK_BACKLOG.labels(sink=self.sink.name).set(self.backlog)
            self.queue.task_done()

    async def drained(self) -> None:
        await self.queue.join()

    async def close(self) -> None:
        if self.task is not None:
            self.task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self.task
        await self.sink.close()


class Fanout:
    """Hands committed records to every sink's lane.

    `outbox` makes the lanes durable (the processor's committed-record sinks); without it they
    are in memory (the dead-letter topic). `max_backlog` bounds the records a lane keeps in memory.
    """

    def __init__(self, sinks: list[Sink], max_backlog: int | None = None, outbox: SinkOutbox | None = None) -> None:
        self._durable: list[DurableLane] = []
        self._memory: list[MemoryLane] = []
        for sink in sinks:
            if outbox is not None:
                self._durable.append(DurableLane(sink, outbox, max_backlog or DEFAULT_MAX_BACKLOG))
            else:
                self._memory.append(MemoryLane(sink, max_backlog or MEMORY_MAX_BACKLOG))

    def _lanes(self) -> list[DurableLane | MemoryLane]:
        return [*self._durable, *self._memory]

    @property
    def sinks(self) -> list[Sink]:
        return [lane.sink for lane in self._lanes()]

    def start(self) -> None:
        """Start each lane's delivery task (idempotent: a running lane is left alone)."""
        for lane in self._lanes():
            lane.start()

    def submit(self, batch: CommittedBatch) -> None:
        """Queue a committed batch for every sink. Durable lanes need its per-partition spans
        and commits to tell that the records are exactly those commits (and so notice any
        commits they missed); in-memory lanes take only the records."""
        if batch.partitions or batch.records:
            for durable in self._durable:
                durable.submit(batch)
        if batch.records:
            for memory in self._memory:
                memory.submit(batch.records)

    async def drain(self, timeout: float) -> None:
        """Wait (bounded) until every lane has delivered what it holds in memory."""
        waits = [lane.idle.wait() for lane in self._durable] + [lane.drained() for lane in self._memory]
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.gather(*waits), timeout)

    async def close(self, timeout: float = 10.0) -> None:
        await self.drain(timeout)
        for lane in self._lanes():
            await lane.close()
