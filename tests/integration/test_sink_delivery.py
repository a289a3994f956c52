"""Durable sink delivery, against real Kafka and PostgreSQL: every committed record reaches every
sink at least once, through processor crashes, a failing sink and a slow one (backlog overflow),
without ever holding up commits.

Run as a module (`python -m tests.integration.test_sink_delivery processor`) this file is a
processor with one extra, test-only sink scheme: `testfile:///path?delay=S` appends records as
JSON lines to `path`, sleeps S seconds per send, and fails while `path.down` exists.
"""

from __future__ import annotations

import asyncio
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import orjson
import pytest
from confluent_kafka import Consumer

from argus.db.engine import make_engine
from argus_spec.enums import EnumConfig
from argus_spec.envelope import encode_envelope
from argus_spec.hashchain import RECORD_FIELDS
from argus_spec.uuid7 import uuid7
from bench import free_port
from processor.batch import BatchProcessor
from processor.decode import RawMessage
from sinks.catchup import Chunk, Delivered
from sinks.committed import PartitionCommit
from sinks.outbox import SinkOutbox
from tests.integration.harness import (
    SinkMetrics,
    Stack,
    make_event,
    random_events,
    run_two_replicas_killing_one,
    wait_for,
)

ROOT = Path(__file__).resolve().parents[2]


class FileSink:
    """Test-only sink (see the module docstring)."""

    def __init__(self, name: str, path: str, delay: float) -> None:
        self.name, self.path, self.delay = name, path, delay

    @classmethod
    def from_url(cls, name: str, url: str, _settings: Any, _producer: Any) -> FileSink:
        parts = urlsplit(url)
        return cls(name, parts.path, float(parse_qs(parts.query).get("delay", ["0"])[0]))

    async def send(self, records: list[dict[str, Any]]) -> None:
        if os.path.exists(self.path + ".down"):
            raise ConnectionError("test sink is down")
        await asyncio.sleep(self.delay)
        with open(self.path, "ab") as handle:
            handle.write(b"".join(orjson.dumps(record) + b"\n" for record in records))

    async def close(self) -> None:
        return None


#: The `stack` fixture (conftest.py) runs processors with small batches here, so a few thousand
#: events make many batches (more crash points and commits).
STACK_ENV = {"ARGUS_PROCESSOR_BATCH_SIZE": "300"}


def _stored(stack: Stack) -> dict[str, dict[str, Any]]:
    return {record["id"]: record for record in stack.records()}


def _assert_exact_records(values: list[bytes], stored: dict[str, dict[str, Any]]) -> None:
    """What a sink got is exactly the stored record, fields in the hash's canonical order."""
    for value in values:
        record = orjson.loads(value)
        assert list(record) == list(RECORD_FIELDS)
        assert record == stored[record["id"]]


def _sink_progress_caught_up(stack: Stack, sink: str) -> bool:
    newest = stack.query("SELECT kafka_partition, max(commit_seq) FROM partition_commits GROUP BY kafka_partition")
    progress = stack.query("SELECT kafka_partition, commit_seq FROM sink_progress WHERE sink = :s", s=sink)
    return dict(map(tuple, newest)) == dict(map(tuple, progress))


def _read_topic(stack: Stack, want: set[str], timeout: float) -> list[Any]:
    """Every message of the committed topic, reading until each wanted id was seen (then 2 s more)."""
    consumer = Consumer(
        {"bootstrap.servers": stack.kafka, "group.id": f"read.{stack.name}", "auto.offset.reset": "earliest"}
    )
    consumer.subscribe([stack.committed_topic])
    found: list[Any] = []
    seen: set[str] = set()
    deadline, quiet_until = time.monotonic() + timeout, None
    try:
        while time.monotonic() < deadline and (quiet_until is None or time.monotonic() < quiet_until):
            for message in consumer.consume(num_messages=1000, timeout=0.5):
                if message.error() is None:
                    found.append(message)
                    seen.add(orjson.loads(message.value())["id"])
            if quiet_until is None and want <= seen:
                quiet_until = time.monotonic() + 2
    finally:
        consumer.close()
    return found


