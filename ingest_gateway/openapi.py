"""The OpenAPI 3.1 document of the whole HTTP API, built here and served at GET /openapi.json.

Built from Python so the served document and `docs/openapi.json` (regenerated with
`python -m ingest_gateway.openapi docs/openapi.json`) cannot diverge: a test compares them, and the
integration tests validate every real response they receive against these schemas.
"""

from __future__ import annotations

import functools
import sys
from typing import Any

import orjson
from aiohttp import web

from argus.runtime.settings import Settings
from argus_spec.event import MAX_MESSAGE_B64_LEN, MAX_METADATA_DEPTH, MAX_TEXT_LEN
from ingest_gateway.ops import argus_version
from ingest_gateway.read.record_store import PAGE_MAX_BYTES

J = dict[str, Any]
STR: J = {"type": "string"}
NSTR: J = {"type": ["string", "null"]}
INT: J = {"type": "integer"}
UUID: J = {"type": "string", "format": "uuid"}
TIME: J = {"type": "string", "format": "date-time"}
HASH: J = {"type": "string", "pattern": "^[0-9a-f]{64}$"}
COUNTS: J = {"type": "object", "additionalProperties": INT}


def _ref(name: str, kind: str = "schemas") -> J:
    return {"$ref": f"#/components/{kind}/{name}"}


def _obj(props: J, required: list[str] | None = None, *, closed: bool = True) -> J:
    schema: J = {"type": "object", "properties": props, "required": list(props) if required is None else required}
    if closed:
        schema["additionalProperties"] = False
    return schema


def _json(schema: J, description: str, headers: J | None = None) -> J:
    response: J = {"description": description, "content": {"application/json": {"schema": schema}}}
    if headers:
        response["headers"] = headers
    return response


def _q(name: str, schema: J, description: str, *, where: str = "query") -> J:
    return {"name": name, "in": where, "required": where == "path", "description": description, "schema": schema}


def _op(summary: str, ok: J, *errors: str, params: list[J] | None = None, public: bool = False, **extra: Any) -> J:
    op: J = {"summary": summary, "responses": {**ok, **{code: _ref(code, "responses") for code in errors}}, **extra}
    if params:
        op["parameters"] = params
    if public:
        op["security"] = []
    return op


# fmt: off
_RETRY = {"Retry-After": {"description": "seconds to wait before retrying", "schema": STR}}
_UUID_PATTERN = "^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"
_NUUID: J = {"type": ["string", "null"], "format": "uuid", "pattern": _UUID_PATTERN,
             "description": "8-4-4-4-12 hex digits; upper case is stored in lower case"}
_NO_NUL = "^[^\\u0000]*$"
_BASE64 = "^([A-Za-z0-9+/]{4})*([A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$"  # whole quanta, as b64decode(validate=True)
_TEXT: J = {"type": "string", "minLength": 1, "maxLength": MAX_TEXT_LEN, "pattern": _NO_NUL}
_NTEXT: J = {"type": ["string", "null"], "maxLength": MAX_TEXT_LEN, "pattern": _NO_NUL}
#: What the event validator accepts: RFC 3339 with a zone whose offset is at most 15:59 (minutes 00-59).
_TIMESTAMP: J = {**TIME, "maxLength": 64,
                 "pattern": "^[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt][0-9]{2}:[0-9]{2}:[0-9]{2}([.][0-9]{1,9})?"
                            "([Zz]|[+-](0[0-9]|1[0-5]):[0-5][0-9])$"}
