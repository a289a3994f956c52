"""bench/pg_counters.py turns two readings of PostgreSQL's counters into per-row figures.

Why: the flat-cost evidence in docs/benchmarks.md rests on these per-row counts, so the
arithmetic (checkpoints as a count, index reads per index, an index absent from the first
reading counted from zero) must be right.
"""

from __future__ import annotations

from typing import Any

from bench import pg_counters


class FakeCursor:
    """Answers the two counter queries with fixed rows."""

    def __init__(self, server: tuple[Any, ...], indexes: list[tuple[str, int]]) -> None:
        self.server, self.indexes, self.last = server, indexes, ""

    def execute(self, sql: str) -> None:
        self.last = sql

    def fetchone(self) -> tuple[Any, ...]:
        return self.server

    def fetchall(self) -> list[tuple[str, int]]:
        return self.indexes


def test_snapshot_reads_server_and_index_counters() -> None:
    found = pg_counters.snapshot(FakeCursor((1000, 2, 3, 4), [("pk", 5), ("ix_target", 6)]))
    assert found == {
        "wal_bytes": 1000.0,
        "wal_fpi": 2.0,
        "checkpoints": 3.0,
        "backend_writes": 4.0,
        "read:pk": 5.0,
        "read:ix_target": 6.0,
    }


def test_per_row_divides_by_rows_and_counts_checkpoints() -> None:
    before = {"wal_bytes": 1000.0, "wal_fpi": 10.0, "checkpoints": 4.0, "backend_writes": 0.0, "read:pk": 1.0}
    after = {"wal_bytes": 21000.0, "wal_fpi": 20.0, "checkpoints": 6.0, "backend_writes": 5.0, "read:pk": 3.0}
    after["read:ix_target"] = 10.0
    assert pg_counters.per_row(before, after, 10) == {
        "wal_bytes_per_row": 2000,
        "wal_fpi_per_row": 1.0,
        "backend_writes_per_row": 0.5,
        "checkpoints": 2,
        "index_reads_per_row": {"pk": 0.2, "ix_target": 1.0},
    }


def test_postgresql_17_reads_the_checkpointer_and_io_views() -> None:
    """PostgreSQL 17 (Debian 13's) dropped pg_stat_bgwriter's checkpoint and backend-write columns."""

    class Connection:
        server_version = 170002

    cursor = FakeCursor((1000, 2, 3, 4), [])
    cursor.connection = Connection()  # type: ignore[attr-defined]
    cursor.execute = lambda sql: setattr(cursor, "last", cursor.last + sql)  # type: ignore[method-assign]
    assert pg_counters.snapshot(cursor)["checkpoints"] == 3.0
    assert "pg_stat_checkpointer" in cursor.last and "pg_stat_bgwriter" not in cursor.last
