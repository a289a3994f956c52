"""The gateway's HTTP layer: a 4xx with a JSON body where the client is at fault, every answer
counted, no ERROR tracebacks a client can cause, and ingest independent of the read path."""

from __future__ import annotations

import asyncio
import base64
import gzip
import logging
import socket
import threading
from collections.abc import AsyncIterator
from typing import Any

import orjson
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient
from prometheus_client import REGISTRY

from argus.runtime.settings import load_settings
from ingest_gateway.app import init
from ingest_gateway.app_keys import READ_POOL
from ingest_gateway.read.query import READ_THREADS
from tests.integration.harness import TOKEN, Stack, make_event
from tests.integration.test_input_edges import GatewayTestServer

pytestmark = pytest.mark.integration
AUTH = {"Authorization": f"Bearer {TOKEN}"}
JSON = {**AUTH, "Content-Type": "application/json"}


async def _boom(_request: web.Request) -> web.Response:
    raise RuntimeError("a bug")


@pytest.fixture
async def gateway(stack: Stack) -> AsyncIterator[TestClient[Any, Any]]:
    app = init(load_settings(stack.settings_env()))
    app.router.add_get("/api/boom", _boom)  # stands for any unexpected failure in a handler
    client = TestClient(GatewayTestServer(app))
    await client.start_server()
    try:
        yield client
    finally:
        await client.close()


def requests_counted(**labels: str) -> float:
    return REGISTRY.get_sample_value("argus_http_requests_total", labels) or 0.0


async def answer(response: Any) -> tuple[int, dict[str, Any]]:
    assert response.content_type == "application/json", (response.status, await response.text())
    return response.status, await response.json()


@pytest.mark.parametrize(
    ("encoding", "body", "status"),
    [
        ("gzip", b'{"not": "gzip"}', 400),
        ("deflate", b"not deflate", 400),
        ("br", b"whatever", 415),
        ("zstd", b"whatever", 415),
        ("compress", b"whatever", 415),
    ],
)
async def test_bodies_that_do_not_decode_are_a_json_4xx(
    gateway: TestClient[Any, Any], encoding: str, body: bytes, status: int, caplog: pytest.LogCaptureFixture
) -> None:
    response = await gateway.post("/api/audit-logs", data=body, headers={**JSON, "Content-Encoding": encoding})
    assert (await answer(response))[0] == status
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


async def test_a_gzip_body_is_accepted(gateway: TestClient[Any, Any]) -> None:
    body = gzip.compress(orjson.dumps(make_event("svc-gzip", 1)))
    response = await gateway.post("/api/audit-logs", data=body, headers={**JSON, "Content-Encoding": "gzip"})
    assert (await answer(response))[0] == 201


async def test_parser_errors_and_http_errors_are_json(
    gateway: TestClient[Any, Any], caplog: pytest.LogCaptureFixture
) -> None:
    status, body = await answer(await gateway.get("/api/audit-logs?x=" + "a" * 9000, headers=AUTH))
    assert status == 400 and body["error"] == "bad_request"
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]  # a client's fault: one WARNING line
    response = await gateway.put("/api/audit-logs", headers=AUTH)
    assert (await answer(response))[0] == 405
    assert set(response.headers["Allow"].split(",")) == {"GET", "HEAD", "POST"}
    assert (await answer(await gateway.get("/nowhere", headers=AUTH)))[0] == 404


