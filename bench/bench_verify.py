"""Verification throughput: record_hash alone, ChainVerifier in memory, and `argus verify` end to
end over real PostgreSQL next to a raw SELECT of the same rows (so the ratio is verification's cost).

    PYTHONPATH=client:. python bench/bench_verify.py [--records 200000] [--actors 1000]

The database part runs when ARGUS_TEST_DATABASE_URL is set; it loads the rows with COPY into a
private schema and drops it afterwards. Prints one JSON object; goal: >= 100,000 records/s.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import sys
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
from sqlalchemy import create_engine

from argus.audit import export, verify
from argus.db.private_schema import private_schema
from argus.db.schema import metadata, record_columns
from argus_spec.event import EVENT_FIELDS
from argus_spec.hashchain import GENESIS_HASH, RECORD_FIELDS, ChainVerifier, chain_record, record_row, row_hash
from processor.store import _copy_text

BASE = datetime(2026, 1, 1, tzinfo=UTC)


def make_rows(records: int, actors: int) -> list[tuple[Any, ...]]:
    """A valid trail of realistic records (metadata, message, signature), in (actor, seq) order."""
    rows: list[tuple[Any, ...]] = []
    per_actor = -(-records // actors)
    for a in range(actors):
        previous = GENESIS_HASH
        for seq in range(1, min(per_actor, records - len(rows)) + 1):
            moment = (BASE + timedelta(seconds=a * per_actor + seq)).isoformat().replace("+00:00", "Z")
            event: dict[str, Any] = dict.fromkeys(EVENT_FIELDS)
            event.update(id=str(uuid.UUID(int=a << 64 | seq)), timestamp=moment, action="UPDATE", status="SUCCESS",
                         actorType="SERVICE", actorId=f"service-{a:05d}", targetType="RESOURCE",
                         targetId=f"/orders/{seq}", message="eyJvcmRlciI6IDQyfQ==", eventType="DATA_FETCH",
                         metadata={"ip": "10.0.0.1", "request": {"path": "/orders", "n": seq}, "ok": True},
                         signature="A" * 86 + "==", signatureAlgorithm="EdDSA", publicKeyId="k1",
                         signatureFormat="v2")  # fmt: skip
            record = chain_record(event, source="bench", received_at=moment, seq=seq, previous_hash=previous)
            previous = record["currentHash"]
            rows.append(record_row(record))
    return rows


def timed(fn: Callable[[], int]) -> dict[str, float]:
    started = time.perf_counter()
    count = fn()
    seconds = time.perf_counter() - started
    return {"records": count, "seconds": round(seconds, 3), "records_per_s": round(count / seconds)}


def hash_only(rows: list[tuple[Any, ...]]) -> int:
    for row in rows:
        row_hash(row)
    return len(rows)


def verifier_only(rows: list[tuple[Any, ...]]) -> int:
    verifier = ChainVerifier()
    feed = verifier.feed_row
    breaks = [b for row in rows for b in feed(row)] + verifier.finish()
    assert not breaks, breaks[:3]
    return verifier.records


def copy_rows(url: str, rows: list[tuple[Any, ...]]) -> int:
    """Bulk-load with COPY (the extra NOT NULL columns get plausible values)."""
    fields = (*RECORD_FIELDS, "eventTime", "kafkaTopic", "kafkaPartition", "kafkaOffset", "commitSeq")
    columns = [c.name for c in record_columns(fields)]
    loaded = [(*row, row[1].replace("Z", "+00:00"), "argus.events", 0, i, i // 1000) for i, row in enumerate(rows)]
    buffer = io.StringIO(_copy_text(loaded))
    engine = create_engine(url)
    with engine.begin() as connection:
        cursor = connection.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
        cursor.copy_expert(f"COPY audit_records ({', '.join(columns)}) FROM STDIN", buffer)
        cursor.execute("ANALYZE audit_records")
    engine.dispose()
    return len(rows)


def raw_select(url: str) -> int:
    """Baseline: stream the same query's rows and do nothing with them."""
    engine = create_engine(url)
    count = sum(1 for _ in export.db_rows(engine, export.Scope()))
    engine.dispose()
    return count


def sqlalchemy_select(url: str) -> int:
    """For comparison: the same rows through SQLAlchemy Core's streaming Result."""
    engine = create_engine(url)
    with engine.connect() as connection:
        result = connection.execution_options(stream_results=True, yield_per=5000).execute(
            export.select_records(export.Scope())
        )
        count = sum(len(part) for part in result.partitions())
    engine.dispose()
    return count


def argus_verify(url: str) -> int:
    """`argus verify --json` as the CLI runs it (argument parsing, query, verification, report)."""
    parser = argparse.ArgumentParser()
    verify.register(parser.add_subparsers())
    args = parser.parse_args(["verify", "--database-url", url, "--json"])
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        code = verify.run(args)
    report = orjson.loads(out.getvalue())
    assert code == 0 and report["ok"], report
    return int(report["records"])


def _create_tables(url: str) -> None:
    engine = create_engine(url)
    metadata.create_all(engine)
    engine.dispose()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--records", type=int, default=200_000)
    parser.add_argument("--actors", type=int, default=1000)
    options = parser.parse_args()
    rows = make_rows(options.records, options.actors)
    result: dict[str, Any] = {"python": sys.version.split()[0], "records": len(rows), "actors": options.actors}
    result["record_hash"] = timed(lambda: hash_only(rows))
    result["chain_verifier_in_memory"] = timed(lambda: verifier_only(rows))
    url = os.environ.get("ARGUS_TEST_DATABASE_URL")
    if url:
        with private_schema(url, "bench", setup=_create_tables) as (_, scoped):
            result["copy_load"] = timed(lambda: copy_rows(scoped, rows))
            result["raw_select_baseline"] = timed(lambda: raw_select(scoped))
            result["sqlalchemy_core_select"] = timed(lambda: sqlalchemy_select(scoped))
            result["argus_verify_postgresql"] = timed(lambda: argus_verify(scoped))
            ratio = result["argus_verify_postgresql"]["seconds"] / result["raw_select_baseline"]["seconds"]
            result["verify_vs_raw_select_time_ratio"] = round(ratio, 2)
    else:
        result["argus_verify_postgresql"] = "skipped: set ARGUS_TEST_DATABASE_URL (deploy/local/services.sh start)"
    print(orjson.dumps(result, option=orjson.OPT_INDENT_2).decode())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
