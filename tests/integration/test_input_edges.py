"""Inputs at the edges of what PostgreSQL and the read path can hold (issue 11, items 1, 5, 9, 10 and
UUID spellings): refused with a 400 naming the field, or dead-lettered when written straight to
Kafka, and never a later read that fails; what is accepted comes back exactly as sent."""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import quote

import orjson
import pytest
from aiohttp.test_utils import TestClient, TestServer
from aiohttp.web_runner import BaseRunner
from sqlalchemy import text

from argus.db.engine import make_engine
from argus.runtime.settings import load_settings
from argus_spec.event import MAX_METADATA_DEPTH
from argus_spec.uuid7 import uuid7
from ingest_gateway.app import init
from ingest_gateway.read import record_store as read_store
from ingest_gateway.server import GatewayRunner
from tests.integration.harness import TOKEN, Stack, chain_problems, make_event, wait_for

pytestmark = pytest.mark.integration
AUTH = {"Authorization": f"Bearer {TOKEN}"}


class GatewayTestServer(TestServer):
    """The app behind the runner `argus gateway` uses (JSON answers for parser-level errors)."""

    async def _make_runner(self, **kwargs: Any) -> BaseRunner:
        return GatewayRunner(self.app, **kwargs)


@pytest.fixture
async def gateway(stack: Stack) -> AsyncIterator[TestClient[Any, Any]]:
    client = TestClient(GatewayTestServer(init(load_settings(stack.settings_env()))))
    await client.start_server()
    try:
        yield client
    finally:
        await client.close()


def nested(depth: int) -> dict[str, Any]:
    """Metadata `depth` levels deep (the metadata object is level 1), alternating objects and arrays."""
    return orjson.loads(with_nested_metadata(make_event("x", 0), depth))["metadata"]


def with_nested_metadata(event: dict[str, Any], depth: int) -> bytes:
    """The event as JSON text with metadata `depth` levels deep, written by hand: JSON encoders
    stop at a few hundred levels, and a client may send more."""
    opening = "".join('{"k":' if level % 2 == 0 else "[" for level in range(depth))
    closing = "".join("}" if level % 2 == 0 else "]" for level in reversed(range(depth)))
    text = orjson.dumps({**event, "metadata": "@"}).decode()
    return text.replace('"@"', f'{opening}"leaf"{closing}').encode()


async def post(gateway: TestClient[Any, Any], event: dict[str, Any] | bytes) -> tuple[int, dict[str, Any]]:
    body = event if isinstance(event, bytes) else orjson.dumps(event)
    headers = {**AUTH, "Content-Type": "application/json"}
    response = await gateway.post("/api/audit-logs", data=body, headers=headers)
    assert response.content_type == "application/json"
    return response.status, await response.json()


async def get(gateway: TestClient[Any, Any], path: str) -> Any:
    response = await gateway.get(path, headers=AUTH)
    assert response.status == 200, (path, response.status, await response.text())
    return await response.json()


def dead_letters(stack: Stack) -> list[str]:
    return sorted(row.reason for row in stack.query("SELECT reason FROM dead_letters"))


async def all_pages(gateway: TestClient[Any, Any], query: str) -> list[dict[str, Any]]:
    """Every record the list endpoint gives, following nextCursor."""
    records: list[dict[str, Any]] = []
    cursor = ""
    while True:
        body = await get(gateway, f"/api/audit-logs?{query}{cursor}")
        records += body["logs"]
        if body["nextCursor"] is None:
            return records
        cursor = f"&cursor={body['nextCursor']}"


async def test_times_postgresql_or_python_cannot_hold_are_refused_and_dead_lettered_from_kafka(
    stack: Stack, gateway: TestClient[Any, Any]
) -> None:
    """Items 1 and 9: offsets beyond ±15:59 and UTC times outside years 1-9999."""
    bad = ["2026-01-02T15:04:05+16:00", "2026-01-02T15:04:05-23:59", "9999-12-31T23:59:59-15:59",
           "0001-01-01T00:00:00+14:00"]  # fmt: skip
    for stamp in bad:
        status, body = await post(gateway, make_event("svc-time", 0, timestamp=stamp))
        assert (status, body["field"]) == (400, "timestamp"), body
    response = await gateway.post("/api/audit-logs/bulk", json=[make_event("svc-time", 0, timestamp=s) for s in bad],
                                  headers=AUTH)  # fmt: skip
    assert response.status == 400
    assert {item["field"] for item in (await response.json())["failed"]} == {"timestamp"}

    edges = ["2026-01-02T15:04:05+15:59", "2026-01-02T15:04:05-15:59", "9999-12-31T23:59:59.999999Z",
             "0001-01-01T00:00:00Z", "0001-01-01T10:00:00+10:00"]  # fmt: skip
    accepted = [make_event("svc-time", i, timestamp=stamp, id=uuid7()) for i, stamp in enumerate(edges)]
    for event in accepted:
        assert (await post(gateway, event))[0] == 201
    stack.produce_envelopes([make_event("svc-direct", i, timestamp=s) for i, s in enumerate(bad)])
    stack.produce_envelopes([make_event("svc-direct", 9)])
    stack.start_processor()
    wait_for(lambda: stack.stored_count() == len(edges) + 1 and len(dead_letters(stack)) == len(bad), 90,
             lambda: f"{len(edges) + 1} stored and {len(bad)} dead letters; logs:\n{stack.logs()}")  # fmt: skip

    assert all(reason.startswith("timestamp: ") for reason in dead_letters(stack))
    stored = {r["id"]: r["timestamp"] for r in stack.records()}
    assert {e["id"]: e["timestamp"] for e in accepted}.items() <= stored.items()
    # every read holding the extremes answers, the default newest-first list included
    listed = await all_pages(gateway, "limit=2")
    assert [r["timestamp"] for r in listed][:1] == ["9999-12-31T23:59:59.999999Z"]
    assert len(listed) == len(edges) + 1
    chain = await get(gateway, "/api/actors/svc-time/chain")
    assert len(chain["records"]) == len(edges)
    for stamp in ("0001-01-01T00:00:00Z", "9999-12-31T23:59:59Z"):
        assert (await get(gateway, f"/api/audit-logs?from={stamp}"))["logs"]


