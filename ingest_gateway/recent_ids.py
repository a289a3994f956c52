"""The ids this gateway produced lately, each with its content digest: a bounded, in-memory map.

Why: the store lookup (known_ids.py) only knows ids the processor has stored. Two requests in
flight with the same id and different content would both be acknowledged, and the processor
would dead-letter the second. Each id is claimed here, synchronously (no await between the check
and the claim), just before it is produced, so the second request is refused with 409 instead.

An id stays claimed after a failed delivery: Kafka may still hold it (a timeout is ambiguous), so
only the same content may be sent under it again. The map holds the last `capacity` ids claimed
(oldest forgotten first); it covers one gateway process only: a conflict racing through two
gateways, or older than the window and not yet stored, is still dead-lettered by the processor.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable


class RecentIds:
    """`claim(pairs)` -> the ids refused because this gateway recently produced other content under them."""

    def __init__(self, capacity: int) -> None:
        self._capacity = capacity
        self._digests: OrderedDict[str, bytes] = OrderedDict()

    def __len__(self) -> int:
        return len(self._digests)

    def claim(self, pairs: Iterable[tuple[str, bytes]]) -> set[str]:
        """Claim each (id, digest) not already claimed with another digest; return the ids refused.
        Callers pass each id once per call (a request's copies are merged before)."""
        refused: set[str] = set()
        if self._capacity == 0:
            return refused
        digests = self._digests
        for record_id, digest in pairs:
            known = digests.get(record_id)
            if known is not None and known != digest:
                refused.add(record_id)
                continue
            digests[record_id] = digest
            digests.move_to_end(record_id)
        while len(digests) > self._capacity:
            digests.popitem(last=False)
        return refused
