"""Preload a large audit_records table with COPY, and measure how COPY's cost grows with the table.

Why: issue 16 found PostgreSQL's CPU per 100,000-event load growing 5.0 -> 8.0 -> 16.2 s on one
database. The flat-cost bench phase fills the table first (as many rows as disk and time allow,
>= 10 million for the real run) and then measures the pipeline again. The rows are synthetic
filler of the processor's width (same columns and constraints, ~700 bytes, UUIDv7 ids, random
64-hex hashes, actors over a 1,000,000-actor range, metadata 50 B - 4 KB) on their own topic, so
they never collide with the pipeline's records; they are not valid chains (the scratch schema
is dropped afterwards). Building them is ~3 us a row, so COPY dominates.

    python -m bench.preload --rows 1000000 [--slab 100000] [--drop-index NAME ...]

prints each slab's COPY rows/s as the table grows (the growth experiment in docs/benchmarks.md),
and the server's WAL bytes, full-page images and backend writes per row over the whole COPY.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import random
import sys
import time
import uuid
from typing import Any

from sqlalchemy import text

from argus.db.engine import make_engine
from argus.db.private_schema import private_schema
from bench import pg_counters
from bench.baselines import COPY_SQL
from processor.store import RECORD_COLUMNS, WRITTEN_FIELDS

TOPIC = "bench.preload"
_PAD = "x" * 4096
_NULL = "\\N"
#: The filler's fields that are the same in every row; the others vary.
_CONSTANT = {
    "traceId": _NULL, "eventType": "DATA_FETCH", "action": "READ", "status": "SUCCESS", "actorType": "SERVICE",
    "targetType": "RESOURCE", "message": _NULL, "signature": _NULL, "signatureAlgorithm": _NULL,
    "publicKeyId": _NULL, "signatureFormat": _NULL, "source": "preload", "kafkaTopic": TOPIC, "attestation": _NULL,
    "unattestedClaim": "f", "signatureAmbiguous": "f",
}  # fmt: skip
#: One COPY line in the processor's row order (RECORD_COLUMNS), a {field} slot for each varying field.
_LINE = "\t".join(_CONSTANT.get(field, "{" + field + "}") for field in WRITTEN_FIELDS)


def _uuid7_at(millis: int, rand: random.Random) -> str:
    """A UUIDv7 for `millis` (time-ordered like the client's ids) without the clock."""
    value = (millis << 80) | (0x7 << 76) | (rand.getrandbits(12) << 64) | (0b10 << 62) | rand.getrandbits(62)
    return str(uuid.UUID(int=value))


def preload_rows(start: int, count: int, rand: random.Random, seqs: dict[int, int], actors: int) -> str:
    """COPY text of `count` filler rows numbered from `start`: UUIDv7 ids in order, hashes random."""
    lines = []
    base_ms = 1_700_000_000_000
    for i in range(start, start + count):
        actor = int(actors * rand.random() ** 3)  # skewed: low actor numbers are hot
        seq = seqs.get(actor, 0) + 1
        seqs[actor] = seq
        previous, current = f"{rand.getrandbits(256):064x}", f"{rand.getrandbits(256):064x}"
        size = int(50 * 80 ** rand.random())  # 50 B .. 4 KB, log-uniform
        metadata = '{"pad":"' + _PAD[:size] + '"}'
        stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime((base_ms + i) / 1000)) + f".{(base_ms + i) % 1000:03d}Z"
        lines.append(
            _LINE.format(
                id=_uuid7_at(base_ms + i, rand),
                actorId=f"pre-{actor:07d}",
                seq=seq,
                previousHash=previous,
                currentHash=current,
                timestamp=stamp,
                eventTime=stamp,
                targetId=f"doc-{i % 50_000}",
                metadata=metadata,
                receivedAt=stamp,
                kafkaPartition=i % 4,
                kafkaOffset=i // 4,
                commitSeq=i // 8000 + 1,
            )
        )
    lines.append("")
    return "\n".join(lines)


PROBE_ROWS = 2000  # one processor batch


def probe(cursor: Any, chunk: str) -> dict[str, float]:
    """Insert `chunk` (COPY text, PROBE_ROWS rows) through a temp table under EXPLAIN (ANALYZE,
    BUFFERS, WAL): per row, the shared buffers it touched, read from outside shared_buffers and
    dirtied, and the WAL it wrote (full-page images included). Unlike a rate, these counts do not
    depend on what else the shared machine is doing."""
    columns = ", ".join(RECORD_COLUMNS)
    cursor.execute(f"CREATE TEMP TABLE probe_rows ON COMMIT DROP AS SELECT {columns} FROM audit_records LIMIT 0")
    cursor.copy_expert(f"COPY probe_rows ({columns}) FROM STDIN", io.StringIO(chunk))
    cursor.execute(
        "EXPLAIN (ANALYZE, BUFFERS, WAL, FORMAT JSON) "
        f"INSERT INTO audit_records ({columns}) SELECT {columns} FROM probe_rows"
    )
    plan = cursor.fetchone()[0][0]["Plan"]
    return {
        "ms_per_row": round(plan["Actual Total Time"] / PROBE_ROWS, 4),
        "shared_hit_per_row": round(plan["Shared Hit Blocks"] / PROBE_ROWS, 2),
        "shared_read_per_row": round(plan["Shared Read Blocks"] / PROBE_ROWS, 2),
        "shared_dirtied_per_row": round(plan["Shared Dirtied Blocks"] / PROBE_ROWS, 2),
        "wal_fpi_per_row": round(plan["WAL FPI"] / PROBE_ROWS, 3),
        "wal_bytes_per_row": round(plan["WAL Bytes"] / PROBE_ROWS),
    }


