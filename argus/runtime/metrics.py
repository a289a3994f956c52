"""Metrics shared by gateway and processor (both verify signatures)."""

from __future__ import annotations

from prometheus_client import Counter

from argus_spec.event import EVENT_FIELDS

SIGNATURE_ERRORS = Counter("argus_signature_verification_errors_total", "Events whose signature did not verify")
_FIELD_LABELS = frozenset({*EVENT_FIELDS, "$", "source", "receivedAt"})


def field_label(field: str) -> str:
    """The `field` label of a rejection: a known field, "$" (the whole event) or "other".
    Clients choose unknown field names, and label values must stay a small fixed set."""
    return field if field in _FIELD_LABELS else "other"
