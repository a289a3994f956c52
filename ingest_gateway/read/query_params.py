"""Query-string parsing for the read API: every parameter is declared, typed and bounded.

An unknown, repeated or malformed parameter raises ParamError naming it, which the handlers turn
into `400 {error, message, field}`: a typo such as `actorID=` must fail loudly rather than
silently return the unfiltered trail to an auditor.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Callable, Mapping
from datetime import date, datetime
from typing import Any

import orjson
from multidict import MultiMapping

from argus_spec.event import EventValidationError, event_time_of, format_utc

Parser = Callable[[str, str], Any]

MAX_TEXT = 1024  # the width of the filterable text columns
MAX_OFFSET = 10_000_000  # deeper than this, offset pagination is a table scan: use the cursor
_DATE = re.compile(r"^\d{4}-\d\d-\d\d$")
_UUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")


class ParamError(ValueError):
    """A request parameter is unknown or malformed; `field` names it."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


def parse_query(query: MultiMapping[str], spec: Mapping[str, Parser]) -> dict[str, Any]:
    """Parse the query string against `spec`; only the parameters present appear in the result."""
    values: dict[str, Any] = {}
    for name in query:
        if name not in spec:
            raise ParamError(name, f"unknown parameter; this endpoint accepts: {', '.join(sorted(spec))}")
        given = query.getall(name)
        if len(given) > 1:
            raise ParamError(name, "given more than once")
        values[name] = spec[name](name, given[0])
    return values


def text(max_len: int = MAX_TEXT) -> Parser:
    """A non-empty exact-match string no longer than the column it filters."""

    def parse(name: str, raw: str) -> str:
        if not raw:
            raise ParamError(name, "must not be empty")
        if len(raw) > max_len:
            raise ParamError(name, f"must be at most {max_len} characters")
        if "\x00" in raw:
            raise ParamError(name, "must not contain the NUL character")
        return raw

    return parse


def uuid_text(name: str, raw: str) -> str:
    """A UUID in 8-4-4-4-12 form, in lower case: the one spelling events are stored under."""
    if not _UUID.fullmatch(raw):
        raise ParamError(name, "must be a UUID in 8-4-4-4-12 form")
    return raw.lower()


def integer(low: int, high: int) -> Parser:
    def parse(name: str, raw: str) -> int:
        if not re.fullmatch(r"[+-]?\d{1,19}", raw):
            raise ParamError(name, f"must be an integer between {low} and {high}")
        value = int(raw)
        if not low <= value <= high:
            raise ParamError(name, f"must be between {low} and {high}, got {value}")
        return value

    return parse


def boolean(name: str, raw: str) -> bool:
    lowered = raw.lower()
    if lowered in ("true", "1"):
        return True
    if lowered in ("false", "0"):
        return False
    raise ParamError(name, "must be true or false")


def rfc3339(name: str, raw: str) -> datetime:
    """An RFC 3339 date-time by the events' own rule, as UTC (`event_time_of`: read as the column is)."""
    try:
        return event_time_of(raw, name)
    except EventValidationError as exc:
        raise ParamError(name, exc.message) from None


def day(name: str, raw: str) -> date:
    """A UTC day whose whole window [day, day + 1) is representable (so not 9999-12-31)."""
    if not _DATE.fullmatch(raw):
        raise ParamError(name, "must be a date in YYYY-MM-DD form")
    try:
        value = date.fromisoformat(raw)
    except ValueError:
        raise ParamError(name, "is not a valid date") from None
    if value == date.max:
        raise ParamError(name, "must be at most 9999-12-30 (the day's window ends at the next midnight)")
    return value


def encode_cursor(event_time: datetime, record_id: str) -> str:
    """Opaque keyset position: base64url (unpadded) of JSON [event time in UTC, id]."""
    payload = orjson.dumps([format_utc(event_time), record_id])
    return base64.urlsafe_b64encode(payload).rstrip(b"=").decode("ascii")


def cursor(name: str, raw: str) -> tuple[datetime, str]:
    """Decode a `nextCursor`; anything that did not come from `encode_cursor` is a 400."""
    try:
        payload = base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4))
        moment, record_id = orjson.loads(payload)
        if not isinstance(moment, str) or not isinstance(record_id, str):
            raise ValueError
        return rfc3339(name, moment), uuid_text(name, record_id)
    except (ValueError, TypeError, OverflowError, binascii.Error, orjson.JSONDecodeError, ParamError):
        raise ParamError(name, "is not a cursor returned by this API (pass nextCursor unchanged)") from None


def path_param(name: str) -> str:
    """A route segment `{name}` that matches any characters but `/`.

    aiohttp's bare `{name}` refuses `{` and `}`, so an actor called `svc-{1}` would be stored but
    its chain unreachable (404), and `/api/audit-logs/{uuid}` a 404 instead of the 400 naming `id`.
    """
    return "{" + name + ":[^/]+}"
