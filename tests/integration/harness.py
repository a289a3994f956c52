"""Helpers for end-to-end tests: per-test topics, processor subprocesses, and store queries.

Every test gets its own topics, consumer group and PostgreSQL schema, so tests never share state.
Processors run as real `argus processor` subprocesses so crash tests can SIGKILL them.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
from confluent_kafka import Consumer, Producer, TopicPartition
from confluent_kafka.admin import AdminClient
from sqlalchemy import text

from argus.db.admission import validate_storable_event
from argus.db.engine import make_engine
from argus.db.schema import FIELD_COLUMNS
from argus.trust.receipt_keys import ReceiptSigner
from argus_spec.enums import EnumConfig
from argus_spec.envelope import encode_envelope, message_key, utc_now_rfc3339
from argus_spec.event import EventValidationError
from argus_spec.hashchain import RECORD_FIELDS
from argus_spec.note import Signer
from argus_spec.uuid7 import uuid7
from bench.loadgen import attestation_statements

TOKEN = "test-token-ingest-and-read"
#: record field -> audit_records column, for the fields the hash chain covers
RECORD_COLUMNS = {field: FIELD_COLUMNS[field] for field in RECORD_FIELDS}
TOKEN_NAME = "default"
#: TEST-ONLY checkpoint signing key of every test stack, and its verifier key.
LOG_KEY_FILE = Path(__file__).resolve().parent.parent / "vectors" / "transparency" / "test-log.key"
SIGNATURE_VECTORS = LOG_KEY_FILE.parent.parent / "signatures"
LOG_VERIFIER_KEY = (LOG_KEY_FILE.parent / "test-log.vkey").read_text().strip()
LOG_NAME = "argus.test"
#: TEST-ONLY receipt key of every test stack's gateway (the processor derives the verifier key from it).
RECEIPT_KEY_FILE = Path(__file__).resolve().parent.parent / "vectors" / "receipts" / "test-receipt.key"
RECEIPT_VERIFIER_KEY = (RECEIPT_KEY_FILE.parent / "test-receipt.vkey").read_text().strip()
_RECEIPT_SIGNER = ReceiptSigner(Signer.parse(RECEIPT_KEY_FILE.read_text()))


def attested_envelope(event: dict[str, Any], source: str | None, received_at: str | None = None, *,
                      v1: bool = False) -> bytes:  # fmt: skip
    """An envelope as the test stack's gateway writes it: `source` attested with the receipt key
    (only for a valid event with an id: the gateway never produces others), in a v2 attestation
    of a one-event request, or with `v1` as gateways before v2 did."""
    try:
        validate_storable_event(dict(event), EnumConfig(), assign_id=False)
    except EventValidationError:
        event = {**event, "id": None}  # the processor dead-letters it before looking at claims
    if source is None or event.get("id") is None:  # an id-less event gets its id in the processor: no claim
        return encode_envelope(event, source=None, received_at=received_at)
    received_at = received_at or utc_now_rfc3339()
    [attestation] = request_attestations([event], source, received_at, v1=v1)
    return encode_envelope(event, source=source, received_at=received_at, attestation=attestation)


def request_attestations(events: list[dict[str, Any]], source: str, received_at: str, *, v1: bool = False) -> list[str]:
    """The attestations the test stack's gateway signs for one request of valid `events` (with ids)."""
    statements = attestation_statements(events, source, received_at)
    if v1:
        return [_RECEIPT_SIGNER.attest(*statement) for statement in statements]
    return _RECEIPT_SIGNER.attest_batch(statements)


def keys_config(directory: Path, keys: dict[str, str], not_after: dict[str, str] | None = None) -> Path:
    """A keys.yaml (ARGUS_KEYS_CONFIG) in `directory` trusting test-vector public keys: key id ->
    the PEM's name in tests/vectors/signatures; `not_after` ends some keys' validity."""
    lines = ["keys:"]
    for key_id, name in keys.items():
        lines += [f"  - id: {key_id}", f"    pemFile: {SIGNATURE_VECTORS / f'{name}.pem'}"]
        if not_after and key_id in not_after:
            lines.append(f"    notAfter: {not_after[key_id]}")
    path = directory / "keys.yaml"
    path.write_text("\n".join(lines) + "\n")
    return path


