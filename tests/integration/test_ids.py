"""One id, one event (issue 11, item 2, and idempotent ingest for id-less events): through the
real gateway, Kafka, processor and PostgreSQL."""

from __future__ import annotations

import asyncio
from typing import Any

import orjson
from aiohttp.test_utils import TestClient, TestServer

from argus.runtime.settings import load_settings
from argus_spec.note import Verifier
from argus_spec.receipt import verify_receipt
from argus_spec.uuid7 import uuid7
from ingest_gateway.app import init
from tests.integration.harness import RECEIPT_VERIFIER_KEY, TOKEN, Stack, make_event, wait_for, wait_until_consumed

AUTH = {"Authorization": f"Bearer {TOKEN}"}


async def _post(gateway: TestClient[Any, Any], path: str, body: Any, **headers: str) -> tuple[int, Any]:
    response = await gateway.post(path, json=body, headers={**AUTH, **headers})
    answer = await response.json()
    # Receipts (docs/receipts.md) are checked here and left out of the answers compared below.
    for item in [answer, *answer.get("succeeded", [])] if isinstance(answer, dict) else []:
        if "receipt" in item:
            verify_receipt(item.pop("receipt"), [Verifier.parse(RECEIPT_VERIFIER_KEY)])
    return response.status, answer


async def test_an_id_names_one_event_in_a_request_and_across_requests(
    stack: Stack, gateway: TestClient[Any, Any]
) -> None:
    stack.start_processor()
    first_id, bulk_id = uuid7(), uuid7()
    first = make_event("svc-ids", 1, id=first_id)
    assert (await _post(gateway, "/api/audit-logs", first))[0] == 201
    wait_for(lambda: stack.stored_count() == 1, 90, lambda: f"1 stored\n{stack.logs()}")

    # across requests: the same content is a retry, other content a conflict; upper case is the same id
    assert await _post(gateway, "/api/audit-logs", first) == (200, {"id": first_id, "status": "duplicate"})
    shouting = {**first, "id": first_id.upper()}
    assert await _post(gateway, "/api/audit-logs", shouting) == (200, {"id": first_id, "status": "duplicate"})
    status, body = await _post(gateway, "/api/audit-logs", {**first, "targetId": "other"})
    assert (status, body["error"], body["field"]) == (409, "id_conflict", "id")

    # within one bulk: an identical copy is the same event, a different one is refused per item
    bulk = make_event("svc-ids", 2, id=bulk_id)
    status, body = await _post(
        gateway, "/api/audit-logs/bulk", [bulk, first, dict(bulk), {**bulk, "action": "DELETE"}, shouting]
    )
    assert status == 207
    assert body["succeeded"] == [
        {"index": 0, "id": bulk_id},
        {"index": 1, "id": first_id},
        {"index": 2, "id": bulk_id},
        {"index": 4, "id": first_id},
    ]
    assert [(f["index"], f["field"], f["status"]) for f in body["failed"]] == [(3, "id", 409)]

    wait_for(lambda: stack.stored_count() == 2, 90, lambda: f"2 stored\n{stack.logs()}")
    assert stack.end_offsets(stack.topic) == 2  # retries and copies were acknowledged, never produced again
    stored = {row.id: row for row in stack.query("SELECT id, target_id, action FROM audit_records")}
    assert stored[first_id].target_id == first["targetId"]
    assert stored[bulk_id].action == bulk["action"]
    assert stack.query("SELECT count(*) FROM dead_letters")[0][0] == 0


async def test_the_processor_dead_letters_a_conflicting_duplicate_that_got_past_the_gateway(stack: Stack) -> None:
    """Straight to Kafka (or two gateways racing): the first event of an id is stored, an identical
    copy is skipped, a different one becomes a dead letter naming the id, in one batch or later."""
    same_batch, later = uuid7(), uuid7()
    original = make_event("svc-race", 1, id=same_batch)
    stack.produce_envelopes([original, dict(original), {**original, "targetId": "forged"}])
    stored_first = make_event("svc-race", 2, id=later)
    stack.produce_envelopes([stored_first])
    stack.start_processor()
    wait_for(lambda: stack.stored_count() == 2, 90, lambda: f"2 stored\n{stack.logs()}")
    stack.produce_envelopes([{**stored_first, "status": "FAILURE"}, dict(stored_first)])
    wait_for(
        lambda: stack.query("SELECT count(*) FROM dead_letters")[0][0] == 2,
        90,
        lambda: f"2 dead letters\n{stack.logs()}",
    )
    wait_for(lambda: bool(stack.query("SELECT 1 FROM partition_commits WHERE last_offset >= 5")), 90, "all consumed")
    letters = stack.query("SELECT reason, payload FROM dead_letters ORDER BY kafka_offset")
    assert all(row.reason.startswith("id: ") and "different content" in row.reason for row in letters)
    assert {orjson.loads(row.payload)["event"]["id"] for row in letters} == {same_batch, later}
    assert stack.stored_count() == 2
    rows = {row.id: row for row in stack.query("SELECT id, target_id, status FROM audit_records")}
    assert rows[same_batch].target_id == original["targetId"] and rows[later].status == stored_first["status"]


