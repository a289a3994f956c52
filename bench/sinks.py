"""Do the S3 and syslog sinks slow commits? The processor drains the same pre-produced backlog with
only the committed topic as its sink ("off"), then with the S3 (Object Lock) and syslog (TCP and
TLS) sinks added ("on"), alternating, in one run on the same machine.

    python -m bench.sinks [--events N] [--rounds R]

Committed events/s is measured as in the e2e drain phase (from the first observed commit to the
last, over the events committed in between). `sinks_caught_up_s` is how long after the last
commit every sink's stored progress reached the newest commit. Needs the local S3 server and
rsyslog (`deploy/local/services.sh start`, `. .local/env.sh`: ARGUS_TEST_S3_ENDPOINT and
ARGUS_TEST_SYSLOG_*). Run by `bench.run_all` (so `make bench`) when they are set.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from sqlalchemy import text

from argus.db.private_schema import private_schema
from bench import cpu_s, e2e, loadgen

ENV_NEEDED = ("ARGUS_TEST_S3_ENDPOINT", "ARGUS_TEST_SYSLOG_TCP", "ARGUS_TEST_SYSLOG_TLS", "ARGUS_TEST_SYSLOG_CA")
CREDENTIALS = {"AWS_ACCESS_KEY_ID": "argus-bench", "AWS_SECRET_ACCESS_KEY": "argus-bench"}
SINK_NAMES = ("archive", "siem-tcp", "siem-tls")


def missing_env() -> list[str]:
    return [name for name in ENV_NEEDED if not os.environ.get(name)]


def _sinks_yaml(name: str) -> str:
    """The "on" configuration: the committed topic plus a fresh Object Lock bucket and both syslogs."""
    import boto3

    endpoint, bucket = os.environ["ARGUS_TEST_S3_ENDPOINT"], f"argus-bench-{name}"
    client = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id="argus-bench",
                          aws_secret_access_key="argus-bench")  # fmt: skip
    client.create_bucket(Bucket=bucket, ObjectLockEnabledForBucket=True)
    urls = {
        "archive": f"s3://{bucket}/trail?endpoint={endpoint}&region=us-east-1&retention_days=1&interval=1",
        "siem-tcp": f"syslog+tcp://{os.environ['ARGUS_TEST_SYSLOG_TCP']}?app=bench-{name}",
        "siem-tls": f"syslog+tls://{os.environ['ARGUS_TEST_SYSLOG_TLS']}?app=bench-{name}&format=cef"
        f"&ca={os.environ['ARGUS_TEST_SYSLOG_CA']}",
    }
    return "sinks:\n  - name: committed\n    url: kafka://\n" + "".join(
        f'  - name: {sink}\n    url: "{url}"\n' for sink, url in urls.items()
    )


def _caught_up(stack: e2e.Stack) -> bool:
    """Every extra sink's progress is at the newest commit of every partition."""
    sql = text(
        "SELECT count(*) FROM (SELECT kafka_partition, max(commit_seq) AS seq FROM partition_commits "
        "GROUP BY kafka_partition) c CROSS JOIN unnest(CAST(:sinks AS text[])) AS s(sink) LEFT JOIN sink_progress p "
        "ON p.sink = s.sink AND p.kafka_partition = c.kafka_partition WHERE coalesce(p.commit_seq, 0) < c.seq"
    )
    with stack.engine.connect() as connection:
        return int(connection.execute(sql, {"sinks": list(SINK_NAMES)}).scalar_one()) == 0


