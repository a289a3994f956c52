"""Audit every HTTP request a service handles: an aiohttp middleware and an ASGI middleware.

One event per request: action from the method (POST→CREATE, GET→READ, PUT/PATCH→UPDATE,
DELETE→DELETE; other methods are not audited), status from the response (<400 SUCCESS, else
FAILURE; an exception counts as 500), actor from your callable (return None to skip a request),
target = the path (never the query string: it may carry secrets), traceId from the W3C
`traceparent` header. aiohttp is imported only by `aiohttp_audit_middleware`.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any, Protocol

from argus_spec.envelope import utc_now_rfc3339
from argus_spec.event import MAX_TEXT_LEN, Event

log = logging.getLogger("argus_client")

METHOD_ACTIONS = {"POST": "CREATE", "GET": "READ", "PUT": "UPDATE", "PATCH": "UPDATE", "DELETE": "DELETE"}
_TRACEPARENT = re.compile(r"([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})(-.*)?")
Actor = tuple[str, str]  # (actorType, actorId)
Scope = MutableMapping[str, Any]
ASGIApp = Callable[..., Awaitable[None]]


class AuditLogger(Protocol):
    """AuditClient, AsyncAuditClient, or anything else with their `log_audit_event`."""

    def log_audit_event(self, event: Event, *, signer: Any = None) -> bool: ...


def trace_id_from_traceparent(header: str | None) -> str | None:
    """The trace-id of a W3C traceparent (`00-<32 hex>-<16 hex>-<2 hex>`) as a UUID; None if invalid."""
    if not header:
        return None
    match = _TRACEPARENT.fullmatch(header.strip())
    if match is None:
        return None
    version, trace, parent, _flags, rest = match.groups()
    if version == "ff" or (version == "00" and rest) or trace == "0" * 32 or parent == "0" * 16:
        return None
    return f"{trace[:8]}-{trace[8:12]}-{trace[12:16]}-{trace[16:20]}-{trace[20:]}"


def request_event(
    method: str,
    path: str,
    status: int,
    actor: Actor,
    *,
    traceparent: str | None,
    duration: float,
    target_type: str,
    event_type: str | None,
) -> Event:
    """The audit event for one handled request."""
    actor_type, actor_id = actor
    event: Event = {
        "timestamp": utc_now_rfc3339(),
        "action": METHOD_ACTIONS[method],
        "status": "SUCCESS" if status < 400 else "FAILURE",
        "actorType": actor_type,
        "actorId": actor_id,
        "targetType": target_type,
        "targetId": path[:MAX_TEXT_LEN],
        "metadata": {"method": method, "path": path, "httpStatus": status, "durationMs": round(duration * 1000, 3)},
    }
    if event_type:
        event["eventType"] = event_type
    trace_id = trace_id_from_traceparent(traceparent)
    if trace_id:
        event["traceId"] = trace_id
    return event


def _audit(
    client: AuditLogger,
    actor: Callable[[Any], Actor | None],
    subject: Any,
    method: str,
    path: str,
    status: int,
    traceparent: str | None,
    started: float,
    options: tuple[str, str | None],
) -> None:
    """The response is already decided: a failing actor callable or a bad event is logged, never a 500."""
    try:
        who = actor(subject)
        if who is None:
            return
        target_type, event_type = options
        event = request_event(
            method,
            path,
            status,
            who,
            traceparent=traceparent,
            duration=time.perf_counter() - started,
            target_type=target_type,
            event_type=event_type,
        )
        client.log_audit_event(event)
    except Exception:
        log.exception("argus client: could not audit %s %s", method, path)


def aiohttp_audit_middleware(
    client: AuditLogger,
    actor: Callable[[Any], Actor | None],
    *,
    target_type: str = "RESOURCE",
    event_type: str | None = None,
) -> Any:
    """`web.Application(middlewares=[aiohttp_audit_middleware(client, actor=lambda request: ...)])`."""
    from aiohttp import web

    options = (target_type, event_type)

    @web.middleware
    async def audit(request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]) -> Any:
        if request.method not in METHOD_ACTIONS:
            return await handler(request)
        started = time.perf_counter()
        status = 500
        try:
            response = await handler(request)
            status = response.status
            return response
        except web.HTTPException as exc:
            status = exc.status
            raise
        finally:
            traceparent = request.headers.get("traceparent")
            _audit(client, actor, request, request.method, request.path, status, traceparent, started, options)

    return audit


class AuditASGIMiddleware:
    """`app = AuditASGIMiddleware(app, client, actor=lambda scope: ("MEMBER", scope["user"]...))`."""

    def __init__(
        self,
        app: ASGIApp,
        client: AuditLogger,
        actor: Callable[[Scope], Actor | None],
        *,
        target_type: str = "RESOURCE",
        event_type: str | None = None,
    ) -> None:
        self.app, self.client, self.actor = app, client, actor
        self.options = (target_type, event_type)

    async def __call__(
        self, scope: Scope, receive: Callable[[], Awaitable[Any]], send: Callable[[Any], Awaitable[None]]
    ) -> None:
        if scope.get("type") != "http" or scope.get("method") not in METHOD_ACTIONS:
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def capture(message: Any) -> None:
            nonlocal status
            if message.get("type") == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, capture)
        except BaseException:
            status = 500
            raise
        finally:
            headers = dict(scope.get("headers") or [])
            raw = headers.get(b"traceparent")
            traceparent = raw.decode("latin-1") if raw else None
            path = scope.get("path", "/")
            _audit(self.client, self.actor, scope, scope["method"], path, status, traceparent, started, self.options)
