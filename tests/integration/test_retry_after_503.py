"""A bulk answered 503 after part of it reached Kafka, then retried as is, stores each event
exactly once with exactly its content (issue 11, item 7; docs/api.md, "503: not acknowledged").

The partial failure is real: after the gateway started, the test lowers its own topic's
`max.message.bytes` on the shared broker (as an operator might), so the broker refuses the
record batch holding the bulk's one large event (MSG_SIZE_TOO_LARGE) while it writes the batches
of the other partitions. The gateway answers 503. The limit is then restored and the same bulk
is sent again: once before the processor runs (the partial events are produced twice and the
processor skips the copies), once after the partial events were stored (the gateway acknowledges
them as retries without producing them). Events come with client ids, without ids (content ids)
and without ids under an Idempotency-Key. With ARGUS_CONTENT_IDS=false and no key, the documented
outcome is checked too: each retry stores the partial events again under new ids.
"""

from __future__ import annotations

import base64
import os
from collections.abc import AsyncIterator
from typing import Any

import orjson
import pytest
from aiohttp.test_utils import TestClient, TestServer
from confluent_kafka import Consumer, TopicPartition
from confluent_kafka.admin import AdminClient, AlterConfigOpType, ConfigEntry, ConfigResource, ResourceType

from argus.kafka.admin import MAX_MESSAGE_BYTES, topic_max_message_bytes
from argus.runtime.settings import load_settings
from argus_spec.uuid7 import uuid7
from ingest_gateway.app import init
from tests.integration.harness import TOKEN, Stack, chain_problems, make_event, wait_for, wait_until_consumed

AUTH = {"Authorization": f"Bearer {TOKEN}"}
LOWERED_LIMIT = 64 * 1024  # below the large event, above every small one
ACTORS = [f"svc-503-{i}" for i in range(8)]  # spread over the 4 partitions


async def _gateway(stack: Stack, **env: str) -> TestClient[Any, Any]:
    client = TestClient(TestServer(init(load_settings({**stack.settings_env(), **env}))))
    await client.start_server()
    return client


@pytest.fixture
async def gateway(stack: Stack) -> AsyncIterator[TestClient[Any, Any]]:
    client = await _gateway(stack)
    try:
        yield client
    finally:
        await client.close()


def _set_topic_limit(stack: Stack, limit: int) -> None:
    admin = AdminClient({"bootstrap.servers": stack.kafka})
    entry = ConfigEntry(MAX_MESSAGE_BYTES, str(limit), incremental_operation=AlterConfigOpType.SET)
    resource = ConfigResource(ResourceType.TOPIC, stack.topic, incremental_configs=[entry])
    admin.incremental_alter_configs([resource])[resource].result(30)
    # the controller has it; poll until the broker serves it (it applies the metadata asynchronously)
    wait_for(lambda: topic_max_message_bytes(admin, stack.topic) == limit, 30, f"{MAX_MESSAGE_BYTES}={limit} in force")


def _large_event(actor: str) -> dict[str, Any]:
    """~270 KB as stored: over the lowered topic limit, under ARGUS_MAX_EVENT_BYTES. Random bytes,
    so lz4 cannot shrink the record batch below the limit."""
    return make_event(actor, 999, id=uuid7(), message=base64.b64encode(os.urandom(200 * 1024)).decode())


def _bulk(tag: str, *, with_ids: bool) -> list[dict[str, Any]]:
    events = []
    for i in range(24):
        event = make_event(ACTORS[i % len(ACTORS)], i, targetId=f"{tag}-{i}")
        if with_ids and i % 2 == 0:
            event["id"] = uuid7()
        else:
            event.pop("id", None)
        events.append(event)
    return [*events, _large_event(ACTORS[0])]


async def _post_bulk(gateway: TestClient[Any, Any], events: list[dict[str, Any]], **headers: str) -> tuple[int, Any]:
    response = await gateway.post("/api/audit-logs/bulk", json=events, headers={**AUTH, **headers})
    return response.status, await response.json()


def _topic_ids(stack: Stack) -> list[str]:
    """The event id of every record in the stack's topic, in no particular order."""
    ends = stack.high_watermarks(stack.topic)
    consumer = Consumer({"bootstrap.servers": stack.kafka, "group.id": f"ids.{stack.name}.{uuid7()}"})
    consumer.assign([TopicPartition(stack.topic, p, 0) for p, end in ends.items() if end])
    ids: list[str] = []
    try:
        wait_for(lambda: _read_into(consumer, ids) >= sum(ends.values()), 60, "every record of the topic read")
    finally:
        consumer.close()
    return ids


