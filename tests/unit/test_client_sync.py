"""AuditClient against a tiny scripted HTTP server: batching, retries, rejections, spool, signing.

The server here only records requests and answers as told (so we can count attempts); the real
gateway, Kafka and PostgreSQL are exercised in tests/integration/test_client_*.py.
"""

from __future__ import annotations

import asyncio
import logging
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from cryptography.hazmat.primitives.asymmetric import ed25519

from argus_client.client import AuditClient
from argus_client.signing import PemSigner
from argus_client.transport import DeliveryError, RetryPolicy
from argus_spec.signature import verify_event

Answer = Callable[[int, list[dict[str, Any]]], tuple[int, Any, dict[str, str]]]
FAST_RETRY = RetryPolicy(max_attempts=3, base_delay=0.01, max_delay=0.05)


def accept(_hit: int, events: list[dict[str, Any]]) -> tuple[int, Any, dict[str, str]]:
    return 201, {"succeeded": [{"index": i, "id": e["id"]} for i, e in enumerate(events)], "failed": []}, {}


class FakeGateway:
    """Records every POST /api/audit-logs/bulk and answers with `answer(hit_number, events)`."""

    def __init__(self, answer: Answer = accept) -> None:
        self.answer = answer
        self.hits: list[list[dict[str, Any]]] = []
        self.times: list[float] = []
        self.headers: list[dict[str, str]] = []
        self._ready = threading.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self.port = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def events(self) -> list[dict[str, Any]]:
        return [event for hit in self.hits for event in hit]

    async def _handle(self, request: web.Request) -> web.Response:
        events = await request.json()
        hit = len(self.hits)
        self.hits.append(events)
        self.times.append(time.monotonic())
        self.headers.append(dict(request.headers))
        status, body, headers = self.answer(hit, events)
        return web.json_response(body, status=status, headers=headers)

    def _serve(self) -> None:
        loop = self._loop = asyncio.new_event_loop()
        app = web.Application()
        app.router.add_post("/api/audit-logs/bulk", self._handle)
        runner = web.AppRunner(app)
        loop.run_until_complete(runner.setup())
        loop.run_until_complete(web.TCPSite(runner, "127.0.0.1", 0).start())
        self.port = runner.addresses[0][1]
        self._ready.set()
        loop.run_forever()
        loop.run_until_complete(runner.cleanup())
        loop.close()

    def __enter__(self) -> FakeGateway:
        self._thread.start()
        assert self._ready.wait(10), "the fake gateway did not start"
        return self

    def __exit__(self, *exc: object) -> None:
        assert self._loop is not None
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)


@pytest.fixture
def gateway() -> Iterator[FakeGateway]:
    with FakeGateway() as server:
        yield server


def event(index: int, **overrides: Any) -> dict[str, Any]:
    return {
        "timestamp": f"2026-03-04T05:06:{index % 60:02d}Z",
        "status": "SUCCESS",
        "action": "READ",
        "actorType": "SERVICE",
        "actorId": "svc-test",
        "targetType": "RESOURCE",
        "targetId": f"doc-{index}",
        **overrides,
    }


