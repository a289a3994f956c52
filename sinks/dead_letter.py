"""Dead-letter topic: the original bytes of each rejected message, with the reason in headers.

Headers: `argus.reason` (text naming the field), `argus.source.topic`, `argus.source.partition`,
`argus.source.offset`. The same rows are already in the `dead_letters` table, committed in the
batch transaction, so the topic copy is at-least-once and the table is the record of truth.
"""

from __future__ import annotations

import asyncio

from sinks.base import Record
from sinks.kafka_topic import TopicSink


class DeadLetterSink(TopicSink):
    async def send(self, records: list[Record]) -> None:
        futures = [
            self._producer.produce(
                self._topic,
                record["payload"],
                key=record["key"],
                headers=[
                    ("argus.reason", record["reason"].encode()),
                    ("argus.source.topic", record["topic"].encode()),
                    ("argus.source.partition", str(record["partition"]).encode()),
                    ("argus.source.offset", str(record["offset"]).encode()),
                ],
            )
            for record in records
        ]
        await asyncio.gather(*futures)