_EVENT_PROPS: J = {  # optional fields may also be sent as null
    "id": {**_NUUID, "description": "client-chosen id (idempotency key). When absent: derived from the token "
                                    "and Idempotency-Key or the content (UUIDv8), or UUIDv7 with "
                                    "ARGUS_CONTENT_IDS=false. "
                                    "8-4-4-4-12 hex digits; upper case is stored in lower case"},
    "timestamp": {**_TIMESTAMP, "description": "RFC 3339 with a zone (offset within ±15:59) whose UTC instant "
                                               "falls in years 0001-9999; kept exactly as sent"},
    "traceId": _NUUID, "eventType": {**_NTEXT, "minLength": 1, "description": "one of the configured eventTypes"},
    "action": {**_TEXT, "description": "one of the configured eventActions"},
    "status": {"enum": ["SUCCESS", "FAILURE"]},
    "actorType": {**_TEXT, "description": "one of the configured actorTypes"},
    "actorId": _TEXT,
    "targetType": {**_TEXT, "description": "one of the configured targetTypes"},
    "targetId": {**_NTEXT, "description": '"" is stored as "", distinct from null'},
    "message": {"type": ["string", "null"], "maxLength": MAX_MESSAGE_B64_LEN, "pattern": _BASE64,
                "description": 'standard base64, at most 1 MiB; "" is stored as ""'},
    "metadata": {"type": ["object", "null"],
                 "description": f"any JSON object nested at most {MAX_METADATA_DEPTH} levels deep (the object "
                                "itself is level 1); stored as RFC 8785 canonical text"},
    "signature": {"type": ["string", "null"], "maxLength": 4096, "pattern": _BASE64,
                  "description": "standard base64; see docs/signatures.md"},
    "signatureAlgorithm": {"enum": ["RS256", "EdDSA", None]},
    "publicKeyId": {"type": ["string", "null"], "maxLength": 256, "pattern": _NO_NUL},
    "signatureFormat": {"enum": ["v1", "v2", None]},
}
_RECORD_PROPS: J = {
    "id": UUID, "timestamp": STR, "traceId": NSTR, "eventType": NSTR, "action": STR, "status": STR,
    "actorType": STR, "actorId": STR, "targetType": STR, "targetId": NSTR,
    "message": {**NSTR, "description": "only with includeMessage=true; standard base64"},
    "metadata": {"type": ["object", "null", "string"],
                 "description": "parsed from the stored canonical text (a string only if that text is not JSON)"},
    "signature": NSTR, "signatureAlgorithm": NSTR, "publicKeyId": NSTR, "signatureFormat": NSTR,
    "signatureAmbiguous": {"type": "boolean", "description": "a v1 signature over a field holding '|': it also "
                           "verifies for another split of the fields (docs/signatures.md); not hashed"},
    "source": {**NSTR, "description": "name of the token that sent it; null for direct Kafka writes"},
    "receivedAt": {**STR, "description": "RFC 3339 UTC, set by the gateway"},
    "seq": {**INT, "minimum": 1, "maximum": 2**53 - 1, "description": "position in the actor's chain, 1..n"},
    "previousHash": HASH, "currentHash": HASH, "kafkaPartition": INT, "kafkaOffset": INT, "storedAt": TIME,
}
_BREAK = _obj({"actorId": STR, "seq": INT, "kind": {"enum": ["modified", "missing", "inserted", "reordered",
              "forked", "bad_signature", "unsigned", "derived_column"]}, "detail": STR})

