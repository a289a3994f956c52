"""The single benchmark entry: the machine's baselines, then the pipeline end to end, in one run.

    python -m bench.run_all [--quick] [--scale X] [--out FILE] [--profile-dir DIR]

Prints one JSON document on stdout and a short table on stderr. Why one run: the machine is
shared and noisy, so the pipeline's figures are only compared with raw COPY and raw Kafka rates
measured minutes apart on the same machine (docs/benchmarks.md explains every figure).
`--quick` (a few thousand events per phase, < 1 min) is the CI smoke run; the full run takes
~5-10 min. Needs PostgreSQL and Kafka: ARGUS_DATABASE_URL and ARGUS_KAFKA_BOOTSTRAP
(`source .local/env.sh`), or --database-url / --kafka.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import platform
import sys
import time
from pathlib import Path
from typing import Any

from bench import baselines, bench_transparency, e2e, sinks

DOC_KEYS = ("mode", "machine", "baselines", "e2e", "transparency", "ratios", "bulk_load", "goals", "wall_s")
#: Issue 16's goals, each a ratio to a baseline of the same run (plus the earlier latency goals).
GOAL_KEYS = (
    "committed_vs_copy_40pct", "drain_vs_copy_60pct", "gateway_acks_2x_commits", "flat_cost_10pct",
    "mix_vs_copy_40pct", "rss_500mb_1m_actors", "ack_p99_50ms_at_5k", "commit_p99_2s_at_5k",
)  # fmt: skip


def _goal(one: float | None, two: float | None, target: float, higher_is_better: bool) -> dict[str, Any]:
    """A goal judged on the better of one and two processor replicas (`by`); both are reported."""
    better_two = two is not None and (one is None or (two > one if higher_is_better else two < one))
    best = two if better_two else one
    met = best is not None and (best >= target if higher_is_better else best <= target)
    by = "2 processors" if better_two else "1 processor"
    return {"target": target, "measured": best, "met": met, "by": by, "one_processor": one, "two_processors": two}


def _single(measured: float | None, target: float, higher_is_better: bool, by: str, **extra: Any) -> dict[str, Any]:
    """A goal judged on one figure (`by` says which)."""
    met = measured is not None and (measured >= target if higher_is_better else measured <= target)
    return {"target": target, "measured": measured, "met": met, "by": by, **extra}


def _committed(phases: dict[str, Any], name: str) -> float | None:
    return phases.get(name, {}).get("committed_events_per_s")


def _ratio(numerator: float | None, denominator: float | None) -> float | None:
    return round(numerator / denominator, 3) if numerator and denominator else None


def summarize(copy: dict[str, Any], kafka: dict[str, Any], result: dict[str, Any]) -> dict[str, Any]:
    """Ratios to the baselines and issue 16's goals: each throughput goal is a ratio to the same
    run's raw COPY (one processor, as the issue states it); latency at 5k/s offered on the better of
    one and two replicas; memory is the processor's peak RSS while 1,000,000 new actors stream in."""
    phases = result["phases"]
    saturation, at_5k, at_5k_2p = phases["saturation"], phases["rate_5k"], phases.get("rate_5k_2p", {})
    committed = saturation["committed_events_per_s"]
    scaled = phases.get("saturation_2p", {}).get("committed_events_per_s")
    ratios = {
        "committed_vs_raw_copy": _ratio(committed, copy["rows_per_s"]),
        "committed_vs_raw_kafka": _ratio(committed, kafka["produce_consume_msgs_per_s"]),
        "committed_2p_vs_raw_copy": _ratio(scaled, copy["rows_per_s"]),
        "committed_2p_vs_raw_kafka": _ratio(scaled, kafka["produce_consume_msgs_per_s"]),
        "acked_vs_raw_kafka_produce": _ratio(saturation["acked_events_per_s"], kafka["produce_msgs_per_s"]),
        "processor_drain_vs_raw_copy": _ratio(result["drain"]["events_per_s"], copy["rows_per_s"]),
        "acked_vs_committed": _ratio(saturation["acked_events_per_s"], committed),
        "mix_committed_vs_raw_copy": _ratio(_committed(phases, "saturation_mix"), copy["rows_per_s"]),
        "preloaded_vs_empty_committed": _ratio(_committed(phases, "saturation_flat"), committed),
    }
    bulk = {
        "events": saturation["events_accepted"],
        "committed_events_per_s": committed,
        "is_100k_figure": saturation["events_accepted"] >= 100_000,
    }
    memory, rows = result["memory"], result["preload"]["rows"]
    goals = {
        "committed_vs_copy_40pct": _single(ratios["committed_vs_raw_copy"], 0.4, True, "1 processor, saturation"),
        "drain_vs_copy_60pct": _single(ratios["processor_drain_vs_raw_copy"], 0.6, True, "1 processor, drain"),
        "gateway_acks_2x_commits": _single(ratios["acked_vs_committed"], 2.0, True, "saturation, acked / committed"),
        "flat_cost_10pct": _single(
            ratios["preloaded_vs_empty_committed"],
            0.9,
            True,
            f"saturation after a {rows:,}-row preload / before",
            table_rows_preloaded=rows,
            real_run=rows >= 10_000_000,
        ),
        "mix_vs_copy_40pct": _single(
            ratios["mix_committed_vs_raw_copy"], 0.4, True, "1 processor, skewed actors, 50 B-4 KB metadata"
        ),
        "rss_500mb_1m_actors": _single(
            memory["rss_peak_mb"],
            500,
            False,
            f"processor peak RSS while {memory['actors']:,} new actors stream in",
            measured_1m=memory["measured_1m"],
        ),
        "ack_p99_50ms_at_5k": _goal(at_5k["ack_p99_ms"], at_5k_2p.get("ack_p99_ms"), 50, False),
        "commit_p99_2s_at_5k": _goal(
            at_5k["ingest_to_commit_p99_ms"], at_5k_2p.get("ingest_to_commit_p99_ms"), 2000, False
        ),
    }
    # Fewer actors than 1,000,000 (--quick, --memory-actors) is not the goal's measurement.
    goals["rss_500mb_1m_actors"]["met"] = goals["rss_500mb_1m_actors"]["met"] and memory["measured_1m"]
    return {"ratios": ratios, "bulk_load": bulk, "goals": goals}