def _raw_post(host: str, port: int, headers: bytes, body: bytes) -> tuple[int, bytes]:
    """One request written byte for byte: an HTTP client would encode (or refuse) a non-UTF-8 header."""
    head = (b"POST /api/audit-logs HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Type: application/json\r\n"
            + headers + b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n")  # fmt: skip
    with socket.create_connection((host, port)) as raw:
        raw.sendall(head + body)
        answer = b""
        while chunk := raw.recv(65536):
            answer += chunk
    status_line, _, rest = answer.partition(b"\r\n")
    return int(status_line.split()[1]), rest.partition(b"\r\n\r\n")[2]


@pytest.mark.parametrize(
    ("header", "status", "field"),
    [
        (b"Authorization: Bearer \xe9\r\n", 401, None),  # before authentication: anyone could cause it
        (f"Authorization: Bearer {TOKEN}".encode() + b"\xe9\r\n", 401, None),
        (f"Authorization: Bearer {TOKEN}\r\n".encode() + b"Idempotency-Key: k\xe9y\r\n", 400, "Idempotency-Key"),
    ],
)
async def test_headers_that_are_not_utf8_are_a_json_4xx(
    gateway: TestClient[Any, Any], caplog: pytest.LogCaptureFixture, header: bytes, status: int, field: str | None
) -> None:
    server = gateway.server
    body = orjson.dumps(make_event("svc-headers", 1))
    answered, text = await asyncio.to_thread(_raw_post, str(server.host), int(server.port or 0), header, body)
    assert (answered, orjson.loads(text).get("field")) == (status, field), text
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


async def test_a_client_gone_mid_body_is_not_an_error(
    gateway: TestClient[Any, Any], caplog: pytest.LogCaptureFixture
) -> None:
    server = gateway.server

    def ended() -> float:  # 499: the handler was cancelled; 400: the body read failed
        return sum(requests_counted(method="POST", route="/api/audit-logs", status=s) for s in ("400", "499"))

    before = ended()
    head = (f"POST /api/audit-logs HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {TOKEN}\r\n"
            "Content-Type: application/json\r\nContent-Length: 100000\r\n\r\n")  # fmt: skip
    with socket.create_connection((server.host, server.port)) as raw:
        raw.sendall(head.encode() + b'{"timestamp":')
        raw.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")  # RST on close
    deadline = asyncio.get_running_loop().time() + 30
    while ended() == before:
        assert asyncio.get_running_loop().time() < deadline, "the cut-short request was never answered or counted"
        await asyncio.sleep(0.05)
    assert (await answer(await gateway.get("/health")))[0] == 200  # the server goes on serving
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


async def test_an_unexpected_failure_is_a_counted_json_500(gateway: TestClient[Any, Any]) -> None:
    before = requests_counted(method="GET", route="/api/boom", status="500")
    status, body = await answer(await gateway.get("/api/boom", headers=AUTH))
    assert (status, body["error"]) == (500, "internal_error")
    assert requests_counted(method="GET", route="/api/boom", status="500") == before + 1


def _cursor(moment: str) -> str:
    payload = orjson.dumps([moment, "0190a0a0-0000-7000-8000-000000000000"])
    return base64.urlsafe_b64encode(payload).rstrip(b"=").decode()


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("/api/audit-logs?from=0001-01-01T00:00:00%2B14:00", "from"),
        ("/api/audit-logs?to=9999-12-31T23:59:59-15:59", "to"),
        (f"/api/audit-logs?cursor={_cursor('0001-01-01T00:00:00+14:00')}", "cursor"),
        (f"/api/audit-logs?cursor={_cursor('9999-12-31T23:59:59-15:59')}", "cursor"),
        ("/api/audit-summary?date=9999-12-31", "date"),
        ("/api/audit-logs/urn:uuid:0190a0a0-0000-7000-8000-000000000000", "id"),
    ],
)
async def test_times_that_overflow_in_utc_are_400_naming_the_parameter(
    gateway: TestClient[Any, Any], query: str, field: str
) -> None:
    status, body = await answer(await gateway.get(query, headers=AUTH))
    assert (status, body["field"]) == (400, field), body


async def test_summary_windows_have_four_digit_years(gateway: TestClient[Any, Any]) -> None:
    status, body = await answer(await gateway.get("/api/audit-summary?date=0820-02-17", headers=AUTH))
    assert status == 200
    assert (body["from"], body["to"]) == ("0820-02-17T00:00:00Z", "0820-02-18T00:00:00Z")


async def test_client_chosen_field_names_never_become_metric_labels(gateway: TestClient[Any, Any]) -> None:
    invented = "colour-of-the-day-4c1d"
    response = await gateway.post("/api/audit-logs", json={**make_event("svc-m", 1), invented: "red"}, headers=AUTH)
    assert (await answer(response)) == (400, {"error": "validation_error", "field": invented,
                                              "message": "is not a known event field"})  # fmt: skip
    exposition = await (await gateway.get("/metrics")).text()
    assert invented not in exposition
    assert 'argus_logs_rejected_total{field="other"}' in exposition


async def test_ingest_answers_while_every_read_thread_is_busy(gateway: TestClient[Any, Any]) -> None:
    """Slow reads hold the read pool; signature checks and publishing run elsewhere."""
    release = threading.Event()
    pool = gateway.app[READ_POOL]
    blockers = [pool.submit(release.wait, 60) for _ in range(READ_THREADS)]
    try:
        read = asyncio.ensure_future(gateway.get("/api/audit-logs", headers=AUTH))
        response = await asyncio.wait_for(
            gateway.post("/api/audit-logs", json=make_event("svc-i", 1), headers=AUTH), 30
        )
        assert response.status == 201
        assert not read.done()  # the read is still queued behind the blocked read threads
    finally:
        release.set()
    assert all(blocker.result(timeout=30) for blocker in blockers)
    assert (await read).status == 200