SCHEMAS: J = {
    "Error": _obj({"error": STR, "message": STR, "field": {**STR, "description": "the parameter or event field"}},
                  ["error", "message"]),
    "Event": _obj(_EVENT_PROPS, ["timestamp", "action", "status", "actorType", "actorId", "targetType"]),
    "Accepted": _obj({
        "id": UUID,
        "status": {"enum": ["accepted", "duplicate"],
                   "description": "duplicate (200): a retry of a stored event, acknowledged, not stored twice"},
        "partition": INT, "offset": INT,
        "receipt": _ref("Receipt"),
    }, ["id", "status"]),
    "BulkResult": _obj({
        "succeeded": {"type": "array", "items": _obj({"index": INT, "id": UUID, "receipt": _ref("Receipt")},
                                                     ["index", "id"])},
        "failed": {"type": "array", "items": _obj({
            "index": INT, "field": STR, "error": STR,
            "status": {**INT, "description": "what the item alone would answer: 400 invalid, 409 id used by other "
                       "content, 413 larger than ARGUS_MAX_EVENT_BYTES"},
        })},
    }),
    "Receipt": {**_obj({
        "v": {"const": 1}, "id": UUID,
        "contentHash": {**HASH, "description": "SHA-256 of the event's content (docs/receipts.md)"},
        "source": {**NSTR, "description": "the token name the gateway authenticated"},
        "receivedAt": TIME, "topic": STR, "partition": {**INT, "minimum": 0}, "offset": {**INT, "minimum": 0},
        "attestation": {**NSTR, "pattern": "^([A-Za-z0-9+/]{91}=|v2:[A-Za-z0-9+/]+={0,2})$",
                        "description": "the gateway's signature over id, contentHash, source and receivedAt, as "
                                       "the envelope on Kafka carries it and the record stores it: v1, or v2 "
                                       "(`v2:`, one signature per request plus this event's Merkle audit path)"},
        "signature": {**STR, "pattern": "^([A-Za-z0-9+/]{91}=|v2:[A-Za-z0-9+/]+={0,2})$",
                      "description": "the gateway's signature over the receipt's signed bytes: v1, base64(4-byte "
                                     "key hash || Ed25519 signature), or v2 (`v2:`, one signature per request "
                                     "plus this receipt's Merkle audit path)"},
    }), "description": "A signed ingest receipt (only when the gateway has ARGUS_RECEIPT_KEY); verify it with "
                       "the key `argus receipt-key` printed (docs/receipts.md)"},
    "Record": _obj(_RECORD_PROPS, [p for p in _RECORD_PROPS if p != "message"]),
    "LogPage": _obj({
        "logs": {"type": "array", "items": _ref("Record"), "maxItems": 1000,
                 "description": f"at most `limit` records, fewer when their text passes {PAGE_MAX_BYTES >> 20} MiB "
                                "(with includeMessage=true): follow nextCursor"},
        "total": {**INT, "description": "matching records; omitted with a cursor unless includeTotal=true"},
        "limit": INT,
        "offset": {**INT, "description": "omitted with a cursor"},
        "nextCursor": {**NSTR, "description": "pass as cursor= for the next page; null on the last page"},
    }, ["logs", "limit", "nextCursor"]),
    "Summary": _obj({
        "date": {"type": "string", "format": "date"}, "from": TIME, "to": TIME,
        "total": INT, "byAction": COUNTS, "byStatus": COUNTS,
        "byEventType": {**COUNTS, "description": 'events without an eventType are counted under ""'},
        "byActorType": COUNTS, "uniqueActors": INT,
        "topActors": {"type": "array", "items": _obj({"actorId": STR, "count": INT})},
    }),
    "Chain": _obj({"actorId": STR, "fromSeq": INT, "limit": INT, "records": {
                       "type": "array", "items": _ref("Record"), "maxItems": 1000,
                       "description": f"fewer than `limit` when their text passes {PAGE_MAX_BYTES >> 20} MiB"},
                   "nextFromSeq": {"type": ["integer", "null"], "description": "null when the page reached the head"}}),
    "ChainBreak": _BREAK,
    "Verification": _obj({
        "actorId": STR, "ok": {"type": "boolean"}, "records": INT,
        "head": _obj({"seq": INT, "currentHash": HASH}),
        "signaturesChecked": {"type": "boolean", "description": "signatures and the key registry's mustSign policy "
                              "were checked (whenever the gateway has ARGUS_KEYS_CONFIG); a note says so when not"},
        "breakCount": INT, "breaks": {"type": "array", "items": _ref("ChainBreak"), "maxItems": 1000},
        "notes": {"type": "array", "items": STR},
    }),
    "Checkpoint": _obj({
        "topic": STR, "partition": INT, "treeSize": INT, "rootHash": HASH,
        "commitSeq": {**INT, "description": "the partition commit that grew the tree to this size"},
        "createdAt": STR,
        "note": {**STR, "description": "C2SP tlog-checkpoint signed note (docs/transparency.md); verify it "
                 "with the log's public key"},
    }),
    "CosignedNote": _obj({
        "note": {**STR, "description": "the checkpoint note with the witness's cosignature line(s); its text must "
                 "be a stored checkpoint and each line must verify with a key of ARGUS_WITNESS_KEYS"},
    }, ["note"]),
    "CosignatureResult": _obj({
        "origin": STR, "stored": {**INT, "description": "new cosignatures stored (0: all were already)"},
    }, ["origin", "stored"]),
    "Checkpoints": _obj({
        "topic": STR, "partition": INT, "checkpoints": {"type": "array", "items": _ref("Checkpoint")},
        "nextAfterSize": {"type": ["integer", "null"], "description": "history only: pass as afterSize for the "
                          "next page; null on the last"},
    }, ["checkpoints"]),
    "InclusionProof": _obj({
        "id": UUID, "topic": STR, "partition": INT, "kafkaOffset": INT, "commitSeq": INT, "currentHash": HASH,
        "leafIndex": INT, "leafHash": {**HASH, "description": "SHA-256(0x00 || entry), docs/transparency.md"},
        "treeSize": INT,
        "inclusionPath": {"type": "array", "items": HASH, "description": "RFC 9162 audit path, leaf level first"},
        "checkpoint": _ref("Checkpoint"),
    }),
    "ConsistencyProof": _obj({
        "topic": STR, "partition": INT, "first": INT, "second": INT,
        "firstCheckpoint": {"oneOf": [_ref("Checkpoint"), {"type": "null"}]},
        "secondCheckpoint": _ref("Checkpoint"),
        "proof": {"type": "array", "items": HASH, "description": "RFC 9162 consistency proof"},
    }),
    "Health": _obj({"status": {"const": "ok"}}),
    "Ready": _obj({"status": {"const": "ready"}, "kafka": _obj({"brokers": INT, "topic": STR})}),
    "Version": _obj({"name": STR, "version": STR}),
}
RESPONSES: J = {
    "400": _json(_ref("Error"), "a parameter or field is unknown or malformed; `field` names it"),
    "401": _json(_ref("Error"), "no valid bearer token", {"WWW-Authenticate": {"schema": STR}}),
    "403": _json(_ref("Error"), "the token lacks the scope: `ingest` for POST, `read` for GET"),
    "404": _json(_ref("Error"), "no such record, actor or path"),
    "405": _json(_ref("Error"), "the path does not take this method; Allow lists those it takes",
                 {"Allow": {"description": "the methods the path takes", "schema": STR}}),
    "409": _json(_ref("Error"), "the event's id names a stored event with different content, or one this gateway "
                 "produced moments ago (field: id); for a "
                 "cosignature, the note's text is not the stored checkpoint (field: note)"),
    "413": _json(_ref("Error"), "body larger than ARGUS_MAX_BODY_BYTES, more events than ARGUS_BULK_MAX_EVENTS, "
                 "or an event larger than ARGUS_MAX_EVENT_BYTES (event_too_large)"),
    "415": _json(_ref("Error"), "Content-Type is not application/json, or Content-Encoding is not gzip, deflate "
                                "or identity"),
    "500": _json(_ref("Error"), "an unexpected failure in the gateway (a bug: please report it)"),
    "503": _json(_ref("Error"), "not acknowledged; retry after Retry-After. Reads: the database did not answer. "
                 "Writes (kafka_unavailable): Kafka did not confirm every event within ARGUS_PRODUCE_TIMEOUT; some "
                 "events of the request may already be in Kafka and will be stored. Retrying the same request (same "
                 "body, token and Idempotency-Key) is safe: ids are stable (sent, or derived from Idempotency-Key or "
                 "the content), so each event is stored once. With ARGUS_CONTENT_IDS=false and no Idempotency-Key an "
                 "id-less event gets a new id per attempt and may be stored twice (docs/api.md, \"503\")", _RETRY),
}
PARAMETERS: J = {
    "limit": _q("limit", {**INT, "minimum": 1, "maximum": 1000, "default": 100}, "page size"),
    "includeMessage": _q("includeMessage", {"type": "boolean", "default": False},
                         "include the (possibly large) base64 message"),
    "Idempotency-Key": _q("Idempotency-Key", {"type": "string", "minLength": 1, "maxLength": 255},
                          "events without an id get ids derived from this key, the token and their position, "
                          "so a retried request is stored once (docs/api.md)", where="header"),
    "actorId": _q("actorId", {"type": "string", "minLength": 1, "maxLength": 1024},
                  "the actor, percent-encoded", where="path"),
}
_FILTERS = [
    _q(name, {**UUID, "pattern": _UUID_PATTERN} if name == "traceId" else {**STR, "minLength": 1, "maxLength": 1024},
       f"only records whose {name} equals this")
    for name in ("traceId", "eventType", "action", "status", "actorId", "actorType", "targetType", "targetId")
]
_LIST_PARAMS = [
    *_FILTERS,
    _q("from", _TIMESTAMP, "event time >= this (RFC 3339 with zone, as for timestamp)"),
    _q("to", _TIMESTAMP, "event time < this (RFC 3339 with zone, as for timestamp); must be later than from"),
    _ref("includeMessage", "parameters"),
    _ref("limit", "parameters"),
    _q("offset", {**INT, "minimum": 0, "maximum": 10_000_000, "default": 0}, "rows to skip; not with cursor"),
    _q("cursor", STR, "nextCursor of the previous page (keyset pagination; fast at any depth)"),
    _q("includeTotal", {"type": "boolean"}, "count matching records (default: true without cursor, false with)"),
]
_INGEST = ["400", "401", "403", "413", "415", "500", "503"]
_IDEMPOTENCY = [_ref("Idempotency-Key", "parameters")]
_READ = ["400", "401", "403", "500", "503"]
_TLOG_PREFIX = [_q("topic", STR, "Kafka topic: with the partition, the tlog-tiles log prefix", where="path"),
                _q("partition", {**INT, "minimum": 0}, "the partition", where="path")]
