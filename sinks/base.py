"""The sink contract. PostgreSQL is the critical store inside the processor's transaction;
every sink here is a *non-critical* copy that receives records only after they committed."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

Record = dict[str, Any]


class Sink(Protocol):
    """A destination for committed records. `send` raises on failure; the fan-out retries."""

    name: str

    async def send(self, records: list[Record]) -> None: ...

    async def close(self) -> None: ...


@dataclass(frozen=True)
class TreeHead:
    """A partition's Merkle tree after a commit range, as the processor stored it in the batch
    transaction (docs/transparency.md): the origin's topic, the tree size and its root (hex), and
    the range's (kafka_offset, commit_seq) in offset order, which records do not carry."""

    topic: str
    size: int
    root: str
    leaves: list[tuple[int, int]]


class RangeSink(Sink, Protocol):
    """A sink that stores whole commit ranges of one partition (an object store: one object per
    range, keyed by it, so a retry rewrites the same key). Its lane reads every delivery back from
    the database in (partition, commit_seq) chunks instead of taking the processor's in-memory
    batches, which mix partitions; it does so at most every `interval` seconds, so objects hold
    that long a span of commits instead of one batch each."""

    interval: float

    async def send_range(self, partition: int, first_seq: int, through_seq: int, records: list[Record],
                         tree: TreeHead | None = None) -> None: ...  # fmt: skip


def is_range_sink(sink: Sink) -> bool:
    return callable(getattr(sink, "send_range", None))
