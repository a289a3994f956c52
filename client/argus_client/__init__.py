"""Argus client SDK: the shared event model, validation rules and canonical forms, plus the sender."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from argus_client.enums import EnumConfig, load_enums
from argus_client.event import EVENT_FIELDS, Event, EventValidationError, validate_event

if TYPE_CHECKING:
    from argus_client.aio import AsyncAuditClient
    from argus_client.client import AuditClient
    from argus_client.global_audit import init_global_audit, log_audit_event
    from argus_client.kafka_transport import KafkaAuditTransport
    from argus_client.transport import DeliveryError, RetryPolicy

#: The sender is imported on first use, so the gateway and processor (which import the event model
#: through this package) do not load HTTP clients, spool or aiohttp code they never run.
_LAZY = {
    "AuditClient": "argus_client.client",
    "AsyncAuditClient": "argus_client.aio",
    "KafkaAuditTransport": "argus_client.kafka_transport",
    "DeliveryError": "argus_client.transport",
    "RetryPolicy": "argus_client.transport",
    "init_global_audit": "argus_client.global_audit",
    "log_audit_event": "argus_client.global_audit",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'argus_client' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)


__all__ = [
    "EVENT_FIELDS",
    "AsyncAuditClient",
    "AuditClient",
    "DeliveryError",
    "EnumConfig",
    "Event",
    "EventValidationError",
    "KafkaAuditTransport",
    "RetryPolicy",
    "init_global_audit",
    "load_enums",
    "log_audit_event",
    "validate_event",
]
