"""Prometheus metrics of the non-critical sinks."""

from __future__ import annotations

from prometheus_client import Counter, Gauge

SINK_FAILURES = Counter("argus_sink_failures_total", "Failed or dropped deliveries to a non-critical sink", ["sink"])
SINK_BACKLOG = Gauge("argus_sink_backlog_records", "Records held in memory for a non-critical sink", ["sink"])
SINK_LAG = Gauge(
    "argus_sink_lag_commits",
    "Partition commits stored but not yet delivered to a sink (this replica's partitions)",
    ["sink"],
)
SINK_CATCHUP = Counter(
    "argus_sink_catchup_records_total", "Records delivered to a sink by reading them back from the database", ["sink"]
)
SINK_DELIVERED = Counter(
    "argus_sink_delivered_records_total", "Records a sink accepted (a re-delivery after a crash counts again)", ["sink"]
)
