"""Prometheus metrics of the non-critical sinks."""

from __future__ import annotations

from prometheus_client import Counter, Gauge

SINK_FAILURES = Counter("argus_sink_failures_total", "Failed or dropped deliveries to a non-critical sink", ["sink"])
SINK_BACKLOG = Gauge("argus_sink_backlog_records", "Records waiting for a non-critical sink", ["sink"])
