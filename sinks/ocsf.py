"""Committed records as OCSF events: the API Activity class (class_uid 6003, category 6
"Application Activity"), which fits an audit event (who did which operation to which resource,
with what outcome). OCSF is what AWS Security Lake, Splunk and others ingest natively. Mapping in
docs/sinks.md; tests validate the output against OCSF 1.5.0 (the `pydantic-ocsf` models).
"""

from __future__ import annotations

from typing import Any

from argus_spec.event import parse_timestamp
from sinks.base import Record

OCSF_VERSION = "1.5.0"
CLASS_UID, CATEGORY_UID = 6003, 6
#: action -> API Activity activity_id (anything else: 99 Other, with the action as activity_name)
ACTIVITIES = {"CREATE": 1, "READ": 2, "UPDATE": 3, "DELETE": 4}
#: status -> (status_id, severity_id): Success/Informational, Failure/Low, else Other/Informational
STATUSES = {"SUCCESS": (1, 1), "FAILURE": (2, 2)}
#: actorType -> (user.type_id, user.type); any other actorType is 99 Other, under its own name
USER_TYPES = {"USER": (1, "User"), "ADMIN": (2, "Admin"), "SERVICE": (3, "System"), "SYSTEM": (3, "System")}
#: record fields with no OCSF attribute of their own, kept in `unmapped`
UNMAPPED = ("eventType", "actorType", "seq", "previousHash", "currentHash", "signature", "signatureAlgorithm",
            "publicKeyId", "signatureFormat", "metadata")  # fmt: skip


def epoch_millis(timestamp: Any) -> int | None:
    """A record's RFC 3339 timestamp as milliseconds since the epoch (None if it is not one)."""
    try:
        return int(parse_timestamp(str(timestamp)).timestamp() * 1000)
    except ValueError:
        return None


def to_ocsf(record: Record) -> dict[str, Any]:
    """One API Activity event for one committed record (null fields left out)."""
    activity = ACTIVITIES.get(str(record.get("action")), 99)
    status_id, severity_id = STATUSES.get(str(record.get("status")), (99, 1))
    user_type_id, user_type = USER_TYPES.get(str(record.get("actorType")), (99, record.get("actorType")))
    event: dict[str, Any] = {
        "class_uid": CLASS_UID,
        "category_uid": CATEGORY_UID,
        "activity_id": activity,
        "type_uid": CLASS_UID * 100 + activity,
        "severity_id": severity_id,
        "status_id": status_id,
        "time": epoch_millis(record.get("timestamp")) or epoch_millis(record.get("receivedAt")) or 0,
        "metadata": {
            "version": OCSF_VERSION,
            "product": {"name": "Argus", "vendor_name": "Argus"},
            "uid": record["id"],
            "log_name": "argus.audit.committed",
            "original_time": record.get("timestamp"),
            "logged_time": epoch_millis(record.get("receivedAt")),
            "sequence": record.get("seq"),
        },
        "actor": {
            "user": {
                "uid": record.get("actorId"),
                "type": user_type,
                "type_id": user_type_id,
            }
        },
        "api": {"operation": record.get("action")},
        "src_endpoint": {"name": record.get("source") or "unknown"},
        "resources": [{"uid": record.get("targetId"), "type": record.get("targetType")}],
        "message": record.get("message"),
        "unmapped": {field: record.get(field) for field in UNMAPPED if record.get(field) is not None},
    }
    if activity == 99:
        event["activity_name"] = record.get("action")
    if status_id == 99:
        event["status"] = record.get("status")
    if record.get("traceId"):
        event["metadata"]["correlation_uid"] = record["traceId"]
    return _drop_nulls(event)


def _drop_nulls(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _drop_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_drop_nulls(v) for v in value]
    return value
