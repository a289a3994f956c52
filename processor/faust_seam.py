"""faust behind one seam: everything that touches faust-streaming's (and aiokafka's) internals.

The processor asks two things of faust, and only through this module:

- "on assignment, position these partitions at these offsets":
  `ArgusFaustApp.resume_partitions_with(topic, start)`. `start(partitions)` runs in a worker
  thread after every assignment, before any message of those partitions is fetched, and returns
  the offset each must be read from (processor/resume.py says why: the database's progress,
  never Kafka's committed offsets).
- "give me batches": `ArgusFaustApp.consume_batches(topic, size, within, run)`: `run` gets the
  topic's messages as lists of `RawMessage`, from faust's public `stream.take_events` on the
  app's single agent (concurrency 1: more would reorder a partition).

Besides those, the app answers which partitions of a topic it owns and their high watermarks
(`assigned`, `highwater`), calls back with partition numbers on assignment and revocation
(`on_assigned`, `on_revoked`), runs a timer (`every`) and a shutdown hook (`before_shutdown`),
`broker_credentials` turns Argus's Kafka security settings into faust's form, and
`ReplicaWorker` is faust's Worker with the root logger at the chosen level while running. Nothing
outside this module reads faust's internals or replaces its methods.

How the first one is kept safe, at the hooks faust offers:

- `LeanConsumer.perform_seek` (called by faust's recovery after each rebalance with the flow
  stopped, and by its fetcher when the flow is stopped) runs faust's seek to the committed
  offsets, then `PartitionStarter.position`. Every seek, pause and resume runs on faust's
  consumer thread, where aiokafka's fetcher runs, as faust's own seeks do: aiokafka is not
  thread-safe, and a seek from the event loop's thread deleted fetched records under the
  fetcher's feet (a `KeyError` in `fetched_records`, and a dead replica).
- A database outage never escapes into faust's recovery (it would crash the worker). If `start`
  fails, the partitions stay paused in aiokafka, so nothing is fetched past stored progress,
  while a task retries `start` with the processor's backoff; then they are positioned and
  resumed, unless a newer rebalance has taken over. A revocation cancels that task.

And two per-message costs of faust that Argus never uses are removed. Profiled at saturation
(docs/benchmarks.md), the event-loop thread spent about a third of its time on them:

1. The default `Monitor` sensor times and counts every message and stream event (per-stream
   string keys, time stamps, deques). Nothing reads it here: Argus exports its own Prometheus
   metrics. `QuietMonitor` keeps faust's Monitor (commits, rebalances, tables) but does nothing
   per message.
2. The fetcher awaits each message's delivery as `wait_first(deliver(message), suspend_flow.wait())`,
   two tasks and an `asyncio.wait` per message, so that a delivery blocked on a full stream
   buffer is abandoned when a rebalance suspends the flow. A delivery can only block when the
   flow is suspended or a stream buffer is full; `LeanConsumer` awaits the delivery directly
   when neither holds and keeps faust's `wait_first` for the rest, so its rebalance behaviour is
   unchanged. Correctness never depended on it anyway: positions come from the database and a
   stale message from a revoked partition is refused by the partition-progress constraint
   (processor/store.py).

`_drain_messages` overrides a method of faust-streaming 0.15.x, hence the pin `<0.16` in
pyproject.toml; tests/unit/test_faust_seam.py fails if faust's own version changes shape.
"""

from __future__ import annotations

import asyncio
import logging
import ssl
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from typing import Any, cast

import faust
from aiokafka import AIOKafkaConsumer
from faust.sensors import Monitor
from faust.transport.consumer import CONSUMER_FETCHING
from faust.transport.drivers import aiokafka as faust_aiokafka
from faust.types import TP, Message
from mode import Service, ServiceT
from sqlalchemy.exc import DBAPIError

from argus.runtime.backoff import backoff_delays
from argus.runtime.trace_context import trace_id_of
from processor.decode import RawMessage

log = logging.getLogger(__name__)