def preload(
    url: str,
    rows: int,
    *,
    slab: int = 100_000,
    batch: int = 20_000,
    actors: int = 1_000_000,
    probes: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """COPY `rows` filler rows into `url`'s audit_records in `batch`-row transactions; the COPY
    rate of each `slab` shows whether cost grows with the table. With `probes`, each slab ends
    with one `probe` batch, appended there with the table size it met."""
    rand, seqs = random.Random(16), dict[int, int]()
    batch = min(batch, slab)
    slab = slab // batch * batch  # slabs end on a transaction
    engine = make_engine(url)
    connection = engine.raw_connection()
    slabs: list[int] = []
    started = time.perf_counter()
    try:
        cursor = connection.cursor()
        counted = pg_counters.snapshot(cursor)
        connection.commit()
        done, copy_s = 0, 0.0
        while done < rows:
            count = min(batch, rows - done)
            chunk = preload_rows(done, count, rand, seqs, actors)
            copy_started = time.perf_counter()
            cursor.copy_expert(COPY_SQL, io.StringIO(chunk))
            connection.commit()
            copy_s += time.perf_counter() - copy_started
            done += count
            if done % slab == 0 or done == rows:
                slabs.append(round((done - (len(slabs) * slab)) / copy_s))
                print(f"preload: {done} rows, last slab {slabs[-1]} rows/s (COPY only)", file=sys.stderr, flush=True)
                copy_s = 0.0
                if probes is not None:
                    found = probe(cursor, preload_rows(rows + len(probes) * PROBE_ROWS, PROBE_ROWS, rand, seqs, actors))
                    connection.commit()
                    probes.append({"table_rows": done, **found})
                    print(f"probe: {probes[-1]}", file=sys.stderr, flush=True)
        server = pg_counters.per_row(counted, pg_counters.snapshot(cursor), rows + len(probes or []) * PROBE_ROWS)
        connection.commit()
        # A table that grew over months was vacuumed as it grew: vacuum now, so the phase after
        # the preload measures inserting into a large table, not the preload's own vacuum.
        connection.dbapi_connection.autocommit = True  # type: ignore[union-attr]
        cursor.execute("VACUUM (ANALYZE) audit_records")
        cursor.execute("SELECT pg_total_relation_size('audit_records')")
        size = int(cursor.fetchone()[0])  # type: ignore[index]
        cursor.execute(
            "SELECT c.relname, pg_relation_size(c.oid) FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid "
            "WHERE i.indrelid = 'audit_records'::regclass ORDER BY 2 DESC"
        )
        indexes = {name: round(int(size) / 2**20) for name, size in cursor.fetchall()}
        cursor.close()
    finally:
        connection.close()
        engine.dispose()
    first, last = slabs[0], slabs[-1]
    return {
        "rows": rows,
        "slab_rows": slab,
        "wall_s": round(time.perf_counter() - started, 1),
        "table_mb": round(size / 2**20),
        "index_mb": indexes,
        "slab_rows_per_s": slabs,
        "last_vs_first_slab": round(last / first, 3) if first else None,
        "server": server,  # WAL, full-page images, backend writes per row while COPYing (bench/pg_counters.py)
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--slab", type=int, default=100_000)
    parser.add_argument("--database-url", default=os.environ.get("ARGUS_DATABASE_URL"))
    parser.add_argument("--probe", action="store_true", help="EXPLAIN (ANALYZE, BUFFERS, WAL) a batch per slab")
    parser.add_argument("--drop-index", action="append", default=[], help="drop this index/constraint first (A/B)")
    args = parser.parse_args(argv)
    with private_schema(args.database_url, "bench_preload") as (_, url):
        if args.drop_index:
            engine = make_engine(url)
            with engine.begin() as connection:
                for name in args.drop_index:
                    kind = "CONSTRAINT" if name.startswith(("uq_", "pk_")) else "INDEX"
                    if kind == "CONSTRAINT":
                        connection.execute(text(f"ALTER TABLE audit_records DROP CONSTRAINT {name}"))
                    else:
                        connection.execute(text(f"DROP INDEX {name}"))
            engine.dispose()
        probes: list[dict[str, Any]] = []
        result = preload(url, args.rows, slab=args.slab, probes=probes if args.probe else None)
    print(json.dumps({"dropped": args.drop_index, **result, "probes": probes}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
