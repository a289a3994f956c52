"""Consumer lag and commit age as gauges, so an alert can tell a stalled processor from an idle one.

Argus's position in a partition is the database's progress row (processor/resume.py), not the
offsets faust commits to Kafka, so a lag exporter reading the consumer group would report the
wrong thing after a crash. Each replica publishes, for the partitions it owns, the partition's
high watermark minus (last stored offset + 1), and the time of its last database commit.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterable, Sequence

from processor import metrics
from processor.store import Progress
from sinks.committed import PartitionCommit


class LagTracker:
    """Last stored offset per owned partition; `refresh` turns it into `argus_consumer_lag_messages`."""

    def __init__(self) -> None:
        self._stored: dict[int, int] = {}

    def committed(self, commits: Sequence[PartitionCommit]) -> None:
        """Called after a batch is in the database."""
        for commit in commits:
            self._stored[commit.partition] = max(self._stored.get(commit.partition, -1), commit.last_offset)
        if commits:
            metrics.LAST_COMMIT.set_to_current_time()

    def revoked(self, partitions: Iterable[int]) -> None:
        """Another replica reports these now; drop their series here so sums stay right."""
        for partition in partitions:
            self._stored.pop(partition, None)
            with contextlib.suppress(KeyError):  # never had a series here
                metrics.CONSUMER_LAG.remove(str(partition))

    def unknown(self, assigned: Iterable[int]) -> list[int]:
        """Owned partitions with no stored offset known yet (look them up in the database)."""
        return [p for p in assigned if p not in self._stored]

    def loaded(self, progress: dict[int, Progress], partitions: Sequence[int]) -> None:
        for partition in partitions:
            found = progress.get(partition)
            self._stored.setdefault(partition, found.last_offset if found else -1)

    def refresh(self, assigned: Iterable[int], highwater: Callable[[int], int | None]) -> None:
        """Set the lag of every owned partition whose high watermark the consumer has seen."""
        for partition in assigned:
            end = highwater(partition)
            stored = self._stored.get(partition)
            if end is None or stored is None:
                continue
            metrics.CONSUMER_LAG.labels(str(partition)).set(max(0, end - (stored + 1)))
