"""One processor replica, wired in one place, in the order the data flows.

`build_replica` is the only code that connects to anything at start-up: it makes sure the
topics exist, opens the producer and the database engines, and puts on the faust app
(processor/app.py) what runs there: the batch pipeline (consume → prepare → store → publish,
processor/pipeline.py), the partition positioning after each assignment (processor/resume.py),
the rebalance callbacks, the lag gauge and the shutdown.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Sequence

from sqlalchemy.exc import SQLAlchemyError

from argus.db.engine import make_engine
from argus.kafka.admin import ensure_topic
from argus.kafka.producer import AsyncProducer, durable_producer_config
from argus.runtime.settings import Settings
from argus.trust.key_registry import KeyRegistry
from argus.trust.receipt_keys import attestation_checker, load_receipt_verifiers
from argus.trust.signatures import load_key_registry, make_batch_verifier, watch_for_reload
from processor.app import create_app
from processor.batch import BatchProcessor
from processor.decode import Claims, RawMessage
from processor.faust_seam import ArgusFaustApp
from processor.lag import LagTracker
from processor.native import NATIVE
from processor.pipeline import run_pipeline
from processor.prepare import PreparedBatch
from processor.publish import Publisher
from processor.resume import resume_targets
from processor.tlog import PartitionLogs, load_signer
from sinks.checkpoints import CheckpointSink
from sinks.dead_letter import DeadLetterSink
from sinks.fanout import Fanout
from sinks.outbox import SinkOutbox
from sinks.registry import load_sinks

log = logging.getLogger(__name__)

#: How often the consumer-lag gauge is refreshed (seconds); scrapes are 15-30 s apart.
LAG_REFRESH_SECONDS = 5.0


def claims_policy(settings: Settings) -> Claims:
    """Which receipt keys attest an envelope's source and receivedAt, and what befalls a claim without."""
    verifiers = load_receipt_verifiers(settings)
    if not verifiers:
        log.warning("no receipt keys (ARGUS_RECEIPT_VERIFIER_KEYS / ARGUS_RECEIPT_KEY): every source and "
                    "receivedAt claim is unattested (docs/receipts.md)")  # fmt: skip
    native = NATIVE.batch_message if NATIVE is not None else None  # the v2 path check in Rust, if built
    return Claims(attestation_checker(verifiers, native), dead_letter=settings.unattested_claims == "dead-letter")


def build_replica(settings: Settings, registry: KeyRegistry | None = None) -> ArgusFaustApp:
    """The replica's faust app with everything wired; signatures are checked against `registry`
    (default: ARGUS_KEYS_CONFIG, reloaded on SIGHUP), always, whatever the gateway did.
    Raises KafkaException when the broker cannot be reached (the topics are ensured here)."""
    registry = registry or load_key_registry(settings)
    verifier = make_batch_verifier(settings, registry)
    topic = settings.topic
    app = create_app(settings)

    # Topics: what is consumed, and where dead letters, committed records and checkpoints go.
    client_config = settings.kafka_client_config()
    for name in (topic, settings.dlq_topic, settings.committed_topic):
        ensure_topic(client_config, name, settings.topic_partitions, max_message_bytes=settings.kafka_max_message_bytes)
    signer = load_signer(settings.log_key) if settings.transparency else None
    if signer is not None:
        ensure_topic(client_config, settings.checkpoints_topic, 1)
    producer = AsyncProducer(
        durable_producer_config(
            client_config, delivery_timeout=30.0, max_message_bytes=settings.kafka_max_message_bytes
        )
    )

    # Prepare and store: one BatchProcessor (per-partition caches, one transaction per batch).
    logs = (
        PartitionLogs(topic, settings.log_name, signer, settings.checkpoint_interval) if settings.transparency else None
    )
    batch = BatchProcessor(
        make_engine(settings.database_url), topic, settings.enums, verifier, settings.chain_cache_size, logs,
        claims_policy(settings),
    )  # fmt: skip

    # Publish: the sinks read back what they missed on their own engine (sinks/outbox.py).
    publisher = Publisher(
        sinks=Fanout(
            load_sinks(settings, producer),
            outbox=SinkOutbox(make_engine(settings.database_url), topic, lambda: app.assigned(topic)),
        ),
        dead_letters=Fanout([DeadLetterSink("dead-letter-topic", producer, settings.dlq_topic)]),
        checkpoints=Fanout(
            [CheckpointSink("checkpoints-topic", producer, settings.checkpoints_topic)] if signer is not None else []
        ),
    )
    lag = LagTracker()

    async def store(prepared: PreparedBatch) -> None:
        result = await batch.store(prepared)  # retries until stored; never raises for bad data
        await app.read_again(result.reread)
        lag.committed(result.commits)
        publisher.publish(prepared, result)

    async def consume(batches: AsyncIterator[list[RawMessage]]) -> None:
        publisher.start()
        watch_for_reload(registry)
        await run_pipeline(batches, batch.prepare, store)

    app.consume_batches(topic, settings.batch_size, settings.batch_within, consume)

    # After every assignment, before fetching: drop cached state and resume from the database.
    def start_partitions(partitions: Sequence[int]) -> dict[int, int]:
        """Run (in a worker thread, retried while the database is down) for newly assigned
        partitions before any of their messages is fetched: cached heads and progress are
        dropped so they reload, and the database's progress says where each one resumes."""
        batch.forget_partitions(partitions)
        return resume_targets(partitions, batch.stored_progress(partitions))

    app.resume_partitions_with(topic, start_partitions)

    async def revoked(partitions: list[int]) -> None:
        batch.forget_partitions(partitions)
        lag.revoked(partitions)

    async def assigned(partitions: list[int]) -> None:
        log.info("assigned partitions %s", partitions)

    async def refresh_lag() -> None:
        owned = app.assigned(topic)
        unknown = lag.unknown(owned)
        if unknown:
            try:
                lag.loaded(await asyncio.to_thread(batch.stored_progress, unknown), unknown)
            except SQLAlchemyError as exc:  # the database is down: the batch loop reports and retries
                log.debug("lag: progress not readable yet: %s", exc)
        lag.refresh(app.assigned(topic), lambda partition: app.highwater(topic, partition))

    async def close_resources() -> None:
        await publisher.close()
        producer.close()

    app.on_revoked(topic, revoked)
    app.on_assigned(topic, assigned)
    app.every(LAG_REFRESH_SECONDS, refresh_lag)
    app.before_shutdown(close_resources)

    log.info(
        "processor: topic=%s group=%s sinks=%s transparency=%s checkpoints=%s chaining=%s",
        topic,
        settings.consumer_group,
        [s.name for s in publisher.sinks.sinks],
        "on" if logs is not None else "off",
        f"signed by {signer.name}" if signer is not None else "off (no ARGUS_LOG_KEY)",
        "compiled (argus_native)" if NATIVE is not None else "Python reference (argus_native not installed or stale)",
    )
    return app
