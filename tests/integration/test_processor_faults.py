"""Crashes, restarts, rebalances, zombies and poison messages: nothing lost, nothing duplicated, no forks."""

from __future__ import annotations

import random
import signal
import time
import urllib.request
from pathlib import Path

import orjson
import pytest
from confluent_kafka import Consumer, TopicPartition
from prometheus_client import REGISTRY

from argus.db.engine import make_engine
from argus_spec.enums import EnumConfig
from argus_spec.envelope import encode_envelope
from argus_spec.uuid7 import uuid7
from bench import free_port
from processor.batch import BatchProcessor
from processor.decode import RawMessage
from tests.integration.harness import (
    Stack,
    assert_exactly_once,
    chain_problems,
    make_event,
    random_events,
    run_two_replicas_killing_one,
    wait_for,
    wait_until_consumed,
)

#: The `stack` fixture (conftest.py) runs processors with small batches here, so a few thousand
#: events make many batches (more crash points and commits).
STACK_ENV = {"ARGUS_PROCESSOR_BATCH_SIZE": "300"}


def test_sigkill_at_random_points_then_restart(stack: Stack) -> None:
    events = random_events(6000, seed=7)
    stack.produce_envelopes(events)
    for threshold in (800, 2500, 4200):
        process = stack.start_processor()
        wait_for(
            lambda t=threshold: stack.stored_count() >= t,
            120,
            lambda t=threshold: f">= {t} stored\n{stack.logs()}",
            0.05,
        )
        time.sleep(random.uniform(0, 0.3))
        process.send_signal(signal.SIGKILL)
        process.wait()
    stack.start_processor()
    wait_for(lambda: stack.stored_count() >= len(events), 120, lambda: f"all stored\n{stack.logs()}")
    wait_until_consumed(stack)  # no later delivery can add a duplicate
    assert_exactly_once(stack, events)


@pytest.mark.parametrize("point", ["before_commit", "after_commit"])
def test_crash_at_exact_protocol_points(stack: Stack, point: str) -> None:
    events = random_events(2000, seed=11)
    stack.produce_envelopes(events)
    stack.extra_env["ARGUS_FAULT_CRASH"] = f"{point}:2"
    crashed = stack.start_processor()
    assert crashed.wait(timeout=120) == 137, stack.logs()
    stored_at_crash = stack.stored_count()
    assert stored_at_crash < len(events)
    del stack.extra_env["ARGUS_FAULT_CRASH"]
    stack.start_processor()
    wait_for(lambda: stack.stored_count() >= len(events), 120, lambda: f"all stored\n{stack.logs()}")
    wait_until_consumed(stack)
    assert_exactly_once(stack, events)


def test_resumes_from_the_database_even_if_kafka_offsets_ran_ahead(stack: Stack) -> None:
    """Kafka's committed offsets claim everything was consumed; the database says otherwise."""
    events = random_events(1500, seed=5)
    stack.produce_envelopes(events[:500])
    stack.start_processor()
    wait_for(lambda: stack.stored_count() == 500, 120, lambda: f"500 stored\n{stack.logs()}")
    stack.stop_all()
    stack.produce_envelopes(events[500:])
    consumer = Consumer({"bootstrap.servers": stack.kafka, "group.id": f"g.{stack.name}"})
    try:
        ahead = [
            TopicPartition(stack.topic, p, consumer.get_watermark_offsets(TopicPartition(stack.topic, p))[1])
            for p in range(stack.partitions)
        ]
        consumer.commit(offsets=ahead, asynchronous=False)
    finally:
        consumer.close()
    stack.start_processor()
    wait_for(lambda: stack.stored_count() >= len(events), 120, lambda: f"all stored\n{stack.logs()}")
    wait_until_consumed(stack)
    assert_exactly_once(stack, events)


def test_two_replicas_one_killed_mid_stream(stack: Stack) -> None:
    events = random_events(6000, seed=3)
    run_two_replicas_killing_one(stack, events, kill_after=1500)
    wait_until_consumed(stack)
    assert_exactly_once(stack, events)


