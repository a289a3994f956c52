"""The durable sink lane's rules: the committed batch handed over, the send/skip/catch-up decision, chunk planning, and
the lane itself against an in-memory model of the database (crashes, overflow, failures, gaps)."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Iterable, Mapping
from typing import Any

import pytest

from argus.runtime import backoff
from processor.decode import RawMessage
from processor.publish import committed_batch
from sinks import durable
from sinks.catchup import NOTHING, Chunk, Delivered, Verdict, plan_chunks, resolve
from sinks.committed import CommittedBatch, PartitionCommit, PartitionSpan
from sinks.durable import DurableLane


def _rec(actor: str, n: int) -> dict[str, Any]:
    return {"id": f"{actor}-{n}", "actorId": actor}


def test_committed_batch_spans_each_partition_consumed_with_the_commits_made_there() -> None:
    messages = [RawMessage("t", p, o, b"k", b"", None) for p, o in [(0, 10), (1, 5), (0, 12), (0, 11), (2, 3)]]
    commits = [PartitionCommit(0, 8, 12, 12, 1), PartitionCommit(0, 7, 10, 11, 1), PartitionCommit(1, 3, 5, 5, 0)]
    batch = committed_batch(messages, [_rec("a", 1), _rec("a", 2)], commits)
    assert batch.records == [_rec("a", 1), _rec("a", 2)]
    assert batch.partitions[0] == PartitionSpan(10, 12, 2, (commits[1], commits[0]))  # ascending commit_seq
    assert batch.partitions[1] == PartitionSpan(5, 5, 0, (commits[2],))
    assert batch.partitions[2] == PartitionSpan(3, 3, 0)  # consumed, nothing stored (e.g. redelivered)


def _all(_p: int) -> bool:
    return True


def test_resolve_sends_a_batch_that_continues_every_partition() -> None:
    marks = {0: PartitionSpan(10, 19, 5), 1: PartitionSpan(3, 4, 0)}
    delivered = {0: Delivered(4, 9), 1: Delivered(2, 2)}
    found = {
        0: [PartitionCommit(0, 5, 10, 19, 5)],
        1: [PartitionCommit(1, 3, 3, 4, 0)],
    }  # partition 1: dead letters only
    plan = resolve(marks, delivered, _all, found, True)
    assert plan.verdict is Verdict.SEND and {p: c.commit_seq for p, c in plan.advance.items()} == {0: 5, 1: 3}


def test_resolve_catches_up_on_a_gap_a_count_mismatch_or_records_it_cannot_account_for() -> None:
    delivered = {0: Delivered(4, 9)}
    gap = {0: [PartitionCommit(0, 6, 10, 19, 5)]}
    assert resolve({0: PartitionSpan(10, 19, 5)}, delivered, _all, gap, True).verdict is Verdict.CATCH_UP
    # the batch's messages were stored by another writer's commit: this batch holds none of its records
    foreign = {0: [PartitionCommit(0, 5, 10, 19, 5)]}
    assert resolve({0: PartitionSpan(10, 19, 0)}, delivered, _all, foreign, False).verdict is Verdict.CATCH_UP
    # nothing found for records that exist: they belong to commits already delivered or unseen
    assert resolve({0: PartitionSpan(10, 19, 5)}, delivered, _all, {0: []}, True).verdict is Verdict.CATCH_UP


def test_resolve_accepts_several_commits_from_one_batch() -> None:
    """A poison batch is stored message by message: one batch, several commits."""
    found = {0: [PartitionCommit(0, 5, 10, 10, 1), PartitionCommit(0, 6, 11, 11, 0), PartitionCommit(0, 7, 12, 12, 1)]}
    plan = resolve({0: PartitionSpan(10, 12, 2)}, {0: Delivered(4, 9)}, _all, found, True)
    assert plan.verdict is Verdict.SEND and plan.advance[0].commit_seq == 7


def test_resolve_skips_delivered_batches_and_reads_partly_delivered_ones_from_the_database() -> None:
    delivered = {0: Delivered(8, 40), 1: Delivered(2, 20)}
    assert resolve({0: PartitionSpan(10, 19, 5)}, delivered, _all, {}, True).verdict is Verdict.SKIP
    found = {1: [PartitionCommit(1, 3, 21, 30, 2)]}
    mixed = resolve({0: PartitionSpan(10, 19, 5), 1: PartitionSpan(21, 30, 2)}, delivered, _all, found, True)
    assert mixed.verdict is Verdict.CATCH_UP  # sending it whole would repeat partition 0's records
    skipped_only = resolve({0: PartitionSpan(10, 19, 0), 1: PartitionSpan(21, 30, 2)}, delivered, _all, found, True)
    assert skipped_only.verdict is Verdict.SEND and list(skipped_only.advance) == [1]


def test_resolve_sends_partitions_it_does_not_own_but_never_advances_them() -> None:
    plan = resolve({5: PartitionSpan(0, 9, 3)}, {}, lambda p: p != 5, {}, True)
    assert plan.verdict is Verdict.SEND and plan.advance == {}
    assert resolve({5: PartitionSpan(0, 9, 0)}, {}, lambda p: p != 5, {}, False).verdict is Verdict.SKIP


def test_plan_chunks_bounds_records_and_ends_on_commit_boundaries() -> None:
    commits = [PartitionCommit(7, s, s * 10, s * 10 + 9, n) for s, n in [(1, 3), (2, 3), (3, 0), (4, 9), (5, 1)]]
    chunks = plan_chunks(7, commits, max_records=6)
    assert [(c.first_seq, c.through_seq, c.record_count) for c in chunks] == [(1, 3, 6), (4, 4, 9), (5, 5, 1)]
    assert chunks[0] == Chunk(7, 1, 3, 10, 39, 6)
    assert plan_chunks(7, [], 6) == []


# -- the lane against a model of the database ----------------------------------------------------


class ModelStore:
    """partition_commits + audit_records + sink_progress, as the processor and the lane use them."""

    def __init__(self, partitions: int) -> None:
        self.commits: dict[int, list[tuple[PartitionCommit, list[dict[str, Any]]]]] = {p: [] for p in range(partitions)}
        self.next_offset = dict.fromkeys(range(partitions), 0)
        self.progress: dict[int, int] = {}
        self.assigned: set[int] | None = None

    def commit(self, partition: int, size: int, rejected: int = 0) -> CommittedBatch:
        """Store one batch on one partition; what the processor would hand over."""
        first = self.next_offset[partition]
        seq = len(self.commits[partition]) + 1
        records = [{"id": f"{partition}-{seq}-{i}", "actorId": f"actor-{partition}"} for i in range(size)]
        last = first + size + rejected - 1
        commit = PartitionCommit(partition, seq, first, last, size, rejected)
        self.commits[partition].append((commit, records))
        self.next_offset[partition] = last + 1
        return CommittedBatch(records, {partition: PartitionSpan(first, last, size, (commit,))})

    def all_ids(self) -> set[str]:
        return {r["id"] for rows in self.commits.values() for _span, records in rows for r in records}

    # SinkOutbox's interface
    def tree_after(self, chunk: Any) -> None:
        """The model keeps no transparency log (as a store whose tree does not reach the chunk)."""
        return None

    def assignment(self) -> set[int] | None:
        return self.assigned

    def load(self, sink: str, partitions: Iterable[int]) -> dict[int, Delivered]:
        out = {}
        for p in partitions:
            seq = self.progress.get(p, 0)
            out[p] = Delivered(seq, self.commits[p][seq - 1][0].last_offset) if seq else NOTHING
        return out

    def latest(self, partitions: Iterable[int]) -> dict[int, int]:
        return {p: len(self.commits[p]) for p in partitions}

    def commits_after(self, p: int, seq: int, limit: int, below_offset: int | None = None) -> list[PartitionCommit]:
        spans = [s for s, _ in self.commits[p] if s.commit_seq > seq]
        return [s for s in spans if below_offset is None or s.last_offset < below_offset][:limit]

    def read_records(self, chunk: Chunk) -> list[dict[str, Any]]:
        rows = self.commits[chunk.partition][chunk.first_seq - 1 : chunk.through_seq]
        return [r for _span, records in rows for r in records]

    def save(self, sink: str, progress: Mapping[int, int]) -> None:
        for p, seq in progress.items():
            self.progress[p] = max(self.progress.get(p, 0), seq)


class FlakySink:
    def __init__(self, store: ModelStore) -> None:
        self.name = "model"
        self.store = store
        self.received: list[str] = []
        self.down = False
        self.failures = 0

    async def send(self, records: list[dict[str, Any]]) -> None:
        await asyncio.sleep(0)
        if self.down:
            self.failures += 1
            raise ConnectionError("down")
        self.received.extend(r["id"] for r in records)

    async def close(self) -> None:
        return None


def _progress_is_true(store: ModelStore, sink: FlakySink) -> None:
    """The invariant that makes restarts safe: stored progress never claims an undelivered record."""
    got = set(sink.received)
    for p, seq in store.progress.items():
        claimed = {r["id"] for _s, records in store.commits[p][:seq] for r in records}
        assert claimed <= got, f"partition {p}: progress {seq} claims undelivered records"


@pytest.fixture(autouse=True)
def fast_lane(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(backoff, "MAX_BACKOFF_SECONDS", 0.01)
    monkeypatch.setattr(durable, "POLL_SECONDS", 0.01)
    monkeypatch.setattr(durable, "PERSIST_INTERVAL_SECONDS", 0.0)
    monkeypatch.setattr(durable, "LAG_REFRESH_SECONDS", 0.05)


async def _until(predicate: Any, what: str, timeout: float = 10.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not predicate():
        assert asyncio.get_running_loop().time() < deadline, what
        await asyncio.sleep(0.005)


@pytest.mark.parametrize("crashes", [True, False])
@pytest.mark.parametrize("seed", range(8))
async def test_lane_delivers_everything_through_crashes_overflow_and_failures(seed: int, crashes: bool) -> None:
    rng = random.Random(seed)
    store = ModelStore(partitions=3)
    store.assigned = {0, 1, 2} if seed % 2 else None
    sink = FlakySink(store)
    lane = DurableLane(sink, store, max_backlog=rng.choice([5, 40, 1000]), chunk_records=rng.choice([3, 50]))
    lane.start()
    for step in range(120):
        partition = rng.randrange(3)
        size = rng.randrange(0, 8)
        batch = store.commit(partition, size, rejected=rng.randrange(0 if size else 1, 2))
        if rng.random() < 0.9:  # else: never handed over (the lane notices it is behind when idle)
            lane.submit(batch)
        if rng.random() < 0.1:
            sink.down = not sink.down
        if crashes and rng.random() < 0.05:  # a new lane resumes from the stored progress
            for task in lane.tasks:
                task.cancel()
            lane = DurableLane(sink, store, max_backlog=lane.max_backlog, chunk_records=lane.chunk_records)
            lane.start()
        if step % 10 == 0:
            await asyncio.sleep(0.002)
        _progress_is_true(store, sink)
    sink.down = False
    if store.assigned is None:  # without an assignment only partitions committed to since start are in scope
        for p in range(3):
            batch = store.commit(p, 1)
            lane.submit(batch)
    newest = {p: len(store.commits[p]) for p in range(3) if store.commits[p]}
    await _until(lambda: set(sink.received) == store.all_ids(), f"seed {seed}: not everything delivered")
    await _until(lambda: store.progress == newest, f"seed {seed}: progress {store.progress} != {newest}")
    await lane.close()
    _progress_is_true(store, sink)
    if not crashes:  # overflow, failures, gaps and catch-ups alone never repeat a record
        assert len(sink.received) == len(set(sink.received))


async def test_fast_path_sends_in_memory_batches_once_and_in_order() -> None:
    store = ModelStore(partitions=2)
    store.assigned = {0, 1}
    sink = FlakySink(store)
    lane = DurableLane(sink, store, max_backlog=10_000)
    lane.start()
    expected: list[str] = []
    for i in range(50):
        batch = store.commit(i % 2, 4)
        expected += [r["id"] for r in batch.records]
        lane.submit(batch)
    await _until(lambda: len(sink.received) >= len(expected), "delivered")
    await lane.close()
    assert sink.received == expected  # no duplicates, commit order
    assert store.progress == {0: 25, 1: 25}


async def test_a_failing_sink_never_blocks_submit_and_catches_up_after_overflow() -> None:
    store = ModelStore(partitions=1)
    store.assigned = {0}
    sink = FlakySink(store)
    sink.down = True
    lane = DurableLane(sink, store, max_backlog=20)
    lane.start()
    for _ in range(30):
        batch = store.commit(0, 5)
        lane.submit(batch)
        assert lane.queued <= 20  # bounded: overflow lets the backlog go instead of growing
    await _until(lambda: sink.failures >= 3, "retries")
    assert sink.received == [] and store.progress == {}
    sink.down = False
    await _until(lambda: set(sink.received) == store.all_ids(), "caught up")
    await lane.close()
    assert store.progress == {0: 30}
