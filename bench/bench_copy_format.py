"""Lever A/B (issue 16): binary COPY instead of the processor's text COPY.

    python -m bench.bench_copy_format [--rows 40000] [--rounds 3]

Two costs change with the format: the processor's encoding (Python, per row) and PostgreSQL's
parsing. Both are measured here on the processor's own rows (bench.baselines.copy_batches): the
encoders' CPU per row, and COPY + COMMIT of the same rows in 2,000-row transactions into a freshly
migrated audit_records, text and binary alternating, each in a new schema.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import statistics
import struct
import time
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import BigInteger, Boolean, DateTime, Integer

from argus.db.engine import make_engine
from argus.db.private_schema import private_schema
from argus.db.schema import audit_records
from argus_spec.envelope import utc_now_rfc3339
from argus_spec.hashchain import GENESIS_HASH, chain_record
from bench.baselines import COPY_SQL
from bench.loadgen import make_events
from processor.store import RECORD_COLUMNS, _copy_text, stored_row

_HEADER = b"PGCOPY\n\xff\r\n\x00" + struct.pack("!ii", 0, 0)
_EPOCH = datetime(2000, 1, 1, tzinfo=UTC)
_NULL = struct.pack("!i", -1)


def _kind(column: str) -> str:
    """How a non-null value of `column` is written in binary COPY, from the schema's type."""
    kind = audit_records.c[column].type
    if isinstance(kind, BigInteger):
        return "q"
    if isinstance(kind, Integer):
        return "i"
    if isinstance(kind, DateTime):
        return "z"
    return "b" if isinstance(kind, Boolean) else "t"


_KINDS = [_kind(column) for column in RECORD_COLUMNS]


def binary_rows(rows: list[tuple[Any, ...]]) -> bytes:
    """Rows in PostgreSQL's binary COPY format (varchar as UTF-8, int4/int8, timestamptz as µs
    since 2000-01-01, bool as one byte)."""
    out = [_HEADER]
    count = struct.pack("!h", len(_KINDS))
    pack_int, pack_long = struct.Struct("!ii").pack, struct.Struct("!iq").pack
    for row in rows:
        out.append(count)
        for kind, value in zip(_KINDS, row, strict=True):
            if value is None:
                out.append(_NULL)
            elif kind == "t":
                data = value.encode()
                out.append(struct.pack("!i", len(data)) + data)
            elif kind == "q":
                out.append(pack_long(8, value))
            elif kind == "i":
                out.append(pack_int(4, value))
            elif kind == "z":
                delta = value - _EPOCH
                out.append(pack_long(8, (delta.days * 86400 + delta.seconds) * 1_000_000 + delta.microseconds))
            else:
                out.append(b"\x00\x00\x00\x01" + (b"\x01" if value else b"\x00"))
    out.append(b"\xff\xff")
    return b"".join(out)


def rows_of(count: int) -> list[tuple[Any, ...]]:
    """The processor's rows for `count` chained records (30% signed, 2,000 actors)."""
    heads: dict[str, tuple[int, str]] = {}
    rows = []
    received_at = utc_now_rfc3339()
    for offset, event in enumerate(make_events(count, actors=2000, signed_share=0.3)):
        seq, previous = heads.get(event["actorId"], (0, GENESIS_HASH))
        record = chain_record(event, source="bench", received_at=received_at, seq=seq + 1, previous_hash=previous)
        heads[event["actorId"]] = (seq + 1, record["currentHash"])
        rows.append(stored_row(record, "bench", offset % 4, offset, offset // 2000 + 1))
    return rows


def _copy(url: str, chunks: list[Any], binary: bool) -> float:
    statement = COPY_SQL + (" WITH (FORMAT binary)" if binary else "")
    engine = make_engine(url)
    connection = engine.raw_connection()
    try:
        cursor = connection.cursor()
        started = time.perf_counter()
        for chunk in chunks:
            cursor.copy_expert(statement, io.BytesIO(chunk) if binary else io.StringIO(chunk))
            connection.commit()
        return time.perf_counter() - started
    finally:
        connection.close()
        engine.dispose()


def run(database_url: str, rows: int, rounds: int) -> dict[str, Any]:
    records = rows_of(rows)
    batches = [records[i : i + 2000] for i in range(0, rows, 2000)]
    encode: dict[str, float] = {}
    for name, encoder in (("text", _copy_text), ("binary", binary_rows)):
        started = time.process_time()
        for batch in batches:
            encoder(batch)
        encode[name] = round((time.process_time() - started) * 1e6 / rows, 2)
    chunks: dict[str, list[Any]] = {
        "text": [_copy_text(b) for b in batches],
        "binary": [binary_rows(b) for b in batches],
    }
    rates: dict[str, list[float]] = {"text": [], "binary": []}
    for _ in range(rounds):
        for name in ("text", "binary"):
            with private_schema(database_url, "bench_copyfmt") as (_, url):
                rates[name].append(round(rows / _copy(url, chunks[name], name == "binary")))
    return {
        "rows": rows,
        "encode_us_per_row": encode,
        "copy_rows_per_s": rates,
        "copy_median_rows_per_s": {k: statistics.median(v) for k, v in rates.items()},
        "bytes_per_row": {k: round(sum(len(c) for c in v) / rows) for k, v in chunks.items()},
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=40_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--database-url", default=os.environ.get("ARGUS_DATABASE_URL"))
    args = parser.parse_args()
    print(json.dumps(run(args.database_url, args.rows, args.rounds), indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
