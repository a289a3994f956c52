"""Start every assigned partition from the database's progress, never from Kafka's committed offset.

After each rebalance faust positions the consumer at the group's committed offsets
(`Consumer.perform_seek`) while the flow is stopped, and only then resumes fetching. Those
offsets are not tied to our database transaction: they can lag (harmless, stored messages are
skipped) or run ahead of what is stored (fatal: messages would be skipped), since faust acks a
batch once it is handed over. So right after faust's seek, and before any message is fetched,
`PartitionStarter.position` asks `start` (app.py) where each partition must be read from: the
stored last offset + 1, or 0 (an offset below the log start resets to the earliest message).

Two rules keep this safe:

- Every seek, pause and resume runs on faust's consumer thread, where aiokafka's fetcher runs.
  aiokafka is not thread-safe: a seek from the event-loop thread deleted fetched records under
  the fetcher's feet (a `KeyError` in `fetched_records`, and a dead replica).
- A database outage never escapes into faust's recovery (it would crash the worker). If `start`
  fails, the partitions stay paused in aiokafka, so nothing is fetched past stored progress,
  while a task retries `start` with the processor's backoff; it then seeks and resumes them,
  unless a newer rebalance has taken over.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from typing import Any

from aiokafka import AIOKafkaConsumer
from faust.types import TP
from sqlalchemy.exc import DBAPIError

from processor.backoff import backoff_delays
from processor.store import Progress

log = logging.getLogger(__name__)

#: partitions -> the offset each must be read from next. Runs in a worker thread before any
#: message of a newly assigned partition is fetched; raises DBAPIError while the database is down.
StartPartitions = Callable[[Sequence[int]], dict[int, int]]

#: How long `position` waits for `start` before pausing the partitions and retrying in the
#: background: faust's recovery gives the whole seek `broker_request_timeout`, then crashes.
FIRST_ATTEMPT_SECONDS = 5.0


def resume_targets(partitions: Sequence[int], progress: dict[int, Progress]) -> dict[int, int]:
    """The offset each partition must be read from next."""
    return {p: progress[p].last_offset + 1 if p in progress else 0 for p in partitions}


class PartitionStarter:
    """Positions our topic's assigned partitions where `start` says, on faust's consumer thread."""

    def __init__(self, topic: str, start: StartPartitions) -> None:
        self._topic = topic
        self._start = start
        self._waiting: asyncio.Task[None] | None = None

    @property
    def waiting(self) -> bool:
        """True while some assigned partitions wait for the database before being fetched."""
        return self._waiting is not None and not self._waiting.done()

    def cancel(self) -> None:
        """Drop a pending start (the partitions were revoked, or a new assignment takes over)."""
        if self._waiting is not None:
            self._waiting.cancel()
            self._waiting = None

    async def position(self, consumer: Any) -> None:
        """Called by the consumer right after faust's own seek, with the flow still stopped."""
        self.cancel()
        partitions = sorted(tp.partition for tp in consumer.assignment() if tp.topic == self._topic)
        if not partitions:
            return
        generation = consumer.app.consumer_generation_id
        try:
            targets = await asyncio.wait_for(asyncio.to_thread(self._start, partitions), FIRST_ATTEMPT_SECONDS)
        except (DBAPIError, TimeoutError) as exc:
            log.error(
                "cannot read where to resume %s %s (%r); paused until the database answers",
                self._topic,
                partitions,
                exc,
            )
            await _on_consumer_thread(consumer, _pause, self._topic, partitions)
            self._waiting = asyncio.ensure_future(self._start_when_database_answers(consumer, partitions, generation))
            return
        await self._seek(consumer, targets)

    async def _start_when_database_answers(self, consumer: Any, partitions: list[int], generation: int) -> None:
        for delay in backoff_delays():
            await asyncio.sleep(delay)
            if consumer.app.consumer_generation_id != generation:
                return  # a newer rebalance positions its own partitions
            try:
                targets = await asyncio.to_thread(self._start, partitions)
            except DBAPIError as exc:
                log.warning("still cannot read where to resume %s %s: %s", self._topic, partitions, exc.orig)
                continue
            except Exception as exc:  # a bug: stop the worker rather than leave partitions paused forever
                log.exception("starting %s %s failed", self._topic, partitions)
                await consumer.app.crash(exc)
                return
            if consumer.app.consumer_generation_id == generation:
                await self._seek(consumer, targets)
            return

    async def _seek(self, consumer: Any, targets: dict[int, int]) -> None:
        """Seek, and resume in case an earlier attempt of this assignment paused the partitions."""
        # faust delivers a message only if its offset >= the partition's read offset; set it
        # before the partitions can fetch again (the flow is stopped or they are paused).
        for partition, offset in targets.items():
            consumer._read_offset[TP(self._topic, partition)] = offset or None
        await _on_consumer_thread(consumer, _seek_and_resume, self._topic, targets)
        log.info("resuming %s from the database's progress: %s", self._topic, targets)


async def _on_consumer_thread(consumer: Any, function: Callable[..., Any], *args: Any) -> None:
    """Run `function(aiokafka_consumer, *args)` on faust's consumer thread (as faust's own seeks do)."""
    thread = consumer._thread

    async def call() -> None:
        function(thread._ensure_consumer(), *args)

    await thread.call_thread(call)


def _assigned(consumer: AIOKafkaConsumer, topic: str, partitions: Sequence[int]) -> list[Any]:
    """aiokafka's own TopicPartitions (its seek checks the type), for partitions still assigned."""
    wanted = set(partitions)
    return [tp for tp in consumer.assignment() if tp.topic == topic and tp.partition in wanted]


def _pause(consumer: AIOKafkaConsumer, topic: str, partitions: Sequence[int]) -> None:
    consumer.pause(*_assigned(consumer, topic, partitions))


def _seek_and_resume(consumer: AIOKafkaConsumer, topic: str, targets: dict[int, int]) -> None:
    partitions = _assigned(consumer, topic, list(targets))
    for tp in partitions:
        consumer.seek(tp, targets[tp.partition])
    consumer.resume(*partitions)