async def test_empty_strings_and_upper_case_uuids_round_trip(stack: Stack, gateway: TestClient[Any, Any]) -> None:
    """Item 5: "" in message and targetId comes back as "", not null. An upper-case id is stored in
    its canonical lower-case spelling (found by either spelling); other spellings are refused."""
    empty = make_event("svc-empty", 0, targetId="", message="", id=uuid7())
    absent = make_event("svc-empty", 1, id=uuid7())
    absent.pop("targetId")
    upper_id, upper_trace = uuid7(), uuid7()
    upper = make_event("svc-empty", 2, id=upper_id.upper(), traceId=upper_trace.upper())
    for event in (empty, absent, upper):
        status, body = await post(gateway, event)
        assert status == 201, body
    assert body["id"] == upper_id
    for spelling in (
        f"urn:uuid:{upper_id}",
        f"{{{upper_id}}}",
        upper_id.replace("-", ""),
        upper_id[:9] + "-" + upper_id[9:],
    ):
        for field in ("id", "traceId"):
            status, body = await post(gateway, make_event("svc-empty", 3, **{field: spelling}))
            assert (status, body["field"]) == (400, field), body

    stack.start_processor()
    wait_for(lambda: stack.stored_count() == 3, 90, lambda: f"3 stored records; logs:\n{stack.logs()}")
    records = {r["id"]: r for r in stack.records()}
    assert (records[empty["id"]]["targetId"], records[empty["id"]]["message"]) == ("", "")
    assert (records[absent["id"]]["targetId"], records[absent["id"]]["message"]) == (None, None)
    assert records[upper_id]["traceId"] == upper_trace
    assert chain_problems(stack.records()) == []
    read = await get(gateway, f"/api/audit-logs/{empty['id']}?includeMessage=true")
    assert (read["targetId"], read["message"]) == ("", "")
    for spelling in (upper_id, upper_id.upper()):
        assert (await get(gateway, f"/api/audit-logs/{spelling}"))["id"] == upper_id
    assert [r["id"] for r in (await get(gateway, f"/api/audit-logs?traceId={upper_trace.upper()}"))["logs"]] == [
        upper_id
    ]


async def test_metadata_depth_is_bounded_and_deep_records_read_back(
    stack: Stack, gateway: TestClient[Any, Any]
) -> None:
    """Item 10: metadata deeper than the documented maximum is a 400 naming the field (252-1023 levels
    used to be stored, then break every list and /chain page); the maximum itself reads back."""
    for depth in (MAX_METADATA_DEPTH + 1, 252, 253, 1023):
        status, body = await post(gateway, with_nested_metadata(make_event("svc-deep", 0), depth))
        # ~1,000 levels can be past the JSON decoder's own limit: then the whole body is refused ("$")
        assert status == 400 and body["field"] in ("metadata", "$" if depth > 900 else "metadata"), (depth, body)
    deepest = make_event("svc-deep", 1, metadata=nested(MAX_METADATA_DEPTH), id=uuid7())
    assert (await post(gateway, deepest))[0] == 201
    stack.produce_envelopes([make_event("svc-deep", 2, metadata=nested(252))])
    stack.start_processor()
    wait_for(lambda: stack.stored_count() == 1 and len(dead_letters(stack)) == 1, 90,
             lambda: f"1 stored, 1 dead letter; logs:\n{stack.logs()}")  # fmt: skip
    assert dead_letters(stack)[0].startswith("metadata: ")
    listed = await get(gateway, "/api/audit-logs")
    assert listed["logs"][0]["metadata"] == deepest["metadata"]
    chain = await get(gateway, "/api/actors/svc-deep/chain?includeMessage=true")
    assert chain["records"][0]["metadata"] == deepest["metadata"]


