"""Events the tests start from, defined once: the smallest valid event, a client id and the
worked example of docs/signatures.md."""

from __future__ import annotations

from typing import Any

#: Every required field and nothing else (build variants with {**MINIMAL_EVENT, ...}; never mutate it).
MINIMAL_EVENT: dict[str, Any] = {
    "timestamp": "2026-03-04T05:06:07Z",
    "status": "SUCCESS",
    "action": "CREATE",
    "actorType": "SERVICE",
    "actorId": "svc-orders",
    "targetType": "RESOURCE",
}
#: A client-chosen id in canonical form (a UUIDv7).
EVENT_ID = "0190a0a0-0000-7000-8000-00000000abcd"
#: The event of docs/signatures.md's worked examples (canonical forms v1 and v2, Ed25519 signatures).
DOCS_EVENT: dict[str, Any] = {
    "id": "0192f0c4-0000-7000-8000-000000000001",
    "timestamp": "2026-03-01T12:00:00Z",
    "traceId": "0192f0c4-5e6a-7b8c-9d0e-1f2a3b4c5d6e",
    "eventType": "DATA_FETCH",
    "action": "READ",
    "status": "SUCCESS",
    "actorType": "SERVICE",
    "actorId": "orders-svc",
    "targetType": "RESOURCE",
    "targetId": "invoice-42",
    "message": "aGVsbG8=",
    "metadata": {"b": 1, "a": "<x>"},
}
