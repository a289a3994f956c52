"""End to end: a real gateway and processor (subprocesses) on fresh topics and a fresh schema, under load.

Why subprocesses: the gateway, the processor and this load generator each get their own GIL, as
in production, and their RSS and CPU can be read from /proc. Each phase posts through its own
bearer token, so `audit_records.source` tells the phases apart in the database and every figure
is counted there: committed events/s from the first ack to the last commit, and ingest-to-commit
latency per record (receivedAt -> stored_at). stored_at is PostgreSQL's now(), the start of the
batch's transaction, so it runs early by one COPY (~tens of ms). Run it with `python -m bench.run_all`.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from confluent_kafka import ConsumerGroupState
from confluent_kafka.admin import AdminClient
from sqlalchemy import Engine, text

from argus.db.engine import make_engine
from argus.db.private_schema import private_schema
from argus.runtime.settings import load_settings
from argus.trust.receipt_keys import ReceiptSigner
from argus_spec.note import Signer
from bench import cpu_s, cpu_used, free_port, listener_of, loadgen, pids_of, preload, py_spy, status_mb
from bench.baselines import delete_topics

#: Keys of every phase result and of the document, for the smoke test (values may be None).
PHASE_KEYS = (
    "offered_events_per_s", "events_sent", "events_accepted", "errors", "acked_events_per_s", "ack_p50_ms",
    "ack_p99_ms", "ack_max_ms", "max_send_lag_ms", "committed", "complete", "committed_events_per_s",
    "ingest_to_commit_p50_ms", "ingest_to_commit_p99_ms", "gateway_share_within_50ms", "drain_s", "wall_s",
    "cpu_cores", "cpu_us_per_event",
)  # fmt: skip
MEMORY_KEYS = (
    "actors", "measured_1m", "chain_cache_size", "committed", "complete", "committed_events_per_s", "rss_before_mb",
    "rss_after_mb", "rss_peak_mb", "heads_cached", "bytes_per_head", "cache_full", "rss_1m_actors_est_mb",
    "rss_1m_unbounded_est_mb",
)  # fmt: skip
DRAIN_KEYS = (
    "events", "committed", "complete", "events_per_s", "processor_cores", "processor_cpu_us_per_event",
    "postgres_cpu_us_per_event",
)  # fmt: skip
RESULT_KEYS = ("config", "drain", "phases", "memory", "preload", "peak_rss_mb", "wall_s")


@dataclass(frozen=True)
class Phase:
    name: str
    events: int
    rate: float | None  # offered events/s; None = saturation (closed loop)
    batch: int = 250
    connections: int = 32
    mix: bool = False  # the realistic mix (loadgen.make_mix_events) instead of round-robin actors


@dataclass(frozen=True)
class Plan:
    phases: tuple[Phase, ...]
    memory_actors: int
    chain_cache: int
    actors: int = 2000
    signed_share: float = 0.3
    drain_timeout: float = 180.0
    scale_out: tuple[Phase, ...] = ()  # run last, after a second processor replica joined the group
    drain_events: int = 60_000  # pre-produced backlog the processor drains alone, first
    preload_rows: int = 0  # COPY this many filler rows, then run `flat` (bench/preload.py)
    flat: Phase | None = None  # `saturation` again on the preloaded table (flat cost)


def make_plan(quick: bool, scale: float = 1.0) -> Plan:
    """--quick: a few thousand events per phase (< 1 min in all); full: 20-30 s per rate, 100k saturating."""
    full = (20_000, 150_000, 100_000, 1_000_000)
    n = [max(500, int(count * scale)) for count in (2500, 10_000, 10_000, 8000)] if quick else full
    one = (
        Phase("rate_1k", n[0], 1000), Phase("rate_5k", n[1], 5000), Phase("saturation", n[2], None),
        Phase("saturation_mix", n[2], None, mix=True),
    )  # fmt: skip
    two = (Phase("rate_5k_2p", n[1], 5000), Phase("saturation_2p", n[2], None))
    drain = max(2000, int(3000 * scale)) if quick else 60_000
    preload = max(20_000, int(50_000 * scale)) if quick else 10_000_000
    return Plan(one, n[3], 5000 if quick else 200_000, drain_timeout=60 if quick else 180, scale_out=two,
                drain_events=drain, preload_rows=preload, flat=Phase("saturation_flat", n[2], None))  # fmt: skip


class Stack:
    """Gateway + processor subprocesses on their own topics, consumer group and schema."""

    def __init__(self, kafka: str, db_url: str, plan: Plan, workdir: Path) -> None:
        self.kafka, self.db_url, self.plan, self.dir = kafka, db_url, plan, workdir
        self.name = uuid.uuid4().hex[:10]
        self.topics = [f"bench.{self.name}.{kind}" for kind in ("events", "dlq", "committed")]
        self.port = free_port()
        flat = (plan.flat,) if plan.flat is not None else ()
        self.sources = ["warmup", *(phase.name for phase in (*plan.phases, *flat, *plan.scale_out))]
        (workdir / "keys.yaml").write_text(loadgen.keys_yaml())
        # Checkpoints on, as in a deployment (docs/transparency.md); bench_transparency measures their cost.
        (workdir / "log.key").write_text(Signer.generate("bench.argus").encode() + "\n")
        # The gateway attests source and receivedAt (docs/receipts.md); events the bench produces
        # straight to Kafka carry the same key's attestation, as the gateway's would.
        receipt_key = Signer.generate("argus-gateway")
        (workdir / "receipt.key").write_text(receipt_key.encode() + "\n")
        self.receipts = ReceiptSigner(receipt_key)
        env = {k: v for k, v in os.environ.items() if not k.startswith("ARGUS_")}
        env.update({
            "ARGUS_KAFKA_BOOTSTRAP": kafka, "ARGUS_DATABASE_URL": db_url, "ARGUS_TOPIC": self.topics[0],
            "ARGUS_DLQ_TOPIC": self.topics[1], "ARGUS_COMMITTED_TOPIC": self.topics[2],
            "ARGUS_CONSUMER_GROUP": f"bench.{self.name}", "ARGUS_KEYS_CONFIG": str(workdir / "keys.yaml"),
            "ARGUS_AUTH_TOKENS": ",".join(f"{s}=token-{s}" for s in self.sources),
            "ARGUS_CHAIN_CACHE_SIZE": str(plan.chain_cache), "ARGUS_HOST": "127.0.0.1", "ARGUS_PORT": str(self.port),
            "ARGUS_PROCESSOR_METRICS_PORT": str(free_port()), "ARGUS_LOG_KEY": str(workdir / "log.key"),
            "ARGUS_RECEIPT_KEY": str(workdir / "receipt.key"),
        })  # fmt: skip
        self.env = env
        self.settings = load_settings(env)
        self.engine: Engine = make_engine(db_url)
        self.procs: dict[str, subprocess.Popen[bytes]] = {}
        self.url = f"http://127.0.0.1:{self.port}/api/audit-logs/bulk"
        self.metrics_url = f"http://127.0.0.1:{self.port}/metrics"

    def _spawn(self, role: str, name: str = "", **env: str) -> None:
        log = open(self.dir / f"{name or role}.log", "wb")  # noqa: SIM115 - closed with the process
        command = [sys.executable, "-m", "argus_commands", "--log-level", "WARNING", role]
        self.procs[name or role] = subprocess.Popen(
            command, env={**self.env, **env}, cwd=self.dir, stdout=log, stderr=subprocess.STDOUT
        )

    def scale_out(self, timeout: float = 90) -> None:
        """Start a second processor replica and wait until the group is stable with both holding partitions."""
        self._spawn("processor", "processor2", ARGUS_PROCESSOR_METRICS_PORT=str(free_port()))
        admin, group = AdminClient({"bootstrap.servers": self.kafka}), self.env["ARGUS_CONSUMER_GROUP"]
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = admin.describe_consumer_groups([group], request_timeout=10)[group].result()
            owners = [m for m in found.members if m.assignment and m.assignment.topic_partitions]
            if found.state == ConsumerGroupState.STABLE and len(owners) == 2:
                return
            time.sleep(0.5)
        raise RuntimeError(f"the second processor did not join the group:\n{self.logs()}")

    def logs(self) -> str:
        return "\n".join(f"--- {p.name}\n{p.read_text(errors='replace')[-3000:]}" for p in self.dir.glob("*.log"))

    def start(self, processor: bool = True) -> None:
        self._spawn("gateway")
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/ready", timeout=5) as response:
                    if response.status == 200:
                        break
            except OSError:
                if time.monotonic() > deadline or self.procs["gateway"].poll() is not None:
                    raise RuntimeError(f"gateway did not become ready:\n{self.logs()}") from None
                time.sleep(0.2)
        if processor:
            self.start_processor()

    def start_processor(self, **env: str) -> None:
        """The processor, with `env` on top of the stack's settings (e.g. ARGUS_SINKS_CONFIG)."""
        self._spawn("processor", **env)

    def stop(self) -> None:
        for proc in self.procs.values():
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in self.procs.values():
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        self.engine.dispose()
        delete_topics(self.kafka, self.topics)

    def committed_total(self) -> int:
        """Records committed so far, from the small progress table (cheap to poll)."""
        with self.engine.connect() as connection:
            total = connection.execute(text("SELECT coalesce(sum(record_count), 0) FROM partition_commits"))
            return int(total.scalar_one())

    def wait_committed(self, target: int, timeout: float, on_poll: Any = None) -> bool:
        """Poll until `target` records are committed; False on timeout, raises if a service died."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if on_poll is not None:
                on_poll()
            if self.committed_total() >= target:
                return True
            if any(proc.poll() is not None for proc in self.procs.values()):
                raise RuntimeError(f"a service exited during the run:\n{self.logs()}")
            time.sleep(0.1)
        return False

    def source_stats(self, source: str) -> dict[str, Any]:
        sql = text(
            "SELECT count(*), extract(epoch FROM max(stored_at)), percentile_cont(ARRAY[0.5, 0.99]) WITHIN GROUP "
            "(ORDER BY extract(epoch FROM stored_at - received_at::timestamptz)) FROM audit_records WHERE source = :s"
        )
        with self.engine.connect() as connection:
            count, last, latency = connection.execute(sql, {"s": source}).one()
        p50, p99 = latency or (None, None)
        return {"count": int(count), "last_commit": float(last or 0), "p50": p50, "p99": p99}

    def cpu(self) -> dict[str, dict[int, float]]:
        """CPU seconds so far per component and process (PostgreSQL: every backend; Kafka: our broker)."""
        own = os.times()
        return {
            "gateway": cpu_s([self.procs["gateway"].pid]),
            "processor": cpu_s([proc.pid for name, proc in self.procs.items() if name.startswith("processor")]),
            "postgres": cpu_s(pids_of("bin/postgres", "postgres: ")),
            "kafka": cpu_s(listener_of(int(self.kafka.rpartition(":")[2]), pids_of("kafka.Kafka"))),
            "loadgen": {os.getpid(): own.user + own.system},
        }


def _ms(seconds: float | None) -> float | None:
    return None if seconds is None else round(float(seconds) * 1000, 1)


def run_phase(stack: Stack, phase: Phase, profile_dir: Path | None = None) -> dict[str, Any]:
    """Offer one phase's load, wait for its records to commit, and read every figure from the database."""
    if phase.mix:
        events = loadgen.make_mix_events(phase.events, signed_share=stack.plan.signed_share)
    else:
        events = loadgen.make_events(phase.events, actors=stack.plan.actors, signed_share=stack.plan.signed_share)
    bodies = loadgen.make_bodies(events, phase.batch)
    target = stack.committed_total() + len(events)
    profile = profile_dir if phase.rate is None else None  # profile the saturating phase only
    spies = py_spy({role: proc.pid for role, proc in stack.procs.items()}, profile) if profile else []
    cpu_before, started, server_before = stack.cpu(), time.monotonic(), loadgen.server_latency(stack.metrics_url)
    limit = phase.events / phase.rate + 10 if phase.rate else stack.plan.drain_timeout
    token = f"token-{phase.name}"
    load = asyncio.run(
        loadgen.run_load(stack.url, token, bodies, rate=phase.rate, connections=phase.connections, max_seconds=limit)
    )
    target -= load.events_sent - load.events_accepted
    complete = stack.wait_committed(target, stack.plan.drain_timeout)
    wall = time.monotonic() - started
    cpu = {k: cpu_used(cpu_before[k], now) for k, now in stack.cpu().items()}
    server = {le: n - server_before.get(le, 0) for le, n in loadgen.server_latency(stack.metrics_url).items()}
    for spy in spies:
        spy.send_signal(signal.SIGINT)
        spy.wait(timeout=30)
    stats = stack.source_stats(phase.name)
    span = stats["last_commit"] - load.first_ack
    return {
        **load.summary(),
        "committed": stats["count"],
        "complete": complete and stats["count"] == load.events_accepted,
        "committed_events_per_s": round(stats["count"] / span) if span > 0 else None,
        "ingest_to_commit_p50_ms": _ms(stats["p50"]),
        "ingest_to_commit_p99_ms": _ms(stats["p99"]),
        "gateway_share_within_50ms": round(server["0.05"] / server["+Inf"], 4) if server.get("+Inf") else None,
        "drain_s": round(stats["last_commit"] - load.last_ack, 2) if load.last_ack else None,
        "wall_s": round(wall, 2),
        "cpu_cores": {k: round(used / wall, 2) for k, used in cpu.items()},
        "cpu_us_per_event": {k: round(used * 1e6 / max(1, stats["count"])) for k, used in cpu.items()},
    }


