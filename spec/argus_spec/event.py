"""The audit event: its fields and the one set of validation rules used by client, gateway and processor.

An event travels as a JSON object with camelCase keys (the reference service's wire format).
`validate_event` turns an untrusted decoded object into a normalized event: a plain dict
holding every field of `EVENT_FIELDS` (None where absent), in that order. Values the signer
saw (timestamp, ids, message) are kept exactly as sent, because the signature covers them.
"""

from __future__ import annotations

import base64
import binascii
import re
from datetime import UTC, datetime, timedelta
from typing import Any

from argus_spec.enums import STATUSES, EnumConfig
from argus_spec.uuid7 import uuid7

#: Every field of a normalized event, in canonical order.
EVENT_FIELDS: tuple[str, ...] = (
    "id",
    "timestamp",
    "traceId",
    "eventType",
    "action",
    "status",
    "actorType",
    "actorId",
    "targetType",
    "targetId",
    "message",
    "metadata",
    "signature",
    "signatureAlgorithm",
    "publicKeyId",
    "signatureFormat",
)

SIGNATURE_ALGORITHMS = frozenset({"RS256", "EdDSA"})
SIGNATURE_FORMATS = frozenset({"v1", "v2"})
MAX_TEXT_LEN = 1024
MAX_MESSAGE_B64_LEN = 1 << 20
#: PostgreSQL's timestamptz refuses UTC offsets beyond this (and Go's time.Parse allows up to 99:59).
MAX_UTC_OFFSET = timedelta(hours=15, minutes=59)
#: Levels of objects/arrays in `metadata`, the metadata object itself being level 1. Deeper
#: documents hit serializer recursion limits (orjson stops at 255) on the read path.
MAX_METADATA_DEPTH = 32

_RFC3339 = re.compile(r"^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d{1,9})?([Zz]|[+-]\d{2}:\d{2})$")
_OFFSET_MINUTES_PAST_59 = re.compile(r"[+-]\d{2}:[6-9]\d$")
_UUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
_FIELD_SET = frozenset(EVENT_FIELDS)
#: Optional fields where "" is a value of its own: kept as sent (free text) or checked like any other
#: value, so refused (a UUID, an enum); elsewhere (the signature fields) "" means absent.
_EMPTY_IS_VALUE = frozenset({"targetId", "message", "id", "traceId", "eventType"})

Event = dict[str, Any]


