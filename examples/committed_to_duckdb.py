"""Who did what to target X last week? Read the committed topic into DuckDB, then ask.

    python -m examples.committed_to_duckdb --bootstrap 127.0.0.1:19092 --topic argus.audit.committed \
        --db audit.duckdb --target doc-42 [--now 2026-03-10T00:00:00Z]

Each run reads the topic from the beginning up to its current end (a real consumer would keep a
consumer group's offsets instead) and inserts by `id`, so records delivered twice (at least once)
are stored once. The record fields are those of docs/schemas/committed-record.v1.json.
"""

from __future__ import annotations

import argparse
from datetime import UTC, datetime, timedelta
from typing import Any

import duckdb
import orjson
from confluent_kafka import OFFSET_BEGINNING, Consumer, TopicPartition

TABLE = """
CREATE TABLE IF NOT EXISTS committed (
    id VARCHAR PRIMARY KEY, event_time TIMESTAMPTZ, actor_type VARCHAR, actor_id VARCHAR, action VARCHAR,
    status VARCHAR, event_type VARCHAR, target_type VARCHAR, target_id VARCHAR, message VARCHAR,
    metadata JSON, seq BIGINT, current_hash VARCHAR
)"""
FIELDS = ("id", "timestamp", "actorType", "actorId", "action", "status", "eventType", "targetType", "targetId",
          "message", "metadata", "seq", "currentHash")  # fmt: skip


def load(con: duckdb.DuckDBPyConnection, bootstrap: str, topic: str) -> int:
    """Insert every record now on the topic (duplicates ignored); returns how many were read."""
    con.execute(TABLE)
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": "argus-duckdb-example",
                         "enable.auto.commit": False})  # fmt: skip
    try:
        partitions = consumer.list_topics(topic, timeout=10).topics[topic].partitions
        ends = {p: consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10)[1] for p in partitions}
        todo = {p for p, end in ends.items() if end > 0}
        consumer.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in todo])
        read = 0
        while todo:
            rows: list[tuple[Any, ...]] = []
            for message in consumer.consume(num_messages=5000, timeout=5):
                if message.error() is not None:
                    continue
                record = orjson.loads(message.value())
                rows.append(tuple(record[f] for f in FIELDS))
                if message.offset() + 1 >= ends[message.partition()]:
                    todo.discard(message.partition())
            if rows:
                con.executemany(f"INSERT OR IGNORE INTO committed VALUES ({', '.join('?' * len(FIELDS))})", rows)
                read += len(rows)
        return read
    finally:
        consumer.close()


def who_did_what(con: duckdb.DuckDBPyConnection, target: str, now: datetime) -> list[tuple[Any, ...]]:
    """(event_time, actor_id, action, status, event_type) on `target` in the 7 days before `now`."""
    return con.execute(
        "SELECT event_time, actor_id, action, status, event_type FROM committed "
        "WHERE target_id = ? AND event_time >= ? AND event_time < ? ORDER BY event_time, actor_id, seq",
        [target, now - timedelta(days=7), now],
    ).fetchall()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--bootstrap", default="127.0.0.1:19092")
    parser.add_argument("--topic", default="argus.audit.committed")
    parser.add_argument("--db", default="audit.duckdb")
    parser.add_argument("--target", required=True)
    parser.add_argument("--now", type=datetime.fromisoformat, default=datetime.now(UTC))
    args = parser.parse_args()
    con = duckdb.connect(args.db)
    print(f"read {load(con, args.bootstrap, args.topic)} records")
    for event_time, actor, action, status, event_type in who_did_what(con, args.target, args.now):
        print(f"{event_time:%Y-%m-%d %H:%M:%S%z}  {actor:<24} {action:<8} {status:<8} {event_type}")


if __name__ == "__main__":
    main()
