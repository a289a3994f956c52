"""The foundation works against real servers: a Kafka round trip and migrations both ways."""

from __future__ import annotations

import uuid

from confluent_kafka import Consumer, Producer
from sqlalchemy import inspect

from argus.db import migrate
from argus.db.engine import make_engine
from argus.kafka.admin import ensure_topic, partition_count

TABLES = {"audit_records", "partition_commits", "dead_letters"}


def test_kafka_produce_consume_round_trip(kafka_bootstrap: str, unique_name: str) -> None:
    topic = f"test.roundtrip.{unique_name}"
    config = {"bootstrap.servers": kafka_bootstrap}
    ensure_topic(config, topic, partitions=3)
    assert partition_count(config, topic) == 3
    ensure_topic(config, topic, partitions=3)  # idempotent

    payload = uuid.uuid4().bytes
    producer = Producer({**config, "enable.idempotence": True, "acks": "all"})
    delivered: list[object] = []
    producer.produce(topic, value=payload, key=b"actor-1", on_delivery=lambda err, msg: delivered.append(err or msg))
    assert producer.flush(30) == 0
    assert len(delivered) == 1 and not isinstance(delivered[0], Exception)

    consumer = Consumer({**config, "group.id": f"g-{unique_name}", "auto.offset.reset": "earliest"})
    consumer.subscribe([topic])
    try:
        message = None
        for _ in range(60):
            message = consumer.poll(1.0)
            if message is not None and message.error() is None:
                break
        assert message is not None and message.error() is None
        assert message.value() == payload
        assert message.key() == b"actor-1"
    finally:
        consumer.close()


def _tables(url: str) -> set[str]:
    engine = make_engine(url)
    try:
        return set(inspect(engine).get_table_names())
    finally:
        engine.dispose()


def test_migrations_up_and_down_on_postgresql(pg_url: str) -> None:
    assert _tables(pg_url) >= TABLES
    assert migrate.current(pg_url) == migrate.head()
    migrate.downgrade(pg_url, "base")
    assert not (TABLES & _tables(pg_url))
    assert migrate.current(pg_url) is None
    migrate.upgrade(pg_url)
    assert _tables(pg_url) >= TABLES


def test_migrations_up_and_down_on_sqlite(sqlite_url: str) -> None:
    assert _tables(sqlite_url) >= TABLES
    migrate.downgrade(sqlite_url, "base")
    assert not (TABLES & _tables(sqlite_url))
    migrate.upgrade(sqlite_url)
    assert migrate.current(sqlite_url) == migrate.head()
