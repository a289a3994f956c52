"""Size limits agree end to end (issue 11, item 8): every event within the per-event limit is
stored, whatever the broker's default; one beyond it is a per-item 413, never a 503."""

from __future__ import annotations

import base64
import os
from typing import Any

import orjson
from aiohttp.test_utils import TestClient
from confluent_kafka.admin import AdminClient

from argus.kafka.admin import topic_max_message_bytes
from argus.runtime.settings import load_settings
from argus_spec.event import MAX_MESSAGE_B64_LEN
from tests.integration.harness import TOKEN, Stack, make_event, wait_for

AUTH = {"Authorization": f"Bearer {TOKEN}"}


def _message(raw_bytes: int) -> str:
    return base64.b64encode(os.urandom(raw_bytes)).decode()


async def test_events_at_the_documented_limits_are_stored_as_sent(stack: Stack, gateway: TestClient[Any, Any]) -> None:
    settings = load_settings(stack.settings_env())
    admin = AdminClient({"bootstrap.servers": stack.kafka})
    # the harness created the topic with the broker's defaults; the gateway raised its limit
    assert topic_max_message_bytes(admin, stack.topic) >= settings.kafka_max_message_bytes

    biggest = make_event("svc-big", 1, message=_message(MAX_MESSAGE_B64_LEN // 4 * 3))
    assert len(biggest["message"]) == MAX_MESSAGE_B64_LEN
    biggest["metadata"]["padding"] = "x" * 200_000
    response = await gateway.post("/api/audit-logs", json=biggest, headers=AUTH)
    assert response.status == 201, await response.text()

    # the reference Go client's default batch: 20 events, each a 300 KiB []byte (base64 in JSON)
    go_batch = [make_event("svc-go", i, message=_message(300 * 1024)) for i in range(20)]
    body = orjson.dumps(go_batch)
    assert len(body) > 7 * 1024 * 1024  # above the old 5 MiB body limit
    response = await gateway.post(
        "/api/audit-logs/bulk", data=body, headers={**AUTH, "Content-Type": "application/json"}
    )
    assert response.status == 201, await response.text()
    assert len((await response.json())["succeeded"]) == 20

    stack.start_processor()
    wait_for(lambda: stack.stored_count() == 21, 120, lambda: f"21 stored\n{stack.logs()}")
    big = stack.query("SELECT message, metadata FROM audit_records WHERE actor_id = 'svc-big'")[0]
    assert big.message == biggest["message"] and orjson.loads(big.metadata) == biggest["metadata"]
    go_stored = stack.query("SELECT target_id, message FROM audit_records WHERE actor_id = 'svc-go'")
    assert {row.target_id: row.message for row in go_stored} == {e["targetId"]: e["message"] for e in go_batch}
    assert stack.query("SELECT count(*) FROM dead_letters")[0][0] == 0
    committed = stack.topic_messages(stack.committed_topic, expected=21, timeout=60)
    assert len(committed) == 21  # the committed-topic copies (record + hashes) fit as well


async def test_an_event_beyond_the_limit_is_refused_per_item_and_never_produced(
    stack: Stack, gateway: TestClient[Any, Any]
) -> None:
    too_big = make_event("svc-big", 1, message=_message(1000))
    too_big["metadata"]["padding"] = "x" * 1_400_000  # the body limit is far; the event limit is not
    response = await gateway.post("/api/audit-logs", json=too_big, headers=AUTH)
    assert response.status == 413, await response.text()
    body = await response.json()
    assert body["error"] == "event_too_large" and body["field"] == "metadata"

    fine = make_event("svc-big", 2)
    response = await gateway.post("/api/audit-logs/bulk", json=[fine, too_big], headers=AUTH)
    assert response.status == 207, await response.text()
    result = await response.json()
    assert [item["index"] for item in result["succeeded"]] == [0]
    assert [(item["index"], item["field"]) for item in result["failed"]] == [(1, "metadata")]

    stack.start_processor()
    wait_for(lambda: stack.stored_count() == 1, 90, lambda: f"1 stored\n{stack.logs()}")
    assert stack.end_offsets(stack.topic) == 1  # the refused event never reached Kafka
    assert stack.query("SELECT target_id FROM audit_records")[0][0] == "doc-2"