def drain_phase(stack: Stack) -> dict[str, Any]:
    """The processor alone: a backlog of `plan.drain_events` (same mix as the load: 30% signed, 2,000
    actors) is produced straight to Kafka, then the processor starts and drains it. Measured from
    the first poll that sees a commit to the last commit, over the events committed in between,
    so neither start-up nor the batches already in its pipeline then are counted. No gateway or
    load generator competes."""
    plan = stack.plan
    events = loadgen.make_events(plan.drain_events, actors=plan.actors, signed_share=plan.signed_share)
    loadgen.produce_events(stack.kafka, stack.topics[0], events, source="drain", receipts=stack.receipts)
    stack.start_processor()
    if not stack.wait_committed(1, 120):
        raise RuntimeError(f"the processor did not start committing:\n{stack.logs()}")
    cpu_before, started, already, observed = stack.cpu(), time.monotonic(), stack.committed_total(), time.time()
    complete = stack.wait_committed(plan.drain_events, plan.drain_timeout)
    wall = time.monotonic() - started
    cpu = {k: cpu_used(cpu_before[k], now) for k, now in stack.cpu().items()}
    stats = stack.source_stats("drain")
    span, counted = stats["last_commit"] - observed, max(1, stats["count"] - already)
    return {
        "events": plan.drain_events,
        "committed": stats["count"],
        "complete": complete and stats["count"] == plan.drain_events,
        "events_per_s": round(counted / span) if span > 0 else None,
        "processor_cores": round(cpu["processor"] / wall, 2),
        "processor_cpu_us_per_event": round(cpu["processor"] * 1e6 / counted, 1),
        "postgres_cpu_us_per_event": round(cpu["postgres"] * 1e6 / counted, 1),
    }


