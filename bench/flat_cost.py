"""The flat-cost question alone: saturation on an empty table vs on a preloaded one, with PostgreSQL's counters.

Why: `make bench` answers it once per ~40-minute run, on a machine whose load moves rates 2-3x.
Here the preloaded table is a schema of its own that outlives the run (`preload` once, then any
number of `phase` runs, also across server restarts with other settings), and each phase reports
what the server did per committed event (bench/pg_counters.py) besides the rate: WAL bytes and
full-page images, index pages read from outside shared_buffers (per index), buffers the backends
had to write out themselves, checkpoints, and whether autovacuum ran during the phase.

    python -m bench.flat_cost preload [--schema bench_flat] --rows 10000000
    python -m bench.flat_cost phase [--schema bench_flat | --empty] [--events 150000]
    python -m bench.flat_cost drop [--schema bench_flat]

A phase is the bench's `saturation` (bench/e2e.py: fresh gateway and processor, 2,000 actors,
30% signed) after a 500-event warm-up; each run posts under its own topic and source.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, text

from argus.db import migrate
from argus.db.engine import make_engine
from argus.db.private_schema import private_schema, with_search_path
from bench import e2e, loadgen, pg_counters, preload

_AUTOVACUUM_SQL = (
    "SELECT count(*) FROM pg_stat_activity a LEFT JOIN pg_stat_progress_vacuum p ON p.pid = a.pid "
    "WHERE a.backend_type = 'autovacuum worker' OR p.pid IS NOT NULL"
)
#: The phase's rows, found through the Kafka-position index (a `source` scan of 10 M rows takes minutes).
_STATS_SQL = (
    "SELECT count(*), extract(epoch FROM max(stored_at)), percentile_cont(ARRAY[0.5, 0.99]) WITHIN GROUP "
    "(ORDER BY extract(epoch FROM stored_at - received_at::timestamptz)) FROM audit_records "
    "WHERE kafka_topic = :topic AND source = :source"
)


class AutovacuumWatch(threading.Thread):
    """Counts the once-a-second samples that saw a vacuum (autovacuum or manual) running."""

    def __init__(self, engine: Engine) -> None:
        super().__init__(daemon=True)
        self.engine, self.done, self.samples, self.busy = engine, threading.Event(), 0, 0

    def run(self) -> None:
        while not self.done.is_set():
            with self.engine.connect() as connection:
                self.busy += bool(connection.execute(text(_AUTOVACUUM_SQL)).scalar_one())
            self.samples += 1
            self.done.wait(1.0)


def counters(engine: Engine) -> dict[str, float]:
    connection = engine.raw_connection()
    try:
        return pg_counters.snapshot(connection.cursor())
    finally:
        connection.close()


def run_phase(url: str, events: int, kafka: str) -> dict[str, Any]:
    """One saturation phase on `url`'s schema, with the server's counters per committed event.
    The gateway and processor are stopped before the second reading: a backend publishes its
    statistics when it exits, not while it is busy."""
    phase = e2e.Phase(f"flat_{uuid.uuid4().hex[:6]}", events, None)
    plan = e2e.Plan(phases=(phase,), memory_actors=0, chain_cache=200_000, drain_timeout=300)
    with tempfile.TemporaryDirectory(prefix="argus-flat-") as tmp:
        stack = e2e.Stack(kafka, url, plan, Path(tmp))
        watch = AutovacuumWatch(stack.engine)
        after: list[dict[str, float]] = []

        def stats(source: str) -> dict[str, Any]:
            if not after:
                for proc in stack.procs.values():
                    proc.terminate()
                for proc in stack.procs.values():
                    proc.wait(timeout=30)
                time.sleep(1)
                after.append(counters(stack.engine))
            with stack.engine.connect() as connection:
                row = connection.execute(text(_STATS_SQL), {"topic": stack.topics[0], "source": source}).one()
            count, last, latency = row
            p50, p99 = latency or (None, None)
            return {"count": int(count), "last_commit": float(last or 0), "p50": p50, "p99": p99}

        try:
            stack.start()
            warm = loadgen.make_bodies(loadgen.make_events(500, actors=plan.actors, signed_share=0.3), 250)
            target = stack.committed_total() + 500
            asyncio.run(loadgen.run_load(stack.url, "token-warmup", warm, rate=None, connections=2, max_seconds=60))
            if not stack.wait_committed(target, 120):
                raise RuntimeError(f"the warm-up did not commit:\n{stack.logs()}")
            before = counters(stack.engine)
            stack.source_stats = stats  # type: ignore[method-assign]
            watch.start()
            result = e2e.run_phase(stack, phase)
        finally:
            watch.done.set()
            if watch.is_alive():
                watch.join()
            stack.stop()
    keep = ("committed_events_per_s", "committed", "complete", "wall_s", "cpu_us_per_event")
    server = pg_counters.per_row(before, after[0], result["committed"])
    return {**{k: result[k] for k in keep}, "server": server, "vacuum_samples": [watch.busy, watch.samples]}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("command", choices=("preload", "phase", "drop"))
    parser.add_argument("--schema", default="bench_flat", help="the preloaded table's schema (kept between runs)")
    parser.add_argument("--empty", action="store_true", help="phase: on a fresh, empty schema instead")
    parser.add_argument("--rows", type=int, default=10_000_000, help="preload: filler rows")
    parser.add_argument("--events", type=int, default=150_000, help="phase: saturating events")
    parser.add_argument("--database-url", default=os.environ.get("ARGUS_DATABASE_URL"))
    parser.add_argument("--kafka", default=os.environ.get("ARGUS_KAFKA_BOOTSTRAP", "127.0.0.1:19092"))
    args = parser.parse_args(argv)
    admin = make_engine(args.database_url)
    if args.command in ("preload", "drop"):
        with admin.begin() as connection:
            connection.execute(text(f'DROP SCHEMA IF EXISTS "{args.schema}" CASCADE'))
    result: dict[str, Any] = {"dropped": args.schema}
    if args.command == "preload":
        with admin.begin() as connection:
            connection.execute(text(f'CREATE SCHEMA "{args.schema}"'))
        url = with_search_path(args.database_url, args.schema)
        migrate.upgrade(url)
        probes: list[dict[str, Any]] = []
        result = {**preload.preload(url, args.rows, slab=max(10_000, args.rows // 10), probes=probes), "probes": probes}
    elif args.command == "phase" and args.empty:
        with private_schema(args.database_url, "bench_flat_empty") as (_, url):
            result = {"table": "empty", **run_phase(url, args.events, args.kafka)}
    elif args.command == "phase":
        url = with_search_path(args.database_url, args.schema)
        result = {"table": args.schema, **run_phase(url, args.events, args.kafka)}
    admin.dispose()
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
