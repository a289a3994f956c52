"""One conformance suite for every sink kind (tests/integration/sink_kinds.py), against the real
destination: a sink kind is done when it passes.

For each kind: exactly the stored records (same fields, same order of fields, same values), each
actor's records in seq order (an actor lives in one partition, so this is per-partition order),
nothing lost across the sink's own restart (a graceful processor stop, and a restart of the
destination server where we run one) and the processor's SIGKILL, duplicates only inside the
documented window (records of commits after the sink's stored progress when it was interrupted;
none at all after a graceful stop), a new sink backfilled from the whole trail, and the
`argus_sink_*` metrics moving.
"""

from __future__ import annotations

import signal
from collections import Counter
from typing import Any

import pytest
from jsonschema import Draft202012Validator

from argus import schemas
from argus_spec.hashchain import RECORD_FIELDS
from argus_spec.uuid7 import uuid7
from tests.integration.harness import SinkMetrics, Stack, make_event, wait_for
from tests.integration.sink_kinds import KINDS, SINK, Record, SinkKind
from tests.integration.sink_kinds import start_with_sink as _start

STACK_ENV = {"ARGUS_PROCESSOR_BATCH_SIZE": "200"}
COMMITTED_SCHEMA = Draft202012Validator(schemas.load())


def _events(stack: Stack, count: int, start: int) -> list[dict[str, Any]]:
    actors = [f"conf-{stack.name}-{i:02d}" for i in range(12)]
    return [make_event(actors[(i * 7) % len(actors)], i, id=uuid7()) for i in range(start, start + count)]


def _ids(records: list[Record]) -> set[str]:
    return {record["id"] for record in records}


def _wait_delivered(stack: Stack, kind: SinkKind, want: set[str], timeout: float = 150) -> list[Record]:
    found: list[Record] = []

    def done() -> bool:
        found[:] = kind.delivered(stack)
        return want <= _ids(found)

    wait_for(done, timeout, lambda: f"{len(want - _ids(found))} of {len(want)} not delivered\n{stack.logs()}", 0.5)
    return found


def _stored(stack: Stack) -> dict[str, Record]:
    return {record["id"]: record for record in stack.records()}


def _position(stack: Stack) -> dict[str, tuple[int, int]]:
    """id -> (partition, commit_seq) of every stored record."""
    rows = stack.query("SELECT id, kafka_partition, commit_seq FROM audit_records")
    return {str(row[0]): (row[1], row[2]) for row in rows}


def _progress(stack: Stack) -> dict[int, int]:
    rows = stack.query("SELECT kafka_partition, commit_seq FROM sink_progress WHERE sink = :s", s=SINK)
    return {row[0]: row[1] for row in rows}


def _caught_up(stack: Stack) -> bool:
    newest = stack.query("SELECT kafka_partition, max(commit_seq) FROM partition_commits GROUP BY kafka_partition")
    return dict(map(tuple, newest)) == _progress(stack)


def _assert_exact_and_ordered(delivered: list[Record], stored: dict[str, Record]) -> None:
    """Every delivered record is the stored one, fields in the hash's canonical order; per actor,
    each record is the next seq, or a re-delivery of one already seen (never a skip ahead)."""
    newest: dict[str, int] = {}
    for record in delivered:
        assert list(record) == list(RECORD_FIELDS)
        COMMITTED_SCHEMA.validate(record)  # the published schema (argus/schemas)
        assert record == stored[record["id"]]
        actor, seq = record["actorId"], record["seq"]
        assert seq <= newest.get(actor, 0) + 1, f"{actor}: seq {seq} arrived after {newest.get(actor, 0)}"
        newest[actor] = max(newest.get(actor, 0), seq)
    assert set(newest) == {r["actorId"] for r in stored.values()}
    assert all(newest[r["actorId"]] >= r["seq"] for r in stored.values())


def _duplicates(delivered: list[Record]) -> set[str]:
    return {record_id for record_id, n in Counter(r["id"] for r in delivered).items() if n > 1}


@pytest.fixture(params=KINDS, ids=[kind.name for kind in KINDS])
def kind(request: pytest.FixtureRequest) -> SinkKind:
    return request.param  # type: ignore[no-any-return]


