"""POST /api/audit-logs and /api/audit-logs/bulk: validate, identify, publish keyed by actor, answer after delivery.

Status codes follow the reference service because existing clients retry anything else:
201 all accepted, 207 some rejected, 400 all rejected, 503 (with Retry-After) when Kafka did
not confirm delivery. Nothing is acknowledged that the broker has not durably accepted; a 503
request may still be partly in Kafka (one record per event, no transaction), which is why ids
are stable across retries (docs/api.md, "503").

Every event leaves here with an id (argus/trust/identity.py): the client's, or one derived from the
`Idempotency-Key` header or the event's content, so a retried request maps to the same ids.
An id already used in the request, in the store or lately by this gateway (recent_ids.py) is a
retry when the content is the same (acknowledged again, produced once) and a 409 conflict when it
is not.

With a receipt key (ARGUS_RECEIPT_KEY) every envelope carries the gateway's attestation of the
event's source and receivedAt, and every accepted event's answer a signed receipt naming where Kafka
holds it (docs/receipts.md): each one signature per request, each event with its Merkle audit path.
Both are signed on the ingest pool, off the event loop.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from argus.db.admission import validate_storable_event
from argus.kafka.producer import DeliveryError
from argus.trust.identity import content_digest, content_id, idempotency_id
from argus.trust.receipt_keys import ReceiptSigner
from argus_spec import exactjson
from argus_spec.envelope import encode_envelope, message_key, utc_now_rfc3339
from argus_spec.event import EventValidationError
from argus_spec.uuid7 import uuid7
from ingest_gateway import metrics
from ingest_gateway.app_keys import (
    INGEST_POOL,
    KNOWN_IDS,
    PRODUCER,
    RECEIPTS,
    RECENT_IDS,
    SETTINGS,
    VERIFIER,
    BatchVerifier,
)
from ingest_gateway.errors import error_response, json_response
from ingest_gateway.tracing import TRACE_HEADERS

RETRY_AFTER_SECONDS = "5"
SOURCE_KEY = web.RequestKey("source", str)
IDEMPOTENCY_KEY_HEADER = "Idempotency-Key"
MAX_IDEMPOTENCY_KEY_LEN = 255


@dataclass
class Item:
    """One event of a request on its way through the checks."""

    index: int
    event: dict[str, Any]
    metadata_text: str | None
    _digest: bytes | None = None
    attestation: str | None = None  # set with the envelope, when the gateway has a receipt key
    received_at: str | None = None

    @property
    def id(self) -> str:
        return str(self.event["id"])

    @property
    def digest(self) -> bytes:
        """The content digest, computed only when an id must be derived or compared."""
        if self._digest is None:
            self._digest = content_digest(self.event, self.metadata_text)
        return self._digest


@dataclass(frozen=True)
class Accepted:
    id: str
    position: tuple[int, int] | None  # (partition, offset); None: a retry, produced before
    receipt: dict[str, Any] | None = None  # signed, when the gateway has a receipt key


@dataclass(frozen=True)
class Refused:
    status: int
    error: str
    field: str
    message: str


Outcome = Accepted | Refused
Record = tuple[Item, bytes, bytes]  # an item with its Kafka value and key


async def _read_json(request: web.Request) -> Any | web.Response:
    if request.content_type != "application/json":
        return error_response(415, "unsupported_media_type", "Content-Type must be application/json")
    body = await request.read()
    try:
        return exactjson.loads(body)
    except exactjson.JSONDecodeError as exc:
        return error_response(400, "malformed_json", f"request body is not valid JSON: {exc}", field="$")


def _idempotency_key(request: web.Request) -> str | web.Response | None:
    key = request.headers.get(IDEMPOTENCY_KEY_HEADER)
    if key is not None and not 1 <= len(key) <= MAX_IDEMPOTENCY_KEY_LEN:
        message = f"{IDEMPOTENCY_KEY_HEADER}: must be 1 to {MAX_IDEMPOTENCY_KEY_LEN} characters"
        return error_response(400, "invalid_header", message, field=IDEMPOTENCY_KEY_HEADER)
    if key is not None and not _is_utf8(key):  # aiohttp passes bytes that are not UTF-8 as surrogates
        message = f"{IDEMPOTENCY_KEY_HEADER}: must be UTF-8 text"
        return error_response(400, "invalid_header", message, field=IDEMPOTENCY_KEY_HEADER)
    return key


async def _read_request(request: web.Request) -> tuple[str | None, Any] | web.Response:
    """The Idempotency-Key and the JSON body of a POST, or the answer refusing them (the header first)."""
    key = _idempotency_key(request)
    if isinstance(key, web.Response):
        return key
    raw = await _read_json(request)
    if isinstance(raw, web.Response):
        return raw
    return key, raw


def _is_utf8(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


async def _verify(request: web.Request, events: list[dict[str, Any]]) -> list[str | None]:
    verifier: BatchVerifier | None = request.app[VERIFIER]  # type: ignore[assignment]
    if verifier is None or not events:
        return [None] * len(events)
    pool = request.app[INGEST_POOL]
    sources = [request.get(SOURCE_KEY)] * len(events)  # the token name: what mustSign source rules name
    reasons = await asyncio.get_running_loop().run_in_executor(pool, verifier, events, sources)
    failures = sum(1 for reason in reasons if reason is not None)
    if failures:
        metrics.SIGNATURE_ERRORS.inc(failures)
    return reasons


def _validate(request: web.Request, raws: list[Any], key: str | None, outcomes: dict[int, Outcome]) -> list[Item]:
    """Valid events, each with an id: sent, or derived from the idempotency key or its content."""
    settings = request.app[SETTINGS]
    source: str | None = request.get(SOURCE_KEY)
    items: list[Item] = []
    for index, raw in enumerate(raws):
        try:
            event, metadata_text = validate_storable_event(raw, settings.enums, assign_id=False)
        except EventValidationError as exc:
            metrics.LOGS_REJECTED.labels(field=metrics.field_label(exc.field)).inc()
            outcomes[index] = Refused(400, "validation_error", exc.field, exc.message)
            continue
        item = Item(index, event, metadata_text)
        if event["id"] is None:
            if key is not None:
                event["id"] = idempotency_id(source, key, index)
            elif settings.content_ids:
                event["id"] = content_id(source, item.digest)
            else:
                event["id"] = uuid7()
        items.append(item)
    return items


def _first_copies(items: list[Item], outcomes: dict[int, Outcome]) -> tuple[list[Item], dict[int, Item]]:
    """Keep the first item of each id. A later copy with the same content is a retry of the first
    (`copies`: index -> first); one with different content is refused as a conflict."""
    first: dict[str, Item] = {}
    copies: dict[int, Item] = {}
    for item in items:
        earlier = first.get(item.id)
        if earlier is None:
            first[item.id] = item
        elif earlier.digest == item.digest:
            copies[item.index] = earlier
        else:
            metrics.ID_CONFLICTS.inc()
            outcomes[item.index] = Refused(
                409, "duplicate_id", "id", f"item {earlier.index} of this request has this id with different content"
            )
    return list(first.values()), copies


async def _unknown(request: web.Request, items: list[Item], outcomes: dict[int, Outcome]) -> list[Item]:
    """Items whose id is not stored. A stored one with the same content is acknowledged again
    without producing it; with other content it is a 409."""
    known = await request.app[KNOWN_IDS].digests([item.id for item in items])
    if not known:
        return items
    fresh = []
    signer: ReceiptSigner | None = request.app[RECEIPTS]  # type: ignore[assignment]
    for item in items:
        stored = known.get(item.id)
        if stored is None:
            fresh.append(item)
        elif stored.digest == item.digest:
            metrics.LOGS_DUPLICATE.inc()
            receipt = None
            if signer is not None and stored.statement is not None:
                receipt = signer.receipt({"id": item.id, "contentHash": item.digest.hex(), **stored.statement})
            outcomes[item.index] = Accepted(item.id, None, receipt)
        else:
            metrics.ID_CONFLICTS.inc()
            message = "a stored event has this id with different content"
            outcomes[item.index] = Refused(409, "id_conflict", "id", message)
    return fresh


def _encode(request: web.Request, items: list[Item], outcomes: dict[int, Outcome]) -> list[Record]:
    """Each item's Kafka record (value, key). The size is checked here, on the exact bytes
    produced, against ARGUS_MAX_EVENT_BYTES, below the producer's and the topic's limits, so
    the broker never refuses an event as too large (docs/operations.md, "Size limits")."""
    limit = request.app[SETTINGS].max_event_bytes
    source: str | None = request.get(SOURCE_KEY)
    received_at = utc_now_rfc3339()
    signer: ReceiptSigner | None = request.app[RECEIPTS]  # type: ignore[assignment]
    if signer is not None:  # one signature covers the request (docs/receipts.md, v2 attestations)
        attestations = signer.attest_batch([(item.id, item.digest.hex(), source, received_at) for item in items])
        for item, attestation in zip(items, attestations, strict=True):
            item.attestation = attestation
    records = []
    for item in items:
        item.received_at = received_at
        value = encode_envelope(item.event, source=source, received_at=received_at, attestation=item.attestation)
        if len(value) > limit:
            field = _largest_field(item.event)
            metrics.LOGS_REJECTED.labels(field=metrics.field_label(field)).inc()
            message = f"the event is {len(value)} bytes as stored, at most {limit} are accepted; shrink {field}"
            outcomes[item.index] = Refused(413, "event_too_large", field, message)
        else:
            records.append((item, value, message_key(item.event)))
    return records


def _claim(request: web.Request, records: list[Record], outcomes: dict[int, Outcome]) -> list[Record]:
    """The records whose id this gateway has not produced lately with other content; the others
    are refused with 409 (two requests racing with one id: ingest_gateway/recent_ids.py)."""
    refused = request.app[RECENT_IDS].claim((item.id, item.digest) for item, _, _ in records)
    if not refused:
        return records
    metrics.ID_CONFLICTS.inc(len(refused))
    message = "an event with this id and different content was accepted moments ago"
    for item, _, _ in records:
        if item.id in refused:
            outcomes[item.index] = Refused(409, "id_conflict", "id", message)
    return [record for record in records if record[0].id not in refused]


def _largest_field(event: dict[str, Any]) -> str:
    sizes = {name: len(exactjson.dumps(event.get(name))) for name in ("message", "metadata")}
    return max(sizes, key=lambda name: sizes[name])


async def _publish(request: web.Request, records: list[Record], outcomes: dict[int, Outcome]) -> None:
    """Produce every record and wait for all delivery reports; raise DeliveryError if any failed."""
    settings = request.app[SETTINGS]
    headers = request.get(TRACE_HEADERS)  # the caller's traceparent, for the processor's log lines
    results = await request.app[PRODUCER].produce_many(
        settings.topic, [(value, key) for _, value, key in records], headers=headers
    )
    failed = [r for r in results if isinstance(r, DeliveryError)]
    if failed:
        metrics.PRODUCE_FAILURES.labels(reason="delivery").inc(len(failed))
        raise DeliveryError(failed[0].reason)
    metrics.LOGS_INGESTED.inc(len(records))
    positions = [position for position in results if isinstance(position, tuple)]
    receipts = await _receipts(request, records, positions)
    for (item, _, _), position, receipt in zip(records, positions, receipts, strict=True):
        outcomes[item.index] = Accepted(item.id, position, receipt)


async def _receipts(request: web.Request, records: list[Record], positions: list[tuple[int, int]]) -> list[Any]:
    """A signed receipt per produced record (None each without a receipt key), signed on the ingest
    pool: v2, one signature over the request's receipt tree; v1 when the request produced one event."""
    signer: ReceiptSigner | None = request.app[RECEIPTS]  # type: ignore[assignment]
    if signer is None or not records:
        return [None] * len(records)
    source: str | None = request.get(SOURCE_KEY)
    topic = request.app[SETTINGS].topic

    def statement(item: Item, partition: int, offset: int) -> dict[str, Any]:
        return {
            "id": item.id, "contentHash": item.digest.hex(), "source": source, "receivedAt": item.received_at,
            "topic": topic, "partition": partition, "offset": offset, "attestation": item.attestation,
        }  # fmt: skip

    def sign_all() -> list[dict[str, Any]]:
        statements = [
            statement(item, partition, offset)
            for (item, _, _), (partition, offset) in zip(records, positions, strict=True)
        ]
        if len(statements) == 1:  # v1: as costly as a tree of one, shorter, and what a retry is answered
            return [signer.receipt(statements[0])]
        return signer.receipts(statements)  # one signature covers the request (docs/receipts.md, v2 receipts)

    return await asyncio.get_running_loop().run_in_executor(request.app[INGEST_POOL], sign_all)


