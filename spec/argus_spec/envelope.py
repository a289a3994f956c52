"""The Kafka message Argus writes to `argus.events`: the event plus what the gateway vouches for.

Key: the actorId as UTF-8, so one partition holds each actor's events in order.
Value: JSON `{"v": 1, "event": {...}, "source": <token name or null>, "receivedAt": <RFC 3339>,
"attestation": <the gateway's signature over id, content, source and receivedAt>}` (the
attestation only when the gateway has a receipt key; v2: one signature per request plus the
event's Merkle audit path, docs/receipts.md). Producers that write
straight to Kafka use the same envelope with `source` null; the processor treats the topic as a
trust boundary, re-validates everything in it and believes a `source` or `receivedAt` only with
a valid attestation.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from argus_spec import exactjson
from argus_spec.event import format_utc

ENVELOPE_VERSION = 1


def utc_now_rfc3339() -> str:
    """Current time as RFC 3339 UTC with microseconds, the form stored in `receivedAt`."""
    return format_utc(datetime.now(UTC))


def encode_envelope(
    event: dict[str, Any], *, source: str | None, received_at: str | None, attestation: str | None = None
) -> bytes:
    envelope = {"v": ENVELOPE_VERSION, "event": event, "source": source, "receivedAt": received_at}
    if attestation is not None:
        envelope["attestation"] = attestation
    return exactjson.dumps(envelope)


def message_key(event: dict[str, Any]) -> bytes:
    return str(event["actorId"]).encode("utf-8")