def memory_phase(stack: Stack) -> dict[str, Any]:
    """Stream one event for each of many new actors (straight to Kafka) and watch the processor's RSS:
    the chain-head cache must cap it at ARGUS_CHAIN_CACHE_SIZE heads however many actors there are."""
    plan, pid = stack.plan, stack.procs["processor"].pid
    prior = stack.committed_total()  # every earlier actor is cached (2000 + warm-up, well under the cap)
    prior_heads = min(plan.chain_cache, plan.actors)
    before, samples, started = status_mb(pid, "VmRSS"), [0.0], time.time()
    loadgen.produce_direct(stack.kafka, stack.topics[0], plan.memory_actors, source="memory", receipts=stack.receipts)
    sample = lambda: samples.append(status_mb(pid, "VmRSS"))  # noqa: E731 - every poll (<= 10/s)
    timeout = max(plan.drain_timeout, plan.memory_actors / 1000)  # 1,000,000 actors: up to 1,000 events/s
    complete = stack.wait_committed(prior + plan.memory_actors, timeout, sample)
    stats = stack.source_stats("memory")
    after = status_mb(pid, "VmRSS")
    heads = min(plan.chain_cache, prior_heads + stats["count"])
    per_head = max(0.0, (after - before) * 1024 * 1024 / max(1, heads - prior_heads))
    cap = min(plan.chain_cache, 1_000_000)
    return {
        "actors": plan.memory_actors,
        "measured_1m": complete and plan.memory_actors >= 1_000_000,
        "chain_cache_size": plan.chain_cache,
        "committed": stats["count"],
        "complete": complete,
        "committed_events_per_s": round(stats["count"] / (stats["last_commit"] - started)) if complete else None,
        "rss_before_mb": before,
        "rss_after_mb": after,
        "rss_peak_mb": max(*samples, after),
        "heads_cached": heads,
        "bytes_per_head": round(per_head),
        "cache_full": heads >= plan.chain_cache,
        "rss_1m_actors_est_mb": round(after + per_head * max(0, cap - heads) / 2**20, 1),
        "rss_1m_unbounded_est_mb": round(after + per_head * (1_000_000 - heads) / 2**20, 1),
    }