async def test_a_retried_id_less_bulk_is_stored_once(stack: Stack, gateway: TestClient[Any, Any]) -> None:
    """The reference Go client sends no id: a batch retried after a lost answer maps to the same
    content-derived ids; with an Idempotency-Key header, to the same key-derived ids."""
    stack.start_processor()
    events = [{k: v for k, v in make_event("svc-go", i).items() if k != "id"} for i in range(5)]
    status, body = await _post(gateway, "/api/audit-logs/bulk", events)
    assert status == 201
    ids = [item["id"] for item in body["succeeded"]]
    assert len(set(ids)) == 5
    status, body = await _post(gateway, "/api/audit-logs/bulk", events)  # the retry: not yet stored, produced
    assert status == 201 and [item["id"] for item in body["succeeded"]] == ids
    wait_for(lambda: stack.stored_count() == 5, 90, lambda: f"5 stored\n{stack.logs()}")
    status, body = await _post(gateway, "/api/audit-logs/bulk", events)  # and again, once stored: not produced
    assert status == 201 and [item["id"] for item in body["succeeded"]] == ids

    keyed = [{k: v for k, v in make_event("svc-keyed", i).items() if k != "id"} for i in range(3)]
    status, body = await _post(gateway, "/api/audit-logs/bulk", keyed, **{"Idempotency-Key": "batch-42"})
    assert status == 201
    keyed_ids = [item["id"] for item in body["succeeded"]]
    wait_for(lambda: stack.stored_count() == 8, 90, lambda: f"8 stored\n{stack.logs()}")
    status, body = await _post(gateway, "/api/audit-logs/bulk", keyed, **{"Idempotency-Key": "batch-42"})
    assert status == 201 and [item["id"] for item in body["succeeded"]] == keyed_ids
    changed = [{**keyed[0], "targetId": "changed"}, *keyed[1:]]
    status, body = await _post(gateway, "/api/audit-logs/bulk", changed, **{"Idempotency-Key": "batch-42"})
    assert status == 207 and [(f["index"], f["status"]) for f in body["failed"]] == [(0, 409)]

    assert stack.end_offsets(stack.topic) == 13  # 5 + the first retry's 5 (deduplicated) + 3
    assert stack.stored_count() == 8
    assert stack.query("SELECT count(*) FROM dead_letters")[0][0] == 0


async def test_requests_racing_with_one_id_and_other_content_are_refused_by_the_same_gateway(
    stack: Stack, gateway: TestClient[Any, Any]
) -> None:
    """Gap A: the store does not know an id until the processor stored it; the gateway's recent ids
    refuse the second content at once (409), in flight together or one after the other."""
    raced, later = uuid7(), uuid7()
    one, other = make_event("svc-race", 1, id=raced), make_event("svc-race", 1, id=raced, targetId="other")
    answers = await asyncio.gather(
        _post(gateway, "/api/audit-logs", one), _post(gateway, "/api/audit-logs/bulk", [other])
    )
    (single_status, single_body), (bulk_status, bulk_body) = answers
    if single_status == 201:  # the single request claimed the id first; the bulk's only item is refused
        winner = one
        assert bulk_status == 400, answers
        assert [(f["index"], f["field"], f["status"]) for f in bulk_body["failed"]] == [(0, "id", 409)]
    else:
        winner = other
        assert (single_status, single_body["error"], single_body["field"]) == (409, "id_conflict", "id"), answers
        assert bulk_status == 201 and bulk_body["succeeded"] == [{"index": 0, "id": raced}], answers

    # not stored yet (no processor): only the gateway's memory can tell; the same content is a retry
    first = make_event("svc-race", 2, id=later)
    assert (await _post(gateway, "/api/audit-logs", first))[0] == 201
    status, body = await _post(gateway, "/api/audit-logs", {**first, "status": "FAILURE"})
    assert (status, body["error"], body["field"]) == (409, "id_conflict", "id")
    status, body = await _post(gateway, "/api/audit-logs/bulk", [{**first, "status": "FAILURE"}, winner])
    assert status == 207
    assert [(f["index"], f["field"], f["status"]) for f in body["failed"]] == [(0, "id", 409)]
    assert body["succeeded"] == [{"index": 1, "id": raced}]
    assert (await _post(gateway, "/api/audit-logs", first))[0] == 201  # a retry: produced again, stored once

    stack.start_processor()
    wait_for(lambda: stack.stored_count() == 2, 90, lambda: f"2 stored\n{stack.logs()}")
    wait_until_consumed(stack)
    rows = {row.id: row for row in stack.query("SELECT id, target_id, status FROM audit_records")}
    assert rows[raced].target_id == winner["targetId"] and rows[later].status == first["status"]
    assert stack.query("SELECT count(*) FROM dead_letters")[0][0] == 0


async def test_across_gateways_a_racing_conflict_is_acknowledged_then_dead_lettered(
    stack: Stack, gateway: TestClient[Any, Any]
) -> None:
    """What docs/api.md says stays open: each gateway remembers only its own ids, so another
    gateway acknowledges the second content and the processor dead-letters it, never stores it."""
    second = TestClient(TestServer(init(load_settings(stack.settings_env()))))
    await second.start_server()
    try:
        raced = uuid7()
        event = make_event("svc-two", 1, id=raced)
        assert (await _post(gateway, "/api/audit-logs", event))[0] == 201
        assert (await _post(second, "/api/audit-logs", {**event, "targetId": "other"}))[0] == 201
    finally:
        await second.close()
    stack.start_processor()
    wait_until_consumed(stack)
    assert stack.query("SELECT count(*) FROM dead_letters")[0][0] == 1
    assert stack.stored_count() == 1
    assert stack.query("SELECT target_id FROM audit_records")[0].target_id == event["targetId"]
    [letter] = stack.query("SELECT reason FROM dead_letters")
    assert letter.reason.startswith("id: ") and "different content" in letter.reason
