"""What the transparency log costs, and how fast its proofs are (docs/transparency.md, docs/benchmarks.md).

    python -m bench.bench_transparency [--quick]

1. The processor alone drains the same backlog (e2e.drain_phase: straight to Kafka, 30% signed,
   2,000 actors) with the log off (ARGUS_TRANSPARENCY=false: no tree, no checkpoints) and on
   (tree + a signed checkpoint per batch and partition), alternating off/on/on/off... so the
   shared machine's drift hits both; the medians give `cost_pct` (the goal is under 5%). On a
   loaded machine that difference is mostly drift, so each "on" run also measures the log's cost
   directly, in the same batches: `tlog_cpu_share_pct`, the processor CPU spent on the log
   (argus_tlog_cpu_seconds: hashing, tiles, signature, building the write) per event over the
   processor's whole CPU per event, which bounds the cost of a GIL-bound processor; and
   `tlog_share_pct`, the log's wall time over the batch's (argus_tlog_seconds over
   argus_batch_commit_seconds; includes waits for the GIL and PostgreSQL, so an upper bound).
   `cpu_cost_pct` compares processor + PostgreSQL CPU per event off and on (PostgreSQL's CPU is
   the whole server's, so it is noisy when others use it).
2. On the last store built with the log on: inclusion proofs generated through the read API's
   code (LogStore.inclusion: the record, its leaf index, one tile query) and verified offline
   (argus_spec.proofs: note signature + RFC 9162 path), and consistency proofs both ways.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

from sqlalchemy import text

from argus.db.engine import make_engine
from argus.db.private_schema import private_schema
from argus_spec.merkle import verify_inclusion
from argus_spec.note import Signer
from argus_spec.proofs import verify_consistency_answer, verify_record_proof
from argus_spec.tlog import open_checkpoint, record_leaf
from bench import e2e
from ingest_gateway.read.log_store import LogStore

RESULT_KEYS = (
    "drain_off_events_per_s",
    "drain_on_events_per_s",
    "runs",
    "cost_pct",
    "cpu_cost_pct",
    "tlog_share_pct",
    "tlog_cpu_share_pct",
    "proofs",
)


def _metric_sums(port: str, names: tuple[str, ...]) -> dict[str, float]:
    """The processor's own counters (Prometheus text) named `names`."""
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as response:
        found = {}
        for line in response.read().decode().splitlines():
            name, _, value = line.partition(" ")
            if name in names:
                found[name] = float(value)
    return found


_SHARE_METRICS = (
    "argus_tlog_cpu_seconds_total",
    "argus_tlog_seconds_sum",
    "argus_batch_commit_seconds_sum",
    "argus_batch_commit_seconds_count",
    "argus_records_stored_total",
)


def _drain(kafka: str, database_url: str, events: int, enabled: bool, key: Path, proofs: int) -> dict[str, Any]:
    plan = e2e.make_plan(True)
    plan = e2e.Plan(plan.phases, plan.memory_actors, plan.chain_cache, drain_events=events, drain_timeout=300)
    with (
        private_schema(database_url, "bench_tlog") as (_, db_url),
        tempfile.TemporaryDirectory(prefix="argus-tlog-") as tmp,
    ):
        stack = e2e.Stack(kafka, db_url, plan, Path(tmp))
        stack.env |= {"ARGUS_TRANSPARENCY": "true" if enabled else "false", "ARGUS_LOG_KEY": str(key)}
        try:
            stack.start(processor=False)  # the gateway idles; drain_phase starts the processor
            result = e2e.drain_phase(stack)
            if enabled:
                sums = _metric_sums(stack.env["ARGUS_PROCESSOR_METRICS_PORT"], _SHARE_METRICS)
                cpu, tlog, seconds, batches, records = (sums.get(name, 0.0) for name in _SHARE_METRICS)
                result["tlog_share_pct"] = round(100 * tlog / seconds, 1) if seconds else None
                result["tlog_cpu_us_per_event"] = round(1e6 * cpu / records, 1) if records else None
                processor_us = result["processor_cpu_us_per_event"]  # 0 when a --quick drain ends within a clock tick
                result["tlog_cpu_share_pct"] = round(100 * result["tlog_cpu_us_per_event"] / processor_us, 1) if (
                    records and processor_us) else None  # fmt: skip
                result["tlog_ms_per_batch"] = round(1000 * tlog / batches, 1) if batches else None
                result["events_per_batch"] = round(records / batches) if batches else None
        finally:
            stack.stop()
        if enabled and proofs:
            result["proofs"] = proof_rates(db_url, Signer.parse(key.read_text()), proofs)
    return result