def run(kafka: str, database_url: str, plan: Plan, profile_dir: Path | None = None) -> dict[str, Any]:
    """The whole end-to-end bench; returns the JSON-ready result (RESULT_KEYS)."""
    started = time.monotonic()
    with (
        private_schema(database_url, "bench_e2e") as (_, db_url),
        tempfile.TemporaryDirectory(prefix="argus-bench-") as tmp,
    ):
        stack = Stack(kafka, db_url, plan, Path(tmp))
        try:
            stack.start(processor=False)
            drain = drain_phase(stack)
            warm = loadgen.make_bodies(loadgen.make_events(500, actors=plan.actors, signed_share=0.3), 250)
            asyncio.run(loadgen.run_load(stack.url, "token-warmup", warm, rate=None, connections=2, max_seconds=60))
            if not stack.wait_committed(plan.drain_events + 500, 120):
                raise RuntimeError(f"the processor did not commit the warm-up batch:\n{stack.logs()}")
            phases = {phase.name: run_phase(stack, phase, profile_dir) for phase in plan.phases}
            memory = memory_phase(stack)
            preloaded: dict[str, Any] = {"rows": 0}
            if plan.preload_rows and plan.flat is not None:
                preloaded = preload.preload(db_url, plan.preload_rows, slab=max(10_000, plan.preload_rows // 10))
                phases[plan.flat.name] = run_phase(stack, plan.flat)
            if plan.scale_out:
                stack.scale_out()
                phases |= {phase.name: run_phase(stack, phase) for phase in plan.scale_out}
            peak = {role: status_mb(proc.pid, "VmHWM") for role, proc in stack.procs.items()}
        finally:
            stack.stop()
    settings, wall = stack.settings, round(time.monotonic() - started, 1)
    config = {"plan": asdict(plan), "batch_size": settings.batch_size, "batch_within_s": settings.batch_within}
    config |= {"topic_partitions": settings.topic_partitions, "chain_cache_size": settings.chain_cache_size}
    return {
        "config": config, "drain": drain, "phases": phases, "memory": memory, "preload": preloaded,
        "peak_rss_mb": peak, "wall_s": wall,
    }  # fmt: skip
