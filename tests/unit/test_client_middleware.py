"""Request auditing: traceparent parsing, method/status mapping, the ASGI and aiohttp middlewares."""

from __future__ import annotations

from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from argus_client.middleware import AuditASGIMiddleware, aiohttp_audit_middleware, trace_id_from_traceparent

TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
TRACEPARENT = f"00-{TRACE}-00f067aa0ba902b7-01"
TRACE_UUID = "4bf92f35-77b3-4da6-a3ce-929d0e0e4736"


class Recorder:
    """Stands in for a client: keeps what would have been sent."""

    def __init__(self) -> None:
        self.events: list[dict[str, Any]] = []

    def log_audit_event(self, event: dict[str, Any], *, signer: Any = None) -> bool:
        self.events.append(event)
        return True


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (TRACEPARENT, TRACE_UUID),
        (f" {TRACEPARENT} ", TRACE_UUID),
        (f"01-{TRACE}-00f067aa0ba902b7-01-extra", TRACE_UUID),  # a future version may append fields
        (f"00-{TRACE}-00f067aa0ba902b7-01-extra", None),
        (f"ff-{TRACE}-00f067aa0ba902b7-01", None),
        (f"00-{'0' * 32}-00f067aa0ba902b7-01", None),
        (f"00-{TRACE}-{'0' * 16}-01", None),
        (f"00-{TRACE.upper()}-00f067aa0ba902b7-01", None),
        ("garbage", None),
        (None, None),
    ],
)
def test_traceparent(header: str | None, expected: str | None) -> None:
    assert trace_id_from_traceparent(header) == expected


async def test_asgi_middleware_one_event_per_request() -> None:
    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        if scope["path"] == "/boom":
            raise RuntimeError("handler bug")
        status = 404 if scope["path"] == "/missing" else 200
        await send({"type": "http.response.start", "status": status, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})

    recorder = Recorder()
    audited = AuditASGIMiddleware(app, recorder, actor=lambda scope: ("MEMBER", scope.get("user", "anonymous")))
    sent: list[Any] = []

    async def send(message: Any) -> None:
        sent.append(message)

    async def receive() -> Any:
        return {"type": "http.request"}

    headers = [(b"traceparent", TRACEPARENT.encode())]
    await audited({"type": "http", "method": "GET", "path": "/docs/1", "headers": headers, "user": "u1"}, receive, send)
    await audited({"type": "http", "method": "PATCH", "path": "/missing", "headers": []}, receive, send)
    with pytest.raises(RuntimeError):
        await audited({"type": "http", "method": "DELETE", "path": "/boom", "headers": []}, receive, send)
    await audited({"type": "http", "method": "OPTIONS", "path": "/docs", "headers": []}, receive, send)
    await audited({"type": "lifespan"}, receive, send)
    summary = [(e["action"], e["status"], e["actorId"], e["targetId"], e.get("traceId")) for e in recorder.events]
    assert summary == [
        ("READ", "SUCCESS", "u1", "/docs/1", TRACE_UUID),
        ("UPDATE", "FAILURE", "anonymous", "/missing", None),
        ("DELETE", "FAILURE", "anonymous", "/boom", None),
    ]
    assert recorder.events[1]["metadata"]["httpStatus"] == 404 and recorder.events[2]["metadata"]["httpStatus"] == 500
    assert len(sent) == 6  # every message of the three answered requests reached the server


async def test_aiohttp_middleware_maps_methods_and_statuses() -> None:
    recorder = Recorder()

    async def ok(request: web.Request) -> web.Response:
        return web.Response(text="ok")

    async def missing(request: web.Request) -> web.Response:
        raise web.HTTPNotFound()

    def actor(request: web.Request) -> tuple[str, str] | None:
        user = request.headers.get("X-User")
        return None if user == "skip" else ("MEMBER", user or "anonymous")

    app = web.Application(middlewares=[aiohttp_audit_middleware(recorder, actor, event_type="DATA_FETCH")])
    app.router.add_route("*", "/docs", ok)
    app.router.add_route("*", "/missing", missing)
    async with TestClient(TestServer(app)) as http:
        assert (await http.post("/docs", headers={"X-User": "u1", "traceparent": TRACEPARENT})).status == 200
        assert (await http.put("/docs")).status == 200
        assert (await http.delete("/missing")).status == 404
        assert (await http.get("/docs", headers={"X-User": "skip"})).status == 200
        assert (await http.options("/docs")).status == 200
    summary = [(e["action"], e["status"], e["actorId"], e.get("traceId")) for e in recorder.events]
    assert summary == [
        ("CREATE", "SUCCESS", "u1", TRACE_UUID),
        ("UPDATE", "SUCCESS", "anonymous", None),
        ("DELETE", "FAILURE", "anonymous", None),
    ]
    assert all(e["eventType"] == "DATA_FETCH" for e in recorder.events)
