"""The sink kinds the conformance suite runs (tests/integration/test_sink_conformance.py).

A kind knows how to point a processor at its real destination (`url`, `env`), how to read back
everything the destination received (`delivered`, in arrival order; each partition's records in
the order they arrived) and, for a server of our own, how to restart it (`restart_server`).
A new sink kind is added here; it is done when the suite passes for it.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
import pytest
from confluent_kafka import OFFSET_BEGINNING, Consumer, TopicPartition

from bench import free_port
from tests.integration.harness import Stack

Record = dict[str, Any]
ROOT = Path(__file__).resolve().parents[2]
SINK = "under-test"  # the sink's name in the processor's sinks.yaml (and its metrics' label)
S3_CREDENTIALS = {"AWS_ACCESS_KEY_ID": "argus-test", "AWS_SECRET_ACCESS_KEY": "argus-test"}


@dataclass
class SinkKind:
    name: str
    url: Callable[[Stack], str]
    delivered: Callable[[Stack], list[Record]]
    env: dict[str, str] = field(default_factory=dict)
    restart_server: Callable[[], None] | None = None


def _complete_lines(data: bytes) -> list[bytes]:
    """Whole lines only: a process may be writing (or have been killed mid-line)."""
    return [line for line in data.split(b"\n")[:-1] if line]


# -- console: the processor's stdout, one file per process (logs go to stderr) --------------------


def _console_delivered(stack: Stack) -> list[Record]:
    files = sorted(stack.tmp.glob("stdout-*.out"), key=lambda p: int(p.stem.split("-")[1]))
    return [orjson.loads(line) for path in files for line in _complete_lines(path.read_bytes())]


CONSOLE = SinkKind("console", lambda _stack: "console://stdout", _console_delivered)


# -- kafka: the committed topic, read from the beginning to the high watermarks ---------------------


def _kafka_delivered(stack: Stack) -> list[Record]:
    consumer = Consumer({"bootstrap.servers": stack.kafka, "group.id": f"conf.{stack.name}",
                         "enable.auto.commit": False})  # fmt: skip
    try:
        partitions = consumer.list_topics(stack.committed_topic, timeout=10).topics[stack.committed_topic].partitions
        ends = {p: consumer.get_watermark_offsets(TopicPartition(stack.committed_topic, p), timeout=10)[1]
                for p in partitions}  # fmt: skip
        todo = {p for p, end in ends.items() if end > 0}
        consumer.assign([TopicPartition(stack.committed_topic, p, OFFSET_BEGINNING) for p in todo])
        found: dict[int, list[Record]] = {p: [] for p in todo}
        while todo:
            for message in consumer.consume(num_messages=5000, timeout=5):
                if message.error() is not None:
                    continue
                assert message.key().decode() == orjson.loads(message.value())["actorId"]
                found[message.partition()].append(orjson.loads(message.value()))
                if message.offset() + 1 >= ends[message.partition()]:
                    todo.discard(message.partition())
        return [record for p in sorted(found) for record in found[p]]
    finally:
        consumer.close()


KAFKA = SinkKind("kafka", lambda stack: f"kafka:///{stack.committed_topic}", _kafka_delivered)


# -- s3: a fresh Object Lock bucket per test on the local S3 server (deploy/local/s3.sh) ------------


def s3_endpoint() -> str:
    endpoint = os.environ.get("ARGUS_TEST_S3_ENDPOINT")
    if not endpoint:
        pytest.fail("no S3 server for tests: run `deploy/local/services.sh start` (or deploy/local/s3.sh start) "
                    "and `source .local/env.sh`")  # fmt: skip
    return endpoint


def s3_client() -> Any:
    import boto3

    return boto3.client("s3", endpoint_url=s3_endpoint(), region_name="us-east-1",
                        aws_access_key_id=S3_CREDENTIALS["AWS_ACCESS_KEY_ID"],
                        aws_secret_access_key=S3_CREDENTIALS["AWS_SECRET_ACCESS_KEY"])  # fmt: skip


def s3_bucket(stack: Stack) -> str:
    return f"argus-{stack.name}"


def make_locked_bucket(name: str) -> None:
    client = s3_client()
    client.create_bucket(Bucket=name, ObjectLockEnabledForBucket=True)
    client.put_object_lock_configuration(Bucket=name, ObjectLockConfiguration={"ObjectLockEnabled": "Enabled"})


def s3_url(stack: Stack, **options: Any) -> str:
    query = "&".join(f"{k}={v}" for k, v in {"endpoint": s3_endpoint(), "region": "us-east-1",
                                             "retention_days": 1, "interval": 0.3, **options}.items())  # fmt: skip
    return f"s3://{s3_bucket(stack)}/trail?{query}"


def _s3_sink_url(stack: Stack) -> str:
    bucket = s3_bucket(stack)
    if bucket not in {b["Name"] for b in s3_client().list_buckets()["Buckets"]}:
        make_locked_bucket(bucket)
    return s3_url(stack)


def _s3_delivered(stack: Stack) -> list[Record]:
    from sinks import s3_layout

    client = s3_client()
    if s3_bucket(stack) not in {b["Name"] for b in client.list_buckets()["Buckets"]}:
        return []  # the sink was not configured yet
    keys = [item["Key"] for page in client.get_paginator("list_objects_v2").paginate(Bucket=s3_bucket(stack))
            for item in page.get("Contents", []) if s3_layout.parse_key(item["Key"])]  # fmt: skip
    records: list[Record] = []
    for key in sorted(keys, key=lambda k: s3_layout.parse_key(k) or (0, 0, 0)):
        manifest_key = s3_layout.keys("trail", *(s3_layout.parse_key(key) or (0, 0, 0)))[1]
        try:
            manifest = orjson.loads(client.get_object(Bucket=s3_bucket(stack), Key=manifest_key)["Body"].read())
        except client.exceptions.NoSuchKey:
            continue  # written a moment ago, its manifest comes next
        records += s3_layout.decode(client.get_object(Bucket=s3_bucket(stack), Key=key)["Body"].read(), manifest)
    return records


S3 = SinkKind("s3", _s3_sink_url, _s3_delivered, env=S3_CREDENTIALS)

# -- syslog: our rsyslogd (deploy/local/rsyslog.sh) writes each APP-NAME to its own file ---------------


def _syslog_setting(name: str) -> str:
    value = os.environ.get(name)
    if not value:
        pytest.fail(f"no rsyslog for tests ({name} unset): run `deploy/local/services.sh start` "
                    "(or deploy/local/rsyslog.sh start) and `source .local/env.sh`")  # fmt: skip
    return value


def syslog_url(stack: Stack, transport: str, payload: str = "json") -> str:
    """transport: tcp, tls, relp or relps (our rsyslog's RELP-over-TLS input wants a client certificate)."""
    address = _syslog_setting(f"ARGUS_TEST_SYSLOG_{transport.upper()}")
    tls = f"&ca={_syslog_setting('ARGUS_TEST_SYSLOG_CA')}" if transport in ("tls", "relps") else ""
    if transport == "relps":
        tls += f"&cert={_syslog_setting('ARGUS_TEST_SYSLOG_CLIENT_CERT')}"
        tls += f"&key={_syslog_setting('ARGUS_TEST_SYSLOG_CLIENT_KEY')}"
    return f"syslog+{transport}://{address}?app=t{stack.name}&format={payload}{tls}"


def syslog_lines(stack: Stack, transport: str) -> list[list[str]]:
    """rsyslog's own RFC 5424 parse of each message: pri, time, host, app, procid, msgid, SD, msg."""
    path = Path(_syslog_setting("ARGUS_TEST_SYSLOG_OUT")) / transport / f"t{stack.name}.log"
    if not path.exists():
        return []
    return [line.decode().split("\t", 7) for line in _complete_lines(path.read_bytes())]


def _syslog_delivered(transport: str) -> Callable[[Stack], list[Record]]:
    def delivered(stack: Stack) -> list[Record]:
        records = []
        for pri, _time, _host, app, _procid, msgid, sd, msg in syslog_lines(stack, transport):
            record = orjson.loads(msg.removeprefix("\ufeff"))
            assert int(pri) == 13 * 8 + (6 if record["status"] == "SUCCESS" else 4)
            assert (app, msgid) == (f"t{stack.name}", record["eventType"])
            assert f'id="{record["id"]}"' in sd and f'seq="{record["seq"]}"' in sd
            records.append(record)
        return records

    return delivered


def _restart_rsyslog() -> None:
    subprocess.run([str(ROOT / "deploy/local/rsyslog.sh"), "restart"], check=True, capture_output=True, timeout=60)


SYSLOG_TCP = SinkKind("syslog-tcp", lambda s: syslog_url(s, "tcp"), _syslog_delivered("tcp"),
                      restart_server=_restart_rsyslog)  # fmt: skip
# No receiver restart over TLS: rsyslog drops the last TLS record it has read when it stops
# mid-connection and still closes cleanly, so RFC 5425 cannot see the loss (docs/sinks.md).
SYSLOG_TLS = SinkKind("syslog-tls", lambda s: syslog_url(s, "tls"), _syslog_delivered("tls"))

# RELP answers each message, so a receiver restart mid-delivery loses nothing, in TLS too.
SYSLOG_RELP = SinkKind("syslog-relp", lambda s: syslog_url(s, "relp"), _syslog_delivered("relp"),
                       restart_server=_restart_rsyslog)  # fmt: skip
SYSLOG_RELPS = SinkKind("syslog-relps", lambda s: syslog_url(s, "relps"), _syslog_delivered("relps"),
                        restart_server=_restart_rsyslog)  # fmt: skip

KINDS = [CONSOLE, KAFKA, S3, SYSLOG_TCP, SYSLOG_TLS, SYSLOG_RELP, SYSLOG_RELPS]


def start_with_sink(stack: Stack, kind: SinkKind | None, **extra: str) -> tuple[subprocess.Popen[bytes], int]:
    """A processor whose only sink is `kind` (none: no sink at all). Returns it and its metrics port."""
    return start_with_sinks(stack, {SINK: kind.url(stack)} if kind else {}, (kind.env if kind else {}) | extra)


def start_with_sinks(stack: Stack, sinks: dict[str, str], extra: dict[str, str]) -> tuple[subprocess.Popen[bytes], int]:
    """A processor with these sinks (name -> URL); stdout to its own file (the console sink writes
    there, logs go to stderr). Returns it and its metrics port."""
    number = len(stack.processes)
    config = stack.tmp / f"sinks-{number}.yaml"
    config.write_text("sinks:\n" + "".join(f'  - name: {n}\n    url: "{u}"\n' for n, u in sinks.items())
                      if sinks else "sinks: []\n")  # fmt: skip
    port = free_port()
    env = stack.env() | {"ARGUS_SINKS_CONFIG": str(config), "ARGUS_PROCESSOR_METRICS_PORT": str(port)} | extra
    process = subprocess.Popen(
        [sys.executable, "-m", "argus_commands", "processor"], env=env,
        stdout=open(stack.tmp / f"stdout-{number}.out", "wb"),  # noqa: SIM115
        stderr=open(stack.tmp / f"processor-{number}.log", "wb"),  # noqa: SIM115
    )  # fmt: skip
    stack.processes.append(process)
    return process, port
