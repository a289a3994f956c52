"""Benchmark the client SDK: the caller's cost of `log_audit_event`, and events/s to a live gateway.

    .venv/bin/python bench/bench_client.py                      # starts its own gateway (needs Kafka)
    .venv/bin/python bench/bench_client.py --url http://127.0.0.1:3001 --token TOKEN

Prints one JSON object. "paused": the senders are not started (pure caller-thread cost), then they
are started and drain the backlog. "live": the senders run while the caller logs, as in production.
The gateway runs as a subprocess so its work does not compete for this process's GIL.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from contextlib import suppress
from pathlib import Path
from typing import Any

from argus_client.client import AuditClient

ROOT = Path(__file__).resolve().parent.parent


def make_event(index: int) -> dict[str, Any]:
    """A realistic event: ~10 fields and a small metadata object."""
    return {
        "timestamp": f"2026-03-04T05:06:{index % 60:02d}.{index % 1_000_000:06d}Z",
        "status": "SUCCESS" if index % 7 else "FAILURE",
        "action": ("CREATE", "READ", "UPDATE", "DELETE")[index % 4],
        "actorType": "SERVICE",
        "actorId": f"svc-{index % 16}",
        "targetType": "RESOURCE",
        "targetId": f"doc-{index}",
        "eventType": "DATA_FETCH",
        "metadata": {"index": index, "path": f"/api/v1/docs/{index}", "tags": ["a", "b"]},
    }


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_gateway(kafka: str, topic: str, token: str) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("ARGUS_")}
    env.update({"ARGUS_KAFKA_BOOTSTRAP": kafka, "ARGUS_TOPIC": topic, "ARGUS_AUTH_TOKEN": token})
    process = subprocess.Popen(
        [sys.executable, "-m", "argus_commands", "gateway", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        with suppress(OSError), urllib.request.urlopen(f"{url}/ready", timeout=2) as response:
            if response.status == 200:
                return process, url
        if process.poll() is not None:
            raise SystemExit(f"the gateway exited with {process.returncode}; is Kafka at {kafka}?")
        time.sleep(0.2)
    process.kill()
    raise SystemExit(f"the gateway did not become ready within 60 s (Kafka at {kafka}?)")


def percentiles(samples_ns: list[int]) -> dict[str, float]:
    ordered = sorted(samples_ns)
    pick = lambda q: round(ordered[min(len(ordered) - 1, int(len(ordered) * q))] / 1000, 2)  # noqa: E731
    return {
        "median_us": pick(0.5),
        "p99_us": pick(0.99),
        "p999_us": pick(0.999),
        "mean_us": round(sum(ordered) / len(ordered) / 1000, 2),
    }


def timed_calls(client: AuditClient, events: list[dict[str, Any]]) -> list[int]:
    log, clock, samples = client.log_audit_event, time.perf_counter_ns, []
    for event in events:
        started = clock()
        log(event)
        samples.append(clock() - started)
    return samples


def wait_sent(client: AuditClient, expected: int, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while client.stats()["sent"] < expected and time.monotonic() < deadline:
        time.sleep(0.01)


def run(url: str, token: str, calls: int, options: dict[str, Any]) -> dict[str, Any]:
    events = [make_event(i) for i in range(calls)]
    # warm up (imports, connections, branch caches) with a few events
    with AuditClient(url, api_key=token, **options) as warm:
        timed_calls(warm, events[:2000])

    paused = AuditClient(url, api_key=token, autostart=False, queue_size=calls + 1, **options)
    paused_cost = percentiles(timed_calls(paused, events))
    started = time.perf_counter()
    paused.start()
    wait_sent(paused, calls, timeout=300)
    drain_seconds = time.perf_counter() - started
    paused.close(30)
    drained = paused.stats()

    live = AuditClient(url, api_key=token, queue_size=calls + 1, **options)
    started = time.perf_counter()
    live_cost = percentiles(timed_calls(live, events))
    wait_sent(live, calls, timeout=300)
    live_seconds = time.perf_counter() - started
    live.close(30)
    return {
        "calls": calls,
        "options": options,
        "caller_cost_paused": paused_cost,
        "caller_cost_live": live_cost,
        "drain_backlog_events_per_s": round(drained["sent"] / drain_seconds),
        "live_events_per_s": round(live.stats()["sent"] / live_seconds),
        "stats_paused": drained,
        "stats_live": live.stats(),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", help="a running gateway (default: start one)")
    parser.add_argument("--token", default="bench-token")
    parser.add_argument("--kafka", default=os.environ.get("ARGUS_TEST_KAFKA_BOOTSTRAP", "127.0.0.1:19092"))
    parser.add_argument("--calls", type=int, default=100_000)
    parser.add_argument("--batch-size", type=int, default=20)
    parser.add_argument("--workers", type=int, default=5)
    args = parser.parse_args()
    gateway, topic = None, f"bench.client.{uuid.uuid4().hex[:8]}"
    url = args.url
    if url is None:
        gateway, url = start_gateway(args.kafka, topic, args.token)
    try:
        options = {"batch_size": args.batch_size, "workers": args.workers}
        print(json.dumps(run(url, args.token, args.calls, options), indent=2))
    finally:
        if gateway is not None:
            gateway.terminate()
            gateway.wait(30)
            with suppress(Exception):
                from confluent_kafka.admin import AdminClient

                AdminClient({"bootstrap.servers": args.kafka}).delete_topics([topic])[topic].result(10)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
