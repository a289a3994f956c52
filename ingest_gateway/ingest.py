"""POST /api/audit-logs and /api/audit-logs/bulk: validate, publish keyed by actor, answer after delivery.

Status codes follow the reference service because existing clients retry anything else:
201 all accepted, 207 some rejected, 400 all rejected, 503 (with Retry-After) when Kafka did
not confirm delivery. Nothing is acknowledged that the broker has not durably accepted.
"""

from __future__ import annotations

import asyncio
from typing import Any

from aiohttp import web

from argus.kafka_producer import DeliveryError
from argus_client import exactjson
from argus_client.envelope import encode_envelope, message_key, utc_now_rfc3339
from argus_client.event import EventValidationError
from argus_client.hashchain import validate_storable_event
from ingest_gateway import metrics
from ingest_gateway.errors import error_response, json_response
from ingest_gateway.keys import INGEST_POOL, PRODUCER, SETTINGS, VERIFIER, BatchVerifier

RETRY_AFTER_SECONDS = "5"
SOURCE_KEY = web.RequestKey("source", str)


async def _read_json(request: web.Request) -> Any | web.Response:
    if request.content_type != "application/json":
        return error_response(415, "unsupported_media_type", "Content-Type must be application/json")
    body = await request.read()
    try:
        return exactjson.loads(body)
    except exactjson.JSONDecodeError as exc:
        return error_response(400, "malformed_json", f"request body is not valid JSON: {exc}", field="$")


def _validate(raw: Any, request: web.Request) -> dict[str, Any]:
    event, _metadata_text = validate_storable_event(raw, request.app[SETTINGS].enums)
    return event


async def _verify(request: web.Request, events: list[dict[str, Any]]) -> list[str | None]:
    verifier: BatchVerifier | None = request.app[VERIFIER]  # type: ignore[assignment]
    if verifier is None or not events:
        return [None] * len(events)
    pool = request.app[INGEST_POOL]
    reasons = await asyncio.get_running_loop().run_in_executor(pool, verifier, events)
    failures = sum(1 for reason in reasons if reason is not None)
    if failures:
        metrics.SIGNATURE_ERRORS.inc(failures)
    return reasons


class EventTooLarge(Exception):
    """The event's Kafka record would exceed ARGUS_MAX_EVENT_BYTES: it can never be stored as sent."""

    def __init__(self, size: int, limit: int, field: str) -> None:
        super().__init__(f"the event is {size} bytes as stored, at most {limit} are accepted; shrink {field}")
        self.field = field


def _encode(request: web.Request, events: list[dict[str, Any]]) -> list[tuple[bytes, bytes] | EventTooLarge]:
    """Each event's Kafka record (value, key), or why it is too large. The size is checked here,
    on the exact bytes produced, so the broker and topic limits (set above it) never refuse one."""
    limit = request.app[SETTINGS].max_event_bytes
    source: str | None = request.get(SOURCE_KEY)
    received_at = utc_now_rfc3339()
    encoded: list[tuple[bytes, bytes] | EventTooLarge] = []
    for event in events:
        value = encode_envelope(event, source=source, received_at=received_at)
        if len(value) > limit:
            metrics.LOGS_REJECTED.labels(field="$size").inc()
            encoded.append(EventTooLarge(len(value), limit, _largest_field(event)))
        else:
            encoded.append((value, message_key(event)))
    return encoded


def _largest_field(event: dict[str, Any]) -> str:
    sizes = {name: len(exactjson.dumps(event.get(name))) for name in ("message", "metadata")}
    return max(sizes, key=lambda name: sizes[name])


async def _publish(request: web.Request, records: list[tuple[bytes, bytes]]) -> list[tuple[int, int]]:
    """Produce every record and wait for all delivery reports; raise DeliveryError if any failed."""
    results = await request.app[PRODUCER].produce_many(request.app[SETTINGS].topic, records)
    failed = [r for r in results if isinstance(r, DeliveryError)]
    if failed:
        metrics.PRODUCE_FAILURES.labels(reason="delivery").inc(len(failed))
        raise DeliveryError(failed[0].reason)
    metrics.LOGS_INGESTED.inc(len(records))
    return [r for r in results if isinstance(r, tuple)]


def _unavailable(exc: DeliveryError) -> web.Response:
    return error_response(
        503,
        "kafka_unavailable",
        f"the event log did not confirm delivery ({exc.reason}); nothing was acknowledged, retry later",
        headers={"Retry-After": RETRY_AFTER_SECONDS},
    )


async def create_one(request: web.Request) -> web.Response:
    raw = await _read_json(request)
    if isinstance(raw, web.Response):
        return raw
    try:
        event = _validate(raw, request)
    except EventValidationError as exc:
        metrics.LOGS_REJECTED.labels(field=metrics.field_label(exc.field)).inc()
        return error_response(400, "validation_error", exc.message, field=exc.field)
    [reason] = await _verify(request, [event])
    if reason is not None:
        field, _, message = reason.partition(": ")
        return error_response(400, "signature_error", message or reason, field=field)
    [record] = _encode(request, [event])
    if isinstance(record, EventTooLarge):
        return error_response(413, "event_too_large", str(record), field=record.field)
    try:
        [(partition, offset)] = await _publish(request, [record])
    except DeliveryError as exc:
        return _unavailable(exc)
    return json_response({"id": event["id"], "status": "accepted", "partition": partition, "offset": offset}, 201)


async def create_bulk(request: web.Request) -> web.Response:
    raw = await _read_json(request)
    if isinstance(raw, web.Response):
        return raw
    limit = request.app[SETTINGS].bulk_max_events
    if not isinstance(raw, list):
        return error_response(400, "validation_error", "the bulk body must be a JSON array of events", field="$")
    if not raw:
        return error_response(400, "validation_error", "the bulk array is empty", field="$")
    if len(raw) > limit:
        return error_response(413, "too_many_events", f"at most {limit} events per bulk request", field="$")

    failed: list[dict[str, Any]] = []
    accepted: list[tuple[int, dict[str, Any]]] = []
    for index, item in enumerate(raw):
        try:
            accepted.append((index, _validate(item, request)))
        except EventValidationError as exc:
            metrics.LOGS_REJECTED.labels(field=metrics.field_label(exc.field)).inc()
            failed.append({"index": index, "field": exc.field, "error": str(exc)})
    reasons = await _verify(request, [event for _, event in accepted])
    verified: list[tuple[int, dict[str, Any]]] = []
    for (index, event), reason in zip(accepted, reasons, strict=True):
        if reason is None:
            verified.append((index, event))
        else:
            failed.append({"index": index, "field": reason.partition(": ")[0], "error": reason})
    publishable: list[tuple[int, dict[str, Any]]] = []
    records: list[tuple[bytes, bytes]] = []
    for (index, event), record in zip(verified, _encode(request, [event for _, event in verified]), strict=True):
        if isinstance(record, EventTooLarge):
            failed.append({"index": index, "field": record.field, "error": f"{record.field}: {record}"})
        else:
            publishable.append((index, event))
            records.append(record)
    try:
        await _publish(request, records)
    except DeliveryError as exc:
        return _unavailable(exc)
    failed.sort(key=lambda item: item["index"])
    succeeded = [{"index": index, "id": event["id"]} for index, event in publishable]
    status = 201 if not failed else (207 if succeeded else 400)
    return json_response({"succeeded": succeeded, "failed": failed}, status)