async def _ingest(request: web.Request, raws: list[Any], key: str | None) -> list[Outcome]:
    """Every check in order, then one produce; one outcome per event, or DeliveryError."""
    outcomes: dict[int, Outcome] = {}
    items = _validate(request, raws, key, outcomes)
    reasons = await _verify(request, [item.event for item in items])
    verified = []
    for item, reason in zip(items, reasons, strict=True):
        if reason is None:
            verified.append(item)
        else:
            field, _, message = reason.partition(": ")
            outcomes[item.index] = Refused(400, "signature_error", field, message or reason)
    firsts, copies = _first_copies(verified, outcomes)
    fresh = await _unknown(request, firsts, outcomes)
    if request.app[RECEIPTS] is None or not fresh:
        records = _encode(request, fresh, outcomes)
    else:  # attestations are signed on the ingest pool, off the event loop
        records = await asyncio.get_running_loop().run_in_executor(
            request.app[INGEST_POOL], _encode, request, fresh, outcomes
        )
    await _publish(request, _claim(request, records, outcomes), outcomes)
    for index, first in copies.items():
        outcome = outcomes[first.index]
        outcomes[index] = Accepted(first.id, None, outcome.receipt) if isinstance(outcome, Accepted) else outcome
    return [outcomes[index] for index in range(len(raws))]


