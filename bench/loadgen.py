"""Load generator: realistic events, bulk bodies built up front, and open-loop or closed-loop HTTP load.

Why bodies are built before the clock starts: the generator shares two cores with everything it
measures, so the Ed25519 signing (~100 us/event) and JSON encoding must not steal CPU during a
phase. Why open loop for fixed rates: a closed loop slows down with the server and hides latency
(coordinated omission); here request i is due at start + events_before_i / rate, whatever happened
to earlier requests, and `max_send_lag_ms` shows whether the generator kept the schedule.
"""

from __future__ import annotations

import asyncio
import itertools
import random
import re
import time
import urllib.request
import uuid
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import orjson
from confluent_kafka import Producer

from argus.db.admission import validate_storable_event
from argus.kafka.producer import durable_producer_config
from argus.runtime.settings import Settings
from argus.trust.identity import content_digest
from argus.trust.receipt_keys import ReceiptSigner
from argus_client.signing import PemSigner, sign_event
from argus_spec.enums import EnumConfig
from argus_spec.envelope import encode_envelope, message_key, utc_now_rfc3339
from argus_spec.receipt import Statement
from argus_spec.uuid7 import uuid7

VECTORS = Path(__file__).resolve().parent.parent / "tests" / "vectors" / "signatures"
KEY_ID = "bench-ed25519-2026"
KEY_NAME = "test-ed25519-2026"
_EVENT_TYPES = ("DATA_FETCH", "MANAGEMENT_EVENT", "USER_MANAGEMENT")
_ACTIONS = ("CREATE", "READ", "UPDATE", "DELETE")
_ACTOR_TYPES = ("SERVICE", "MEMBER", "ADMIN", "SYSTEM")
_METHODS = ("GET", "POST", "PUT", "DELETE")

Body = tuple[bytes, int]  # (JSON array of events, number of events)


def signer() -> PemSigner:
    """The test Ed25519 key; the bench's key registry trusts its public half as KEY_ID."""
    return PemSigner.from_pem((VECTORS / f"{KEY_NAME}.private.pem").read_bytes(), KEY_ID)


def keys_yaml() -> str:
    """A key registry (ARGUS_KEYS_CONFIG) holding the public key that `signer()` signs with."""
    return f"keys:\n  - id: {KEY_ID}\n    pemFile: {VECTORS / f'{KEY_NAME}.pem'}\n"


def make_event(index: int, actor: str, moment: datetime) -> dict[str, Any]:
    """One event as a service would send it: client-side UUIDv7 id, ~10 fields, ~350 bytes of metadata."""
    event: dict[str, Any] = {
        "id": uuid7(),
        "timestamp": moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
        "eventType": _EVENT_TYPES[index % 3],
        "action": _ACTIONS[index % 4],
        "status": "FAILURE" if index % 10 == 0 else "SUCCESS",
        "actorType": _ACTOR_TYPES[index % 4],
        "actorId": actor,
        "targetType": "RESOURCE" if index % 5 else "SERVICE",
        "targetId": f"doc-{index % 50_000}",
        "metadata": {
            "requestId": uuid.UUID(int=index * 2654435761 % (1 << 128)).hex,
            "ip": f"10.{index % 256}.{index // 256 % 256}.{index % 7 + 1}",
            "method": _METHODS[index % 4],
            "path": f"/api/v1/tenants/{index % 97}/documents/{index % 50_000}",
            "httpStatus": 200 if index % 10 else 403,
            "latencyMs": round(3.5 + (index % 997) / 7, 3),
            "userAgent": "argus-bench/1.0 (python-aiohttp)",
            "tags": ["bench", "tenant-" + str(index % 97)],
            "retries": index % 3,
        },
    }
    if index % 3:
        event["traceId"] = str(uuid.UUID(int=(index * 11400714819323198485) % (1 << 128), version=4))
    return event


def make_events(count: int, *, actors: int, signed_share: float, offset: int = 0) -> list[dict[str, Any]]:
    """`count` events over `actors` actors; exactly `signed_share` of them Ed25519-signed (format v2)."""
    key = signer() if signed_share > 0 else None
    start = datetime.now(UTC)
    events = []
    for i in range(offset, offset + count):
        event = make_event(i, f"svc-{i % actors:05d}", start + timedelta(microseconds=i))
        if key is not None and int((i + 1) * signed_share) > int(i * signed_share):
            event = sign_event(event, key, format="v2")
        events.append(event)
    return events


#: The realistic mix (issue 16): a few hot actors send HOT_SHARE of the events; the rest are drawn
#: from a Zipf-like distribution (weight 1 / rank ** ZIPF_S) over MIX_ACTORS actors.
MIX_ACTORS, HOT_ACTORS, HOT_SHARE, ZIPF_S = 1_000_000, 5, 0.5, 1.1
METADATA_MIN, METADATA_MAX = 50, 4096


