"""Prometheus metrics of the processor."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

from argus.runtime.metrics import SIGNATURE_ERRORS as SIGNATURE_ERRORS

RECORDS_STORED = Counter("argus_records_stored_total", "Records committed to the critical store")
DEAD_LETTERS = Counter("argus_dead_letters_total", "Messages rejected to the dead-letter topic", ["field"])
SIGNATURES_AMBIGUOUS = Counter(
    "argus_signatures_ambiguous_total",
    "v1-signed records stored although their v1 string is ambiguous ('|' in a field; docs/signatures.md)",
)
DUPLICATES = Counter("argus_duplicates_skipped_total", "Events skipped because their id was already stored")
ID_CONFLICTS = Counter(
    "argus_id_conflicts_total", "Events dead-lettered because their id is stored with different content"
)

BATCH_RETRIES = Counter("argus_batch_retries_total", "Batches retried", ["reason"])
BATCH_SECONDS = Histogram("argus_batch_commit_seconds", "Time to process and commit one batch")
CHAIN_HEADS = Gauge("argus_chain_heads_cached", "Actor chain heads held in memory")
CONSUMER_LAG = Gauge(
    "argus_consumer_lag_messages",
    "Messages in a partition this replica owns that are not yet stored (high watermark - stored offset - 1)",
    ["partition"],
)
LAST_COMMIT = Gauge("argus_last_commit_timestamp_seconds", "Unix time of this replica's last database commit")
TREE_MISMATCHES = Counter(
    "argus_tlog_mismatches_total",
    "Batches refused because a partition's stored records, tree and checkpoint disagree (fail closed)",
    ["partition"],
)
OFFSET_JUMPS = Counter(
    "argus_offset_jumps_total",
    "Batches whose messages jumped past a partition's stored progress (a stale fetch); the rest was read again",
    ["partition"],
)
TLOG_SECONDS = Histogram(
    "argus_tlog_seconds",
    "Time one batch spends on the transparency log (leaf hashes, tiles, root, checkpoint signature, their writes)",
)
TLOG_CPU_SECONDS = Counter(
    "argus_tlog_cpu_seconds",
    "Processor CPU spent on the transparency log (the part of argus_tlog_seconds that holds the GIL)",
)
CHECKPOINTS = Counter("argus_checkpoints_total", "Signed checkpoints written")
