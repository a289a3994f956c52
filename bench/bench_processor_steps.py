"""CPU per event of each step of the processor's per-batch work, in process (no Kafka, no database).

    python -m bench.bench_processor_steps [--events 4000]

Why: on a shared machine a drain rate moves with everyone's load, but the CPU time a step takes
on the bench's own envelopes (30% signed, 2,000 actors) moves much less, so it tells which lever
is worth trying first (docs/benchmarks.md, "Levers"). Best of 3 per step, process CPU time.
Signature verification is left out (bench/bench_signatures.py measures it). The gateway's
attestation of source and receivedAt is measured on its own: decoding the same events with the
receipt key's checker, attested v1 (one Ed25519 signature per event) and v2 (one per 250-event
request, the bench's request size, plus each event's audit path; docs/receipts.md). With argus_native
installed, its chain + row (one call per event), COPY text and v2 attestation check
(decode_attested_v2_native_us) are measured too, next to the reference's (copy_text_utf8_us: the
reference's text encoded, the bytes argus_native returns).
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable
from typing import Any

from argus.runtime.settings import load_settings
from argus.trust.receipt_keys import ReceiptSigner, attestation_checker
from argus_spec.envelope import encode_envelope, message_key, utc_now_rfc3339
from argus_spec.hashchain import GENESIS_HASH, chain_record
from argus_spec.note import Signer
from bench.loadgen import REQUEST_EVENTS, attestation_statements, make_events
from processor.chain import _chained_row
from processor.decode import Claims, Decoded, RawMessage, decode_message
from processor.native import NATIVE
from processor.store import _copy_text, stored_row


def _best_us(count: int, step: Callable[[], Any]) -> tuple[float, Any]:
    best, result = float("inf"), None
    for _ in range(3):
        started = time.process_time()
        result = step()
        best = min(best, time.process_time() - started)
    return round(best * 1e6 / count, 2), result


def _attested(events: list[dict[str, Any]], received_at: str, signer: ReceiptSigner, v2: bool) -> list[bytes]:
    """The envelopes of `events` as a gateway attests them: v2 per request, v1 per event."""
    statements = attestation_statements(events, "bench", received_at)
    if v2:
        chunks = [statements[i : i + REQUEST_EVENTS] for i in range(0, len(statements), REQUEST_EVENTS)]
        attestations = [attestation for chunk in chunks for attestation in signer.attest_batch(chunk)]
    else:
        attestations = [signer.attest(*statement) for statement in statements]
    return [encode_envelope(event, source="bench", received_at=received_at, attestation=attestation)
            for event, attestation in zip(events, attestations, strict=True)]  # fmt: skip


def _decode_attested_us(events: list[dict[str, Any]], received_at: str, v2: bool, native: bool = False) -> float:
    """Decode + validate + the attestation check, per event (a fresh checker each round: no
    signature verified in an earlier round is remembered); `native`: v2 paths through argus_native."""
    signer = ReceiptSigner(Signer.generate("bench-gateway"))
    values = _attested(events, received_at, signer, v2)
    messages = [RawMessage("bench", i % 4, i, message_key(e), value, None)
                for i, (e, value) in enumerate(zip(events, values, strict=True))]  # fmt: skip
    enums = load_settings({}).enums

    def decode_all() -> list[Decoded]:
        batch_message = NATIVE.batch_message if native and NATIVE is not None else None
        claims = Claims(attestation_checker([signer.signer.verifier], batch_message), dead_letter=True)
        return [decode_message(m, enums, claims) for m in messages]

    return _best_us(len(events), decode_all)[0]


def run(count: int) -> dict[str, Any]:
    received_at = utc_now_rfc3339()
    events = make_events(count, actors=2000, signed_share=0.3)
    messages = [
        RawMessage("bench", i % 4, i, message_key(e), encode_envelope(e, source="bench", received_at=received_at), None)
        for i, e in enumerate(events)
    ]
    enums = load_settings({}).enums
    decode_us, decoded = _best_us(count, lambda: [decode_message(m, enums) for m in messages])

    def chain(items: list[Decoded]) -> list[tuple[dict[str, Any], Decoded]]:
        heads: dict[str, tuple[int, str]] = {}
        out = []
        for item in items:
            actor = item.event["actorId"]
            seq, previous = heads.get(actor, (0, GENESIS_HASH))
            record = chain_record(item.event, source=item.source, received_at=item.received_at, seq=seq + 1,
                                  previous_hash=previous, metadata_text=item.metadata_text)  # fmt: skip
            heads[actor] = (seq + 1, record["currentHash"])
            out.append((record, item))
        return out

    def native_chain(items: list[Decoded]) -> list[tuple[Any, ...]]:
        """What processor/chain.py does per event with argus_native: record and row in one call."""
        heads: dict[str, tuple[int, str]] = {}
        rows = []
        for item in items:
            actor = item.event["actorId"]
            seq, previous = heads.get(actor, (0, GENESIS_HASH))
            record, row = _chained_row(item, seq + 1, previous, 1)
            heads[actor] = (seq + 1, record["currentHash"])
            rows.append(row)
        return rows

    chain_us, records = _best_us(count, lambda: chain(decoded))
    row_us, rows = _best_us(count, lambda: [
        stored_row(r, i.message.topic, i.message.partition, i.message.offset, 1, i.attestation, i.unattested_claim)
        for r, i in records
    ])  # fmt: skip
    copy_us, _ = _best_us(count, lambda: _copy_text(rows))
    steps: dict[str, Any] = {"events": count, "decode_validate_us": decode_us, "chain_record_us": chain_us,
                             "record_row_us": row_us, "copy_text_us": copy_us}  # fmt: skip
    if NATIVE is not None:  # argus_native (native/): chain_record + stored_row in one call, COPY text as bytes
        native_us, native_rows = _best_us(count, lambda: native_chain(decoded))
        assert native_rows == rows, "argus_native must produce the reference's rows"
        steps["native_chain_row_us"] = native_us
        steps["native_copy_text_us"] = _best_us(count, lambda: NATIVE.copy_text(native_rows))[0]
        steps["copy_text_utf8_us"] = _best_us(count, lambda: _copy_text(rows).encode("utf-8"))[0]
    steps["decode_attested_v1_us"] = _decode_attested_us(events, received_at, v2=False)
    steps["decode_attested_v2_us"] = _decode_attested_us(events, received_at, v2=True)
    if NATIVE is not None:
        steps["decode_attested_v2_native_us"] = _decode_attested_us(events, received_at, v2=True, native=True)
    return steps


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=4000)
    args = parser.parse_args()
    print(json.dumps(run(args.events), indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