def as_record(row: Any) -> dict[str, Any]:
    """A selected audit_records row (all columns) as the camelCase record dict the hash chain covers."""
    return {field: row._mapping[column] for field, column in RECORD_COLUMNS.items()}


def make_event(actor: str, index: int, **overrides: Any) -> dict[str, Any]:
    """A realistic event; `index` makes it distinct."""
    event: dict[str, Any] = {
        "timestamp": f"2026-03-04T05:06:{index % 60:02d}.{index:06d}Z",
        "status": "SUCCESS" if index % 7 else "FAILURE",
        "action": ("CREATE", "READ", "UPDATE", "DELETE")[index % 4],
        "actorType": "SERVICE",
        "actorId": actor,
        "targetType": "RESOURCE",
        "targetId": f"doc-{index}",
        "eventType": "DATA_FETCH",
        "metadata": {"index": index, "path": f"/api/v1/docs/{index}", "tags": ["a", "b"], "ratio": index / 8},
    }
    event.update(overrides)
    return event


def random_events(count: int, seed: int, actors: int = 40) -> list[dict[str, Any]]:
    """`count` events with client ids, spread over `actors` actors in a reproducible random order."""
    rng = random.Random(seed)
    names = [f"svc-{i:02d}" for i in range(actors)]
    return [make_event(rng.choice(names), i, id=uuid7()) for i in range(count)]


def wait_for(
    predicate: Callable[[], bool], timeout: float, what: str | Callable[[], str], interval: float = 0.25
) -> None:
    """Poll until `predicate()`; on timeout fail with `what` (a callable is evaluated then, e.g. logs)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(interval)
    detail = what() if callable(what) else what
    raise AssertionError(f"timed out after {timeout}s waiting for {detail}")


def group_state(admin: AdminClient, group: str) -> tuple[str, int]:
    """The consumer group's state (e.g. STABLE, PREPARING_REBALANCE) and member count, from the broker."""
    description = admin.describe_consumer_groups([group])[group].result(timeout=10)
    return description.state.name, len(description.members)


def wait_for_group(stack: Stack, members: int, timeout: float = 120) -> None:
    """Poll until the stack's processors form a settled group of `members` (a join or a leave done)."""
    group = f"g.{stack.name}"
    admin = AdminClient({"bootstrap.servers": stack.kafka})
    wait_for(
        lambda: group_state(admin, group) == ("STABLE", members),
        timeout,
        lambda: f"group {group} stable with {members} members (now {group_state(admin, group)})\n{stack.logs()}",
    )


@dataclass(frozen=True)
class SinkMetrics:
    """One sink's series on a processor's Prometheus endpoint. A missing series fails `value`
    (a bound checked on nothing would always hold); `sample` and `reaches` are for polling."""

    port: int
    sink: str

    def sample(self, name: str) -> float | None:
        """The sample of `name`; None while the endpoint or the series is not there yet."""
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/metrics", timeout=5) as response:
                text = response.read().decode()
        except OSError:
            return None
        prefix = f'{name}{{sink="{self.sink}"}} '
        line = next((line for line in text.splitlines() if line.startswith(prefix)), None)
        return float(line[len(prefix) :]) if line else None

    def value(self, name: str) -> float:
        value = self.sample(name)
        assert value is not None, f'{name}{{sink="{self.sink}"}} is not exported on port {self.port}'
        return value

    def reaches(self, name: str, check: Callable[[float], bool]) -> Callable[[], bool]:
        """A `wait_for` predicate: the series exists and `check` holds for it."""
        return lambda: (value := self.sample(name)) is not None and check(value)


