"""A request is all or nothing (issue 11, item 7): when any record of a bulk is not delivered the
gateway answers 503, and none of that bulk's records is ever stored, though the broker wrote the
others; the retry stores every event once."""

from __future__ import annotations

import base64
import os
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer
from confluent_kafka.admin import AdminClient, AlterConfigOpType, ConfigEntry, ConfigResource, ResourceType

from argus.config import load_settings
from argus.kafka_admin import topic_max_message_bytes
from ingest_gateway.app import init
from tests.integration.harness import TOKEN, Stack, make_event, wait_for

AUTH = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture
async def gateway(stack: Stack) -> AsyncIterator[TestClient[Any, Any]]:
    client = TestClient(TestServer(init(load_settings(stack.settings_env()))))
    await client.start_server()
    try:
        yield client
    finally:
        await client.close()


def _set_topic_limit(stack: Stack, limit: int) -> None:
    admin = AdminClient({"bootstrap.servers": stack.kafka})
    entry = ConfigEntry("max.message.bytes", str(limit), incremental_operation=AlterConfigOpType.SET)
    resource = ConfigResource(ResourceType.TOPIC, stack.topic, incremental_configs=[entry])
    admin.incremental_alter_configs([resource])[resource].result(30)
    wait_for(lambda: topic_max_message_bytes(admin, stack.topic) == limit, 30, f"max.message.bytes {limit}")


async def test_a_bulk_answered_503_stores_none_of_its_events_and_its_retry_stores_each_once(
    stack: Stack, gateway: TestClient[Any, Any]
) -> None:
    original_limit = topic_max_message_bytes(AdminClient({"bootstrap.servers": stack.kafka}), stack.topic)
    # One record the broker will refuse: a topic limit below the gateway's own (a misconfigured
    # cluster is the realistic cause; a leader that stays unavailable fails the same way).
    _set_topic_limit(stack, 20_000)
    bulk = [make_event(f"svc-{i % 5}", i) for i in range(40)]
    bulk[17]["message"] = base64.b64encode(os.urandom(30_000)).decode()
    response = await gateway.post("/api/audit-logs/bulk", json=bulk, headers=AUTH)
    assert response.status == 503, await response.text()
    assert response.headers["Retry-After"]
    written = stack.records_written(stack.topic)
    assert written > 0  # the broker did write the other records (then they were aborted)

    _set_topic_limit(stack, original_limit)
    stack.start_processor()
    # one marker behind the aborted records on every partition they used (same actors, same keys):
    # once the markers are stored, the processor has read past everything the bulk wrote
    markers = [make_event(f"svc-{actor}", 1000 + actor) for actor in range(5)]
    response = await gateway.post("/api/audit-logs/bulk", json=markers, headers=AUTH)
    assert response.status == 201, await response.text()
    wait_for(lambda: stack.stored_count() >= 5, 90, lambda: f"the markers stored\n{stack.logs()}")
    stored = sorted(row.target_id for row in stack.query("SELECT target_id FROM audit_records"))
    assert stored == sorted(marker["targetId"] for marker in markers)
    assert stack.query("SELECT count(*) FROM dead_letters")[0][0] == 0

    response = await gateway.post("/api/audit-logs/bulk", json=bulk, headers=AUTH)  # the client's retry
    assert response.status == 201, await response.text()
    wait_for(lambda: stack.stored_count() == 45, 90, lambda: f"45 stored\n{stack.logs()}")
    targets = sorted(row.target_id for row in stack.query("SELECT target_id FROM audit_records"))
    assert targets == sorted(event["targetId"] for event in [*bulk, *markers])