def test_committed_topic_gets_every_record_through_crashes(stack: Stack) -> None:
    events = random_events(4000, seed=21)
    stack.produce_envelopes(events)
    # Dies right after the third commit: that batch is stored but was never handed to a sink.
    stack.extra_env["ARGUS_FAULT_CRASH"] = "after_commit:3"
    assert stack.start_processor().wait(timeout=120) == 137, stack.logs()
    del stack.extra_env["ARGUS_FAULT_CRASH"]
    process = stack.start_processor()
    wait_for(lambda: stack.stored_count() >= 2500, 120, lambda: f">= 2500 stored\n{stack.logs()}", 0.05)
    time.sleep(random.uniform(0, 0.3))
    process.send_signal(signal.SIGKILL)
    process.wait()
    stack.start_processor()
    wait_for(lambda: stack.stored_count() >= len(events), 120, lambda: f"all stored\n{stack.logs()}")

    stored = _stored(stack)
    messages = _read_topic(stack, set(stored), timeout=120)
    ids = [orjson.loads(m.value())["id"] for m in messages]
    assert set(ids) == set(stored), f"{len(set(stored) - set(ids))} missing\n{stack.logs()}"
    assert all(m.key().decode() == orjson.loads(m.value())["actorId"] for m in messages)
    _assert_exact_records([m.value() for m in messages], stored)
    wait_for(lambda: _sink_progress_caught_up(stack, "committed"), 30, "sink_progress at the newest commits")


def test_committed_topic_is_complete_when_a_replica_dies_and_its_partitions_move(stack: Stack) -> None:
    """The survivor is assigned the dead replica's partitions and catches them up from sink_progress."""
    events = random_events(4000, seed=24)
    run_two_replicas_killing_one(stack, events, kill_after=1000)
    stored = _stored(stack)
    ids = {orjson.loads(m.value())["id"] for m in _read_topic(stack, set(stored), timeout=120)}
    assert ids == set(stored), f"{len(set(stored) - ids)} missing\n{stack.logs()}"
    wait_for(lambda: _sink_progress_caught_up(stack, "committed"), 30, "sink_progress at the newest commits")


# -- a test-only sink in a processor subprocess ----------------------------------------------------