@dataclass
class Stack:
    """One isolated Argus deployment on the shared test servers."""

    kafka: str
    db_url: str
    name: str
    tmp: Path
    partitions: int = 4
    extra_env: dict[str, str] = field(default_factory=dict)
    processes: list[subprocess.Popen[bytes]] = field(default_factory=list)

    @property
    def topic(self) -> str:
        return f"t.{self.name}.events"

    @property
    def dlq_topic(self) -> str:
        return f"t.{self.name}.dlq"

    @property
    def committed_topic(self) -> str:
        return f"t.{self.name}.committed"

    @property
    def checkpoints_topic(self) -> str:
        return f"t.{self.name}.checkpoints"

    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("ARGUS_")}
        env.update(
            {
                "ARGUS_KAFKA_BOOTSTRAP": self.kafka,
                "ARGUS_DATABASE_URL": self.db_url,
                "ARGUS_TOPIC": self.topic,
                "ARGUS_DLQ_TOPIC": self.dlq_topic,
                "ARGUS_COMMITTED_TOPIC": self.committed_topic,
                "ARGUS_TOPIC_PARTITIONS": str(self.partitions),
                "ARGUS_CONSUMER_GROUP": f"g.{self.name}",
                "ARGUS_AUTH_TOKEN": TOKEN,
                "ARGUS_PROCESSOR_BATCH_WITHIN": "0.1",
                "ARGUS_PROCESSOR_SESSION_TIMEOUT": "6",
                "ARGUS_PROCESSOR_METRICS_PORT": "0",
                "ARGUS_LOG_KEY": str(LOG_KEY_FILE),
                "ARGUS_LOG_NAME": LOG_NAME,
                "ARGUS_RECEIPT_KEY": str(RECEIPT_KEY_FILE),
                "ARGUS_CHECKPOINTS_TOPIC": self.checkpoints_topic,
            }
        )
        env.update(self.extra_env)
        return env

    def settings_env(self) -> dict[str, str]:
        return {k: v for k, v in self.env().items() if k.startswith("ARGUS_") or k == "REQUIRE_SIGNATURES"}

    def start_processor(self, label: str = "p") -> subprocess.Popen[bytes]:
        log = open(self.tmp / f"processor-{label}-{len(self.processes)}.log", "wb")  # noqa: SIM115
        process = subprocess.Popen(
            [sys.executable, "-m", "argus_commands", "processor"], env=self.env(), stdout=log, stderr=subprocess.STDOUT
        )
        self.processes.append(process)
        return process

    def stop_all(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in self.processes:
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()

    def logs(self) -> str:
        return "\n".join(p.read_text(errors="replace")[-4000:] for p in sorted(self.tmp.glob("processor-*.log")))

    def produce_envelopes(self, events: list[dict[str, Any]], source: str | None = "direct") -> None:
        """Write envelopes straight to Kafka (as the SDK's Kafka transport does). With a `source`, each
        envelope is attested with the stack's receipt key, as the gateway would: events need ids then."""
        producer = Producer({"bootstrap.servers": self.kafka, "enable.idempotence": True, "acks": "all"})
        for event in events:
            producer.produce(self.topic, attested_envelope(event, source), key=message_key(event))
            producer.poll(0)
        assert producer.flush(60) == 0

    def produce_raw(self, value: bytes | None, key: bytes | None) -> None:
        producer = Producer({"bootstrap.servers": self.kafka, "acks": "all"})
        producer.produce(self.topic, value=value, key=key)
        assert producer.flush(30) == 0

    def query(self, sql: str, **params: Any) -> list[Any]:
        engine = make_engine(self.db_url)
        try:
            with engine.connect() as connection:
                return list(connection.execute(text(sql), params))
        finally:
            engine.dispose()

    def stored_count(self) -> int:
        return int(self.query("SELECT count(*) FROM audit_records")[0][0])

    def records(self) -> list[dict[str, Any]]:
        """Every stored record as the camelCase dict the hash chain covers, in actor/seq order."""
        rows = self.query("SELECT * FROM audit_records ORDER BY actor_id, seq")
        return [as_record(row) for row in rows]

    def topic_messages(self, topic: str, expected: int, timeout: float = 30) -> list[Any]:
        consumer = Consumer(
            {"bootstrap.servers": self.kafka, "group.id": f"read.{self.name}.{topic}", "auto.offset.reset": "earliest"}
        )
        consumer.subscribe([topic])
        found: list[Any] = []
        deadline = time.monotonic() + timeout
        try:
            while len(found) < expected and time.monotonic() < deadline:
                message = consumer.poll(0.5)
                if message is not None and message.error() is None:
                    found.append(message)
        finally:
            consumer.close()
        return found

    def end_offsets(self, topic: str) -> int:
        """Total messages ever written to `topic` (sum of high watermarks)."""
        return sum(self.high_watermarks(topic).values())

    def high_watermarks(self, topic: str) -> dict[int, int]:
        """partition -> the offset the next message written to it will get."""
        consumer = Consumer({"bootstrap.servers": self.kafka, "group.id": f"wm.{self.name}"})
        try:
            metadata = consumer.list_topics(topic, timeout=10)
            return {
                partition: consumer.get_watermark_offsets(TopicPartition(topic, partition), timeout=10)[1]
                for partition in metadata.topics[topic].partitions
            }
        finally:
            consumer.close()


@contextmanager
def running_stack(kafka: str, db_url: str, name: str, tmp: Path, **kwargs: Any) -> Iterator[Stack]:
    from argus.kafka.admin import ensure_topic

    stack = Stack(kafka=kafka, db_url=db_url, name=name, tmp=tmp, **kwargs)
    for topic in (stack.topic, stack.dlq_topic, stack.committed_topic):
        ensure_topic({"bootstrap.servers": kafka}, topic, stack.partitions)
    try:
        yield stack
    finally:
        stack.stop_all()


def loads(value: bytes) -> Any:
    return orjson.loads(value)


def chain_problems(records: list[dict[str, Any]]) -> list[str]:
    """Independent check of stored chains: seq 1..n per actor, links, and each hash recomputed."""
    from argus_spec.hashchain import GENESIS_HASH, record_hash

    problems: list[str] = []
    previous: dict[str, dict[str, Any]] = {}
    for record in records:
        actor = record["actorId"]
        before = previous.get(actor)
        expected_seq = 1 if before is None else before["seq"] + 1
        expected_link = GENESIS_HASH if before is None else before["currentHash"]
        if record["seq"] != expected_seq:
            problems.append(f"{actor}: seq {record['seq']} where {expected_seq} was due")
        if record["previousHash"] != expected_link:
            problems.append(f"{actor}#{record['seq']}: previousHash does not link")
        if record_hash(record) != record["currentHash"]:
            problems.append(f"{actor}#{record['seq']}: currentHash does not match the record")
        previous[actor] = record
    return problems


def stored_progress_complete(stack: Stack) -> bool:
    """True once the database's progress covers every message in the stack's topic: the
    processors are done, and no later delivery (a duplicate) can be stored any more."""
    ends = stack.high_watermarks(stack.topic)
    rows = stack.query(
        "SELECT kafka_partition, max(last_offset) FROM partition_commits WHERE topic = :topic GROUP BY kafka_partition",
        topic=stack.topic,
    )
    stored = {int(partition): int(last) for partition, last in rows}
    return all(stored.get(partition, -1) >= end - 1 for partition, end in ends.items())


def wait_until_consumed(stack: Stack, timeout: float = 180) -> None:
    wait_for(lambda: stored_progress_complete(stack), timeout, lambda: f"everything consumed\n{stack.logs()}")


def assert_exactly_once(stack: Stack, events: list[dict[str, Any]]) -> None:
    """Every event stored once, chains intact, and each actor's chain in production order."""
    records = stack.records()
    assert len(records) == len(events), f"stored {len(records)} of {len(events)}\n{stack.logs()}"
    assert {r["id"] for r in records} == {e["id"] for e in events}
    assert chain_problems(records) == []
    by_actor: dict[str, list[str]] = {}
    for event in events:
        by_actor.setdefault(str(event["actorId"]), []).append(str(event["id"]))
    stored: dict[str, list[str]] = {}
    for record in records:
        stored.setdefault(record["actorId"], []).append(record["id"])
    assert stored == by_actor


def run_two_replicas_killing_one(stack: Stack, events: list[dict[str, Any]], kill_after: int) -> None:
    """Two replicas share the stream; one is SIGKILLed once `kill_after` events are stored, the
    second half of the events arrives after that, and the survivor must store everything."""
    first = stack.start_processor("a")
    stack.start_processor("b")
    wait_for_group(stack, members=2)
    half = len(events) // 2
    stack.produce_envelopes(events[:half])
    wait_for(lambda: stack.stored_count() >= kill_after, 120, lambda: f">= {kill_after} stored\n{stack.logs()}", 0.05)
    first.send_signal(signal.SIGKILL)
    first.wait()
    stack.produce_envelopes(events[half:])
    wait_for(lambda: stack.stored_count() >= len(events), 180, lambda: f"all stored\n{stack.logs()}")
