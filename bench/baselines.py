"""The machine's own limits, measured in the same run as the pipeline: raw COPY and raw Kafka.

Why: on a shared two-core box an absolute events/s figure means little; the ratio of the pipeline
to what PostgreSQL and Kafka alone can do here, right now, is the figure that travels. Both
baselines move data equivalent to the pipeline's: COPY writes the processor's own rows (chained,
canonical metadata, 30% signed) into `audit_records` built by the real migrations, so every index
and constraint is the same; Kafka carries the gateway's envelopes with the gateway's producer
settings (acks=all, idempotence, lz4, same partition count). Only the work around them is missing.
"""

from __future__ import annotations

import contextlib
import io
import threading
import time
import uuid
from typing import Any

from confluent_kafka import Consumer, KafkaError, Producer, TopicPartition
from confluent_kafka.admin import AdminClient

from argus.db.engine import make_engine
from argus.db.private_schema import private_schema
from argus.kafka.admin import ensure_topic
from argus.kafka.producer import durable_producer_config
from argus.runtime.settings import Settings
from argus_spec.envelope import encode_envelope, message_key, utc_now_rfc3339
from argus_spec.hashchain import GENESIS_HASH, chain_record
from bench.loadgen import make_events, produce_all
from processor.store import RECORD_COLUMNS, _copy_text, stored_row

COPY_SQL = f"COPY audit_records ({', '.join(RECORD_COLUMNS)}) FROM STDIN"


def delete_topics(bootstrap: str, topics: list[str]) -> None:
    """Best effort: benches leave no topics behind."""
    admin = AdminClient({"bootstrap.servers": bootstrap})  # must outlive the futures, or nothing is sent
    futures = admin.delete_topics(topics, operation_timeout=10)
    for future in futures.values():
        with contextlib.suppress(Exception):  # a topic that is already gone is fine
            future.result(15)


def copy_batches(count: int, batch: int, signed_share: float, actors: int = 2000) -> list[str]:
    """The processor's COPY text (its own `_copy_text`) for `count` chained records, per `batch`-row transaction."""
    heads: dict[str, tuple[int, str]] = {}
    rows = []
    received_at = utc_now_rfc3339()
    for offset, event in enumerate(make_events(count, actors=actors, signed_share=signed_share)):
        seq, previous = heads.get(event["actorId"], (0, GENESIS_HASH))
        record = chain_record(event, source="bench", received_at=received_at, seq=seq + 1, previous_hash=previous)
        heads[event["actorId"]] = (seq + 1, record["currentHash"])
        rows.append(stored_row(record, "bench", offset % 4, offset, offset // batch + 1))
    return [_copy_text(rows[i : i + batch]) for i in range(0, len(rows), batch)]


def bench_copy(
    database_url: str, *, rows: int, batch: int = 2000, repeats: int = 1, signed_share: float = 0.3
) -> dict[str, Any]:
    """COPY `rows` rows into a freshly migrated audit_records, one transaction per `batch` rows;
    best of `repeats` (each into a new schema), timing only COPY and COMMIT."""
    batches = copy_batches(rows, batch, signed_share)
    rates = []
    for _ in range(repeats):
        with private_schema(database_url, "bench_copy") as (_, url):
            engine = make_engine(url)
            connection = engine.raw_connection()
            try:
                cursor = connection.cursor()
                started = time.perf_counter()
                for chunk in batches:
                    cursor.copy_expert(COPY_SQL, io.StringIO(chunk))
                    connection.commit()
                rates.append(rows / (time.perf_counter() - started))
                cursor.close()
            finally:
                connection.close()
                engine.dispose()
    return {
        "rows": rows,
        "batch_rows": batch,
        "repeats": repeats,
        "bytes_per_row": round(sum(len(chunk) for chunk in batches) / rows),
        "rows_per_s": round(max(rates)),
        "all_rows_per_s": [round(rate) for rate in rates],
    }


def _consume_all(consumer: Consumer, expected: int, deadline: float, ready: threading.Event, done: list[float]) -> None:
    """Signal `ready` once every (empty) partition reported EOF, so fetch start-up is not timed."""
    seen, eofs = 0, 0
    while not ready.is_set() and time.monotonic() < deadline:
        for message in consumer.consume(num_messages=100, timeout=0.1):
            error = message.error()
            eofs += error is not None and error.code() == KafkaError._PARTITION_EOF
        if eofs >= len(consumer.assignment()):
            ready.set()
    while seen < expected and time.monotonic() < deadline:
        for message in consumer.consume(num_messages=5000, timeout=0.2):
            error = message.error()
            if error is None:
                seen += 1
            elif error.code() != KafkaError._PARTITION_EOF:
                raise RuntimeError(f"raw consume failed: {error}")
    done.extend([time.perf_counter(), float(seen)])


def bench_kafka(
    bootstrap: str, *, messages: int, partitions: int = 4, repeats: int = 1, signed_share: float = 0.3
) -> dict[str, Any]:
    """Produce `messages` gateway envelopes (acks=all) while a consumer reads them back; best of
    `repeats`. produce+consume msgs/s counts from the first produce to the last message consumed."""
    received_at = utc_now_rfc3339()
    payloads = [
        (encode_envelope(event, source="bench", received_at=received_at), message_key(event))
        for event in make_events(messages, actors=2000, signed_share=signed_share)
    ]
    produce_rates, pipeline_rates = [], []
    for _ in range(repeats):
        topic = f"bench.raw.{uuid.uuid4().hex[:10]}"
        ensure_topic({"bootstrap.servers": bootstrap}, topic, partitions)
        consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": f"{topic}.g", "enable.partition.eof": True})
        consumer.assign([TopicPartition(topic, p, -2) for p in range(partitions)])  # -2: from the beginning
        producer = Producer(
            durable_producer_config(
                {"bootstrap.servers": bootstrap},
                delivery_timeout=60,
                max_message_bytes=Settings().kafka_max_message_bytes,
            )
        )
        done: list[float] = []
        ready = threading.Event()
        deadline = time.monotonic() + 120
        reader = threading.Thread(target=_consume_all, args=(consumer, messages, deadline, ready, done))
        try:
            reader.start()
            ready.wait(30)
            started = time.perf_counter()
            produce_all(producer, topic, payloads, "raw produce")
            produced = time.perf_counter()
            reader.join(130)
            if len(done) < 2 or int(done[1]) < messages:
                raise RuntimeError(f"raw consume: read {int(done[1]) if done else 0} of {messages} messages")
            produce_rates.append(messages / (produced - started))
            pipeline_rates.append(messages / (done[0] - started))
        finally:
            consumer.close()
            delete_topics(bootstrap, [topic])
    return {
        "messages": messages,
        "partitions": partitions,
        "repeats": repeats,
        "bytes_per_message": round(sum(len(v) for v, _ in payloads) / messages),
        "produce_msgs_per_s": round(max(produce_rates)),
        "produce_consume_msgs_per_s": round(max(pipeline_rates)),
        "all_produce_consume_msgs_per_s": [round(rate) for rate in pipeline_rates],
    }
