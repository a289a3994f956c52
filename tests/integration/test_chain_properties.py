"""Property: whatever the interleaving of replicas, crashes and redeliveries, every event is stored
once, each actor's seq runs 1..n in partition order, and every chain verifies (real PostgreSQL)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, text

from argus.db.engine import make_engine
from argus_spec.enums import EnumConfig
from argus_spec.envelope import encode_envelope
from argus_spec.uuid7 import uuid7
from processor.batch import BatchProcessor
from processor.decode import RawMessage
from tests.integration.harness import as_record, chain_problems, make_event

TOPIC = "prop.events"
ACTORS = ["a", "b", "c", "d"]
PARTITION_OF = {"a": 0, "b": 1, "c": 0, "d": 1}

# One step of the schedule: (replica, kind, size). kind 0 = consume the next `size` messages of a
# partition from the replica's own position; 1 = the replica crashes and restarts (caches lost,
# position back to the database's progress); 2 = redelivery: its position moves back `size` messages.
steps = st.lists(
    st.tuples(st.integers(0, 1), st.integers(0, 2), st.integers(1, 12), st.integers(0, 1)), min_size=1, max_size=25
)


@pytest.fixture
def engine(pg_url: str) -> Iterator[Engine]:
    engine = make_engine(pg_url)
    yield engine
    engine.dispose()


def _accept_all(events: list[dict[str, Any]], sources: object = None) -> list[str | None]:
    return [None] * len(events)


def _messages(actors: list[str]) -> dict[int, list[RawMessage]]:
    by_partition: dict[int, list[RawMessage]] = {0: [], 1: []}
    for index, actor in enumerate(actors):
        partition = PARTITION_OF[actor]
        event = make_event(actor, index, id=uuid7())
        value = encode_envelope(event, source="prop", received_at="2026-01-01T00:00:00.000000Z")
        offset = len(by_partition[partition])
        by_partition[partition].append(RawMessage(TOPIC, partition, offset, actor.encode(), value, None))
    return by_partition


def _stored(engine: Engine) -> list[dict[str, Any]]:
    with engine.connect() as connection:
        rows = connection.execute(text("SELECT * FROM audit_records ORDER BY actor_id, seq"))
        return [as_record(row) for row in rows]


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(actors=st.lists(st.sampled_from(ACTORS), min_size=1, max_size=40), schedule=steps)
def test_any_interleaving_stores_each_event_once_in_order(engine: Engine, actors: list[str], schedule: Any) -> None:
    with engine.begin() as connection:
        connection.execute(text("TRUNCATE audit_records, partition_commits, dead_letters"))
    messages = _messages(actors)

    def fresh() -> BatchProcessor:
        return BatchProcessor(engine, TOPIC, EnumConfig(), _accept_all, head_capacity=2)

    def resume_position(partition: int) -> int:
        progress = fresh().stored_progress([partition])
        return progress[partition].last_offset + 1 if partition in progress else 0

    async def run() -> None:
        replicas = [fresh(), fresh()]
        positions = [{0: 0, 1: 0}, {0: 0, 1: 0}]
        for replica, kind, size, partition in schedule:
            if kind == 0:
                start = positions[replica][partition]
                window = messages[partition][start : start + size]
                if window:
                    await replicas[replica].handle(window)
                    positions[replica][partition] = start + len(window)
            elif kind == 1:
                replicas[replica] = fresh()
                positions[replica] = {p: resume_position(p) for p in (0, 1)}
            else:
                positions[replica][partition] = max(0, positions[replica][partition] - size)
        survivor = fresh()  # finally one replica catches up from the database's progress
        for partition in (0, 1):
            remaining = messages[partition][resume_position(partition) :]
            if remaining:
                await survivor.handle(remaining)

    asyncio.run(run())
    records = _stored(engine)
    assert chain_problems(records) == []
    assert len(records) == len(actors)
    expected_order: dict[str, list[str]] = {}
    for partition in (0, 1):
        for message in messages[partition]:
            expected_order.setdefault(message.key.decode(), []).append(message.offset)  # type: ignore[union-attr]
    with engine.connect() as connection:
        rows = connection.execute(text("SELECT actor_id, kafka_offset FROM audit_records ORDER BY actor_id, seq"))
        stored_order: dict[str, list[int]] = {}
        for row in rows:
            stored_order.setdefault(row.actor_id, []).append(row.kafka_offset)
    assert stored_order == expected_order
