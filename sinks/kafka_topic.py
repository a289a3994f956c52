"""Kafka topic sink: each committed record (with seq and hashes) produced to a topic keyed by actorId.

Schema of `argus.audit.committed` (see docs/architecture.md): the value is the record as JSON
with camelCase fields — the event fields, `source`, `receivedAt`, `seq`, `previousHash`,
`currentHash` — exactly what `argus_spec.hashchain.record_hash` covers plus the hash itself.
Delivery is at least once: consumers deduplicate on `id` (or on `actorId`+`seq`).
"""

from __future__ import annotations

import asyncio

import orjson

from argus.kafka.producer import AsyncProducer, DeliveryError
from sinks.base import Record
from sinks.formats import RENDERS, Render


class TopicSink:
    """What every sink producing to one Kafka topic shares: the processor's producer, flushed on close
    (the committed topic here, the dead-letter topic, the checkpoints topic)."""

    def __init__(self, name: str, producer: AsyncProducer, topic: str) -> None:
        self.name = name
        self._producer = producer
        self._topic = topic

    async def close(self) -> None:
        await asyncio.to_thread(self._producer.flush, 10.0)


class KafkaTopicSink(TopicSink):
    """`render` picks the value's format (sinks/formats.py); the key is always the actorId."""

    def __init__(self, name: str, producer: AsyncProducer, topic: str, render: Render = RENDERS["record"]) -> None:
        super().__init__(name, producer, topic)
        self._render = render

    async def send(self, records: list[Record]) -> None:
        """Raise the first DeliveryError if any record was not delivered (the fan-out retries the batch)."""
        results = await self._producer.produce_many(
            self._topic, [(orjson.dumps(self._render(record)), str(record["actorId"]).encode()) for record in records]
        )
        for result in results:
            if isinstance(result, DeliveryError):
                raise result