async def test_pages_are_bounded_by_bytes_and_the_cursor_walk_sees_every_record(
    stack: Stack, gateway: TestClient[Any, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    """limit=1000&includeMessage=true stops adding records at the page's byte budget (scaled down
    here from 8 MiB so the test stays small) and continues through nextCursor / nextFromSeq."""
    monkeypatch.setattr(read_store, "PAGE_MAX_BYTES", 100_000)
    message = base64.b64encode(bytes(range(256)) * 120).decode()  # 40,960 characters
    events = [make_event("svc-big", i, message=message, id=uuid7()) for i in range(10)]
    response = await gateway.post("/api/audit-logs/bulk", json=events, headers=AUTH)
    assert response.status == 201, await response.text()
    stack.start_processor()
    wait_for(lambda: stack.stored_count() == 10, 90, lambda: f"10 stored records; logs:\n{stack.logs()}")

    first = await get(gateway, "/api/audit-logs?limit=1000&includeMessage=true")
    assert 1 <= len(first["logs"]) < 10 and first["nextCursor"] is not None and first["total"] == 10
    walked = await all_pages(gateway, "limit=1000&includeMessage=true")
    assert sorted(r["id"] for r in walked) == sorted(e["id"] for e in events)
    assert {r["message"] for r in walked} == {message}
    seqs: list[int] = []
    from_seq: int | None = 1
    while from_seq is not None:
        page = await get(gateway, f"/api/actors/svc-big/chain?limit=1000&includeMessage=true&fromSeq={from_seq}")
        assert len(page["records"]) < 10
        seqs += [r["seq"] for r in page["records"]]
        from_seq = page["nextFromSeq"]
    assert seqs == list(range(1, 11))
    unbounded = await get(gateway, "/api/audit-logs?limit=1000")  # without messages the page is small
    assert len(unbounded["logs"]) == 10 and unbounded["nextCursor"] is None
    assert orjson.dumps(first).__len__() < 100_000 + 2 * len(message)


LEGACY_INSERT = text(
    "INSERT INTO audit_records (id, actor_id, seq, previous_hash, current_hash, timestamp, event_time, action,"
    " status, actor_type, target_type, received_at, kafka_partition, kafka_offset, commit_seq, kafka_topic)"
    " VALUES (:id, 'svc-old', :seq, :prev, :cur, :stamp, CAST(:event_time AS timestamptz), 'CREATE', 'SUCCESS',"
    " 'SERVICE', 'RESOURCE', '2026-01-01T00:00:00Z', 0, :seq, 1, 'old')"
)
#: (event_time as PostgreSQL holds it, timestamp as sent): the first two are outside Python's years.
LEGACY = [
    ("10000-01-01 15:58:59+00", "9999-12-31T23:59:59-15:59"),
    ("0001-12-31 23:00:00+00 BC", "0001-01-01T00:00:00+01:00"),
    ("2026-01-02 15:04:05+00", "2026-01-02T15:04:05Z"),
    ("2026-01-03 15:04:05+00", "2026-01-03T15:04:05Z"),
]


async def test_rows_stored_before_the_time_rule_never_fail_a_page(stack: Stack, gateway: TestClient[Any, Any]) -> None:
    """A version without the rule stored events whose UTC time lies outside Python's years; every
    page holding them (first, last, mid-walk) still answers 200 and the cursor walk ends."""
    engine = make_engine(stack.db_url)
    try:
        with engine.begin() as connection:
            for seq, (event_time, stamp) in enumerate(LEGACY, 1):
                row = {"id": uuid7(), "seq": seq, "prev": f"{seq - 1:064x}", "cur": f"{seq:064x}"}
                connection.execute(LEGACY_INSERT, {**row, "stamp": stamp, "event_time": event_time})
    finally:
        engine.dispose()
    listed = await all_pages(gateway, "limit=1")
    newest_first = [LEGACY[i][1] for i in (0, 3, 2, 1)]
    assert [r["timestamp"] for r in listed] == newest_first
    assert [r["timestamp"] for r in (await get(gateway, "/api/audit-logs"))["logs"]] == newest_first
    assert len((await get(gateway, "/api/actors/svc-old/chain"))["records"]) == 4


async def test_path_parameters_with_braces_reach_their_handler(stack: Stack, gateway: TestClient[Any, Any]) -> None:
    """An actor whose id holds `{` or `}` is stored, so its chain and verify pages must answer; an id
    in braces is a 400 naming `id` (aiohttp's bare `{name}` segment refused braces: a 404)."""
    actor = "svc-{tenant}/{1}"
    event = make_event(actor, 0, id=uuid7())
    assert (await post(gateway, event))[0] == 201
    stack.start_processor()
    wait_for(lambda: stack.stored_count() == 1, 90, lambda: f"1 stored record; logs:\n{stack.logs()}")
    quoted = quote(actor, safe="")
    chain = await get(gateway, f"/api/actors/{quoted}/chain")
    assert [r["id"] for r in chain["records"]] == [event["id"]]
    assert (await get(gateway, f"/api/actors/{quoted}/verify"))["actorId"] == actor
    for path in (f"/api/audit-logs/%7B{event['id']}%7D", f"/api/audit-logs/%7B{event['id']}%7D/proof"):
        response = await gateway.get(path, headers=AUTH)
        assert (response.status, (await response.json())["field"]) == (400, "id"), path
