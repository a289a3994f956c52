"""The faust-streaming application: one agent over `argus.events`, batches in partition order.

Faust brings the consumer group, rebalancing and batching; correctness does not depend on
its offset commits. The database holds each partition's progress (committed with the records),
and after every assignment the consumer is moved to the stored offset + 1 (processor/resume.py),
through processor/faust_seam.py, the one module that touches faust's internals.
Agent concurrency is 1 (more would reorder a partition); batches are stored strictly in the
order consumed: a preparing stage (decode, validate, verify) feeds one storage stage that retries
storage failures until they succeed.
"""

from __future__ import annotations

import asyncio
import logging
import ssl
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import faust
from faust.types import TP
from sqlalchemy.exc import SQLAlchemyError

from argus import logs
from argus.config import Settings
from argus.db.engine import make_engine
from argus.kafka_admin import ensure_topic
from argus.kafka_producer import AsyncProducer, durable_producer_config
from argus.keys import KeyRegistry
from argus.receipts import attestation_checker, load_receipt_verifiers
from argus.signatures import load_key_registry, make_batch_verifier, watch_for_reload
from argus.trace_context import trace_id_of
from processor.decode import Claims, Decoded, RawMessage
from processor.faust_seam import ArgusFaustApp
from processor.lag import LagTracker
from processor.pipeline import BatchProcessor, BatchResult, PreparedBatch
from processor.resume import resume_targets
from processor.tlog import PartitionLogs, load_signer
from sinks.catchup import CommitSpan
from sinks.checkpoints import CheckpointSink
from sinks.dead_letter import DeadLetterSink
from sinks.fanout import Fanout
from sinks.outbox import SinkOutbox
from sinks.registry import load_sinks

log = logging.getLogger(__name__)

#: Batches waiting at each hand-over (consumed -> prepare -> store); bounds memory and redelivery.
PIPELINE_DEPTH = 1
#: faust's stream buffer, in batches. faust stops fetching a partition once its buffer is 80% full
#: and resumes only when the buffer is found empty, so a buffer of two batches stalled the agent
#: on a fetch round trip every other batch: draining 60,000 events ran at 7,988 events/s with 2
#: batches, 8,682 with 5, 11,987 with 10 and 11,873 with 20 (docs/benchmarks.md). Ten batches of
#: raw envelopes are ~30 MB.
STREAM_BUFFER_BATCHES = 10
#: How often the consumer-lag gauge is refreshed (seconds); scrapes are 15-30 s apart.
LAG_REFRESH_SECONDS = 5.0


#: A consumed batch (its messages, and (partition, offset, key) of each for the sinks) and the same prepared.
Consumed = tuple[list[RawMessage], list[tuple[int, int, bytes | None]]]
Prepared = tuple[PreparedBatch, list[tuple[int, int, bytes | None]]]


async def _forever(inbox: asyncio.Queue[Any], work: Any, outbox: asyncio.Queue[Any] | None = None) -> None:
    """One pipeline stage: take an item, work on it, pass the result on (in order, one at a time)."""
    while True:
        result = await work(await inbox.get())
        if outbox is not None:
            await outbox.put(result)


@dataclass
class ProcessorRuntime:
    """What the agent needs, created when the worker starts."""

    batch: BatchProcessor
    sinks: Fanout
    dead_letters: Fanout
    checkpoints: Fanout
    producer: AsyncProducer


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


def _log_events(batch: PreparedBatch) -> None:
    """One line per event with its partition, offset, actorId and the caller's trace id: dead
    letters at WARNING, committed events at DEBUG (off by default: thousands a second)."""
    debug = log.isEnabledFor(logging.DEBUG)
    for message, outcome in zip(batch.messages, batch.outcomes, strict=True):
        if isinstance(outcome, Decoded) and not debug:
            continue
        actor = outcome.event.get("actorId") if isinstance(outcome, Decoded) else None
        with logs.log_context(
            partition=message.partition, offset=message.offset, actorId=actor, trace_id=message.trace_id
        ):
            if isinstance(outcome, Decoded):
                log.debug("event committed")
            else:
                log.warning("event dead-lettered: %s", outcome.reason)


def _commit_spans(result: BatchResult) -> list[tuple[int, CommitSpan]]:
    return [
        (c.partition, CommitSpan(c.commit_seq, c.first_offset, c.last_offset, c.record_count)) for c in result.commits
    ]