def test_exact_ordered_and_lossless_through_restarts_and_sigkill(stack: Stack, kind: SinkKind) -> None:
    first = _events(stack, 600, 0)
    stack.produce_envelopes(first)
    process, port = _start(stack, kind)
    metrics = SinkMetrics(port, SINK)
    _wait_delivered(stack, kind, {e["id"] for e in first})
    wait_for(metrics.reaches("argus_sink_delivered_records_total", lambda v: v >= len(first)), 30, "delivered counter")
    wait_for(lambda: _caught_up(stack), 30, "sink_progress at the newest commits")
    wait_for(metrics.reaches("argus_sink_lag_commits", lambda v: v == 0), 30, "no lag")

    # The sink's own restart: a graceful stop records its progress, so nothing is sent twice.
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=60) == 0, stack.logs()
    second = _events(stack, 600, 600)
    stack.produce_envelopes(second)
    process, port = _start(stack, kind)
    if kind.restart_server is not None:  # and the destination's own restart, mid-delivery
        wait_for(lambda: stack.stored_count() >= 900, 120, lambda: f">= 900 stored\n{stack.logs()}", 0.05)
        before_restart = _progress(stack)
        kind.restart_server()
    delivered = _wait_delivered(stack, kind, {e["id"] for e in first + second})
    window = set()
    if kind.restart_server is not None:
        position = _position(stack)
        window = {i for i, (p, c) in position.items() if c > before_restart.get(p, 0)}
    assert _duplicates(delivered) <= window, "duplicates outside the documented window"
    if kind.restart_server is None:
        assert not _duplicates(delivered), "a graceful stop re-sent records"

    # The processor's SIGKILL; then a death right after a commit, before its hand-over to the sink
    # (the worst moment: only the database has that batch).
    before_kill = _progress(stack)
    process.send_signal(signal.SIGKILL)
    process.wait()
    third = _events(stack, 900, 1200)
    stack.produce_envelopes(third)
    process, _port = _start(stack, kind, ARGUS_FAULT_CRASH="after_commit:2")
    assert process.wait(timeout=120) == 137, stack.logs()
    before_crash = _progress(stack)
    process, port = _start(stack, kind)
    metrics = SinkMetrics(port, SINK)
    delivered = _wait_delivered(stack, kind, {e["id"] for e in first + second + third})

    stored = _stored(stack)
    assert len(stored) == len(first + second + third)
    assert _ids(delivered) == set(stored)
    _assert_exact_and_ordered(delivered, stored)
    position = _position(stack)
    window |= {i for i, (p, c) in position.items() if c > min(before_kill.get(p, 0), before_crash.get(p, 0))}
    assert _duplicates(delivered) <= window, "duplicates outside the documented window"
    wait_for(lambda: _caught_up(stack), 30, "sink_progress at the newest commits")
    wait_for(metrics.reaches("argus_sink_lag_commits", lambda v: v == 0), 30, "lag back to 0")
    assert metrics.value("argus_sink_delivered_records_total") > 0
    assert metrics.value("argus_sink_catchup_records_total") > 0  # the crashed batch came from the database


def test_a_new_sink_is_backfilled_with_the_whole_trail(stack: Stack, kind: SinkKind) -> None:
    events = _events(stack, 1000, 0)
    stack.produce_envelopes(events)
    process, _port = _start(stack, None)
    wait_for(lambda: stack.stored_count() == len(events), 120, lambda: f"all stored\n{stack.logs()}")
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=60) == 0, stack.logs()
    assert kind.delivered(stack) == []

    _process, port = _start(stack, kind)
    metrics = SinkMetrics(port, SINK)
    delivered = _wait_delivered(stack, kind, {e["id"] for e in events})
    stored = _stored(stack)
    assert len(delivered) == len(stored), "duplicates in a backfill without any crash"
    _assert_exact_and_ordered(delivered, stored)
    wait_for(metrics.reaches("argus_sink_catchup_records_total", lambda v: v == len(events)), 30, "catch-up counted")
    wait_for(lambda: _caught_up(stack), 30, "sink_progress at the newest commits")