#: partitions -> the offset each must be read from next. Runs in a worker thread before any
#: message of a newly assigned partition is fetched; raises DBAPIError while the database is down.
StartPartitions = Callable[[Sequence[int]], dict[int, int]]

#: How long `position` waits for `start` before pausing the partitions and retrying in the
#: background: faust's recovery gives the whole seek `broker_request_timeout`, then crashes.
FIRST_ATTEMPT_SECONDS = 5.0


class QuietMonitor(Monitor):
    """faust's Monitor without its per-message and per-event bookkeeping."""

    def on_message_in(self, tp: TP, offset: int, message: Message) -> None:
        return None

    def on_stream_event_in(self, tp: TP, offset: int, stream: Any, event: Any) -> dict[Any, Any] | None:
        return None

    def on_stream_event_out(
        self, tp: TP, offset: int, stream: Any, event: Any, state: dict[Any, Any] | None = None
    ) -> None:
        return None

    def on_message_out(self, tp: TP, offset: int, message: Message) -> None:
        return None


class LeanConsumer(faust_aiokafka.Consumer):
    """faust's aiokafka consumer; messages that cannot block are delivered without wait_first, and
    partitions start where the app's `PartitionStarter` says."""

    async def perform_seek(self) -> None:
        """faust's seek to the committed offsets, then ours to where `start` says."""
        await super().perform_seek()
        starter = cast(ArgusFaustApp, self.app).partition_starter
        if starter is not None:
            await starter.position(self)

    async def _wait_next_records(self, timeout: float) -> tuple[Any, Any]:
        """faust's fetch, minus a fetch that spanned a rebalance. Such a fetch was served from
        positions aiokafka took from Kafka's committed offsets (which run ahead of the database)
        before `PartitionStarter` moved them, yet faust stamps it with the new generation and
        delivers it: stored, it would skip what lies between. Drop it and position again."""
        generation = self.app.consumer_generation_id
        records, active_partitions = await super()._wait_next_records(timeout)
        if records and self.app.consumer_generation_id != generation:
            starter = cast(ArgusFaustApp, self.app).partition_starter
            if starter is not None:
                await starter.position(self)
            return {}, active_partitions
        return records, active_partitions

    async def on_partitions_revoked(self, revoked: set[TP]) -> None:
        starter = cast(ArgusFaustApp, self.app).partition_starter
        if starter is not None:
            starter.cancel()
        await super().on_partitions_revoked(revoked)

    def _can_block(self) -> bool:
        """True when a delivery might wait: flow suspended (rebalance) or a stream buffer full."""
        if self.suspend_flow.is_set() or not self.app.flow_control.is_active():
            return True
        channels = self.app.topics._topics  # type: ignore[attr-defined]  # the Conductor's subscribed channels
        return any(channel.queue.full() for channel in channels)

    async def _drain_messages(self, fetcher: ServiceT) -> None:  # pragma: no cover - faust's loop
        """faust 0.15.3's `Consumer._drain_messages`, with the direct-delivery fast path."""
        callback = self.callback
        getmany = self.getmany
        consumer_should_stop = cast(Service, self)._stopped.is_set
        fetcher_should_stop = cast(Service, fetcher)._stopped.is_set
        get_read_offset = self._read_offset.__getitem__
        set_read_offset = self._read_offset.__setitem__
        set_flag, unset_flag = self.diag.set_flag, self.diag.unset_flag
        commit_every = self._commit_every
        acks_enabled_for = self.app.topics.acks_enabled_for
        can_block = self._can_block
        yield_every, num_since_yield = 100, 0
        try:
            while not (consumer_should_stop() or fetcher_should_stop()):
                set_flag(CONSUMER_FETCHING)
                ait = getmany(timeout=1.0)
                await self.sleep(0)  # getmany may be called in a loop that never yields otherwise
                if not self.should_stop:
                    async for tp, message in ait:
                        num_since_yield += 1
                        if num_since_yield > yield_every:
                            await asyncio.sleep(0)
                            num_since_yield = 0
                        offset = message.offset
                        r_offset = get_read_offset(tp)
                        if r_offset is None or offset >= r_offset:
                            gap = offset - (r_offset or 0)
                            if gap > 1 and r_offset and acks_enabled_for(message.topic):
                                await self._add_gap(tp, r_offset + 1, offset)
                            if commit_every is not None and self._n_acked >= commit_every:
                                self._n_acked = 0
                                await self.commit()
                            if can_block():
                                await self.wait_first(callback(message), self.suspend_flow.wait())
                            else:
                                await callback(message)
                            set_read_offset(tp, offset)
                    unset_flag(CONSUMER_FETCHING)
        except self.consumer_stopped_errors:
            if self.transport.app.should_stop:
                self.log.info("Broker stopped consumer, shutting down...")
                return
            raise
        except asyncio.CancelledError:
            if self.transport.app.should_stop:
                self.log.info("Consumer shutting down for user cancel.")
                return
            raise
        except Exception as exc:
            self.log.exception("Drain messages raised: %r", exc)
            raise
        finally:
            unset_flag(CONSUMER_FETCHING)