def _start_with_file_sink(stack: Stack, out: Path, *, delay: float = 0.0, backlog: int) -> int:
    """A processor whose only sink is `testfile://out`; returns its metrics port."""
    config = stack.tmp / "sinks.yaml"
    config.write_text(f"sinks:\n  - name: file\n    url: testfile://{out}?delay={delay}\n")
    port = free_port()
    stack.extra_env.update(
        {
            "ARGUS_SINKS_CONFIG": str(config),
            "ARGUS_PROCESSOR_METRICS_PORT": str(port),
            "TEST_SINK_BACKLOG": str(backlog),
        }
    )
    log = open(stack.tmp / f"processor-file-{len(stack.processes)}.log", "wb")  # noqa: SIM115
    stack.processes.append(
        subprocess.Popen(
            [sys.executable, "-m", "tests.integration.test_sink_delivery", "processor"],
            env=stack.env(),
            cwd=ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    )
    return port


def _file_lines(out: Path) -> list[bytes]:
    """Complete lines only: the processor may be appending right now."""
    return out.read_bytes().split(b"\n")[:-1] if out.exists() else []


def _file_ids(out: Path) -> list[str]:
    return [orjson.loads(line)["id"] for line in _file_lines(out)]


def test_a_failing_sink_never_blocks_commits_and_catches_up_from_the_database(stack: Stack) -> None:
    out = stack.tmp / "file-sink.ndjson"
    down = Path(f"{out}.down")
    down.touch()
    events = random_events(3000, seed=22)
    stack.produce_envelopes(events)
    port = _start_with_file_sink(stack, out, backlog=1000)
    metrics = SinkMetrics(port, "file")
    wait_for(lambda: stack.stored_count() == len(events), 120, lambda: f"all stored while down\n{stack.logs()}")
    assert _file_ids(out) == []
    wait_for(metrics.reaches("argus_sink_failures_total", lambda v: v >= 3), 30, "failures counted")
    wait_for(metrics.reaches("argus_sink_lag_commits", lambda v: v > 0), 30, "lag reported")
    assert metrics.value("argus_sink_backlog_records") <= 1000 + 300  # bounded: overflow goes to the database

    down.unlink()
    stored = _stored(stack)
    wait_for(lambda: set(_file_ids(out)) == set(stored), 90, lambda: f"caught up\n{stack.logs()}")
    _assert_exact_records(_file_lines(out), stored)
    assert metrics.value("argus_sink_catchup_records_total") >= len(events) - 1000
    wait_for(metrics.reaches("argus_sink_lag_commits", lambda v: v == 0), 30, "no lag")
    wait_for(lambda: _sink_progress_caught_up(stack, "file"), 30, "sink_progress at the newest commits")
    assert len(_file_ids(out)) == len(stored)  # no crash here, so not even a duplicate


def test_a_slow_sink_over_a_tiny_backlog_loses_nothing(stack: Stack) -> None:
    out = stack.tmp / "slow-sink.ndjson"
    port = _start_with_file_sink(stack, out, delay=0.2, backlog=50)
    metrics = SinkMetrics(port, "file")
    events = random_events(3000, seed=23)
    for start in range(0, len(events), 500):  # ingest keeps going while the sink lags behind
        stack.produce_envelopes(events[start : start + 500])
        wait_for(lambda n=start + 500: stack.stored_count() >= n, 120, lambda: f"chunk stored\n{stack.logs()}")
    stored = _stored(stack)
    wait_for(lambda: set(_file_ids(out)) == set(stored), 120, lambda: f"all delivered\n{stack.logs()}")
    ids = _file_ids(out)
    assert len(ids) == len(set(ids)), "duplicates without a crash"
    # What overflowed the 50-record backlog was let go and read back from the database.
    assert metrics.value("argus_sink_catchup_records_total") > 0
    assert metrics.value("argus_sink_backlog_records") <= 50 + 300


# -- the outbox queries, on both databases ---------------------------------------------------------


def _raw(partition: int, offset: int, event: dict[str, Any]) -> RawMessage:
    value = encode_envelope(event, source="test", received_at="2026-01-01T00:00:00.000000Z")
    return RawMessage("outbox.events", partition, offset, str(event["actorId"]).encode(), value, None)


@pytest.mark.parametrize("db", ["pg_url", "sqlite_url"])
async def test_outbox_reads_back_exactly_what_the_processor_handed_over(
    db: str, request: pytest.FixtureRequest
) -> None:
    url = request.getfixturevalue(db)
    engine = make_engine(url)
    accept = lambda batch, sources=None: [None] * len(batch)  # noqa: E731
    processor = BatchProcessor(engine, "outbox.events", EnumConfig(), accept, 1000)
    handed: list[list[dict[str, Any]]] = []
    for batch in range(3):
        events = [make_event("svc-o", batch * 10 + i, id=uuid7()) for i in range(4)]
        messages = [_raw(0, batch * 5 + i, e) for i, e in enumerate(events)]
        messages.append(RawMessage("outbox.events", 0, batch * 5 + 4, b"svc-o", b"not json", None))  # dead letter
        handed.append((await processor.handle(messages)).records)
    outbox = SinkOutbox(engine, "outbox.events")
    spans = outbox.commits_after(0, 0, 10)
    assert spans == [PartitionCommit(0, s, (s - 1) * 5, (s - 1) * 5 + 4, 4, 1) for s in (1, 2, 3)]
    assert outbox.commits_after(0, 0, 10, below_offset=10) == spans[:2]
    records = outbox.read_records(Chunk(0, 2, 3, 5, 14, 8))
    assert records == handed[1] + handed[2]
    assert [orjson.dumps(r) for r in records] == [orjson.dumps(r) for r in handed[1] + handed[2]]
    assert outbox.load("s", [0, 1]) == {0: Delivered(0, -1), 1: Delivered(0, -1)}
    outbox.save("s", {0: 2})
    outbox.save("s", {0: 1})  # another replica's older progress never moves it back
    assert outbox.load("s", [0]) == {0: Delivered(2, 9)}
    assert outbox.latest([0, 1]) == {0: 3, 1: 0}
    engine.dispose()


if __name__ == "__main__":  # a processor with the test-only sink scheme (see the module docstring)
    from argus_commands.main import main
    from sinks import fanout, registry

    registry.SCHEMES["testfile"] = FileSink.from_url
    fanout.DEFAULT_MAX_BACKLOG = int(os.environ.get("TEST_SINK_BACKLOG", fanout.DEFAULT_MAX_BACKLOG))
    sys.exit(main(sys.argv[1:]))
