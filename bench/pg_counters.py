"""PostgreSQL's own counters around a bench phase: what the server did per row, not how fast.

Why: on the shared 2-core box rates swing 2-3x with other people's load, but the WAL written,
the full-page images in it, the pages each index had to read from outside shared_buffers and the
buffers backends had to write out themselves do not (docs/benchmarks.md, "Cost grows with the
table"). WAL and checkpoint counters are the whole server's (other users of a shared server add
to them); the index counters are the current schema's `audit_records` only.
"""

from __future__ import annotations

from typing import Any

_SERVER_SQL = (
    "SELECT w.wal_bytes, w.wal_fpi, b.checkpoints_timed + b.checkpoints_req, b.buffers_backend "
    "FROM pg_stat_wal w, pg_stat_bgwriter b"
)
#: PostgreSQL 17 moved the checkpoint counts to pg_stat_checkpointer and backends' own writes to pg_stat_io.
_SERVER_SQL_17 = (
    "SELECT w.wal_bytes, w.wal_fpi, c.num_timed + c.num_requested, "
    "(SELECT coalesce(sum(writes), 0) FROM pg_stat_io WHERE backend_type = 'client backend') "
    "FROM pg_stat_wal w, pg_stat_checkpointer c"
)
_INDEX_SQL = (
    "SELECT indexrelname, idx_blks_read FROM pg_statio_all_indexes "
    "WHERE schemaname = current_schema() AND relname = 'audit_records'"
)


def snapshot(cursor: Any) -> dict[str, float]:
    """The counters now, through a DB-API cursor whose search_path is the bench's schema.
    Statistics reach these views when a backend goes idle (<= ~1 s) or exits."""
    cursor.execute("SELECT pg_stat_clear_snapshot()")  # else a transaction sees its first reading
    version = getattr(getattr(cursor, "connection", None), "server_version", 0)  # psycopg2: e.g. 150007
    cursor.execute(_SERVER_SQL_17 if version >= 170000 else _SERVER_SQL)
    wal_bytes, wal_fpi, checkpoints, backend_writes = cursor.fetchone()
    found = {
        "wal_bytes": float(wal_bytes),
        "wal_fpi": float(wal_fpi),
        "checkpoints": float(checkpoints),
        "backend_writes": float(backend_writes),
    }
    cursor.execute(_INDEX_SQL)
    found |= {f"read:{name}": float(blocks) for name, blocks in cursor.fetchall()}
    return found


def per_row(before: dict[str, float], after: dict[str, float], rows: int) -> dict[str, Any]:
    """Differences between two snapshots: checkpoints as a count, everything else per row."""
    rows = max(1, rows)
    reads = {key[5:]: round((after[key] - before.get(key, 0.0)) / rows, 3) for key in after if key.startswith("read:")}
    return {
        "wal_bytes_per_row": round((after["wal_bytes"] - before["wal_bytes"]) / rows),
        "wal_fpi_per_row": round((after["wal_fpi"] - before["wal_fpi"]) / rows, 3),
        "backend_writes_per_row": round((after["backend_writes"] - before["backend_writes"]) / rows, 3),
        "checkpoints": int(after["checkpoints"] - before["checkpoints"]),
        "index_reads_per_row": reads,
    }