class LeanTransport(faust_aiokafka.Transport):
    Consumer = LeanConsumer


class ArgusFaustApp(faust.App):
    """faust.App with the lean consumer and the quiet monitor."""

    partition_starter: PartitionStarter | None = None

    def __init__(self, id: str, **options: Any) -> None:
        options.setdefault("monitor", QuietMonitor())
        super().__init__(id, **options)

    def resume_partitions_with(self, topic: str, start: StartPartitions) -> None:
        """After every assignment, before fetching, read `topic`'s partitions from where `start` says."""
        self.partition_starter = PartitionStarter(topic, start)

    async def read_again(self, targets: dict[int, int]) -> None:
        """Seek these partitions of the resumed topic back to these offsets, on faust's consumer thread."""
        if self.partition_starter is not None and targets:
            await self.partition_starter.read_again(self.consumer, targets)

    def consume_batches(
        self, topic: str, size: int, within: float, run: Callable[[AsyncIterator[list[RawMessage]]], Awaitable[None]]
    ) -> None:
        """Run `run` as the app's one agent (concurrency 1) over `topic`'s raw messages, given in
        batches of at most `size` messages, or what came `within` seconds."""
        channel = self.topic(topic, key_type=bytes, value_type=bytes, key_serializer="raw", value_serializer="raw")

        async def chain_and_store(stream: Any) -> None:
            async def batches() -> AsyncIterator[list[RawMessage]]:
                async for events in stream.take_events(size, within=within):
                    yield [_to_raw(event) for event in events]

            await run(batches())

        self.agent(channel, name=AGENT_NAME, concurrency=1)(chain_and_store)

    def on_revoked(self, topic: str, callback: Callable[[list[int]], Awaitable[None]]) -> None:
        """Call `callback` with `topic`'s partitions each time some are revoked from this replica."""

        async def revoked(_app: Any, revoked: set[TP], **_kwargs: Any) -> None:
            await callback([tp.partition for tp in revoked if tp.topic == topic])

        self.on_partitions_revoked.connect(revoked)  # type: ignore[arg-type]

    def on_assigned(self, topic: str, callback: Callable[[list[int]], Awaitable[None]]) -> None:
        """Call `callback` with `topic`'s partitions (sorted) each time some are assigned to this replica."""

        async def assigned(_app: Any, assigned: set[TP], **_kwargs: Any) -> None:
            await callback(sorted(tp.partition for tp in assigned if tp.topic == topic))

        self.on_partitions_assigned.connect(assigned)  # type: ignore[arg-type]

    def every(self, seconds: float, callback: Callable[[], Awaitable[None]]) -> None:
        """Run `callback` every `seconds` while the worker runs."""
        self.timer(seconds, name=callback.__name__)(callback)

    def before_shutdown(self, callback: Callable[[], Awaitable[None]]) -> None:
        """Run `callback` when the worker stops, before faust stops its own services."""

        async def shutdown(_app: Any, **_kwargs: Any) -> None:
            await callback()

        self.on_before_shutdown.connect(shutdown)  # type: ignore[arg-type]

    def assigned(self, topic: str) -> list[int]:
        """The partitions of `topic` assigned to this replica now."""
        return [tp.partition for tp in self.consumer.assignment() if tp.topic == topic]

    def highwater(self, topic: str, partition: int) -> int | None:
        """The partition's high watermark as the consumer last saw it (None before any fetch)."""
        return cast(int | None, self.consumer.highwater(TP(topic, partition)))

    def _new_transport(self) -> Any:
        return LeanTransport(self.conf.broker_consumer, self)


