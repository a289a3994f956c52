"""The read API over a trail built by the real pipeline (gateway → Kafka → processor → PostgreSQL).

One trail per module (building it takes a processor start); tests only read it, except the tamper
test, which restores the row it changed. Every response any test receives goes through `Api.call`,
which validates it against /openapi.json: a status or shape the document does not describe fails.
"""

from __future__ import annotations

import asyncio
import base64
import re
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from typing import Any
from urllib.parse import quote, urlencode

import orjson
import pytest
from aiohttp.test_utils import TestClient, TestServer
from jsonschema import Draft202012Validator
from sqlalchemy import text
from yarl import URL

from argus.db.engine import make_engine
from argus.db.private_schema import private_schema
from argus.runtime.settings import load_settings
from argus_spec.event import parse_timestamp
from argus_spec.hashchain import GENESIS_HASH, canonical_metadata, record_hash
from ingest_gateway.app import init
from ingest_gateway.openapi import document, render
from ingest_gateway.read.query_params import encode_cursor
from tests.conftest import ROOT
from tests.integration.harness import TOKEN, Stack, make_event, running_stack, wait_for

pytestmark = pytest.mark.integration
TOKENS = "writer:ingest=w-secret,reader:read=r-secret"
WRITER, READER = "w-secret", "r-secret"
DAY = datetime(2024, 2, 29, tzinfo=UTC)  # a leap day; the trail spans it and the next day
TRACE = "5f0c6a34-7d2e-4b8a-9c1f-2a3b4c5d6e7f"
ACTORS = (("svc-orders", "SERVICE"), ("admin/alice é", "ADMIN"), ("svc-billing", "SERVICE"), ("member-1", "MEMBER"))
COUNT = 49
TIE = range(10, 17)  # these events share one instant: the keyset must break ties by id


