"""Resume every partition from the database's progress, not from Kafka's committed offset.

After each rebalance faust positions the consumer at the group's committed offsets
(`Consumer.perform_seek`) and only then resumes fetching. Those offsets are not tied to our
database transaction: they can lag (harmless, stored messages are skipped) or, if an ack ever
covered a batch that did not commit, run ahead (fatal: messages would be skipped). So right
after faust's seek, and before any message is fetched, each of our partitions is moved to
`stored last offset + 1` (0 when nothing is stored; an offset below the log start resets to
the earliest message). The database is the only source of truth for where to resume.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from faust.types import TP

from processor.store import Progress

log = logging.getLogger(__name__)

StoredProgress = Callable[[Sequence[int]], dict[int, Progress]]


def resume_targets(partitions: Sequence[int], progress: dict[int, Progress]) -> dict[int, int]:
    """The offset each partition must be read from next."""
    return {p: progress[p].last_offset + 1 if p in progress else 0 for p in partitions}


def install_resume_from_database(consumer: Any, topic: str, stored_progress: StoredProgress) -> None:
    """Wrap `consumer.perform_seek` so our partitions are re-positioned right after faust's seek."""
    if getattr(consumer, "_argus_resume_installed", False):
        return
    original: Callable[[], Awaitable[None]] = consumer.perform_seek

    async def perform_seek_then_resume_from_database() -> None:
        await original()
        assigned = sorted(tp.partition for tp in consumer.assignment() if tp.topic == topic)
        if not assigned:
            return
        progress = await asyncio.to_thread(stored_progress, assigned)
        targets = resume_targets(assigned, progress)
        for partition, offset in targets.items():
            await consumer.seek(TP(topic, partition), offset)
        log.info("resuming %s from the database's progress: %s", topic, targets)

    consumer.perform_seek = perform_seek_then_resume_from_database
    consumer._argus_resume_installed = True
