"""Prometheus metrics of the gateway (names follow the reference service)."""

from __future__ import annotations

from prometheus_client import Counter, Histogram

from argus.runtime.metrics import SIGNATURE_ERRORS as SIGNATURE_ERRORS
from argus.runtime.metrics import field_label as field_label

HTTP_REQUESTS = Counter("argus_http_requests_total", "HTTP requests", ["method", "route", "status"])
HTTP_DURATION = Histogram("argus_http_request_duration_seconds", "HTTP request duration", ["method", "route"])
LOGS_INGESTED = Counter("argus_logs_ingested_total", "Events acknowledged after Kafka delivery")
LOGS_REJECTED = Counter("argus_logs_rejected_total", "Events rejected by validation", ["field"])


LOGS_DUPLICATE = Counter("argus_logs_duplicate_total", "Events acknowledged as retries of stored or sibling events")
ID_CONFLICTS = Counter("argus_ingest_id_conflicts_total", "Events refused (409): their id names other content")
ID_LOOKUP_FAILURES = Counter("argus_id_lookup_failures_total", "Id lookups skipped: the store did not answer in time")

PRODUCE_LATENCY = Histogram(
    "argus_kafka_produce_latency_seconds",
    "Time from produce() to the broker's delivery report",
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
PRODUCE_FAILURES = Counter("argus_kafka_produce_failures_total", "Events Kafka did not accept", ["reason"])
