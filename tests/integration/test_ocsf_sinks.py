"""`format=ocsf` on every sink kind and on a second committed topic, against the real destinations:
every committed record arrives as exactly one OCSF API Activity event that validates against the
OCSF 1.5.0 schema, per actor in seq order."""

from __future__ import annotations

import gzip
from typing import Any

import orjson
from confluent_kafka import Consumer

from argus.kafka.admin import ensure_topic
from argus_spec.uuid7 import uuid7
from tests.integration.harness import Stack, make_event, wait_for
from tests.integration.sink_kinds import (
    S3_CREDENTIALS,
    make_locked_bucket,
    s3_bucket,
    s3_client,
    s3_url,
    start_with_sinks,
    syslog_lines,
    syslog_url,
)
from tests.unit.test_ocsf import validate

STACK_ENV = {"ARGUS_PROCESSOR_BATCH_SIZE": "200"}


def _topic_events(stack: Stack, topic: str, want: int) -> list[dict[str, Any]]:
    consumer = Consumer({"bootstrap.servers": stack.kafka, "group.id": f"ocsf.{stack.name}",
                         "auto.offset.reset": "earliest"})  # fmt: skip
    consumer.subscribe([topic])
    found: list[dict[str, Any]] = []
    try:
        wait_for(lambda: bool(found.extend(orjson.loads(m.value()) for m in consumer.consume(1000, 0.5)
                                           if m.error() is None)) or len(found) >= want, 90,
                 lambda: f"{want} OCSF events on {topic}, got {len(found)}\n{stack.logs()}", 0)  # fmt: skip
    finally:
        consumer.close()
    return found


def _s3_events(stack: Stack) -> list[dict[str, Any]]:
    client = s3_client()
    keys = sorted(item["Key"] for item in client.list_objects_v2(Bucket=s3_bucket(stack),
                  Prefix="trail/records/").get("Contents", []))  # fmt: skip
    return [orjson.loads(line) for key in keys
            for line in gzip.decompress(client.get_object(Bucket=s3_bucket(stack), Key=key)["Body"].read())
            .splitlines()]  # fmt: skip


def _console_events(stack: Stack) -> list[dict[str, Any]]:
    return [orjson.loads(line) for path in sorted(stack.tmp.glob("stdout-*.out"))
            for line in path.read_bytes().split(b"\n")[:-1]]  # fmt: skip


def _syslog_events(stack: Stack) -> list[dict[str, Any]]:
    return [orjson.loads(fields[7].removeprefix("\ufeff")) for fields in syslog_lines(stack, "tcp")]


def test_every_sink_kind_and_a_second_topic_carry_valid_ocsf(stack: Stack) -> None:
    ocsf_topic = f"t.{stack.name}.committed.ocsf"
    ensure_topic({"bootstrap.servers": stack.kafka}, ocsf_topic, stack.partitions)
    make_locked_bucket(s3_bucket(stack))
    actors = [f"ocsf-{stack.name}-{i}" for i in range(6)]
    events = [make_event(actors[i % 6], i, id=uuid7()) for i in range(600)]
    stack.produce_envelopes(events)
    start_with_sinks(stack, {
        "committed": f"kafka:///{stack.committed_topic}",
        "ocsf-topic": f"kafka:///{ocsf_topic}?format=ocsf",
        "console": "console://stdout?format=ocsf",
        "s3": s3_url(stack, format="ocsf"),
        "siem": syslog_url(stack, "tcp", "ocsf"),
    }, S3_CREDENTIALS)  # fmt: skip
    wait_for(lambda: stack.stored_count() == len(events), 120, lambda: f"all stored\n{stack.logs()}")
    stored = {r["id"]: r for r in stack.records()}

    readers = {"s3": _s3_events, "console": _console_events, "siem": _syslog_events}
    results = {"ocsf-topic": _topic_events(stack, ocsf_topic, len(events))}
    for name, read in readers.items():
        wait_for(lambda read=read: len(read(stack)) >= len(events), 90,
                 lambda name=name: f"{len(events)} OCSF events from {name}\n{stack.logs()}")  # fmt: skip
        results[name] = read(stack)
    for name, found in results.items():
        assert sorted(e["metadata"]["uid"] for e in found) == sorted(stored), name  # each exactly once
        last: dict[str, int] = {}
        for event in found:
            validate(event)
            record = stored[event["metadata"]["uid"]]
            assert event["actor"]["user"]["uid"] == record["actorId"] and event["api"]["operation"] == record["action"]
            assert event["unmapped"]["currentHash"] == record["currentHash"]
            assert event["unmapped"]["seq"] > last.get(record["actorId"], 0), f"{name}: out of order"
            last[record["actorId"]] = event["unmapped"]["seq"]