class EventValidationError(ValueError):
    """An event field is missing or wrong; `field` names it so the caller can fix it."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message

    def as_dict(self) -> dict[str, str]:
        return {"field": self.field, "message": self.message}


def _text(raw: dict[str, Any], name: str, *, required: bool, max_len: int = MAX_TEXT_LEN) -> str | None:
    value = raw.get(name)
    if value is None or (value == "" and not required and name not in _EMPTY_IS_VALUE):
        if required:
            raise EventValidationError(name, "is required")
        return None
    if not isinstance(value, str):
        raise EventValidationError(name, "must be a string")
    if required and not value:
        raise EventValidationError(name, "must not be empty")
    if len(value) > max_len:
        raise EventValidationError(name, f"must be at most {max_len} characters")
    if "\x00" in value:
        raise EventValidationError(name, "must not contain the NUL character")
    return value


def _enum(raw: dict[str, Any], name: str, allowed: frozenset[str], *, required: bool) -> str | None:
    value = _text(raw, name, required=required)
    if value is not None and value not in allowed:
        raise EventValidationError(name, f"must be one of {sorted(allowed)}")
    return value


def _uuid(raw: dict[str, Any], name: str, *, signed: bool) -> str | None:
    """A UUID in its one canonical spelling: 8-4-4-4-12 hex digits, lower case.

    Upper-case digits are lowered, so one id is never stored (or looked up) under two spellings;
    when a signature covers the field the spelling is the signer's, so it must already be lower case.
    """
    value = _text(raw, name, required=False)
    if value is None:
        return None
    if not _UUID.fullmatch(value):
        raise EventValidationError(name, "must be a UUID in 8-4-4-4-12 form, e.g. 0190a0a0-0000-7000-8000-000000000000")
    lowered = value.lower()
    if signed and lowered != value:
        raise EventValidationError(name, "must be lower case: the signature covers it, so it cannot be normalised")
    return lowered


def _base64(raw: dict[str, Any], name: str, max_len: int) -> str | None:
    value = _text(raw, name, required=False, max_len=max_len)
    if value is None:
        return None
    try:
        base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise EventValidationError(name, "must be standard base64") from None
    return value


def parse_timestamp(value: str, name: str = "timestamp") -> datetime:
    """Parse an RFC 3339 date-time (what Go's time.RFC3339Nano produces); nanoseconds are truncated."""
    match = _RFC3339.fullmatch(value)
    if not match:
        raise EventValidationError(name, "must be an RFC 3339 date-time, e.g. 2026-01-02T15:04:05Z")
    zone = match.group(2).upper()
    if zone != "Z" and timedelta(hours=int(zone[1:3]), minutes=int(zone[4:6])) > MAX_UTC_OFFSET:
        raise EventValidationError(name, "UTC offset must be within -15:59 and +15:59")
    text = value.upper().replace("Z", "+00:00")
    main, dot, rest = text.partition(".")
    if dot:  # fromisoformat takes at most 6 fractional digits; rest is "<digits><+hh:mm>"
        digits, zone = rest[:-6], rest[-6:]
        text = f"{main}.{digits[:6].ljust(6, '0')}{zone}"
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise EventValidationError(name, "is not a valid date-time") from None
    try:
        moment.astimezone(UTC)
    except OverflowError:
        raise EventValidationError(name, "must fall within years 0001-9999 when converted to UTC") from None
    return moment


def check_event_timestamp(value: str) -> None:
    """An event's `timestamp` rule, for every validator of events (validate_event, the SDK's fast
    path): parse_timestamp's, and offset minutes 00-59. parse_timestamp reads +00:99 as +01:39 and
    stays so (records stored before still verify); RFC 3339 and Go's time.Parse refuse it."""
    parse_timestamp(value)
    if _OFFSET_MINUTES_PAST_59.search(value):
        raise EventValidationError("timestamp", "UTC offset minutes must be 00-59")


def event_time_of(timestamp: str, name: str = "timestamp") -> datetime:
    """The instant the `event_time` column stores for a record: its hashed `timestamp` in UTC,
    nanoseconds truncated. One derivation for the processor that writes it and the verifier that
    checks it (docs/hash-chain.md, "Unhashed columns"), and for the bounds compared with it (the read
    API's from/to, `argus export/verify --from/--to`); `name` is the field an error names."""
    return parse_timestamp(timestamp, name).astimezone(UTC)


def format_utc(moment: datetime, timespec: str = "microseconds") -> str:
    """RFC 3339 in UTC with a 4-digit year (strftime's %Y writes year 820 as "820"); naive means UTC."""
    moment = moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
    return moment.replace(tzinfo=None).isoformat(timespec=timespec) + "Z"


def check_metadata_depth(metadata: dict[str, Any], name: str = "metadata") -> None:
    """Refuse metadata nested deeper than MAX_METADATA_DEPTH (iterative: no recursion on input)."""
    pending: list[tuple[Any, int]] = [(metadata, 1)]
    while pending:
        value, depth = pending.pop()
        children = value.values() if isinstance(value, dict) else value
        for child in children:
            if isinstance(child, (dict, list)):
                if depth >= MAX_METADATA_DEPTH:
                    raise EventValidationError(name, f"must not be nested more than {MAX_METADATA_DEPTH} levels deep")
                pending.append((child, depth + 1))


def validate_event(raw: Any, enums: EnumConfig, *, assign_id: bool = True, strict_offset: bool = True) -> Event:
    """Check an untrusted decoded JSON object and return the normalized event.

    Raises EventValidationError naming the first bad field. Unknown fields are rejected
    rather than dropped, so nothing a caller sent is silently lost from the audit trail.
    `strict_offset=False` (the processor) still takes offset minutes 60-99, which gateways before
    argus-spec 0.2.0 acknowledged: such an event may still be in Kafka or a spool at an upgrade.
    """
    if not isinstance(raw, dict):
        raise EventValidationError("$", "an event must be a JSON object")
    for key in raw:
        if key not in _FIELD_SET:
            raise EventValidationError(str(key), "is not a known event field")

    timestamp = _text(raw, "timestamp", required=True, max_len=64)
    assert timestamp is not None
    if strict_offset:
        check_event_timestamp(timestamp)
    else:
        parse_timestamp(timestamp)

    metadata = raw.get("metadata")
    if metadata is not None:
        if not isinstance(metadata, dict):
            raise EventValidationError("metadata", "must be a JSON object")
        check_metadata_depth(metadata)

    signature = _base64(raw, "signature", max_len=4096)
    algorithm = _text(raw, "signatureAlgorithm", required=False, max_len=16)
    key_id = _text(raw, "publicKeyId", required=False, max_len=256)
    sig_format = _text(raw, "signatureFormat", required=False, max_len=8)
    if signature is None:
        for name, value in (
            ("signatureAlgorithm", algorithm),
            ("publicKeyId", key_id),
            ("signatureFormat", sig_format),
        ):
            if value is not None:
                raise EventValidationError(name, "is only allowed together with signature")
    else:
        if algorithm is None:
            raise EventValidationError("signatureAlgorithm", "is required when signature is set")
        if algorithm not in SIGNATURE_ALGORITHMS:
            raise EventValidationError("signatureAlgorithm", f"must be one of {sorted(SIGNATURE_ALGORITHMS)}")
        if key_id is None:
            raise EventValidationError("publicKeyId", "is required when signature is set")
        if sig_format is None:
            sig_format = "v1"
        elif sig_format not in SIGNATURE_FORMATS:
            raise EventValidationError("signatureFormat", f"must be one of {sorted(SIGNATURE_FORMATS)}")
        if sig_format == "v2" and raw.get("id") is None:
            raise EventValidationError("id", "is required when signatureFormat is v2 (the signature covers it)")

    event_id = _uuid(raw, "id", signed=sig_format == "v2")  # v1 leaves the id unsigned
    if event_id is None and assign_id:
        event_id = uuid7()
    return {
        "id": event_id,
        "timestamp": timestamp,
        "traceId": _uuid(raw, "traceId", signed=signature is not None),
        "eventType": _enum(raw, "eventType", enums.event_types, required=False),
        "action": _enum(raw, "action", enums.actions, required=True),
        "status": _enum(raw, "status", STATUSES, required=True),
        "actorType": _enum(raw, "actorType", enums.actor_types, required=True),
        "actorId": _text(raw, "actorId", required=True),
        "targetType": _enum(raw, "targetType", enums.target_types, required=True),
        "targetId": _text(raw, "targetId", required=False),
        "message": _base64(raw, "message", max_len=MAX_MESSAGE_B64_LEN),
        "metadata": metadata,
        "signature": signature,
        "signatureAlgorithm": algorithm,
        "publicKeyId": key_id,
        "signatureFormat": sig_format,
    }