def _unavailable(exc: DeliveryError) -> web.Response:
    return error_response(
        503,
        "kafka_unavailable",
        f"the event log did not confirm delivery ({exc.reason}); nothing was acknowledged, though some events "
        "may already be in the log: retry the same request (same body and Idempotency-Key), which stores each "
        "event once",
        headers={"Retry-After": RETRY_AFTER_SECONDS},
    )


async def create_one(request: web.Request) -> web.Response:
    read = await _read_request(request)
    if isinstance(read, web.Response):
        return read
    key, raw = read
    try:
        [outcome] = await _ingest(request, [raw], key)
    except DeliveryError as exc:
        return _unavailable(exc)
    if isinstance(outcome, Refused):
        return error_response(outcome.status, outcome.error, outcome.message, field=outcome.field)
    receipt = {"receipt": outcome.receipt} if outcome.receipt is not None else {}
    if outcome.position is None:
        return json_response({"id": outcome.id, "status": "duplicate", **receipt}, 200)
    partition, offset = outcome.position
    body = {"id": outcome.id, "status": "accepted", "partition": partition, "offset": offset, **receipt}
    return json_response(body, 201)


async def create_bulk(request: web.Request) -> web.Response:
    read = await _read_request(request)
    if isinstance(read, web.Response):
        return read
    key, raw = read
    limit = request.app[SETTINGS].bulk_max_events
    if not isinstance(raw, list):
        return error_response(400, "validation_error", "the bulk body must be a JSON array of events", field="$")
    if not raw:
        return error_response(400, "validation_error", "the bulk array is empty", field="$")
    if len(raw) > limit:
        return error_response(413, "too_many_events", f"at most {limit} events per bulk request", field="$")
    try:
        outcomes = await _ingest(request, raw, key)
    except DeliveryError as exc:
        return _unavailable(exc)
    succeeded = [
        {"index": i, "id": o.id, **({"receipt": o.receipt} if o.receipt is not None else {})}
        for i, o in enumerate(outcomes)
        if isinstance(o, Accepted)
    ]
    failed = [
        {"index": i, "field": o.field, "error": f"{o.field}: {o.message}", "status": o.status}
        for i, o in enumerate(outcomes)
        if isinstance(o, Refused)
    ]
    status = 201 if not failed else (207 if succeeded else 400)
    return json_response({"succeeded": succeeded, "failed": failed}, status)
