"""GET endpoints that read the trail back: records, a daily summary, an actor's chain and its verification.

Handlers only parse and shape; the queries live in `record_store` and run on the gateway's own
bounded read pool (READ_POOL), never on asyncio's default executor, so reads waiting on a slow
database hold neither the event loop nor the threads that check ingest signatures. A database
that cannot be reached answers 503 with Retry-After (like Kafka on the write path); ingest never
depends on the read database.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, time, timedelta
from typing import Any, TypeVar

from aiohttp import web
from sqlalchemy.exc import OperationalError

from argus_spec.event import format_utc
from ingest_gateway.app_keys import KEY_REGISTRY, READ_POOL, READ_STORE, SETTINGS
from ingest_gateway.errors import error_response, json_response
from ingest_gateway.read import query_params as qp
from ingest_gateway.read.record_store import FILTERS, LogQuery, ReadStore

T = TypeVar("T")
log = logging.getLogger(__name__)
RETRY_AFTER_SECONDS = "5"
MAX_LIMIT = 1000
DEFAULT_LIMIT = 100
READ_THREADS = 5  # SQLAlchemy's pool holds 5 connections: more concurrent reads would only queue there

_LIMIT = qp.integer(1, MAX_LIMIT)
LIST_PARAMS: dict[str, qp.Parser] = {
    **{name: qp.text() for name in FILTERS},
    "traceId": qp.uuid_text,
    "status": qp.text(16),
    "from": qp.rfc3339,
    "to": qp.rfc3339,
    "includeMessage": qp.boolean,
    "includeTotal": qp.boolean,
    "limit": _LIMIT,
    "offset": qp.integer(0, qp.MAX_OFFSET),
    "cursor": qp.cursor,
}
RECORD_PARAMS: dict[str, qp.Parser] = {"includeMessage": qp.boolean}
CHAIN_PARAMS: dict[str, qp.Parser] = {
    "fromSeq": qp.integer(1, 2**53 - 1),
    "limit": _LIMIT,
    "includeMessage": qp.boolean,
}
SUMMARY_PARAMS: dict[str, qp.Parser] = {"date": qp.day, "top": qp.integer(1, 100)}
VERIFY_PARAMS: dict[str, qp.Parser] = {}


class _Unavailable(Exception):
    """The read database did not answer; becomes a 503."""


async def _run(request: web.Request, work: Callable[..., T], *args: Any) -> T:
    """Run a query on the read pool (never the loop's default executor, which ingest would share)."""
    try:
        return await asyncio.get_running_loop().run_in_executor(request.app[READ_POOL], work, *args)
    except OperationalError as exc:  # details go to the log, not to the caller (they name hosts)
        log.warning("read database unavailable: %s", str(exc.orig or exc).strip().splitlines()[0])
        raise _Unavailable from exc


Handler = Callable[[web.Request], Awaitable[web.Response]]


def _database_errors(handler: Handler) -> Handler:
    """503 with Retry-After when the read database does not answer (it is a transient condition)."""

    @functools.wraps(handler)
    async def wrapped(request: web.Request) -> web.Response:
        try:
            return await handler(request)
        except _Unavailable:
            return error_response(
                503, "database_unavailable", "the audit database did not answer; retry later",
                headers={"Retry-After": RETRY_AFTER_SECONDS},
            )  # fmt: skip

    return wrapped


def _bad(exc: qp.ParamError) -> web.Response:
    return error_response(400, "invalid_parameter", exc.message, field=exc.field)


def _not_found(message: str) -> web.Response:
    return error_response(404, "not_found", message)


def _parse(request: web.Request, spec: dict[str, qp.Parser]) -> dict[str, Any]:
    return qp.parse_query(request.rel_url.query, spec)


def _actor(request: web.Request) -> str:
    return qp.text()("actorId", request.match_info["actorId"])


def log_query(params: dict[str, Any]) -> LogQuery:
    """Cross-parameter rules on top of the per-parameter ones."""
    if "cursor" in params and "offset" in params:
        raise qp.ParamError("offset", "cannot be combined with cursor (the cursor already says where to continue)")
    start, end = params.get("from"), params.get("to")
    if start is not None and end is not None and end <= start:
        raise qp.ParamError("to", "must be later than from (from is inclusive, to exclusive)")
    return LogQuery(
        filters={name: params[name] for name in FILTERS if name in params},
        start=start,
        end=end,
        limit=params.get("limit", DEFAULT_LIMIT),
        offset=params.get("offset", 0),
        after=params.get("cursor"),
        include_message=params.get("includeMessage", False),
        include_total=params.get("includeTotal", "cursor" not in params),
    )


@_database_errors
async def list_logs(request: web.Request) -> web.Response:
    try:
        query = log_query(_parse(request, LIST_PARAMS))
    except qp.ParamError as exc:
        return _bad(exc)
    page = await _run(request, request.app[READ_STORE].list_logs, query)
    body: dict[str, Any] = {"logs": page.records}
    if page.total is not None:
        body["total"] = page.total
    body["limit"] = query.limit
    if query.after is None:
        body["offset"] = query.offset
    body["nextCursor"] = None if page.last_key is None else qp.encode_cursor(*page.last_key)
    return json_response(body)


@_database_errors
async def get_log(request: web.Request) -> web.Response:
    try:
        record_id = qp.uuid_text("id", request.match_info["id"])
        params = _parse(request, RECORD_PARAMS)
    except qp.ParamError as exc:
        return _bad(exc)
    record = await _run(request, request.app[READ_STORE].get_log, record_id, params.get("includeMessage", False))
    return _not_found(f"no audit record with id {record_id}") if record is None else json_response(record)


@_database_errors
async def summary(request: web.Request) -> web.Response:
    try:
        params = _parse(request, SUMMARY_PARAMS)
    except qp.ParamError as exc:
        return _bad(exc)
    day = params.get("date") or datetime.now(UTC).date()
    start = datetime.combine(day, time(), tzinfo=UTC)
    end = start + timedelta(days=1)
    counts = await _run(request, request.app[READ_STORE].summary, start, end, params.get("top", 10))
    window = {"date": day.isoformat(), "from": format_utc(start, "seconds"), "to": format_utc(end, "seconds")}
    return json_response({**window, **counts})


@_database_errors
async def actor_chain(request: web.Request) -> web.Response:
    try:
        actor = _actor(request)
        params = _parse(request, CHAIN_PARAMS)
    except qp.ParamError as exc:
        return _bad(exc)
    store = request.app[READ_STORE]
    from_seq, limit = params.get("fromSeq", 1), params.get("limit", DEFAULT_LIMIT)
    records, more = await _run(request, store.chain, actor, from_seq, limit, params.get("includeMessage", False))
    if not records and not await _run(request, store.actor_exists, actor):
        return _not_found(f"no audit records for actor {actor!r}")
    next_from = records[-1]["seq"] + 1 if more else None
    return json_response(
        {"actorId": actor, "fromSeq": from_seq, "limit": limit, "records": records, "nextFromSeq": next_from}
    )


@_database_errors
async def actor_verify(request: web.Request) -> web.Response:
    try:
        actor = _actor(request)
        _parse(request, VERIFY_PARAMS)
    except qp.ParamError as exc:
        return _bad(exc)
    registry = request.app.get(KEY_REGISTRY)  # signatures are checked wherever a key registry is configured
    registry = registry if registry is not None and registry.source is not None else None
    report = await _run(request, request.app[READ_STORE].verify_actor, actor, registry)
    return _not_found(f"no audit records for actor {actor!r}") if report is None else json_response(report)


async def _read_store(app: web.Application) -> AsyncIterator[None]:
    """Open the read engine (a replica when ARGUS_READ_DATABASE_URL is set); connections are made
    lazily, so the gateway starts and ingests even when the database is down."""
    settings = app[SETTINGS]
    app[READ_STORE] = ReadStore(settings.read_database_url or settings.database_url)
    with ThreadPoolExecutor(READ_THREADS, thread_name_prefix="read") as pool:
        app[READ_POOL] = pool
        yield
    app[READ_STORE].close()


def add_routes(app: web.Application) -> None:
    """Register the read endpoints and the read engine's lifetime on `app`."""
    app.cleanup_ctx.append(_read_store)
    app.router.add_get("/api/audit-logs", list_logs)
    app.router.add_get(f"/api/audit-logs/{qp.path_param('id')}", get_log)
    app.router.add_get("/api/audit-summary", summary)
    app.router.add_get(f"/api/actors/{qp.path_param('actorId')}/chain", actor_chain)
    app.router.add_get(f"/api/actors/{qp.path_param('actorId')}/verify", actor_verify)
