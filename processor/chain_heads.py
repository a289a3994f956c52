"""A bounded cache of each actor's chain head (newest seq and hash).

Memory is bounded by `capacity`, not by the number of actors: an evicted head is simply
reloaded from the database the next time its actor appears. Entries remember their partition
so a revoked partition's heads can be dropped (another replica now owns those chains).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable


class ChainHeads:
    def __init__(self, capacity: int) -> None:
        self._capacity = capacity
        self._heads: OrderedDict[str, tuple[int, str, int]] = OrderedDict()

    def __len__(self) -> int:
        return len(self._heads)

    def get(self, actor_id: str) -> tuple[int, str] | None:
        entry = self._heads.get(actor_id)
        if entry is None:
            return None
        self._heads.move_to_end(actor_id)
        return entry[0], entry[1]

    def put(self, actor_id: str, seq: int, current_hash: str, partition: int) -> None:
        self._heads[actor_id] = (seq, current_hash, partition)
        self._heads.move_to_end(actor_id)
        while len(self._heads) > self._capacity:
            self._heads.popitem(last=False)

    def forget_partitions(self, partitions: Iterable[int]) -> None:
        dropped = set(partitions)
        for actor_id in [a for a, (_, _, p) in self._heads.items() if p in dropped]:
            del self._heads[actor_id]

    def clear(self) -> None:
        self._heads.clear()
