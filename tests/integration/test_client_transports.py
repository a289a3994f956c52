"""The other ways in: the Kafka transport, the asyncio client, and the request-auditing middleware."""

from __future__ import annotations

import asyncio
from typing import Any

import orjson
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from argus_client.aio import AsyncAuditClient
from argus_client.client import AuditClient
from argus_client.kafka_transport import KafkaAuditTransport
from argus_client.middleware import aiohttp_audit_middleware
from tests.integration.harness import (
    TOKEN,
    TOKEN_NAME,
    Stack,
    chain_problems,
    make_event,
    wait_for,
    wait_until_consumed,
)
from tests.integration.test_client_e2e import PATIENT_RETRY, GatewayProcess, assert_stored_exactly, gateway

__all__ = ["gateway"]  # a fixture shared with test_client_e2e

SERVER_FIELDS = {"id", "actorId", "source", "receivedAt", "seq", "previousHash", "currentHash"}


def test_the_kafka_transport_lands_events_exactly_like_http(stack: Stack, gateway: GatewayProcess) -> None:
    count = 40
    overrides: list[dict[str, Any]] = [
        {"traceId": f"00000000-0000-4000-8000-{i:012d}", "message": "cmF3IGJ5dGVz"} if i % 2 else {}
        for i in range(count)
    ]
    with AuditClient(gateway.url, api_key=TOKEN, batch_size=15, retry=PATIENT_RETRY) as http:
        for i in range(count):
            http.log_audit_event(make_event("via-http", i, **overrides[i]))
    transport = KafkaAuditTransport(stack.kafka, stack.topic, delivery_timeout=20)
    with AuditClient(None, transport=transport, batch_size=15, retry=PATIENT_RETRY) as direct:
        for i in range(count):
            direct.log_audit_event(make_event("via-kafka", i, **overrides[i]))
    assert http.stats()["sent"] == count and direct.stats()["sent"] == count
    stack.start_processor()
    wait_for(lambda: stack.stored_count() == 2 * count, 90, f"{2 * count} records; logs:\n{stack.logs()}")
    records = stack.records()
    assert chain_problems(records) == []
    by_actor: dict[str, list[dict[str, Any]]] = {"via-http": [], "via-kafka": []}
    for record in records:
        by_actor[record["actorId"]].append(record)
    by_target = {actor: {r["targetId"]: r for r in rows} for actor, rows in by_actor.items()}
    for i in range(count):
        via_http, via_kafka = by_target["via-http"][f"doc-{i}"], by_target["via-kafka"][f"doc-{i}"]
        same = {k: v for k, v in via_http.items() if k not in SERVER_FIELDS}
        assert same == {k: v for k, v in via_kafka.items() if k not in SERVER_FIELDS}, i
        assert orjson.loads(via_kafka["metadata"]) == make_event("x", i)["metadata"]
        assert via_http["source"] == TOKEN_NAME and via_kafka["source"] is None
        assert via_kafka["receivedAt"] is not None
    assert [r["seq"] for r in by_actor["via-kafka"]] == list(range(1, count + 1))


async def test_the_async_client_delivers_from_the_event_loop(stack: Stack, gateway: GatewayProcess) -> None:
    stack.start_processor()
    count = 1500
    async with AsyncAuditClient(
        gateway.url, api_key=TOKEN, batch_size=50, batch_interval=0.1, retry=PATIENT_RETRY
    ) as client:
        for i in range(count):
            assert client.log_audit_event(make_event(f"async-{i % 3}", i, targetId=f"doc-{i}"))
            if i % 100 == 0:
                await asyncio.sleep(0)  # let the senders run, as a real service would
    assert client.stats()["sent"] == count and client.stats()["failed"] == 0
    await asyncio.to_thread(assert_stored_exactly, stack, {f"async-{i % 3}/doc-{i}" for i in range(count)})


async def test_the_middleware_audits_each_request_with_its_trace_id(stack: Stack, gateway: GatewayProcess) -> None:
    trace = "0af7651916cd43dd8448eb211c80319c"

    async def document(request: web.Request) -> web.Response:
        if request.match_info["id"] == "missing":
            raise web.HTTPNotFound()
        return web.json_response({"id": request.match_info["id"]})

    async with AsyncAuditClient(gateway.url, api_key=TOKEN, batch_interval=0.1, retry=PATIENT_RETRY) as audit:
        actor = lambda request: ("MEMBER", request.headers.get("X-User", "anonymous"))  # noqa: E731
        app = web.Application(middlewares=[aiohttp_audit_middleware(audit, actor, event_type="DATA_FETCH")])
        app.router.add_route("*", "/docs/{id}", document)
        async with TestClient(TestServer(app)) as service:
            traced = {"X-User": "alice", "traceparent": f"00-{trace}-b7ad6b7169203331-01"}
            assert (await service.get("/docs/7", headers=traced)).status == 200
            assert (await service.post("/docs/8", headers={"X-User": "bob"})).status == 200
            assert (await service.delete("/docs/missing", headers={"X-User": "bob"})).status == 404
            assert (await service.options("/docs/7")).status in (200, 405)  # not an audited method
    assert audit.stats()["sent"] == 3
    stack.start_processor()
    await asyncio.to_thread(wait_for, lambda: stack.stored_count() == 3, 90, "3 request events")
    await asyncio.to_thread(wait_until_consumed, stack)  # nothing more (a duplicate) can be stored
    records = sorted(await asyncio.to_thread(stack.records), key=lambda r: r["targetId"])
    summary = [(r["actorId"], r["action"], r["status"], r["targetId"], r["traceId"]) for r in records]
    assert summary == [
        ("alice", "READ", "SUCCESS", "/docs/7", "0af76519-16cd-43dd-8448-eb211c80319c"),
        ("bob", "CREATE", "SUCCESS", "/docs/8", None),
        ("bob", "DELETE", "FAILURE", "/docs/missing", None),
    ]
    assert all(r["eventType"] == "DATA_FETCH" and r["targetType"] == "RESOURCE" for r in records)
    assert orjson.loads(records[2]["metadata"])["httpStatus"] == 404
