"""W3C trace context (https://www.w3.org/TR/trace-context/): the gateway accepts a caller's
`traceparent` and passes it on as a Kafka header, so the processor's log lines for an event carry
the caller's trace id. `traceparent` is `version-traceid-parentid-flags`, lower-case hex.
"""

from __future__ import annotations

import re
from typing import Any

TRACEPARENT = "traceparent"
_TRACEPARENT = re.compile(r"(?P<version>[0-9a-f]{2})-(?P<trace>[0-9a-f]{32})-(?P<parent>[0-9a-f]{16})-[0-9a-f]{2}")


def parse_traceparent(value: str | None) -> str | None:
    """The trace id of a valid traceparent header, else None (all-zero ids are invalid)."""
    found = _TRACEPARENT.fullmatch((value or "").strip())
    if not found or found["version"] == "ff" or set(found["trace"]) == {"0"} or set(found["parent"]) == {"0"}:
        return None
    return found["trace"]


def trace_id_of(headers: Any) -> str | None:
    """The trace id from a Kafka message's headers (a list of pairs or a mapping), if any."""
    pairs = headers.items() if isinstance(headers, dict) else headers or []
    for key, value in pairs:
        if key == TRACEPARENT and value is not None:
            return parse_traceparent(value.decode("ascii", "replace") if isinstance(value, bytes) else str(value))
    return None