def mix_actors(count: int, rand: random.Random, actors: int = MIX_ACTORS) -> list[str]:
    """`count` actor ids: HOT_SHARE from HOT_ACTORS hot services, the rest Zipf-like over `actors`."""
    weights = itertools.accumulate(1.0 / rank**ZIPF_S for rank in range(1, actors + 1))
    drawn = rand.choices(range(actors), cum_weights=list(weights), k=count)
    hot = [f"hot-{n}" for n in range(HOT_ACTORS)]
    return [rand.choice(hot) if rand.random() < HOT_SHARE else f"usr-{drawn[i]:07d}" for i in range(count)]


def sized_metadata(index: int, size: int) -> dict[str, Any]:
    """Metadata whose JSON is about `size` bytes: a few typical fields, then padding."""
    base: dict[str, Any] = {"requestId": uuid.UUID(int=index * 2654435761 % (1 << 128)).hex, "retries": index % 3}
    base["detail"] = "d" * max(0, size - 70)
    return base


def make_mix_events(count: int, *, signed_share: float, seed: int = 16, offset: int = 0) -> list[dict[str, Any]]:
    """The realistic mix: skewed actors (`mix_actors`) and metadata of 50 B to 4 KB (log-uniform),
    otherwise like `make_events` (UUIDv7 ids, exactly `signed_share` signed)."""
    rand = random.Random(seed + offset)
    key = signer() if signed_share > 0 else None
    start = datetime.now(UTC)
    events = []
    for n, actor in enumerate(mix_actors(count, rand)):
        i = offset + n
        event = make_event(i, actor, start + timedelta(microseconds=i))
        size = int(METADATA_MIN * (METADATA_MAX / METADATA_MIN) ** rand.random())
        event["metadata"] = sized_metadata(i, size)
        if key is not None and int((i + 1) * signed_share) > int(i * signed_share):
            event = sign_event(event, key, format="v2")
        events.append(event)
    return events


def make_bodies(events: list[dict[str, Any]], batch: int) -> list[Body]:
    return [(orjson.dumps(events[i : i + batch]), len(events[i : i + batch])) for i in range(0, len(events), batch)]