#: The agent's name in faust (its logs and assignment), as it was when the agent lived in processor/app.py.
AGENT_NAME = "processor.app.chain_and_store"


def _to_raw(event: Any) -> RawMessage:
    message = event.message
    return RawMessage(
        topic=message.topic,
        partition=message.partition,
        offset=message.offset,
        key=message.key,
        value=message.value,
        timestamp_ms=int(message.timestamp * 1000) if message.timestamp else None,
        trace_id=trace_id_of(message.headers),
    )


def broker_credentials(client_config: Mapping[str, str]) -> Any:
    """faust's form of the security settings in `Settings.kafka_client_config` (the librdkafka form
    every other Kafka client takes), so the processor's consumer follows the same configuration."""
    protocol = client_config.get("security.protocol", "PLAINTEXT").upper()
    context = ssl.create_default_context(cafile=client_config.get("ssl.ca.location")) if "SSL" in protocol else None
    if protocol.startswith("SASL"):
        return faust.SASLCredentials(
            username=client_config.get("sasl.username"),
            password=client_config.get("sasl.password", ""),
            mechanism=client_config.get("sasl.mechanism"),
            ssl_context=context,
        )
    return None if context is None else faust.SSLCredentials(context)


class PartitionStarter:
    """Positions our topic's assigned partitions where `start` says, on faust's consumer thread."""

    def __init__(self, topic: str, start: StartPartitions) -> None:
        self._topic = topic
        self._start = start
        self._waiting: asyncio.Task[None] | None = None

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

    async def read_again(self, consumer: Any, targets: dict[int, int]) -> None:
        """Read partitions again from these offsets (the pipeline refused a jump past stored progress)."""
        assigned = {tp.partition for tp in consumer.assignment() if tp.topic == self._topic}
        targets = {p: offset for p, offset in targets.items() if p in assigned}
        if targets:
            await self._seek(consumer, targets)

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


# faust's Worker for one replica, without DEBUG log records between start-up and shutdown.
#
# Why: faust's Worker sets the root logger to DEBUG whatever `--log-level` says, so that its
# terminal spinner advances on every log call during start-up (`faust.Worker.on_setup_root_logger`),
# and leaves it there once the spinner is finished. Every `log.debug` in the process then builds a
# LogRecord that only a finished spinner and a handler at the chosen level see, and drop: per
# event in `processor/publish.py`'s committed-event line. This Worker puts the root logger back at
# the chosen level once start-up is done and gives the spinner DEBUG again for the shutdown, when
# faust's spinner spins again; what is written, to the terminal or the log, is unchanged.
class ReplicaWorker(faust.Worker):
    """A faust Worker whose root logger holds the chosen level while the replica runs."""

    _spinner_level: int | None = None  # the chosen level, when faust raised the root to DEBUG for its spinner

    def on_setup_root_logger(self, logger: logging.Logger, level: int) -> None:
        super().on_setup_root_logger(logger, level)
        if self.spinner and logger.level == logging.DEBUG:
            self._spinner_level = level

    async def on_startup_finished(self) -> None:
        await super().on_startup_finished()
        if self._spinner_level is not None:
            logging.getLogger().setLevel(self._spinner_level)

    def on_worker_shutdown(self) -> None:
        if self._spinner_level is not None:
            logging.getLogger().setLevel(logging.DEBUG)
        super().on_worker_shutdown()