def table(doc: dict[str, Any]) -> str:
    """A short human summary of the document."""
    lines = [f"{'phase':<14}{'offered/s':>10}{'acked/s':>9}{'commit/s':>9}{'ack p50/p99 ms':>17}{'i2c p50/p99 ms':>18}"]
    for name, p in doc["e2e"]["phases"].items():
        offered = p["offered_events_per_s"] or "max"
        lines.append(
            f"{name:<14}{offered:>10}{p['acked_events_per_s'] or 0:>9}{p['committed_events_per_s'] or 0:>9}"
            f"{p['ack_p50_ms'] or '-':>9}/{p['ack_p99_ms'] or '-':<7}{p['ingest_to_commit_p50_ms'] or '-':>10}/"
            f"{p['ingest_to_commit_p99_ms']}"
        )
    copy, kafka, memory, goals = doc["baselines"]["copy"], doc["baselines"]["kafka"], doc["e2e"]["memory"], doc["goals"]
    drain = doc["e2e"]["drain"]
    lines += [
        f"processor alone: drained {drain['committed']} events at {drain['events_per_s']}/s "
        f"({drain['processor_cores']} cores, {drain['processor_cpu_us_per_event']} us/event)",
        f"raw COPY {copy['rows_per_s']} rows/s; raw Kafka produce+consume {kafka['produce_consume_msgs_per_s']} msgs/s "
        f"(produce {kafka['produce_msgs_per_s']})",
        "ratios: " + ", ".join(f"{k} {v}" for k, v in doc["ratios"].items()),
        f"memory: {memory['actors']} actors, cache {memory['chain_cache_size']}: processor RSS "
        f"{memory['rss_before_mb']} -> {memory['rss_after_mb']} MB, peak {memory['rss_peak_mb']} MB",
        f"preload: {doc['e2e']['preload']}",
        f"peak RSS MB: {doc['e2e']['peak_rss_mb']}",
    ]
    log, proofs = doc["transparency"], doc["transparency"]["proofs"]
    lines += [
        f"transparency log: processor drain {log['drain_off_events_per_s']}/s off, {log['drain_on_events_per_s']}/s "
        f"on (cost {log['cost_pct']}%); inclusion proofs {proofs['inclusion_generate_per_s']}/s generated, "
        f"{proofs['inclusion_verify_per_s']}/s verified; consistency {proofs['consistency_generate_per_s']}/s / "
        f"{proofs['consistency_verify_per_s']}/s",
    ]
    lines += [f"goal {k}: {'MET' if g['met'] else 'missed'} ({g['measured']}, {g['by']})" for k, g in goals.items()]
    sink = doc.get("sinks", {})
    if "slowdown_pct" in sink:
        lines.append(f"sinks: committed {sink['off_committed_events_per_s']}/s without S3+syslog, "
                     f"{sink['on_committed_events_per_s']}/s with them ({sink['slowdown_pct']}% slower); "
                     f"sinks caught up {sink['sinks_caught_up_s_median']} s after the last commit")  # fmt: skip
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="a few thousand events per phase (the CI smoke run)")
    parser.add_argument("--scale", type=float, default=1.0, help="multiply --quick's event counts")
    parser.add_argument("--kafka", default=os.environ.get("ARGUS_KAFKA_BOOTSTRAP", "127.0.0.1:19092"))
    parser.add_argument("--database-url", default=os.environ.get("ARGUS_DATABASE_URL"), help="PostgreSQL URL")
    parser.add_argument("--out", type=Path, help="also write the JSON document here")
    parser.add_argument("--preload-rows", type=int, help="rows COPYed before the flat-cost phase (full: 10,000,000)")
    parser.add_argument("--memory-actors", type=int, help="new actors in the memory phase (full: 1,000,000)")
    parser.add_argument("--chain-cache", type=int, help="ARGUS_CHAIN_CACHE_SIZE (full: 200,000, the default)")
    parser.add_argument("--profile-dir", type=Path, help="py-spy the gateway and processor during saturation")
    args = parser.parse_args(argv)
    if not args.database_url or not args.database_url.startswith("postgresql"):
        parser.error("a PostgreSQL --database-url (or ARGUS_DATABASE_URL) is required")
    started, load_before = time.monotonic(), os.getloadavg()
    rows = max(2000, int(10_000 * args.scale)) if args.quick else 100_000
    repeats = 1 if args.quick else 3
    copy = baselines.bench_copy(args.database_url, rows=rows, repeats=repeats)
    kafka = baselines.bench_kafka(args.kafka, messages=rows, repeats=repeats)
    plan = e2e.make_plan(args.quick, args.scale)
    if args.preload_rows is not None:
        plan = dataclasses.replace(plan, preload_rows=args.preload_rows)
    if args.memory_actors is not None:
        plan = dataclasses.replace(plan, memory_actors=args.memory_actors)
    if args.chain_cache is not None:
        plan = dataclasses.replace(plan, chain_cache=args.chain_cache)
    result = e2e.run(args.kafka, args.database_url, plan, args.profile_dir)
    # The S3 and syslog sinks on vs off (bench/sinks.py): full runs only, when their servers are up.
    sink_doc: dict[str, Any] = {"skipped": "--quick"} if args.quick else {"skipped": f"unset: {sinks.missing_env()}"}
    if not args.quick and not sinks.missing_env():
        sink_doc = sinks.run(args.kafka, args.database_url, events=30_000, rounds=2)
    transparency = bench_transparency.run(args.kafka, args.database_url, args.quick, args.scale)
    machine = {
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "loadavg_before": [round(x, 2) for x in load_before],
        "loadavg_after": [round(x, 2) for x in os.getloadavg()],
    }
    doc = {
        "mode": "quick" if args.quick else "full",
        "machine": machine,
        "baselines": {"copy": copy, "kafka": kafka},
        "e2e": result,
        "transparency": transparency,
        **summarize(copy, kafka, result),
        "sinks": sink_doc,
        "wall_s": round(time.monotonic() - started, 1),
    }
    text = json.dumps(doc, indent=2)
    if args.out:
        args.out.write_text(text + "\n")
    print(text)
    print(table(doc), file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
