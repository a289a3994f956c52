"""Events the validation tests start from, defined once: the smallest valid event and a client id."""

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
