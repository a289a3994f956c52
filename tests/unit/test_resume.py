"""Where a partition resumes, and the retry schedule used while the database cannot say."""

from __future__ import annotations

from itertools import islice

from argus.runtime.backoff import MAX_BACKOFF_SECONDS, backoff_delays
from processor.resume import resume_targets
from processor.store import Progress


def test_a_partition_resumes_after_its_stored_progress_or_from_the_start() -> None:
    progress = {0: Progress(commit_seq=3, last_offset=41), 2: Progress(commit_seq=1, last_offset=0)}
    assert resume_targets([0, 1, 2], progress) == {0: 42, 1: 0, 2: 1}


def test_backoff_doubles_from_a_tenth_of_a_second_up_to_the_cap() -> None:
    delays = list(islice(backoff_delays(), 10))
    assert delays[:4] == [0.1, 0.2, 0.4, 0.8]
    assert delays[-1] == MAX_BACKOFF_SECONDS and max(delays) == MAX_BACKOFF_SECONDS
    assert delays == sorted(delays)