def _read_into(consumer: Consumer, ids: list[str]) -> int:
    for message in consumer.consume(500, timeout=0.5):
        if message.error() is None:
            ids.append(orjson.loads(message.value())["event"]["id"])
    return len(ids)


async def _answered_503_after_a_partial_produce(
    stack: Stack, gateway: TestClient[Any, Any], events: list[dict[str, Any]], **headers: str
) -> int:
    """Send `events` while the topic refuses the large one: 503, yet some of the others are in
    Kafka. Returns how many records that attempt wrote."""
    before = stack.end_offsets(stack.topic)
    _set_topic_limit(stack, LOWERED_LIMIT)
    status, body = await _post_bulk(gateway, events, **headers)
    _set_topic_limit(stack, load_settings(stack.settings_env()).kafka_max_message_bytes)
    assert status == 503 and body["error"] == "kafka_unavailable", (status, body)
    written = stack.end_offsets(stack.topic) - before
    assert 0 < written < len(events), f"the attempt must have written part of the bulk, wrote {written}"
    print(f"503 after {written} of {len(events)} events were written")
    return written


def _assert_stored_exactly(stack: Stack, sent: dict[str, dict[str, Any]]) -> None:
    rows = {row.id: row for row in stack.query("SELECT id, target_id, timestamp, action, status, actor_id, "
                                                "metadata, message FROM audit_records")}  # fmt: skip
    assert set(rows) == set(sent), f"stored {len(rows)} records for {len(sent)} events"
    for record_id, event in sent.items():
        row = rows[record_id]
        stored = (row.target_id, row.timestamp, row.action, row.status, row.actor_id, orjson.loads(row.metadata))
        expected = (event["targetId"], event["timestamp"], event["action"], event["status"], event["actorId"],
                    event["metadata"])  # fmt: skip
        assert stored == expected, record_id
        assert row.message == event.get("message"), record_id


async def test_a_bulk_answered_503_after_a_partial_produce_is_stored_once_when_retried(
    stack: Stack, gateway: TestClient[Any, Any]
) -> None:
    mixed, keyed = _bulk("mixed", with_ids=True), _bulk("keyed", with_ids=False)
    key = {"Idempotency-Key": f"batch-{uuid7()}"}
    partial = await _answered_503_after_a_partial_produce(stack, gateway, mixed)
    partial_ids = _topic_ids(stack)

    # retried before anything is stored: the partial events are produced again under the same ids
    status, body = await _post_bulk(gateway, mixed)
    assert status == 201, body
    mixed_ids = [item["id"] for item in body["succeeded"]]
    assert [mixed_ids[i] for i, e in enumerate(mixed) if "id" in e] == [e["id"] for e in mixed if "id" in e]
    assert set(partial_ids) <= set(mixed_ids)  # the failed attempt's id-less events got the retry's ids
    assert stack.end_offsets(stack.topic) == partial + len(mixed)

    stack.start_processor()
    wait_until_consumed(stack)
    sent = dict(zip(mixed_ids, mixed, strict=True))
    _assert_stored_exactly(stack, sent)

    # retried after the partial events are stored: those are acknowledged without being produced
    keyed_partial = await _answered_503_after_a_partial_produce(stack, gateway, keyed, **key)
    wait_until_consumed(stack)
    status, body = await _post_bulk(gateway, keyed, **key)
    assert status == 201, body
    keyed_ids = [item["id"] for item in body["succeeded"]]
    assert stack.end_offsets(stack.topic) == partial + len(mixed) + len(keyed)  # the stored ones not again
    wait_until_consumed(stack)
    sent.update(zip(keyed_ids, keyed, strict=True))
    _assert_stored_exactly(stack, sent)
    assert stack.stored_count() == len(mixed) + len(keyed) < stack.end_offsets(stack.topic)
    assert keyed_partial > 0
    assert stack.query("SELECT count(*) FROM dead_letters")[0][0] == 0
    assert chain_problems(stack.records()) == []


async def test_without_content_ids_or_a_key_a_retried_503_bulk_stores_its_partial_events_twice(
    stack: Stack,
) -> None:
    """The trade-off docs/api.md states for ARGUS_CONTENT_IDS=false: id-less events get fresh ids
    per attempt, so what the failed attempt wrote is stored again by the retry."""
    gateway = await _gateway(stack, ARGUS_CONTENT_IDS="false")
    try:
        events = _bulk("fresh", with_ids=False)
        partial = await _answered_503_after_a_partial_produce(stack, gateway, events)
        status, _ = await _post_bulk(gateway, events)
        assert status == 201
    finally:
        await gateway.close()
    stack.start_processor()
    wait_until_consumed(stack)
    assert stack.stored_count() == len(events) + partial
    assert stack.query("SELECT count(*) FROM dead_letters")[0][0] == 0
