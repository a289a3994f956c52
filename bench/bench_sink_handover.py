"""CPU per batch of handing a committed batch to the sinks (the processor's last step), in process.

    python -m bench.bench_sink_handover [--batch 2000] [--partitions 4] [--rounds 200]

Why: the hand-over runs on the event loop after every stored batch, between consuming and
storing; its cost is paid once per batch by the one thread faust also needs. Measured from the
stored batch (its messages, records and partition commits) to every durable lane's queue, with
two durable lanes (their delivery tasks not started) and no I/O. Best of 3, process CPU time.
"""

from __future__ import annotations

import argparse
import json
import time
from typing import Any

from processor.decode import RawMessage
from processor.publish import committed_batch
from sinks.committed import PartitionCommit
from sinks.fanout import Fanout


class _Sink:
    def __init__(self, name: str) -> None:
        self.name = name

    async def send(self, records: list[dict[str, Any]]) -> None:
        return None

    async def close(self) -> None:
        return None


class _Outbox:
    """Never read: the lanes' tasks are not started."""


def _batch(size: int, partitions: int) -> tuple[list[RawMessage], list[dict[str, Any]], list[PartitionCommit]]:
    messages = [RawMessage("bench", i % partitions, i // partitions, f"actor-{i % 97}".encode(), b"", None)
                for i in range(size)]  # fmt: skip
    records = [{"id": f"e{i}", "actorId": f"actor-{i % 97}", "seq": i} for i in range(size)]
    commits = []
    for partition in range(partitions):
        offsets = [m.offset for m in messages if m.partition == partition]
        commits.append(PartitionCommit(partition, 1, min(offsets), max(offsets), len(offsets), 0))
    return messages, records, commits


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--batch", type=int, default=2000)
    parser.add_argument("--partitions", type=int, default=4)
    parser.add_argument("--rounds", type=int, default=200)
    args = parser.parse_args()
    messages, records, commits = _batch(args.batch, args.partitions)
    best = float("inf")
    for _ in range(3):
        fanout = Fanout([_Sink("a"), _Sink("b")], max_backlog=1 << 60, outbox=_Outbox())  # type: ignore[arg-type]
        started = time.process_time()
        for _ in range(args.rounds):
            fanout.submit(committed_batch(messages, records, commits))
        best = min(best, time.process_time() - started)
    per_batch = best / args.rounds
    print(json.dumps({"batch": args.batch, "partitions": args.partitions,
                      "handover_us_per_batch": round(per_batch * 1e6, 1),
                      "handover_us_per_event": round(per_batch * 1e6 / args.batch, 3)}))  # fmt: skip


if __name__ == "__main__":
    main()
