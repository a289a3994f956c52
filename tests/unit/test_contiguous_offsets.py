"""The processor stores a partition's offsets without a hole, whatever order a fetch delivers.

A stale fetch after a rebalance once stored messages beyond stored progress, and the messages in
between were then skipped as "stored already": acknowledged events lost (issue 11).
"""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from processor.chain import NO_PROGRESS, contiguous
from processor.decode import RawMessage
from processor.store import Progress


def msg(partition: int, offset: int) -> RawMessage:
    return RawMessage("t", partition, offset, None, b"{}", None)


def kept(messages: list[RawMessage], progress: dict[int, Progress]) -> tuple[list[tuple[int, int]], dict[int, int]]:
    taken = contiguous(messages, progress)
    return [(m.partition, m.offset) for m in messages if taken.keep[id(m)]], taken.reread


def test_a_batch_that_follows_progress_is_kept_whole() -> None:
    batch = [msg(0, 5), msg(1, 0), msg(0, 6), msg(1, 1)]
    assert kept(batch, {0: Progress(3, 4), 1: NO_PROGRESS}) == ([(0, 5), (1, 0), (0, 6), (1, 1)], {})


def test_redelivered_messages_are_skipped() -> None:
    assert kept([msg(0, 3), msg(0, 4), msg(0, 5)], {0: Progress(2, 4)}) == ([(0, 5)], {})


def test_a_jump_past_progress_stores_nothing_from_the_jump_and_asks_to_read_again() -> None:
    batch = [msg(0, 5), msg(0, 9), msg(0, 6), msg(1, 2)]
    assert kept(batch, {0: Progress(1, 4), 1: Progress(1, 1)}) == ([(0, 5), (1, 2)], {0: 6})


def test_a_batch_starting_beyond_progress_is_refused_whole() -> None:
    assert kept([msg(2, 100), msg(2, 101)], {2: Progress(7, 41)}) == ([], {2: 42})


def test_a_partition_with_nothing_stored_starts_at_its_first_message() -> None:
    assert kept([msg(0, 30), msg(0, 31)], {0: NO_PROGRESS}) == ([(0, 30), (0, 31)], {})


@given(st.lists(st.integers(min_value=0, max_value=30), max_size=40), st.integers(min_value=-1, max_value=10))
def test_what_is_kept_always_extends_progress_without_a_hole(offsets: list[int], last: int) -> None:
    progress = {0: Progress(1, last) if last >= 0 else NO_PROGRESS}
    stored, reread = kept([msg(0, o) for o in offsets], progress)
    kept_offsets = [o for _, o in stored]
    if kept_offsets:
        start = last + 1 if last >= 0 else offsets[0]
        assert kept_offsets == list(range(start, start + len(kept_offsets)))
    if 0 in reread:
        assert reread[0] == (kept_offsets[-1] + 1 if kept_offsets else last + 1)
