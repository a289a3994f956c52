"""Step 5 of a batch, once it is stored: hand it over to the sinks, the dead-letter topic and the
checkpoints topic, and log its events. Never blocks: every lane queues (sinks/fanout.py).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from argus.runtime import logs
from processor.batch import BatchResult
from processor.decode import Decoded, RawMessage
from processor.prepare import PreparedBatch
from sinks.committed import CommittedBatch, PartitionCommit, PartitionSpan
from sinks.fanout import Fanout

log = logging.getLogger(__name__)


def committed_batch(
    messages: Sequence[RawMessage], records: list[dict[str, Any]], commits: Sequence[PartitionCommit]
) -> CommittedBatch:
    """The sinks' view of a stored batch: per partition it consumed from (stored or not), its
    offset range, the records stored from it (its commits' record counts) and those commits."""
    spans: dict[int, tuple[int, int]] = {}
    for message in messages:
        low, high = spans.get(message.partition, (message.offset, message.offset))
        spans[message.partition] = (min(low, message.offset), max(high, message.offset))
    made: dict[int, list[PartitionCommit]] = {}
    for commit in commits:
        made.setdefault(commit.partition, []).append(commit)
    partitions = {}
    for partition, (low, high) in spans.items():
        own = tuple(sorted(made.get(partition, ()), key=_seq))
        partitions[partition] = PartitionSpan(low, high, sum(c.record_count for c in own), own)
    return CommittedBatch(records, partitions)


def _seq(commit: PartitionCommit) -> int:
    return commit.commit_seq


@dataclass
class Publisher:
    """The lanes a stored batch is handed to."""

    sinks: Fanout
    dead_letters: Fanout
    checkpoints: Fanout

    def start(self) -> None:
        for fanout in (self.sinks, self.dead_letters, self.checkpoints):
            fanout.start()

    def publish(self, prepared: PreparedBatch, result: BatchResult) -> None:
        _log_events(prepared)
        self.sinks.submit(committed_batch(prepared.messages, result.records, result.commits))
        self.dead_letters.submit(CommittedBatch(_dead_letter_records(result)))
        if result.checkpoints:
            self.checkpoints.submit(CommittedBatch([{"note": note} for note in result.checkpoints]))

    async def close(self) -> None:
        for fanout in (self.sinks, self.dead_letters, self.checkpoints):
            await fanout.close()


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