_TILE_PATH = "^(0|[1-9][0-9]?)/(x[0-9]{3}/)*[0-9]{3}([.]p/[1-9][0-9]{0,2})?$"
_JSON_BODY = {"required": True, "content": {"application/json": {"schema": _ref("Event")}}}

PATHS: J = {
    "/api/audit-logs": {
        "post": _op("Record one event (answered after Kafka durably accepted it)",
                    {"201": _json(_ref("Accepted"), "accepted"),
                     "200": _json(_ref("Accepted"), "a retry of a stored event (status duplicate)")},
                    *_INGEST, "409", params=_IDEMPOTENCY, requestBody=_JSON_BODY),
        "get": _op("List records, newest first (event time, then id, descending)",
                   {"200": _json(_ref("LogPage"), "one page")}, *_READ, params=_LIST_PARAMS),
    },
    "/api/audit-logs/bulk": {
        "post": _op("Record up to ARGUS_BULK_MAX_EVENTS events with per-item results", {
            "201": _json(_ref("BulkResult"), "all accepted"),
            "207": _json(_ref("BulkResult"), "some rejected"),
            "400": _json({"oneOf": [_ref("BulkResult"), _ref("Error")]}, "all rejected, or the body is not an array"),
        }, *[c for c in _INGEST if c != "400"], params=_IDEMPOTENCY, requestBody={
            "required": True, "content": {"application/json": {"schema": {
                "type": "array", "items": _ref("Event"), "minItems": 1, "maxItems": Settings.bulk_max_events,
                "description": f"maxItems is ARGUS_BULK_MAX_EVENTS (default {Settings.bulk_max_events})"}}},
        }),
    },
    "/api/audit-logs/{id}": {
        "get": _op("One record with its chain position and Kafka coordinates",
                   {"200": _json(_ref("Record"), "the record")}, *_READ, "404",
                   params=[_q("id", {**UUID, "pattern": _UUID_PATTERN}, "the record id (any case)", where="path"),
                           _ref("includeMessage", "parameters")]),
    },
    "/api/audit-summary": {
        "get": _op("Activity of one UTC day", {"200": _json(_ref("Summary"), "the summary")}, *_READ, params=[
            _q("date", {"type": "string", "format": "date", "pattern": "^[0-9]{4}-[0-9]{2}-[0-9]{2}$"},
               "YYYY-MM-DD up to 9999-12-30 (default: today, UTC)"),
            _q("top", {**INT, "minimum": 1, "maximum": 100, "default": 10}, "how many top actors"),
        ]),
    },
    "/api/actors/{actorId}/chain": {
        "get": _op("One actor's chain in seq order", {"200": _json(_ref("Chain"), "one page of the chain")},
                   *_READ, "404", params=[
                       _ref("actorId", "parameters"),
                       _q("fromSeq", {**INT, "minimum": 1, "maximum": 2**53 - 1, "default": 1}, "first seq to return"),
                       _ref("limit", "parameters"), _ref("includeMessage", "parameters"),
                   ]),
    },
    "/api/actors/{actorId}/verify": {
        "get": _op("Verify the actor's whole chain on the server (hashes, seq 1..n, links)",
                   {"200": _json(_ref("Verification"), "the report (ok=false lists the breaks)")},
                   *_READ, "404", params=[_ref("actorId", "parameters")]),
    },
    "/api/audit-logs/{id}/proof": {
        "get": _op("Inclusion proof of a record in a signed checkpoint of its partition's Merkle tree",
                   {"200": _json(_ref("InclusionProof"), "leaf index, audit path and checkpoint")},
                   *_READ, "404", params=[
                       _q("id", UUID, "the record id", where="path"),
                       _q("treeSize", {**INT, "minimum": 1}, "size of a stored checkpoint (default: the latest)"),
                   ]),
    },
    "/api/checkpoints": {
        "get": _op("Signed checkpoints: the latest of every partition, or one partition's history by size",
                   {"200": _json(_ref("Checkpoints"), "checkpoints")}, *_READ, params=[
                       _q("topic", STR, "Kafka topic (default: ARGUS_TOPIC with partition; all without)"),
                       _q("partition", {**INT, "minimum": 0}, "one partition's history instead of the latest"),
                       _q("afterSize", {**INT, "minimum": -1, "default": -1}, "history: sizes above this"),
                       _ref("limit", "parameters"),
                   ]),
    },
    "/api/checkpoints/cosignatures": {
        "post": _op("Submit a witness cosignature (C2SP tlog-cosignature) of a stored checkpoint (docs/witness.md)",
                    {"201": _json(_ref("CosignatureResult"), "stored"),
                     "200": _json(_ref("CosignatureResult"), "already stored")},
                    "400", "401", "403", "404", "409", "415", "500", "503", requestBody={
                        "required": True, "content": {"application/json": {"schema": _ref("CosignedNote")}}}),
    },
    "/api/checkpoints/consistency": {
        "get": _op("Consistency proof between two checkpoints of a partition",
                   {"200": _json(_ref("ConsistencyProof"), "the proof and both checkpoints")},
                   *_READ, "404", params=[
                       _q("topic", STR, "Kafka topic (default: ARGUS_TOPIC)"),
                       {**_q("partition", {**INT, "minimum": 0}, "the partition"), "required": True},
                       {**_q("first", {**INT, "minimum": 0}, "older checkpoint size (0: the empty tree)"),
                        "required": True},
                       _q("second", {**INT, "minimum": 1}, "newer checkpoint size (default: the latest)"),
                   ]),
    },
    "/api/tlog/{topic}/{partition}/checkpoint": {
        "get": _op("The partition's latest signed checkpoint note (C2SP tlog-tiles `<prefix>/checkpoint`)",
                   {"200": {"description": "the C2SP signed note, with witness cosignature lines",
                            "content": {"text/plain": {"schema": STR}}}},
                   *_READ, "404", params=_TLOG_PREFIX),
    },
    "/api/tlog/{topic}/{partition}/tile/{tile}": {
        "get": _op("One tile of the partition's Merkle tree (C2SP tlog-tiles; docs/transparency.md)",
                   {"200": {"description": "the tile's hashes, 32 bytes each (256, or W for `.p/W`); immutable",
                            "headers": {"Cache-Control": {"description": "immutable: a tile never changes",
                                                          "schema": STR}},
                            "content": {"application/octet-stream": {
                                "schema": {"type": "string", "contentMediaType": "application/octet-stream"}}}}},
                   *_READ, "404", params=[*_TLOG_PREFIX, _q(
                       "tile", {**STR, "pattern": _TILE_PATH},
                       "`<L>/<N>[.p/<W>]` after `tile/`, spanning path segments, not escaped: level L (0-63), "
                       "index N in zero-padded 3-digit elements all but the last prefixed by x "
                       "(1234067: x001/x234/067), and for a partial tile its width W (1-255)", where="path")]),
    },
    "/health": {"get": _op("Liveness", {"200": _json(_ref("Health"), "alive")}, public=True)},
    "/ready": {"get": _op("Readiness: Kafka reachable", {"200": _json(_ref("Ready"), "ready")}, "503", public=True)},
    "/version": {"get": _op("Version", {"200": _json(_ref("Version"), "name and version")}, public=True)},
    "/metrics": {"get": _op("Prometheus metrics", {"200": {"description": "text exposition format",
                            "content": {"text/plain": {"schema": STR}}}}, public=True)},
    "/openapi.json": {"get": _op("This document", {"200": _json({"type": "object"}, "OpenAPI 3.1")}, public=True)},
}

# fmt: on


@functools.cache
def document() -> J:
    """The whole OpenAPI document (built once; the version comes from the installed package)."""
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Argus audit-logging API",
            "version": argus_version(),
            "description": "Tamper-evident audit trail: write events, read them back, verify per-actor hash "
            "chains. Errors are JSON {error, message, field?}. See docs/api.md.",
        },
        "servers": [{"url": "http://127.0.0.1:3001"}],
        "security": [{"bearerAuth": []}],
        "paths": PATHS,
        "components": {
            "securitySchemes": {
                "bearerAuth": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "ARGUS_AUTH_TOKEN(S); scope `ingest` for POST, `read` for GET",
                }
            },
            "schemas": SCHEMAS,
            "responses": RESPONSES,
            "parameters": PARAMETERS,
        },
    }


def render() -> bytes:
    return orjson.dumps(document(), option=orjson.OPT_INDENT_2) + b"\n"


async def serve(_request: web.Request) -> web.Response:
    return web.Response(body=render(), content_type="application/json")


def main(argv: list[str]) -> int:
    """Write the document to the path given (or stdout): keeps docs/openapi.json current."""
    if argv:
        with open(argv[0], "wb") as handle:
            handle.write(render())
    else:
        sys.stdout.buffer.write(render())
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
