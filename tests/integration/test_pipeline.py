"""HTTP → Kafka → processor → PostgreSQL, against the real servers."""

from __future__ import annotations

import base64
import itertools
import uuid
from pathlib import Path
from typing import Any

import orjson
import pytest
from aiohttp.test_utils import TestClient, TestServer

from argus.runtime.settings import load_settings
from argus_spec.hashchain import GENESIS_HASH, record_hash
from ingest_gateway.app import init
from tests.integration.harness import TOKEN, TOKEN_NAME, Stack, chain_problems, make_event, running_stack, wait_for

AUTH = {"Authorization": f"Bearer {TOKEN}"}


async def test_single_and_bulk_events_are_stored_with_every_field_and_chained(
    stack: Stack, gateway: TestClient[Any, Any]
) -> None:
    trace = str(uuid.uuid4())
    message = base64.b64encode(b"raw payload \x00\xff").decode()
    single = make_event("svc-orders", 1, traceId=trace, message=message)
    extra = {"nanos": 2**60 + 1, "html": "<a&b>", "unicode": "żółw 🐢", "nested": {"z": [], "a": None}}
    single["metadata"].update(extra)
    response = await gateway.post("/api/audit-logs", json=single, headers=AUTH)
    assert response.status == 201, await response.text()
    single_id = (await response.json())["id"]

    bulk = [make_event("svc-orders", i) for i in range(2, 12)] + [make_event("svc-billing", i) for i in range(5)]
    response = await gateway.post("/api/audit-logs/bulk", json=bulk, headers=AUTH)
    assert response.status == 201, await response.text()
    body = await response.json()
    assert body["failed"] == [] and [s["index"] for s in body["succeeded"]] == list(range(15))

    stack.start_processor()
    wait_for(lambda: stack.stored_count() == 16, 90, lambda: f"16 stored records; logs:\n{stack.logs()}")

    records = stack.records()
    assert chain_problems(records) == []
    orders = [r for r in records if r["actorId"] == "svc-orders"]
    assert [r["seq"] for r in orders] == list(range(1, 12))
    assert orders[0]["previousHash"] == GENESIS_HASH
    for earlier, later in itertools.pairwise(orders):
        assert later["previousHash"] == earlier["currentHash"]
    first = orders[0]
    assert first["id"] == single_id
    assert first["traceId"] == trace and first["message"] == message
    assert orjson.loads(first["metadata"]) == single["metadata"]
    assert first["source"] == TOKEN_NAME
    assert first["currentHash"] == record_hash(first)
    for key in ("timestamp", "status", "action", "actorType", "targetType", "targetId", "eventType"):
        assert first[key] == single[key], key
    # per-actor order is arrival order
    assert [r["targetId"] for r in orders] == [f"doc-{i}" for i in range(1, 12)]
    rows = stack.query("SELECT kafka_partition, kafka_offset, commit_seq FROM audit_records")
    assert all(row.kafka_offset >= 0 and row.commit_seq >= 1 for row in rows)
    committed = stack.topic_messages(stack.committed_topic, expected=16)
    assert len(committed) == 16
    assert {orjson.loads(m.value())["currentHash"] for m in committed} == {r["currentHash"] for r in records}


async def test_retry_with_the_same_id_is_stored_once(stack: Stack, gateway: TestClient[Any, Any]) -> None:
    event = make_event("svc-retry", 1, id=str(uuid.uuid4()))
    for _ in range(3):
        response = await gateway.post("/api/audit-logs", json=event, headers=AUTH)
        assert response.status == 201
    response = await gateway.post("/api/audit-logs/bulk", json=[event, event], headers=AUTH)
    assert response.status == 201
    follow_up = make_event("svc-retry", 2)
    assert (await gateway.post("/api/audit-logs", json=follow_up, headers=AUTH)).status == 201
    stack.start_processor()
    wait_for(lambda: stack.stored_count() == 2, 90, "2 stored records")
    records = stack.records()
    assert [(r["seq"], r["id"] == event["id"]) for r in records] == [(1, True), (2, False)]
    assert chain_problems(records) == []


