"""Checkpoints topic: each signed checkpoint note, keyed by its origin (one tree per partition).

The `checkpoints` table, written in the batch transaction, is the record of truth; this copy is
at-least-once, for witnesses and monitors that follow the log without database access
(docs/transparency.md).
"""

from __future__ import annotations

import asyncio

from argus.kafka_producer import AsyncProducer
from sinks.base import Record


class CheckpointSink:
    def __init__(self, name: str, producer: AsyncProducer, topic: str) -> None:
        self.name = name
        self._producer = producer
        self._topic = topic

    async def send(self, records: list[Record]) -> None:
        futures = [
            self._producer.produce(self._topic, record["note"].encode(), key=record["note"].split("\n", 1)[0].encode())
            for record in records
        ]
        await asyncio.gather(*futures)

    async def close(self) -> None:
        await asyncio.to_thread(self._producer.flush, 10.0)
