"""Decode one Kafka message into a normalized event, or a reason to dead-letter it.

The topic is a trust boundary (producers may write straight to Kafka), so every message is
validated with exactly the rules the gateway uses, and nothing in it can crash the worker.
A `source` or `receivedAt` is believed only with the gateway's attestation over them (a
signature by a trusted receipt key, docs/receipts.md); a claim without one is not stored
(`source` null, `receivedAt` from the Kafka timestamp, the record marked `unattested_claim`),
or the message is dead-lettered when ARGUS_UNATTESTED_CLAIMS=dead-letter.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from argus.db.admission import validate_storable_event
from argus.trust.receipt_keys import AttestationChecker
from argus_spec import exactjson
from argus_spec.enums import EnumConfig
from argus_spec.envelope import ENVELOPE_VERSION
from argus_spec.event import EventValidationError
from argus_spec.receipt import content_digest

#: Namespace for ids of events that arrived without one: derived from the Kafka position so a
#: re-read of the same message after a crash gets the same id (and is deduplicated).
KAFKA_POSITION_NAMESPACE = uuid.UUID("6f0b3c1e-9a57-4c4e-8f7a-1d2b3c4d5e6f")


@dataclass(frozen=True)
class RawMessage:
    """What the processor needs of a Kafka message, independent of the client library."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    timestamp_ms: int | None
    trace_id: str | None = None  # from the gateway's `traceparent` header, for log lines only


@dataclass
class Decoded:
    """A valid event with the server-side fields the chain covers."""

    message: RawMessage
    event: dict[str, Any]
    source: str | None
    received_at: str
    metadata_text: str | None  # the canonical text stored and hashed, computed once while validating
    attestation: str | None = None  # the gateway's signature over source and receivedAt, verified
    unattested_claim: bool = False  # the envelope claimed a source/receivedAt nobody attested


@dataclass(frozen=True)
class Claims:
    """How envelope claims are judged: `checker` holds the trusted receipt keys (None: no claim
    can be attested); `dead_letter` refuses a message whose claim does not verify."""

    checker: AttestationChecker | None = None
    dead_letter: bool = False


UNATTESTED = "attestation: the envelope claims a source or receivedAt without a valid gateway attestation"


class Rejected(Exception):
    """The message cannot be stored; `reason` goes to the dead-letter record."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def _kafka_time(timestamp_ms: int | None) -> str:
    moment = datetime.fromtimestamp(timestamp_ms / 1000, UTC) if timestamp_ms else datetime.now(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def decode_message(message: RawMessage, enums: EnumConfig, claims: Claims = Claims()) -> Decoded:
    """Return the decoded event or raise Rejected naming what is wrong."""
    if message.value is None:
        raise Rejected("$: empty message (tombstone)")
    try:
        envelope = exactjson.loads(message.value)
    except exactjson.JSONDecodeError as exc:
        raise Rejected(f"$: not valid JSON: {exc}") from None
    if not isinstance(envelope, dict) or envelope.get("v") != ENVELOPE_VERSION or "event" not in envelope:
        raise Rejected(f"$: not an Argus envelope v{ENVELOPE_VERSION} ({{v, event, source, receivedAt}})")
    try:
        event, metadata_text = validate_storable_event(envelope["event"], enums, assign_id=False, strict_offset=False)
    except EventValidationError as exc:
        raise Rejected(str(exc)) from None
    if event["id"] is None:
        event["id"] = str(uuid.uuid5(KAFKA_POSITION_NAMESPACE, f"{message.topic}/{message.partition}/{message.offset}"))
    key = message.key.decode("utf-8", "replace") if message.key is not None else None
    if key != event["actorId"]:
        raise Rejected("actorId: the message key must be the event's actorId (per-actor ordering depends on it)")
    source = envelope.get("source")
    if source is not None and not isinstance(source, str):
        raise Rejected("source: must be a string or null")
    received_at = envelope.get("receivedAt")
    if received_at is not None and (not isinstance(received_at, str) or len(received_at) > 64):
        raise Rejected("receivedAt: must be an RFC 3339 string")
    attestation, unattested = envelope.get("attestation"), False
    if source is None and received_at is None:
        attestation = None  # nothing claimed, nothing to attest
    elif not (
        claims.checker is not None
        and received_at is not None
        and claims.checker.verifies(
            attestation, event["id"], content_digest(event, metadata_text).hex(), source, received_at
        )
    ):
        if claims.dead_letter:
            raise Rejected(UNATTESTED)
        source, received_at, attestation, unattested = None, None, None, True
    return Decoded(
        message=message,
        event=event,
        source=source,
        received_at=received_at if received_at is not None else _kafka_time(message.timestamp_ms),
        metadata_text=metadata_text,
        attestation=attestation,
        unattested_claim=unattested,
    )