@pytest.mark.parametrize(
    ("body", "content_type", "status", "field"),
    [
        (b"{not json", "application/json", 400, "$"),
        (b"[]", "application/json", 400, "$"),
        (orjson.dumps(make_event("a", 1, status="MAYBE")), "application/json", 400, "status"),
        (orjson.dumps(make_event("a", 1, action=5)), "application/json", 400, "action"),
        (orjson.dumps(make_event("a", 1, actorType="ALIEN")), "application/json", 400, "actorType"),
        (orjson.dumps(make_event("a", 1, timestamp="yesterday")), "application/json", 400, "timestamp"),
        (orjson.dumps(make_event("a", 1, traceId="not-a-uuid")), "application/json", 400, "traceId"),
        (orjson.dumps(make_event("a", 1, id="123")), "application/json", 400, "id"),
        (orjson.dumps(make_event("a", 1, metadata=[1, 2])), "application/json", 400, "metadata"),
        (orjson.dumps(make_event("a", 1, message="***")), "application/json", 400, "message"),
        (orjson.dumps(make_event("a", 1, signature="c2ln")), "application/json", 400, "signatureAlgorithm"),
        (
            orjson.dumps(make_event("a", 1, signature="c2ln", signatureAlgorithm="EdDSA")),
            "application/json",
            400,
            "publicKeyId",
        ),
        (orjson.dumps(make_event("a", 1, publicKeyId="k1")), "application/json", 400, "publicKeyId"),
        (orjson.dumps(make_event("a", 1, colour="red")), "application/json", 400, "colour"),
        (
            orjson.dumps({k: v for k, v in make_event("a", 1).items() if k != "actorId"}),
            "application/json",
            400,
            "actorId",
        ),
        (orjson.dumps(make_event("a", 1)), "text/plain", 415, None),
        (b"x" * (27 * 1024 * 1024), "application/json", 413, "$"),  # over ARGUS_MAX_BODY_BYTES (26 MiB)
    ],
)
async def test_bad_input_is_a_4xx_naming_the_field_and_never_reaches_kafka(
    stack: Stack, gateway: TestClient[Any, Any], body: bytes, content_type: str, status: int, field: str | None
) -> None:
    response = await gateway.post("/api/audit-logs", data=body, headers={**AUTH, "Content-Type": content_type})
    assert response.status == status, await response.text()
    payload = await response.json()
    assert payload["error"] and payload["message"]
    if field is not None:
        assert payload["field"] == field
    assert stack.end_offsets(stack.topic) == 0


async def test_bulk_partial_and_total_rejection(stack: Stack, gateway: TestClient[Any, Any]) -> None:
    mixed = [make_event("svc-bulk", 1), make_event("svc-bulk", 2, status="NOPE"), make_event("svc-bulk", 3)]
    response = await gateway.post("/api/audit-logs/bulk", json=mixed, headers=AUTH)
    assert response.status == 207
    body = await response.json()
    assert [s["index"] for s in body["succeeded"]] == [0, 2]
    assert [(f["index"], f["field"]) for f in body["failed"]] == [(1, "status")]
    response = await gateway.post("/api/audit-logs/bulk", json=[{"x": 1}, make_event("a", 1, action="?")], headers=AUTH)
    assert response.status == 400
    assert len((await response.json())["failed"]) == 2
    too_many = [make_event("svc-bulk", i) for i in range(1001)]
    response = await gateway.post("/api/audit-logs/bulk", json=too_many, headers=AUTH)
    assert response.status == 413
    assert stack.end_offsets(stack.topic) == 2


async def test_authentication_is_required_and_fails_closed(stack: Stack, gateway: TestClient[Any, Any]) -> None:
    event = make_event("svc-auth", 1)
    assert (await gateway.post("/api/audit-logs", json=event)).status == 401
    wrong = {"Authorization": "Bearer not-the-token"}
    response = await gateway.post("/api/audit-logs", json=event, headers=wrong)
    assert response.status == 401 and (await response.json())["error"] == "unauthorized"
    for path in ("/health", "/version", "/metrics", "/ready"):
        assert (await gateway.get(path)).status == 200, path
    metrics = await (await gateway.get("/metrics")).text()
    assert "argus_http_requests_total" in metrics and "argus_logs_ingested_total" in metrics
    assert stack.end_offsets(stack.topic) == 0

    no_tokens = {**stack.settings_env(), "ARGUS_AUTH_TOKEN": ""}
    client = TestClient(TestServer(init(load_settings(no_tokens))))
    await client.start_server()
    try:
        assert (await client.post("/api/audit-logs", json=event, headers=AUTH)).status == 401
    finally:
        await client.close()


async def test_kafka_down_answers_503_with_retry_after(stack: Stack) -> None:
    env = {**stack.settings_env(), "ARGUS_KAFKA_BOOTSTRAP": "127.0.0.1:1", "ARGUS_PRODUCE_TIMEOUT": "2"}
    client = TestClient(TestServer(init(load_settings(env))))
    await client.start_server()
    try:
        response = await client.post("/api/audit-logs", json=make_event("svc-down", 1), headers=AUTH)
        assert response.status == 503
        assert response.headers["Retry-After"]
        assert (await response.json())["error"] == "kafka_unavailable"
        bulk = await client.post("/api/audit-logs/bulk", json=[make_event("svc-down", 2)], headers=AUTH)
        assert bulk.status == 503
        assert (await client.get("/ready")).status == 503
    finally:
        await client.close()


async def test_embedded_sqlite_store_end_to_end(
    kafka_bootstrap: str, sqlite_url: str, unique_name: str, tmp_path: Path
) -> None:
    """The laptop default: Kafka plus the embedded SQLite store, same guarantees."""
    with running_stack(kafka_bootstrap, sqlite_url, f"sq{unique_name}", tmp_path) as stack:
        client = TestClient(TestServer(init(load_settings(stack.settings_env()))))
        await client.start_server()
        try:
            events = [make_event(f"svc-{i % 3}", i) for i in range(30)]
            response = await client.post("/api/audit-logs/bulk", json=events, headers=AUTH)
            assert response.status == 201
        finally:
            await client.close()
        stack.start_processor()
        wait_for(lambda: stack.stored_count() == 30, 90, lambda: f"30 stored\n{stack.logs()}")
        records = stack.records()
        assert chain_problems(records) == []
        assert sorted({r["seq"] for r in records if r["actorId"] == "svc-0"}) == list(range(1, 11))
