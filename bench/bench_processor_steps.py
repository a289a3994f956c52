"""CPU per event of each step of the processor's per-batch work, in process (no Kafka, no database).

    python -m bench.bench_processor_steps [--events 4000]

Why: on a shared machine a drain rate moves with everyone's load, but the CPU time a step takes
on the bench's own envelopes (30% signed, 2,000 actors) moves much less, so it tells which lever
is worth trying first (docs/benchmarks.md, "Levers"). Best of 3 per step, process CPU time.
Signature verification is left out (bench/bench_signatures.py measures it).
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable
from typing import Any

from argus.config import load_settings
from argus_client.envelope import encode_envelope, message_key, utc_now_rfc3339
from argus_client.hashchain import GENESIS_HASH, chain_record
from bench.loadgen import make_events
from processor.decode import Decoded, RawMessage, decode_message
from processor.store import _copy_text, stored_row


def _best_us(count: int, step: Callable[[], Any]) -> tuple[float, Any]:
    best, result = float("inf"), None
    for _ in range(3):
        started = time.process_time()
        result = step()
        best = min(best, time.process_time() - started)
    return round(best * 1e6 / count, 2), result


def run(count: int) -> dict[str, float]:
    received_at = utc_now_rfc3339()
    messages = [
        RawMessage("bench", i % 4, i, message_key(e), encode_envelope(e, source="bench", received_at=received_at), None)
        for i, e in enumerate(make_events(count, actors=2000, signed_share=0.3))
    ]
    enums = load_settings({}).enums
    decode_us, decoded = _best_us(count, lambda: [decode_message(m, enums) for m in messages])

    def chain(items: list[Decoded]) -> list[tuple[dict[str, Any], RawMessage]]:
        heads: dict[str, tuple[int, str]] = {}
        out = []
        for item in items:
            actor = item.event["actorId"]
            seq, previous = heads.get(actor, (0, GENESIS_HASH))
            record = chain_record(item.event, source=item.source, received_at=item.received_at, seq=seq + 1,
                                  previous_hash=previous, metadata_text=item.metadata_text)  # fmt: skip
            heads[actor] = (seq + 1, record["currentHash"])
            out.append((record, item.message))
        return out

    chain_us, records = _best_us(count, lambda: chain(decoded))
    row_us, rows = _best_us(count, lambda: [stored_row(r, m.topic, m.partition, m.offset, 1) for r, m in records])
    copy_us, _ = _best_us(count, lambda: _copy_text(rows))
    return {
        "events": count,
        "decode_validate_us": decode_us,
        "chain_record_us": chain_us,
        "record_row_us": row_us,
        "copy_text_us": copy_us,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=4000)
    args = parser.parse_args()
    print(json.dumps(run(args.events), indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