def test_bad_messages_are_dead_lettered_and_never_block_the_partition(stack: Stack) -> None:
    good = [make_event("svc-dlq", i, id=uuid7()) for i in range(3)]
    stack.produce_envelopes([good[0]])
    stack.produce_raw(b"\xff not json", b"svc-dlq")
    stack.produce_raw(None, b"svc-dlq")
    stack.produce_raw(
        encode_envelope(make_event("svc-dlq", 9, status="BAD"), source=None, received_at=None), b"svc-dlq"
    )
    stack.produce_raw(encode_envelope(make_event("someone-else", 9), source=None, received_at=None), b"svc-dlq")
    stack.produce_raw(orjson.dumps({"hello": "world"}), b"svc-dlq")
    stack.produce_envelopes(good[1:])
    metrics_port = free_port()
    stack.extra_env["ARGUS_PROCESSOR_METRICS_PORT"] = str(metrics_port)
    stack.start_processor()
    wait_for(lambda: stack.stored_count() == 3, 90, lambda: f"3 stored\n{stack.logs()}")
    wait_for(lambda: len(stack.query("SELECT 1 FROM dead_letters")) == 5, 30, "5 dead letters")
    records = stack.records()
    assert [r["seq"] for r in records] == [1, 2, 3] and chain_problems(records) == []
    reasons = sorted(row.reason.split(":")[0] for row in stack.query("SELECT reason FROM dead_letters"))
    assert reasons == ["$", "$", "$", "actorId", "status"]
    dlq = stack.topic_messages(stack.dlq_topic, expected=5)
    assert len(dlq) == 5
    headers = [dict(m.headers()) for m in dlq]
    assert all(h["argus.reason"] for h in headers)
    assert {m.value() for m in dlq} >= {b"\xff not json", orjson.dumps({"hello": "world"})}
    with urllib.request.urlopen(f"http://127.0.0.1:{metrics_port}/metrics", timeout=10) as response:
        exposition = response.read().decode()
    assert "argus_records_stored_total 3.0" in exposition
    assert 'argus_dead_letters_total{field="status"} 1.0' in exposition


def _raw(topic: str, partition: int, offset: int, event: dict[str, object]) -> RawMessage:
    value = encode_envelope(event, source="test", received_at="2026-01-01T00:00:00.000000Z")
    return RawMessage(topic, partition, offset, str(event["actorId"]).encode(), value, None)


async def test_a_zombie_writer_cannot_fork_a_chain(pg_url: str) -> None:
    """Two replicas believe they own partition 0; the stale one's batch fails and is skipped."""
    topic = "zombie.events"
    events = [make_event("svc-z", i, id=uuid7()) for i in range(20)]
    messages = [_raw(topic, 0, offset, event) for offset, event in enumerate(events)]
    engine = make_engine(pg_url)

    def verify(batch: list[dict[str, object]], sources: object = None) -> list[str | None]:
        return [None] * len(batch)

    owner = BatchProcessor(engine, topic, EnumConfig(), verify, 1000)
    zombie = BatchProcessor(engine, topic, EnumConfig(), verify, 1000)
    await zombie.handle(messages[:1])  # the zombie caches progress and the chain head...
    await owner.handle(messages[:1])  # ...the owner sees it stored and skips
    await owner.handle(messages[1:10])
    result = await zombie.handle(messages[1:10])  # stale: conflicts, reloads, skips everything
    assert result.records == [] and result.skipped == 9
    await zombie.handle(messages[10:])  # after reloading it continues the chain correctly
    stack_records = Stack(kafka="", db_url=pg_url, name="z", tmp=Path("."))
    records = stack_records.records()
    assert [r["seq"] for r in records] == list(range(1, 21))
    assert chain_problems(records) == []
    engine.dispose()


async def test_an_id_stored_before_is_stored_once_whether_looked_up_or_caught_by_the_key(
    pg_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A retried event (same id, later offset) is a duplicate: found by the id lookup (first
    batches), or, once lookups stop, refused by the primary key and the batch retried with it."""
    monkeypatch.setattr("processor.batch.ID_CHECK_BATCHES", 1)
    topic = "duplicates.events"
    events = [make_event("svc-d", i, id=uuid7()) for i in range(6)]
    engine = make_engine(pg_url)
    processor = BatchProcessor(engine, topic, EnumConfig(), lambda batch, sources=None: [None] * len(batch), 1000)

    def caught_by_key() -> float:
        return REGISTRY.get_sample_value("argus_batch_retries_total", {"reason": "duplicate_id"}) or 0.0

    await processor.handle([_raw(topic, 0, offset, event) for offset, event in enumerate(events[:4])])
    before = caught_by_key()
    for offset, (again, new) in enumerate([(events[1], events[4]), (events[2], events[5])], start=4):
        result = await processor.handle([_raw(topic, 0, 2 * offset - 4, again), _raw(topic, 0, 2 * offset - 3, new)])
        assert result.duplicates == 1 and [r["id"] for r in result.records] == [new["id"]]
    assert caught_by_key() == before + 2  # no lookups after the first batch: the key caught both
    restarted = BatchProcessor(engine, topic, EnumConfig(), lambda batch, sources=None: [None] * len(batch), 1000)
    result = await restarted.handle([_raw(topic, 0, 8, events[0])])  # a new replica looks ids up
    assert result.duplicates == 1 and result.records == [] and caught_by_key() == before + 2
    records = Stack(kafka="", db_url=pg_url, name="d", tmp=Path(".")).records()
    assert sorted(r["id"] for r in records) == sorted(e["id"] for e in events)
    assert [r["seq"] for r in records] == list(range(1, 7)) and chain_problems(records) == []
    engine.dispose()