def proof_rates(db_url: str, signer: Signer, count: int) -> dict[str, Any]:
    """Generate `count` inclusion proofs of random records, verify them; consistency proofs too."""
    engine = make_engine(db_url)
    verifiers = [signer.verifier]
    try:
        with engine.connect() as connection:
            ids = [row[0] for row in connection.execute(text("SELECT id FROM audit_records"))]
            sizes = list(connection.execute(text("SELECT kafka_partition, tree_size FROM checkpoints")))
        store = LogStore(engine)
        picked = random.Random(7).choices(ids, k=count)
        started = time.perf_counter()
        answers = [store.inclusion(record_id, None) for record_id in picked]
        generate = time.perf_counter() - started
        started = time.perf_counter()
        for answer in answers:
            assert answer is not None
            verify_record_proof(None, answer, verifiers)
        verify_full = time.perf_counter() - started
        checkpoints = {id(a): open_checkpoint(a["checkpoint"]["note"], verifiers) for a in answers if a}
        started = time.perf_counter()
        for answer in answers:
            assert answer is not None
            leaf = record_leaf(answer["topic"], answer["partition"], answer["kafkaOffset"], answer["commitSeq"],
                               answer["currentHash"])  # fmt: skip
            path = [bytes.fromhex(h) for h in answer["inclusionPath"]]
            verify_inclusion(answer["leafIndex"], answer["treeSize"], leaf, path, checkpoints[id(answer)].root)
        verify_path = time.perf_counter() - started
        by_partition: dict[int, list[int]] = {}
        for partition, size in sizes:
            by_partition.setdefault(partition, []).append(size)
        rng = random.Random(8)
        pairs = []
        for _ in range(min(count, 200)):
            partition = rng.choice(sorted(by_partition))
            first, second = sorted(rng.sample(by_partition[partition], 2)) if len(by_partition[partition]) > 1 else (
                0, by_partition[partition][0])  # fmt: skip
            pairs.append((partition, first, second))
        topic = answers[0]["topic"] if answers[0] else ""
        started = time.perf_counter()
        consistency = [store.consistency(topic, p, first, second) for p, first, second in pairs]
        consistency_generate = time.perf_counter() - started
        started = time.perf_counter()
        for answer in consistency:
            verify_consistency_answer(answer, verifiers)
        consistency_verify = time.perf_counter() - started
    finally:
        engine.dispose()
    path_lengths = [len(a["inclusionPath"]) for a in answers if a]
    return {
        "inclusion_proofs": count,
        "tree_sizes": sorted({a["treeSize"] for a in answers if a}),
        "mean_path_length": round(statistics.mean(path_lengths), 1),
        "inclusion_generate_per_s": round(count / generate),
        "inclusion_verify_per_s": round(count / verify_full),
        "inclusion_verify_path_only_per_s": round(count / verify_path),
        "consistency_proofs": len(consistency),
        "consistency_generate_per_s": round(len(consistency) / consistency_generate),
        "consistency_verify_per_s": round(len(consistency) / consistency_verify),
    }


def run(kafka: str, database_url: str, quick: bool, scale: float = 1.0) -> dict[str, Any]:
    """Alternating drains with the log off and on; proof rates from the last store with it on."""
    events = max(4000, int(10_000 * scale)) if quick else 60_000  # several batches: a rate needs a span
    rounds = 2 if quick else 4
    with tempfile.TemporaryDirectory(prefix="argus-logkey-") as tmp:
        key = Path(tmp) / "log.key"
        key.write_text(Signer.generate("bench.argus").encode() + "\n")
        runs: list[dict[str, Any]] = []
        for index in range(rounds):
            for enabled in (False, True) if index % 2 == 0 else (True, False):  # ABBA: linear drift cancels
                last = index == rounds - 1 and enabled
                result = _drain(kafka, database_url, events, enabled, key, (50 if quick else 2000) if last else 0)
                runs.append({"log": "on" if enabled else "off", **result})

    def median(log: str) -> float | None:  # None: every run drained within one poll (too few events)
        rates = [r["events_per_s"] for r in runs if r["log"] == log and r["events_per_s"]]
        return statistics.median(rates) if rates else None

    def cpu(log: str) -> float:  # processor + PostgreSQL CPU per event
        return statistics.median(
            r["processor_cpu_us_per_event"] + r["postgres_cpu_us_per_event"] for r in runs if r["log"] == log
        )

    off, on = median("off"), median("on")
    cpu_off, cpu_on = cpu("off"), cpu("on")
    shares = [r["tlog_share_pct"] for r in runs if r.get("tlog_share_pct") is not None]
    cpu_shares = [r["tlog_cpu_share_pct"] for r in runs if r.get("tlog_cpu_share_pct") is not None]
    proofs = next(r["proofs"] for r in runs if "proofs" in r)
    return {
        "drain_off_events_per_s": None if off is None else round(off),
        "drain_on_events_per_s": None if on is None else round(on),
        "runs": [{k: v for k, v in r.items() if k != "proofs"} for r in runs],
        "cost_pct": round(100 * (off - on) / off, 1) if off and on else None,
        "cpu_cost_pct": round(100 * (cpu_on - cpu_off) / cpu_off, 1) if cpu_off else None,
        "tlog_share_pct": statistics.median(shares) if shares else None,
        "tlog_cpu_share_pct": statistics.median(cpu_shares) if cpu_shares else None,
        "proofs": proofs,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--kafka", default=os.environ.get("ARGUS_KAFKA_BOOTSTRAP", "127.0.0.1:19092"))
    parser.add_argument("--database-url", default=os.environ.get("ARGUS_DATABASE_URL"))
    args = parser.parse_args()
    print(json.dumps(run(args.kafka, args.database_url, args.quick), indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
