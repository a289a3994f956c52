"""AsyncAuditClient against the scripted server of test_client_sync: same rules, asyncio I/O."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

from argus_client.aio import AsyncAuditClient
from argus_client.transport import DeliveryError, RetryPolicy
from tests.unit.test_client_sync import FAST_RETRY, FakeGateway, accept, event


async def wait_until(predicate: Any, timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.01)


async def test_delivers_in_batches_and_counts() -> None:
    with FakeGateway() as server:
        async with AsyncAuditClient(server.url, api_key="k", batch_size=10, batch_interval=0.2, workers=2) as client:
            for i in range(25):
                assert client.log_audit_event(event(i))
            await wait_until(lambda: client.stats()["sent"] == 25)
    assert sorted(len(h) for h in server.hits) == [5, 10, 10]
    assert sorted(e["targetId"] for e in server.events) == sorted(f"doc-{i}" for i in range(25))
    assert client.stats()["enqueued"] == 25


async def test_events_logged_before_start_are_kept() -> None:
    with FakeGateway() as server:
        client = AsyncAuditClient(server.url, api_key="k")
        client.log_audit_event(event(1))
        await client.start()
        await client.close(5)
    assert [e["targetId"] for e in server.events] == ["doc-1"]


async def test_4xx_once_207_per_event_and_retry_after() -> None:
    def script(hit: int, events: list[dict[str, Any]]) -> tuple[int, Any, dict[str, str]]:
        if hit == 0:
            return 503, {}, {"Retry-After": "0.3"}
        if hit == 1:
            return (
                207,
                {
                    "succeeded": [{"index": 0, "id": events[0]["id"]}],
                    "failed": [{"index": 1, "field": "status", "error": "status: bad"}],
                },
                {},
            )
        return 403, {"message": "forbidden"}, {}

    failures: list[tuple[str, DeliveryError]] = []
    with FakeGateway(script) as server:
        client = AsyncAuditClient(
            server.url,
            api_key="k",
            retry=FAST_RETRY,
            workers=1,
            on_failure=lambda e, err: failures.append((e["targetId"], err)),
        )
        await client.start()
        client.log_audit_event(event(0))
        client.log_audit_event(event(1))
        await wait_until(lambda: len(failures) == 1)
        client.log_audit_event(event(2))
        await client.close(5)
    assert len(server.hits) == 3 and server.times[1] - server.times[0] >= 0.29
    assert [(t, e.status) for t, e in failures] == [("doc-1", 207), ("doc-2", 403)]
    assert client.stats()["sent"] == 1 and client.stats()["failed"] == 2


async def test_close_deadline_spools_and_the_next_client_replays(tmp_path: Path) -> None:
    slow = RetryPolicy(max_attempts=5, base_delay=3600, max_delay=3600)  # close must not wait for these
    with FakeGateway(lambda _h, _e: (503, {}, {})) as down:
        client = AsyncAuditClient(down.url, api_key="k", spool_dir=tmp_path, retry=slow)
        await client.start()
        for i in range(8):
            client.log_audit_event(event(i))
        await client.close(0.5)
    assert client.stats()["spooled"] == 8
    with FakeGateway(accept) as up:
        async with AsyncAuditClient(up.url, api_key="k", spool_dir=tmp_path) as again:
            await wait_until(lambda: again.stats()["replayed"] == 8)
    assert sorted(e["targetId"] for e in up.events) == sorted(f"doc-{i}" for i in range(8))


async def test_async_logging_waits_for_room_then_drops() -> None:
    with FakeGateway() as server:
        client = AsyncAuditClient(server.url, api_key="k", queue_size=2, enqueue_timeout=0.2)
        assert client.log_audit_event(event(0)) and client.log_audit_event(event(1))
        started = time.monotonic()
        assert await client.log_audit_event_async(event(2)) is False
        assert time.monotonic() - started >= 0.19
        assert client.log_audit_event(event(3)) is False  # the sync form never waits
        assert client.stats()["dropped"] == 2
        await client.start()
        await client.close(5)
    assert len(server.events) == 2
