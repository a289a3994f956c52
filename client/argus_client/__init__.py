"""Argus client SDK: what an application uses to sign, batch and deliver audit events.

The event model, its validation and every format the SDK writes are the specification's
(argus_spec, its own distribution); the SDK builds on it and nothing in the specification or the
servers' check side imports the SDK.
"""

from __future__ import annotations

from argus_client.aio import AsyncAuditClient
from argus_client.client import AuditClient
from argus_client.global_audit import init_global_audit, log_audit_event
from argus_client.kafka_transport import KafkaAuditTransport
from argus_client.transport import DeliveryError, RetryPolicy

__all__ = [
    "AsyncAuditClient",
    "AuditClient",
    "DeliveryError",
    "KafkaAuditTransport",
    "RetryPolicy",
    "init_global_audit",
    "log_audit_event",
]