def _dead_letter_records(result: BatchResult) -> list[dict[str, Any]]:
    return [
        {
            "topic": d.topic,
            "partition": d.partition,
            "offset": d.offset,
            "reason": d.reason,
            "payload": d.payload,
            "key": d.key,
        }
        for d in result.dead_letters
    ]


def claims_policy(settings: Settings) -> Claims:
    """Which receipt keys attest an envelope's source and receivedAt, and what befalls a claim without."""
    verifiers = load_receipt_verifiers(settings)
    if not verifiers:
        log.warning("no receipt keys (ARGUS_RECEIPT_VERIFIER_KEYS / ARGUS_RECEIPT_KEY): every source and "
                    "receivedAt claim is unattested (docs/receipts.md)")  # fmt: skip
    return Claims(attestation_checker(verifiers), dead_letter=settings.unattested_claims == "dead-letter")


def create_app(settings: Settings, registry: KeyRegistry | None = None) -> faust.App:
    """Build the faust app and its single agent; signatures are checked against `registry`
    (default: ARGUS_KEYS_CONFIG, reloaded on SIGHUP), always, whatever the gateway did."""
    registry = registry or load_key_registry(settings)
    verifier = make_batch_verifier(settings, registry)
    datadir = Path(tempfile.gettempdir()) / "argus-faust" / settings.consumer_group  # unused by a memory store
    datadir.mkdir(parents=True, exist_ok=True)
    app = ArgusFaustApp(
        settings.consumer_group,
        broker=f"kafka://{settings.kafka_bootstrap}",
        broker_credentials=broker_credentials(settings.kafka_client_config()),
        store="memory://",
        datadir=str(datadir),
        autodiscover=False,
        web_enabled=False,
        topic_disable_leader=True,
        topic_partitions=settings.topic_partitions,
        consumer_auto_offset_reset="earliest",
        consumer_max_fetch_size=max(1 << 20, settings.kafka_max_message_bytes),  # a fetch holds the largest record
        stream_buffer_maxsize=STREAM_BUFFER_BATCHES * settings.batch_size,
        broker_commit_interval=1.0,
        # A rebalance does not wait for the agent to finish the batches it holds: while the
        # database is down they cannot finish, and the member would stall the whole group until
        # it is expelled. Safe, because partitions restart from the database's progress and a
        # stale batch of a revoked partition conflicts on the progress constraint (store.py).
        stream_wait_empty=False,
        # A replica that dies without leaving the group is replaced after this long.
        broker_session_timeout=settings.processor_session_timeout,
        broker_heartbeat_interval=settings.processor_session_timeout / 4,
    )
    topic = app.topic(settings.topic, key_type=bytes, value_type=bytes, key_serializer="raw", value_serializer="raw")
    client_config = settings.kafka_client_config()
    for name in (settings.topic, settings.dlq_topic, settings.committed_topic):
        ensure_topic(client_config, name, settings.topic_partitions, max_message_bytes=settings.kafka_max_message_bytes)
    signer = load_signer(settings.log_key) if settings.transparency else None
    if signer is not None:
        ensure_topic(client_config, settings.checkpoints_topic, 1)
    producer = AsyncProducer(
        durable_producer_config(
            client_config, delivery_timeout=30.0, max_message_bytes=settings.kafka_max_message_bytes
        )
    )
    logs = (
        PartitionLogs(settings.topic, settings.log_name, signer, settings.checkpoint_interval)
        if settings.transparency
        else None
    )
    batch = BatchProcessor(
        make_engine(settings.database_url), settings.topic, settings.enums, verifier, settings.chain_cache_size, logs,
        claims_policy(settings),
    )
    state = ProcessorRuntime(
        batch=batch,
        sinks=Fanout(
            load_sinks(settings, producer),
            outbox=SinkOutbox(
                make_engine(settings.database_url),
                settings.topic,
                lambda: [tp.partition for tp in app.consumer.assignment() if tp.topic == settings.topic],
            ),
        ),
        dead_letters=Fanout([DeadLetterSink("dead-letter-topic", producer, settings.dlq_topic)]),
        checkpoints=Fanout(
            [CheckpointSink("checkpoints-topic", producer, settings.checkpoints_topic)] if signer is not None else []
        ),
        producer=producer,
    )
    lag = LagTracker()

    def owned() -> list[int]:
        return [tp.partition for tp in app.consumer.assignment() if tp.topic == settings.topic]

    @app.timer(LAG_REFRESH_SECONDS)
    async def refresh_lag() -> None:
        unknown = lag.unknown(owned())
        if unknown:
            try:
                lag.loaded(await asyncio.to_thread(batch.stored_progress, unknown), unknown)
            except SQLAlchemyError as exc:  # the database is down: the batch loop reports and retries
                log.debug("lag: progress not readable yet: %s", exc)
        lag.refresh(owned(), lambda partition: app.consumer.highwater(TP(settings.topic, partition)))

    log.info(
        "processor: topic=%s group=%s sinks=%s transparency=%s checkpoints=%s",
        settings.topic,
        settings.consumer_group,
        [s.name for s in state.sinks.sinks],
        "on" if logs is not None else "off",
        f"signed by {signer.name}" if signer is not None else "off (no ARGUS_LOG_KEY)",
    )

    def start_partitions(partitions: Sequence[int]) -> dict[int, int]:
        """Run (in a worker thread, retried while the database is down) for newly assigned
        partitions before any of their messages is fetched: cached heads and progress are
        dropped so they reload, and the database's progress says where each one resumes."""
        batch.forget_partitions(partitions)
        return resume_targets(partitions, batch.stored_progress(partitions))

    app.resume_partitions_with(settings.topic, start_partitions)

    @app.on_partitions_revoked.connect  # type: ignore[arg-type]
    async def on_revoked(_app: faust.App, revoked: set[TP], **_kwargs: Any) -> None:
        partitions = [tp.partition for tp in revoked if tp.topic == settings.topic]
        batch.forget_partitions(partitions)
        lag.revoked(partitions)

    @app.on_partitions_assigned.connect  # type: ignore[arg-type]
    async def on_assigned(_app: faust.App, assigned: set[TP], **_kwargs: Any) -> None:
        log.info("assigned partitions %s", sorted(tp.partition for tp in assigned if tp.topic == settings.topic))

    @app.agent(topic, concurrency=1)
    async def chain_and_store(stream: Any) -> None:
        """Consume batches and pass each down a three-step pipeline: faust consumes batch N+2 on
        this loop while a worker thread prepares (decodes, validates, verifies) batch N+1 and
        another stores batch N. Each hand-over holds PIPELINE_DEPTH batches.

        Faust acknowledges a batch once it is handed over, before it is stored; that is safe
        because positions come from the database (processor/resume.py), never from those acks.
        """
        state.sinks.start()
        state.dead_letters.start()
        state.checkpoints.start()
        watch_for_reload(registry)
        to_prepare: asyncio.Queue[Consumed] = asyncio.Queue(maxsize=PIPELINE_DEPTH)
        to_store: asyncio.Queue[Prepared] = asyncio.Queue(maxsize=PIPELINE_DEPTH)
        stages = {
            asyncio.ensure_future(_forever(to_prepare, _prepare, to_store)),
            asyncio.ensure_future(_forever(to_store, _store)),
        }
        try:
            async for events in stream.take_events(settings.batch_size, within=settings.batch_within):
                consumed = [(e.message.partition, e.message.offset, e.message.key) for e in events]
                put = asyncio.ensure_future(to_prepare.put(([_to_raw(event) for event in events], consumed)))
                await asyncio.wait({put, *stages}, return_when=asyncio.FIRST_COMPLETED)
                for stage in stages:
                    if stage.done():  # a bug in a stage must stop the worker, not silently stall it
                        put.cancel()
                        stage.result()
                        raise RuntimeError("a pipeline stage ended unexpectedly")
        finally:
            for stage in stages:
                stage.cancel()

    async def _prepare(item: Consumed) -> Prepared:
        messages, consumed = item
        return await asyncio.to_thread(state.batch.prepare, messages), consumed

    async def _store(item: Prepared) -> None:
        prepared, consumed = item
        result = await state.batch.store(prepared)  # retries until stored; never raises for bad data
        await app.read_again(result.reread)
        lag.committed(result.commits)
        _log_events(prepared)
        state.sinks.submit(result.records, consumed, _commit_spans(result))
        state.dead_letters.submit(_dead_letter_records(result))
        if result.checkpoints:
            state.checkpoints.submit([{"note": note} for note in result.checkpoints])

    @app.on_before_shutdown.connect  # type: ignore[arg-type]
    async def close_resources(_app: faust.App, **_kwargs: Any) -> None:
        await state.sinks.close()
        await state.dead_letters.close()
        await state.checkpoints.close()
        state.producer.close()

    return app
