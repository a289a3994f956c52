"""Checkpoints topic: each signed checkpoint note, keyed by its origin (one tree per partition).

The `checkpoints` table, written in the batch transaction, is the record of truth; this copy is
at-least-once, for witnesses and monitors that follow the log without database access
(docs/transparency.md).
"""

from __future__ import annotations

import asyncio

from sinks.base import Record
from sinks.kafka_topic import TopicSink


class CheckpointSink(TopicSink):
    async def send(self, records: list[Record]) -> None:
        futures = [
            self._producer.produce(self._topic, record["note"].encode(), key=record["note"].split("\n", 1)[0].encode())
            for record in records
        ]
        await asyncio.gather(*futures)