def _event(i: int) -> dict[str, Any]:
    actor, actor_type = ACTORS[0 if i % 2 else (i // 2) % 4]
    moment = DAY + timedelta(hours=10) if i in TIE else DAY + timedelta(minutes=37 * i, microseconds=i)
    stamp = moment.isoformat().replace("+00:00", "Z")
    if i % 5 == 0:  # the same instant written in another zone: event_time normalises it
        stamp = moment.astimezone(timezone(timedelta(hours=2))).isoformat()
    event = make_event(actor, i, actorType=actor_type, timestamp=stamp)
    event.update(
        status="FAILURE" if i % 6 == 0 else "SUCCESS",
        eventType=None if i % 9 == 0 else ("DATA_FETCH", "USER_MANAGEMENT", "MANAGEMENT_EVENT")[i % 3],
        targetType="SERVICE" if i % 5 == 0 else "RESOURCE",
        targetId=None if i % 8 == 0 else f"doc-{i % 6}",
        traceId=TRACE if i % 11 == 3 else str(uuid.uuid4()) if i % 2 else None,
        message=base64.b64encode(f"payload {i}".encode()).decode() if i % 4 == 1 else None,
        metadata=None if i % 10 == 7 else {"i": i, "nested": {"b": [1, 2]}, "ratio": i / 8},
    )
    return {k: v for k, v in event.items() if v is not None}


class Api:
    """Calls the gateway and checks every answer against the OpenAPI document it serves."""

    def __init__(self, client: TestClient[Any, Any]) -> None:
        self.client, self.doc = client, document()
        # {tile} is a C2SP tlog-tiles path (`0/x001/234.p/5`): the one parameter that spans segments.
        self.routes = [(re.compile("^" + re.sub(r"\{([^}]+)\}", lambda m: ".+" if m[1] == "tile" else "[^/]+", p)
                                   + "$"), p) for p in self.doc["paths"]]  # fmt: skip

    async def call(self, method: str, path: str, query: Any = None, *, token: str | None = READER,
                   json: Any = None, headers: dict[str, str] | None = None) -> tuple[int, Any]:  # fmt: skip
        url = URL(path + ("?" + urlencode(query) if query else ""), encoded=True)
        auth = {"Authorization": f"Bearer {token}"} if token else {}
        response = await self.client.request(method, url, json=json, headers={**auth, **(headers or {})})
        body: Any = await response.read()  # bytes unless the answer is text (a tile is binary)
        if response.content_type == "application/json":
            body = await response.json()
        elif response.content_type.startswith("text/"):
            body = await response.text()
        self.check(method, path.partition("?")[0], response.status, dict(response.headers), body)
        return response.status, body

    def check(self, method: str, path: str, status: int, headers: dict[str, str], body: Any) -> None:
        paths, method = self.doc["paths"], method.lower()
        template = next(t for pattern, t in self.routes if pattern.match(path) and method in paths[t])
        answer = paths[template][method]["responses"].get(str(status))
        assert answer, f"{method} {template} answered {status}, which the document does not list"
        answer = self.doc["components"]["responses"][answer["$ref"].rsplit("/", 1)[1]] if "$ref" in answer else answer
        assert set(answer.get("headers", {})) <= set(headers), f"{method} {template} {status}: a header is missing"
        if "application/json" in answer["content"]:
            schema = {**answer["content"]["application/json"]["schema"], "components": self.doc["components"]}
            Draft202012Validator(schema, format_checker=Draft202012Validator.FORMAT_CHECKER).validate(body)


@dataclass
class Trail:
    stack: Stack
    events: list[dict[str, Any]]  # as sent plus the id, in arrival order

    def env(self, **extra: str) -> dict[str, str]:
        return {**self.stack.settings_env(), "ARGUS_AUTH_TOKENS": TOKENS, **extra}

    def expected(self, keep: Any = lambda e: True) -> list[str]:
        """Ids of the matching events in the API's order: event time, then id, newest first."""
        chosen = sorted((e for e in self.events if keep(e)), key=lambda e: (parse_timestamp(e["timestamp"]), e["id"]))
        return [e["id"] for e in reversed(chosen)]

    def of(self, actor: str) -> list[str]:
        return [e["id"] for e in self.events if e["actorId"] == actor]


async def _send(api: Api) -> list[dict[str, Any]]:
    """Post the trail with the write-only token (singles, a 207 bulk, a 201 bulk) and a few refusals."""
    events = [_event(i) for i in range(COUNT)]
    for event in events[:2]:
        status, body = await api.call("POST", "/api/audit-logs", json=event, token=WRITER)
        assert status == 201, body
        event["id"] = body["id"]
    bad = make_event("svc-orders", 0, status="MAYBE")
    for first, chunk, want in ((2, [*events[2:20], bad], 207), (20, events[20:], 201)):
        status, body = await api.call("POST", "/api/audit-logs/bulk", json=chunk, token=WRITER)
        assert status == want, body
        for item in body["succeeded"]:
            events[first + item["index"]]["id"] = item["id"]
    assert (await api.call("POST", "/api/audit-logs", json=bad, token=WRITER))[0] == 400
    assert (await api.call("POST", "/api/audit-logs", json=events[0], token=READER))[0] == 403
    assert (await api.call("POST", "/api/audit-logs", json=events[0], token=None))[0] == 401
    status, _ = await api.call("POST", "/api/audit-logs", headers={"Content-Type": "text/plain"}, token=WRITER)
    assert status == 415
    return events


@asynccontextmanager
async def _gateway(env: dict[str, str]) -> AsyncIterator[Api]:
    client = TestClient(TestServer(init(load_settings(env))))
    await client.start_server()
    try:
        yield Api(client)
    finally:
        await client.close()


async def _build(env: dict[str, str]) -> list[dict[str, Any]]:
    async with _gateway(env) as api:
        return await _send(api)


@pytest.fixture(scope="module")
def trail(database_url: str, kafka_bootstrap: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Trail]:
    """A migrated schema of its own and a trail stored by a real processor, which then stops."""
    with (
        private_schema(database_url, "q") as schema,
        running_stack(kafka_bootstrap, schema.url, uuid.uuid4().hex[:10], tmp_path_factory.mktemp("q")) as stack,
    ):
        env = {**stack.settings_env(), "ARGUS_AUTH_TOKENS": TOKENS}
        events = asyncio.run(_build(env))  # before the tests' event loop exists (module scope)
        stack.start_processor()
        wait_for(lambda: stack.stored_count() == COUNT, 90, f"{COUNT} stored records; logs:\n{stack.logs()}")
        stack.stop_all()
        yield Trail(stack, events)


@pytest.fixture
async def api(trail: Trail) -> AsyncIterator[Api]:
    async with _gateway(trail.env()) as gateway:
        yield gateway


async def _ids(api: Api, query: dict[str, Any]) -> list[str]:
    status, body = await api.call("GET", "/api/audit-logs", {"limit": 1000, **query})
    assert status == 200 and body["total"] == len(body["logs"]) and body["nextCursor"] is None, body
    return [record["id"] for record in body["logs"]]


def _actor(actor: str, tail: str) -> str:
    return f"/api/actors/{quote(actor, safe='')}/{tail}"


@pytest.mark.parametrize("name", ["traceId", "eventType", "action", "status", "actorId", "actorType", "targetType",
                                  "targetId"])  # fmt: skip
async def test_each_filter_returns_exactly_the_matching_records_newest_first(api: Api, trail: Trail, name: str) -> None:
    counts = Counter(e[name] for e in trail.events if name in e)
    assert len(counts) >= 2, "the trail must make each filter selective"
    for value, _ in counts.most_common(3):
        assert await _ids(api, {name: value}) == trail.expected(lambda e, v=value: e.get(name) == v), value
    assert await _ids(api, {name: str(uuid.uuid4()) if name == "traceId" else "no-such"}) == []


async def test_filters_combine_and_time_range_is_from_inclusive_to_exclusive(api: Api, trail: Trail) -> None:
    ordered = sorted(trail.events, key=lambda e: parse_timestamp(e["timestamp"]))
    start, end = ordered[5]["timestamp"], ordered[30]["timestamp"]
    t0, t1 = parse_timestamp(start), parse_timestamp(end)
    in_range = trail.expected(lambda e: t0 <= parse_timestamp(e["timestamp"]) < t1)
    assert await _ids(api, {"from": start, "to": end}) == in_range and len(in_range) >= 20
    elsewhere = t0.astimezone(timezone(timedelta(hours=-5))).isoformat()  # the same instant in another zone
    assert await _ids(api, {"from": elsewhere, "to": end}) == in_range
    assert await _ids(api, {"actorId": "svc-orders", "status": "SUCCESS", "from": start}) == trail.expected(
        lambda e: e["actorId"] == "svc-orders" and e["status"] == "SUCCESS" and parse_timestamp(e["timestamp"]) >= t0
    )


async def test_records_carry_every_field_and_message_only_on_request(api: Api, trail: Trail) -> None:
    status, body = await api.call("GET", "/api/audit-logs", {"limit": 1000})
    assert status == 200 and body["total"] == COUNT and body["offset"] == 0
    assert all("message" not in record for record in body["logs"])
    _, full = await api.call("GET", "/api/audit-logs", {"limit": 1000, "includeMessage": "true"})
    by_id = {record["id"]: record for record in full["logs"]}
    for event in trail.events:
        record = by_id[event["id"]]
        for key in ("timestamp", "action", "status", "actorType", "actorId", "targetType", "metadata", "message",
                    "traceId", "eventType", "targetId"):  # fmt: skip
            assert record[key] == event.get(key), key
        assert record["source"] == "writer" and record["kafkaOffset"] >= 0 and record["storedAt"].endswith("Z")


WALKS = [{}, {"actorId": "svc-orders"}, {"status": "SUCCESS", "from": "2024-02-29T05:00:00Z"}]


@pytest.mark.parametrize("query", WALKS)
async def test_cursor_and_offset_walks_see_every_record_once(api: Api, trail: Trail, query: dict[str, str]) -> None:
    want, seen, cursor = await _ids(api, query), list[str](), None
    while True:
        page = {**query, "limit": 4} | ({"cursor": cursor} if cursor else {})
        status, body = await api.call("GET", "/api/audit-logs", page)
        assert status == 200 and len(body["logs"]) <= 4
        assert ("total" in body) is ("offset" in body) is (cursor is None)
        seen, cursor = seen + [r["id"] for r in body["logs"]], body["nextCursor"]
        if cursor is None:
            break
    assert seen == want
    by_offset: list[str] = []
    for offset in range(0, len(want) + 4, 4):
        status, body = await api.call("GET", "/api/audit-logs", {**query, "limit": 4, "offset": offset})
        assert status == 200 and body["total"] == len(want) and body["offset"] == offset
        by_offset += [r["id"] for r in body["logs"]]
    assert by_offset == want
    # an offset page hands over to the cursor; includeTotal counts on cursor pages too, or skips it anywhere
    _, first = await api.call("GET", "/api/audit-logs", {**query, "limit": 3, "includeTotal": "false"})
    rest_query = {**query, "limit": 1000, "cursor": first["nextCursor"], "includeTotal": "true"}
    _, rest = await api.call("GET", "/api/audit-logs", rest_query)
    assert "total" not in first and rest["total"] == len(want)
    assert [r["id"] for r in first["logs"] + rest["logs"]] == want


async def test_limit_bounds(api: Api) -> None:
    assert len((await api.call("GET", "/api/audit-logs", {"limit": 1}))[1]["logs"]) == 1
    assert len((await api.call("GET", "/api/audit-logs"))[1]["logs"]) == min(COUNT, 100)
    assert len((await api.call("GET", "/api/audit-logs", {"limit": 1000}))[1]["logs"]) == COUNT


BAD = f"""
/api/audit-logs?actorID=x actorID|/api/audit-logs?foo=1 foo|/api/audit-logs?traceId=not-a-uuid traceId
/api/audit-logs?from=yesterday from|/api/audit-logs?to=2024-02-29 to|/api/audit-logs?from=2024-02-30T10:00:00Z from
/api/audit-logs?from=2024-02-29T10:00:00Z&to=2024-02-29T09:00:00%2B02:00 to|/api/audit-logs?offset=-1 offset
/api/audit-logs?includeMessage=maybe includeMessage|/api/audit-logs?includeTotal=2 includeTotal
/api/audit-logs?cursor=not-a-cursor cursor|/api/audit-logs?cursor=WyJ4IiwieSJd cursor|/api/audit-logs?status= status
/api/audit-logs?cursor={encode_cursor(DAY, TRACE)}&offset=2 offset|/api/audit-logs?limit=5&limit=6 limit
/api/audit-logs?limit=0 limit|/api/audit-logs?limit=1001 limit|/api/audit-logs?limit=ten limit
/api/audit-logs?limit=1.5 limit|/api/audit-logs?limit=-1 limit|/api/audit-logs?limit= limit
/api/audit-logs?status={"S" * 17} status|/api/audit-logs?actorId={"a" * 1025} actorId
/api/audit-logs/not-a-uuid id|/api/audit-logs/bulk id|/api/audit-logs/{TRACE}?include=1 include
/api/audit-summary?date=2024-02-30 date|/api/audit-summary?date=29.02.2024 date|/api/audit-summary?top=0 top
/api/actors/svc-orders/chain?fromSeq=0 fromSeq|/api/actors/svc-orders/chain?limit=1001 limit
/api/actors/svc-orders/chain?from=1 from|/api/actors/svc-orders/verify?full=true full
"""


@pytest.mark.parametrize(("path", "field"), [case.split(" ") for case in BAD.replace("\n", "|").split("|") if case])
async def test_bad_parameters_are_400_naming_the_parameter(api: Api, path: str, field: str) -> None:
    status, body = await api.call("GET", path)
    assert status == 400 and body["field"] == field and body["error"] == "invalid_parameter", body


READS = ["/api/audit-logs", "/api/audit-summary", _actor("svc-orders", "chain"), _actor("svc-orders", "verify")]


async def test_scopes_write_only_cannot_read_and_read_only_cannot_write(api: Api, trail: Trail) -> None:
    for path in [*READS, f"/api/audit-logs/{trail.events[0]['id']}"]:
        assert [(await api.call("GET", path, token=t))[0] for t in (WRITER, None, READER, TOKEN)] == [
            403,
            401,
            200,
            200,
        ]
    status, body = await api.call("POST", "/api/audit-logs/bulk", json=[_event(1)], token=READER)
    assert status == 403 and "ingest" in body["message"]
    assert (await api.call("GET", "/openapi.json", token=None))[0] == 200


async def test_one_record_with_its_chain_position_and_a_hash_that_recomputes(api: Api, trail: Trail) -> None:
    for event in trail.events[:12]:
        status, record = await api.call("GET", f"/api/audit-logs/{event['id']}", {"includeMessage": "true"})
        assert status == 200 and record["seq"] == trail.of(event["actorId"]).index(event["id"]) + 1
        assert record_hash({**record, "metadata": canonical_metadata(record["metadata"])}) == record["currentHash"]
        assert record["seq"] > 1 or record["previousHash"] == GENESIS_HASH
    assert "message" not in (await api.call("GET", f"/api/audit-logs/{trail.events[1]['id']}"))[1]
    status, body = await api.call("GET", f"/api/audit-logs/{uuid.uuid4()}")
    assert status == 404 and body["error"] == "not_found"


async def test_daily_summary_counts(api: Api, trail: Trail) -> None:
    for day in (DAY.date(), DAY.date() + timedelta(days=1)):
        of_day = [e for e in trail.events if parse_timestamp(e["timestamp"]).date() == day]
        status, body = await api.call("GET", "/api/audit-summary", {"date": day.isoformat()})
        assert status == 200 and body["date"] == day.isoformat() and body["total"] == len(of_day) > 0
        for key, field in (("byAction", "action"), ("byStatus", "status"), ("byEventType", "eventType"),
                           ("byActorType", "actorType")):  # fmt: skip
            assert body[key] == Counter(e.get(field, "") for e in of_day), key
        actors = Counter(e["actorId"] for e in of_day)
        assert body["uniqueActors"] == len(actors)
        top = sorted(actors.items(), key=lambda kv: (-kv[1], kv[0]))
        assert body["topActors"] == [{"actorId": a, "count": n} for a, n in top[:10]]
    _, top1 = await api.call("GET", "/api/audit-summary", {"date": DAY.date().isoformat(), "top": 1})
    assert len(top1["topActors"]) == 1
    _, today = await api.call("GET", "/api/audit-summary")
    assert today["date"] == datetime.now(UTC).date().isoformat() and today["total"] == 0 == len(today["topActors"])


@pytest.mark.parametrize("actor", [a for a, _ in ACTORS])
async def test_actor_chain_pages_in_seq_order_and_verifies(api: Api, trail: Trail, actor: str) -> None:
    records: list[dict[str, Any]] = []
    from_seq: int | None = 1
    while from_seq is not None:
        status, page = await api.call("GET", _actor(actor, "chain"), {"fromSeq": from_seq, "limit": 3})
        assert status == 200 and page["actorId"] == actor and page["fromSeq"] == from_seq and len(page["records"]) <= 3
        records, from_seq = records + page["records"], page["nextFromSeq"]
    sent = trail.of(actor)
    assert [r["id"] for r in records] == sent and [r["seq"] for r in records] == list(range(1, len(sent) + 1))
    assert [r["previousHash"] for r in records] == [GENESIS_HASH] + [r["currentHash"] for r in records[:-1]]
    status, beyond = await api.call("GET", _actor(actor, "chain"), {"fromSeq": len(sent) + 1})
    assert status == 200 and beyond["records"] == [] and beyond["nextFromSeq"] is None
    status, report = await api.call("GET", _actor(actor, "verify"))
    assert status == 200 and report["ok"] is True and report["breaks"] == [] and report["records"] == len(sent)
    assert report["head"] == {"seq": len(sent), "currentHash": records[-1]["currentHash"]}
    for tail in ("chain", "verify"):
        status, body = await api.call("GET", _actor(actor + "-nobody", tail))
        assert status == 404 and body["error"] == "not_found"


async def test_verify_reports_a_row_tampered_in_sql_with_actor_and_seq(api: Api, trail: Trail) -> None:
    actor, engine = "admin/alice é", make_engine(trail.stack.db_url)
    where = {"a": actor, "s": 3}
    [(original,)] = trail.stack.query("SELECT action FROM audit_records WHERE actor_id = :a AND seq = :s", **where)
    update = text("UPDATE audit_records SET action = :v WHERE actor_id = :a AND seq = :s")
    try:
        with engine.begin() as connection:
            connection.execute(update, {**where, "v": "DELETE" if original != "DELETE" else "READ"})
        status, report = await api.call("GET", _actor(actor, "verify"))
        assert status == 200 and report["ok"] is False and report["breakCount"] == len(report["breaks"]) >= 1
        found = [{k: b[k] for k in ("actorId", "seq", "kind")} for b in report["breaks"]]
        assert {"actorId": actor, "seq": 3, "kind": "modified"} in found
        assert (await api.call("GET", _actor("svc-orders", "verify")))[1]["ok"] is True
    finally:
        with engine.begin() as connection:
            connection.execute(update, {**where, "v": original})
        engine.dispose()
    assert (await api.call("GET", _actor(actor, "verify")))[1]["ok"] is True


async def test_reads_use_the_replica_url_and_a_dead_database_is_503(trail: Trail) -> None:
    dead = "postgresql+psycopg2://argus:argus@127.0.0.1:1/argus"

    for env, want in ((trail.env(ARGUS_DATABASE_URL=dead, ARGUS_READ_DATABASE_URL=trail.stack.db_url), 200),
                      (trail.env(ARGUS_READ_DATABASE_URL=dead), 503)):  # fmt: skip
        async with _gateway(env) as api:
            assert [(await api.call("GET", path))[0] for path in READS] == [want] * len(READS)


async def test_openapi_document_is_served_matches_docs_and_covers_every_route(api: Api) -> None:
    status, served = await api.call("GET", "/openapi.json", token=None)
    assert status == 200 and served["openapi"] == "3.1.0"
    on_disk = (ROOT / "docs" / "openapi.json").read_bytes()
    assert on_disk == render(), "docs/openapi.json is stale: python -m ingest_gateway.openapi docs/openapi.json"
    assert orjson.loads(on_disk) == served
    routes = {(r.method.lower(), r.resource.canonical) for r in api.client.app.router.routes() if r.resource}
    assert {(m, p) for m, p in routes if m != "head"} == {(m, p) for p, ops in served["paths"].items() for m in ops}
    for schema in served["components"]["schemas"].values():
        Draft202012Validator.check_schema(schema)