def percentile(values: list[float], q: float) -> float | None:
    """Nearest-rank percentile (q in 0..1); None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * len(ordered) + 0.5) - 1))]


@dataclass
class LoadResult:
    """What the client saw: per-request ack latency, accepted events, errors, and wall-clock marks."""

    offered_rate: float | None
    requests: int = 0
    events_sent: int = 0
    events_accepted: int = 0
    errors: Counter[str] = field(default_factory=Counter)
    latencies_ms: list[float] = field(default_factory=list)
    first_send: float = 0.0
    first_ack: float = 0.0
    last_ack: float = 0.0
    max_send_lag_ms: float = 0.0

    def summary(self) -> dict[str, Any]:
        span = self.last_ack - self.first_send
        return {
            "offered_events_per_s": self.offered_rate,
            "requests": self.requests,
            "events_sent": self.events_sent,
            "events_accepted": self.events_accepted,
            "errors": dict(self.errors),
            "acked_events_per_s": round(self.events_accepted / span) if span > 0 else None,
            "ack_p50_ms": _round(percentile(self.latencies_ms, 0.50)),
            "ack_p99_ms": _round(percentile(self.latencies_ms, 0.99)),
            "ack_max_ms": _round(max(self.latencies_ms, default=None)),
            "max_send_lag_ms": round(self.max_send_lag_ms, 1),
        }


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 2)


async def _post(session: aiohttp.ClientSession, url: str, body: Body, result: LoadResult) -> None:
    data, count = body
    started, wall = time.perf_counter(), time.time()
    result.first_send = result.first_send or wall
    result.requests += 1
    result.events_sent += count
    try:
        async with session.post(url, data=data) as response:
            payload = await response.read()
            status = response.status
    except (aiohttp.ClientError, TimeoutError) as exc:
        result.errors[type(exc).__name__] += 1
        return
    result.latencies_ms.append((time.perf_counter() - started) * 1000)
    result.last_ack = time.time()
    result.first_ack = result.first_ack or result.last_ack
    if status == 201:
        result.events_accepted += count
    elif status == 207:
        result.events_accepted += len(orjson.loads(payload)["succeeded"])
        result.errors["207"] += 1
    else:
        result.errors[str(status)] += 1


async def run_load(
    url: str, token: str, bodies: list[Body], *, rate: float | None, connections: int, max_seconds: float
) -> LoadResult:
    """POST every body (or stop issuing at `max_seconds`): at `rate` events/s, or as fast as
    `connections` concurrent clients go when `rate` is None (saturation)."""
    result = LoadResult(offered_rate=rate)
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    connector = aiohttp.TCPConnector(limit=connections)
    timeout = aiohttp.ClientTimeout(total=60)
    loop = asyncio.get_running_loop()
    async with aiohttp.ClientSession(connector=connector, timeout=timeout, headers=headers) as session:
        deadline = loop.time() + max_seconds
        if rate is None:
            queue = iter(bodies)

            async def worker() -> None:
                for body in queue:  # one shared iterator: each body is posted once
                    if loop.time() > deadline:
                        return
                    await _post(session, url, body, result)

            await asyncio.gather(*(worker() for _ in range(connections)))
            return result
        slots = asyncio.Semaphore(connections)
        tasks: list[asyncio.Task[None]] = []
        start, due_events = loop.time(), 0

        async def post_and_release(body: Body) -> None:
            try:
                await _post(session, url, body, result)
            finally:
                slots.release()

        for body in bodies:
            due = start + due_events / rate
            if due > deadline:
                break
            await asyncio.sleep(max(0.0, due - loop.time()))
            await slots.acquire()
            result.max_send_lag_ms = max(result.max_send_lag_ms, (loop.time() - due) * 1000)
            tasks.append(asyncio.create_task(post_and_release(body)))
            due_events += body[1]
        if tasks:
            await asyncio.wait(tasks, timeout=90)
    return result


_BUCKET = re.compile(
    r'^argus_http_request_duration_seconds_bucket\{(?=[^}]*method="POST")(?=[^}]*route="/api/audit-logs/bulk")'
    r'[^}]*le="([^"]+)"[^}]*\} (\S+)$',
    re.MULTILINE,
)


def server_latency(metrics_url: str) -> dict[str, float]:
    """The gateway's own histogram of bulk request durations (cumulative count per bucket bound `le`).

    Why: the client's ack latency includes this generator's own scheduling delays on a busy
    machine; the server-side share of requests within 50 ms does not."""
    with urllib.request.urlopen(metrics_url, timeout=10) as response:
        text = response.read().decode()
    return {le: float(count) for le, count in _BUCKET.findall(text)}


#: Events per request, as the bench's load generator posts them: the gateway attests each request
#: under one signature, so events written straight to Kafka are attested in groups of this size.
REQUEST_EVENTS = 250


def attestation_statements(events: list[dict[str, Any]], source: str, received_at: str) -> list[Statement]:
    """The statement (id, contentHash, source, receivedAt) a gateway attests for each of `events`
    (valid, with ids), computed from the event as the gateway and the processor compute it."""
    statements: list[Statement] = []
    for event in events:
        normalized, metadata_text = validate_storable_event(event, EnumConfig(), assign_id=False)
        statements.append((normalized["id"], content_digest(normalized, metadata_text).hex(), source, received_at))
    return statements


def attested_envelopes(events: list[dict[str, Any]], source: str, received_at: str,
                       receipts: ReceiptSigner | None) -> list[bytes]:  # fmt: skip
    """The envelopes the gateway would produce for one request of `events`, with its v2
    attestation of `source` and `received_at` when `receipts` holds the gateway's receipt key
    (else the processor stores the claim as unattested: source null, docs/receipts.md)."""
    attestations: list[str | None] = [None] * len(events)
    if receipts is not None:
        attestations = list(receipts.attest_batch(attestation_statements(events, source, received_at)))
    return [encode_envelope(event, source=source, received_at=received_at, attestation=attestation)
            for event, attestation in zip(events, attestations, strict=True)]  # fmt: skip


def produce_direct(
    bootstrap: str, topic: str, actors: int, *, source: str, first: int = 0, receipts: ReceiptSigner | None = None
) -> float:
    """One unsigned event for each of `actors` new actors straight to Kafka (as the SDK's Kafka
    transport would), with `source` and receivedAt set; returns seconds spent producing."""
    moment = datetime.now(UTC)
    events = (make_event(i, f"mem-{i:07d}", moment) for i in range(first, first + actors))
    return produce_events(bootstrap, topic, events, source=source, receipts=receipts)


def produce_events(
    bootstrap: str,
    topic: str,
    events: Iterable[dict[str, Any]],
    *,
    source: str,
    receipts: ReceiptSigner | None = None,
) -> float:
    """Envelopes of `events` straight to Kafka keyed by actorId; returns seconds spent producing."""
    producer = Producer(
        durable_producer_config(
            {"bootstrap.servers": bootstrap}, delivery_timeout=60, max_message_bytes=Settings().kafka_max_message_bytes
        )
    )
    started = time.perf_counter()
    iterator = iter(events)
    requests = iter(lambda: list(itertools.islice(iterator, REQUEST_EVENTS)), [])
    envelopes = (
        (value, message_key(event))
        for request in requests
        for event, value in zip(request, attested_envelopes(request, source, utc_now_rfc3339(), receipts), strict=True)
    )
    produce_all(producer, topic, envelopes, "direct produce")
    return time.perf_counter() - started


def produce_all(producer: Producer, topic: str, messages: Iterable[tuple[bytes, bytes]], what: str) -> None:
    """Produce (value, key) pairs, serving delivery reports whenever the local queue is full, then
    wait for every delivery; raise naming `what` if any is still undelivered after 60 s."""
    for value, key in messages:
        while True:
            try:
                producer.produce(topic, value=value, key=key)
                break
            except BufferError:
                producer.poll(0.01)
        producer.poll(0)
    if producer.flush(60) != 0:
        raise RuntimeError(f"{what}: messages still undelivered after 60 s")
