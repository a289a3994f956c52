"""Request ids and W3C trace context: every log line of a request carries them, and the events it
produces carry the `traceparent` to the processor as a Kafka header (never into the stored event).

A malformed `traceparent` is ignored, as the W3C spec asks, rather than refusing the request.
"""

from __future__ import annotations

import logging
import re
import uuid
from collections.abc import Awaitable, Callable

from aiohttp import web

from argus.runtime import logs
from argus.runtime.trace_context import TRACEPARENT, parse_traceparent

log = logging.getLogger(__name__)

REQUEST_ID = "X-Request-Id"
_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")
KafkaHeaders = list[tuple[str, str | bytes | None]]
TRACE_HEADERS = web.RequestKey("trace_headers", KafkaHeaders)
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@web.middleware
async def request_context(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Log context for the request (its id, a caller's trace id) and the id echoed in the answer."""
    given = request.headers.get(REQUEST_ID, "")
    request_id = given if _REQUEST_ID.fullmatch(given) else uuid.uuid4().hex
    traceparent = request.headers.get(TRACEPARENT)
    trace_id = parse_traceparent(traceparent)
    if trace_id is not None and traceparent is not None:
        headers: KafkaHeaders = [(TRACEPARENT, traceparent.strip().encode("ascii"))]
        request[TRACE_HEADERS] = headers
    with logs.log_context(request_id=request_id, trace_id=trace_id):
        response = await handler(request)
        response.headers[REQUEST_ID] = request_id
        log.debug("%s %s -> %d", request.method, request.path, response.status)
    return response
