"""Concurrent fan-out to non-critical sinks, each with its own bounded backlog and retry loop.

A slow or failing sink never blocks the processor: `submit` only enqueues. A failing send is
retried with exponential backoff and counted in metrics. If a sink's backlog passes its bound,
the oldest batch is dropped and counted loudly (the records stay in the critical store).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from sinks import metrics
from sinks.base import Record, Sink

log = logging.getLogger(__name__)


class _Lane:
    def __init__(self, sink: Sink, max_backlog: int) -> None:
        self.sink = sink
        self.max_backlog = max_backlog
        self.queue: asyncio.Queue[list[Record]] = asyncio.Queue()
        self.backlog = 0
        self.task: asyncio.Task[None] | None = None

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
            backoff = 0.1
            while True:
                try:
                    await self.sink.send(records)
                    break
                except asyncio.CancelledError:
                    raise
                except Exception as exc:
                    metrics.SINK_FAILURES.labels(sink=self.sink.name).inc()
                    log.warning("sink %s failed (%s), retrying in %.1fs", self.sink.name, exc, backoff)
                    await asyncio.sleep(backoff)
                    backoff = min(backoff * 2, 30.0)
            self.backlog -= len(records)
            metrics.SINK_BACKLOG.labels(sink=self.sink.name).set(self.backlog)
            self.queue.task_done()


class Fanout:
    def __init__(self, sinks: list[Sink], max_backlog: int = 200_000) -> None:
        self._lanes = [_Lane(sink, max_backlog) for sink in sinks]

    @property
    def sinks(self) -> list[Sink]:
        return [lane.sink for lane in self._lanes]

    def start(self) -> None:
        """Start each lane's delivery task (idempotent: a running lane is left alone)."""
        for lane in self._lanes:
            if lane.task is None or lane.task.done():
                lane.task = asyncio.create_task(lane.run(), name=f"sink-{lane.sink.name}")

    def submit(self, records: list[Record]) -> None:
        if records:
            for lane in self._lanes:
                lane.submit(records)

    async def drain(self, timeout: float) -> None:
        """Wait (bounded) until every lane has delivered its backlog."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.gather(*(lane.queue.join() for lane in self._lanes)), timeout)

    async def close(self, timeout: float = 10.0) -> None:
        await self.drain(timeout)
        for lane in self._lanes:
            if lane.task is not None:
                lane.task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await lane.task
            await lane.sink.close()