def measure(kafka: str, database_url: str, events: list[dict[str, Any]], sinks_on: bool) -> dict[str, Any]:
    """One drain of `events` by a fresh processor, with or without the S3 and syslog sinks."""
    plan = e2e.make_plan(quick=True)
    with (
        private_schema(database_url, "bench_sinks") as (_, db_url),
        tempfile.TemporaryDirectory(prefix="argus-bs-") as tmp,
    ):
        stack = e2e.Stack(kafka, db_url, plan, Path(tmp))
        config = Path(tmp) / "sinks.yaml"
        config.write_text(_sinks_yaml(stack.name) if sinks_on else "sinks:\n  - name: committed\n    url: kafka://\n")
        try:
            loadgen.produce_events(kafka, stack.topics[0], events, source="drain", receipts=stack.receipts)
            stack.start_processor(ARGUS_SINKS_CONFIG=str(config), **CREDENTIALS)
            if not stack.wait_committed(1, 120):
                raise RuntimeError(f"the processor did not start committing:\n{stack.logs()}")
            pid = stack.procs["processor"].pid
            cpu_before, started = cpu_s([pid]), time.monotonic()
            already, observed = stack.committed_total(), time.time()
            complete = stack.wait_committed(len(events), 300)
            cpu = sum(cpu_s([pid]).values()) - sum(cpu_before.values())
            wall = time.monotonic() - started
            stats = stack.source_stats("drain")
            span, counted = stats["last_commit"] - observed, max(1, stats["count"] - already)
            caught_up = None
            if sinks_on and complete:
                deadline = time.monotonic() + 300
                while not _caught_up(stack) and time.monotonic() < deadline:
                    time.sleep(0.2)
                caught_up = round(time.time() - stats["last_commit"], 2) if _caught_up(stack) else None
        finally:
            stack.stop()
    return {
        "sinks": "committed topic + S3 + syslog TCP + syslog TLS (CEF)" if sinks_on else "committed topic only",
        "committed": stats["count"],
        "complete": complete and stats["count"] == len(events),
        "committed_events_per_s": round(counted / span) if span > 0 else None,
        "processor_cores": round(cpu / wall, 2),
        "processor_cpu_us_per_event": round(cpu * 1e6 / counted, 1),
        "sinks_caught_up_s": caught_up,
    }


def run(kafka: str, database_url: str, events: int, rounds: int) -> dict[str, Any]:
    """Alternate off/on `rounds` times over the same events; medians and the slowdown."""
    batch = loadgen.make_events(events, actors=2000, signed_share=0.3)
    runs: list[dict[str, Any]] = []
    for _ in range(rounds):
        for sinks_on in (False, True):
            runs.append({"sinks_on": sinks_on, **measure(kafka, database_url, batch, sinks_on)})
    rate = {on: statistics.median(r["committed_events_per_s"] or 0 for r in runs if r["sinks_on"] is on)
            for on in (False, True)}  # fmt: skip
    lag = [r["sinks_caught_up_s"] for r in runs if r["sinks_on"] and r["sinks_caught_up_s"] is not None]
    return {
        "events": events,
        "rounds": rounds,
        "runs": runs,
        "off_committed_events_per_s": rate[False],
        "on_committed_events_per_s": rate[True],
        "slowdown_pct": round(100 * (1 - rate[True] / rate[False]), 1) if rate[False] else None,
        "sinks_caught_up_s_median": statistics.median(lag) if lag else None,
        "off_processor_cpu_us_per_event": statistics.median(
            r["processor_cpu_us_per_event"] for r in runs if not r["sinks_on"]
        ),
        "on_processor_cpu_us_per_event": statistics.median(
            r["processor_cpu_us_per_event"] for r in runs if r["sinks_on"]
        ),
        "complete": all(r["complete"] for r in runs),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=30_000)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--kafka", default=os.environ.get("ARGUS_KAFKA_BOOTSTRAP", "127.0.0.1:19092"))
    parser.add_argument("--database-url", default=os.environ.get("ARGUS_DATABASE_URL"))
    args = parser.parse_args(argv)
    if missing_env():
        parser.error(f"set {', '.join(missing_env())} (deploy/local/services.sh start; . .local/env.sh)")
    print(json.dumps(run(args.kafka, args.database_url, args.events, args.rounds), indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
