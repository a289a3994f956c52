"""Where an assigned partition resumes: the database's progress, never Kafka's committed offset.

After each rebalance faust positions the consumer at the group's committed offsets. Those are
not tied to our database transaction: they can lag (harmless, stored messages are skipped) or
run ahead of what is stored (fatal: messages would be skipped), since faust acks a batch once it
is handed over, before it is stored. So each partition is read from its stored last offset + 1,
or 0 when nothing is stored (an offset below the log start resets to the earliest message).
processor/faust_seam.py applies these positions, on faust's consumer thread, before fetching.
"""

from __future__ import annotations

from collections.abc import Sequence

from processor.store import Progress


def resume_targets(partitions: Sequence[int], progress: dict[int, Progress]) -> dict[int, int]:
    """The offset each partition must be read from next."""
    return {p: progress[p].last_offset + 1 if p in progress else 0 for p in partitions}