def wait_until(predicate: Callable[[], bool], timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


def test_full_batches_go_at_once_and_the_rest_at_close(gateway: FakeGateway) -> None:
    with AuditClient(gateway.url, api_key="k", batch_size=10, batch_interval=3600, workers=1) as client:
        for i in range(25):
            assert client.log_audit_event(event(i)) is True
        wait_until(lambda: len(gateway.hits) == 2)  # an hour's interval: only full batches can have gone
        assert [len(h) for h in gateway.hits] == [10, 10]
    assert [len(h) for h in gateway.hits] == [10, 10, 5]  # close flushed the partial batch
    assert [e["targetId"] for e in gateway.events] == [f"doc-{i}" for i in range(25)]
    assert gateway.headers[0]["Authorization"] == "Bearer k"
    assert client.stats() == {
        "enqueued": 25, "sent": 25, "failed": 0, "dropped": 0, "spooled": 0, "replayed": 0, "queued": 0
    }  # fmt: skip


def test_a_partial_batch_goes_when_the_interval_ends(gateway: FakeGateway) -> None:
    with AuditClient(gateway.url, api_key="k", batch_size=10, batch_interval=0.2, workers=1) as client:
        for i in range(3):
            client.log_audit_event(event(i))
        wait_until(lambda: len(gateway.hits) == 1)  # sent while the client is open: the interval did it
        assert [len(h) for h in gateway.hits] == [3] and not client.closed


def test_a_4xx_is_answered_once_and_reported_without_retry() -> None:
    failures: list[tuple[dict[str, Any], DeliveryError]] = []
    with FakeGateway(lambda _h, _e: (401, {"error": "unauthorized", "message": "bad token"}, {})) as server:
        client = AuditClient(server.url, api_key="wrong", on_failure=lambda e, err: failures.append((e, err)))
        for i in range(3):
            client.log_audit_event(event(i))
        client.close(5)
    assert len(server.hits) == 1
    assert [(e["targetId"], err.status) for e, err in failures] == [("doc-0", 401), ("doc-1", 401), ("doc-2", 401)]
    assert "bad token" in failures[0][1].message
    assert client.stats()["failed"] == 3 and client.stats()["sent"] == 0


def test_207_hands_each_rejected_event_to_on_failure() -> None:
    def partial(_hit: int, events: list[dict[str, Any]]) -> tuple[int, Any, dict[str, str]]:
        return (
            207,
            {
                "succeeded": [{"index": i, "id": e["id"]} for i, e in enumerate(events) if i != 1],
                "failed": [{"index": 1, "field": "metadata", "error": "metadata: integer out of range"}],
            },
            {},
        )

    failures: list[tuple[dict[str, Any], DeliveryError]] = []
    with FakeGateway(partial) as server:
        client = AuditClient(server.url, api_key="k", on_failure=lambda e, err: failures.append((e, err)))
        for i in range(3):
            client.log_audit_event(event(i))
        client.close(5)
    assert [(e["targetId"], err.field, err.status) for e, err in failures] == [("doc-1", "metadata", 207)]
    assert client.stats()["sent"] == 2 and client.stats()["failed"] == 1 and len(server.hits) == 1


def test_503_with_retry_after_is_retried_after_waiting_with_the_same_ids() -> None:
    def flaky(hit: int, events: list[dict[str, Any]]) -> tuple[int, Any, dict[str, str]]:
        return (503, {"error": "kafka_unavailable"}, {"Retry-After": "1"}) if hit == 0 else accept(hit, events)

    with FakeGateway(flaky) as server, AuditClient(server.url, api_key="k", retry=FAST_RETRY) as client:
        client.log_audit_event(event(1))
        wait_until(lambda: client.stats()["sent"] == 1)
    assert len(server.hits) == 2 and server.times[1] - server.times[0] >= 0.95
    assert server.hits[0] == server.hits[1]  # a retry resends the same id: the server deduplicates


def test_a_full_queue_refuses_loudly(gateway: FakeGateway, caplog: pytest.LogCaptureFixture) -> None:
    client = AuditClient(gateway.url, api_key="k", queue_size=5, autostart=False, enqueue_timeout=0.2)
    with caplog.at_level(logging.WARNING, logger="argus_client"):
        assert all(client.log_audit_event(event(i)) for i in range(5))
        started = time.monotonic()
        assert client.log_audit_event(event(5)) is False
        assert time.monotonic() - started >= 0.19  # waited enqueue_timeout for room
    loud = [r for r in caplog.records if r.name.startswith("argus_client") and r.levelno >= logging.WARNING]
    assert client.stats()["dropped"] == 1 and loud  # said at WARNING, whatever the wording
    client.close(5)
    assert len(gateway.events) == 5 and client.log_audit_event(event(6)) is False


def test_without_a_spool_undeliverable_events_are_reported() -> None:
    failures: list[DeliveryError] = []
    with FakeGateway(lambda _h, _e: (503, {}, {})) as server:
        client = AuditClient(server.url, api_key="k", retry=FAST_RETRY, on_failure=lambda _e, err: failures.append(err))
        client.log_audit_event(event(1))
        wait_until(lambda: client.stats()["failed"] == 1)
        client.close(2)
    assert len(server.hits) == 3 and "3 attempt" in failures[0].message


def test_undeliverable_batches_are_spooled_then_replayed_at_next_start(tmp_path: Path) -> None:
    spool = tmp_path / "spool"
    with FakeGateway(lambda _h, _e: (503, {}, {"Retry-After": "0"})) as down:
        client = AuditClient(down.url, api_key="k", spool_dir=spool, retry=FAST_RETRY, batch_size=5)
        for i in range(12):
            client.log_audit_event(event(i))
        wait_until(lambda: client.stats()["spooled"] == 12)
        client.close(2)
        assert len(down.hits) <= 6  # once the gateway looked down, later batches went straight to the spool
    logged_ids = {e["id"] for hit in down.hits for e in hit}
    assert len(list(spool.glob("*.ndjson"))) >= 2
    with FakeGateway() as up, AuditClient(up.url, api_key="k", spool_dir=spool) as again:
        wait_until(lambda: again.stats()["replayed"] == 12)
    assert sorted(e["targetId"] for e in up.events) == sorted(f"doc-{i}" for i in range(12))
    assert logged_ids <= {e["id"] for e in up.events}  # the same ids as the first attempts
    assert list(spool.glob("*.ndjson")) == []


def test_close_spools_what_the_deadline_leaves(tmp_path: Path) -> None:
    slow = RetryPolicy(max_attempts=5, base_delay=3600, max_delay=3600)  # close must not wait for these
    with FakeGateway(lambda _h, _e: (503, {}, {})) as server:
        client = AuditClient(server.url, api_key="k", spool_dir=tmp_path, retry=slow)
        for i in range(30):
            client.log_audit_event(event(i))
        client.close(timeout=0.5)
    assert client.stats()["spooled"] == 30
    assert sum(p.read_text().count("\n") for p in tmp_path.glob("*.ndjson")) == 30


def test_signing_per_client_and_per_event(gateway: FakeGateway) -> None:
    key = ed25519.Ed25519PrivateKey.generate()

    def fake(event_: dict[str, Any]) -> dict[str, Any]:
        return {**event_, "signature": "c2ln", "signatureAlgorithm": "EdDSA", "publicKeyId": "fake"}

    with AuditClient(gateway.url, api_key="k", signer=PemSigner(key, "svc-key")) as client:
        client.log_audit_event(event(1))
        client.log_audit_event(event(2), signer=fake)
    with AuditClient(gateway.url, api_key="k") as unsigned:
        unsigned.log_audit_event(event(3))
    first, second, third = gateway.events
    assert first["publicKeyId"] == "svc-key" and first["signatureFormat"] == "v2"
    verify_event(first, key.public_key())  # raises if the signature does not verify
    assert second["signature"] == "c2ln" and second["publicKeyId"] == "fake"
    assert third["signature"] is None


def test_atexit_flushes_a_client_nobody_closed(gateway: FakeGateway) -> None:
    script = (
        "import sys; from argus_client.client import AuditClient; "
        "c = AuditClient(sys.argv[1], api_key='k', batch_interval=60); "
        "[c.log_audit_event({'timestamp': '2026-01-01T00:00:00Z', 'status': 'SUCCESS', 'action': 'READ', "
        "'actorType': 'SERVICE', 'actorId': 'exiting', 'targetType': 'RESOURCE', 'targetId': str(i)}) "
        "for i in range(7)]"
    )
    subprocess.run([sys.executable, "-c", script, gateway.url], check=True, timeout=30)
    assert sorted(int(e["targetId"]) for e in gateway.events) == list(range(7))
