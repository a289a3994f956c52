"""AuditClient → real gateway (subprocess) → Kafka → processor → PostgreSQL: exactly once, through outages.

The gateway runs as `argus gateway` in a subprocess, as in production, so a test can kill it
mid-stream and start it again on the same port.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from contextlib import suppress
from pathlib import Path

import pytest

from argus_client.client import AuditClient
from argus_client.transport import RetryPolicy
from bench import free_port
from tests.integration.harness import TOKEN, Stack, chain_problems, make_event, wait_for, wait_until_consumed

QUICK_RETRY = RetryPolicy(max_attempts=3, base_delay=0.05, max_delay=0.2)
#: The shared test Kafka can be slow when other suites run: ride out ~30 s of 503s before giving up.
PATIENT_RETRY = RetryPolicy(max_attempts=10, base_delay=0.2, max_delay=5)


class GatewayProcess:
    """`argus gateway` on a fixed port, startable again after a kill."""

    def __init__(self, stack: Stack) -> None:
        self.stack = stack
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None
        self.starts = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 60) -> GatewayProcess:
        self.starts += 1
        log = open(self.stack.tmp / f"gateway-{self.starts}.log", "wb")  # noqa: SIM115
        command = [sys.executable, "-m", "argus_commands", "gateway", "--port", str(self.port)]
        self.process = subprocess.Popen(command, env=self.stack.env(), stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                break
            with suppress(OSError), urllib.request.urlopen(f"{self.url}/ready", timeout=2) as response:
                if response.status == 200:
                    return self
            time.sleep(0.2)
        pytest.fail(f"the gateway did not become ready on {self.url} within {timeout}s; logs:\n{self.logs()}")

    def logs(self) -> str:
        return "\n".join(p.read_text(errors="replace")[-3000:] for p in sorted(self.stack.tmp.glob("gateway-*.log")))

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(sig)
            self.process.wait(30)


@pytest.fixture
def gateway(stack: Stack) -> Iterator[GatewayProcess]:
    process = GatewayProcess(stack).start()
    try:
        yield process
    finally:
        process.stop()


def assert_stored_exactly(stack: Stack, expected_targets: set[str]) -> None:
    """Every event stored once: count, unique ids, the exact set of events, and intact chains."""
    expected = len(expected_targets)
    wait_for(lambda: stack.stored_count() >= expected, 120, f"{expected} records; logs:\n{stack.logs()}")
    wait_until_consumed(stack)  # a late duplicate would be stored by now
    records = stack.records()
    stored = [f"{r['actorId']}/{r['targetId']}" for r in records]
    duplicates = sorted({s for s in stored if stored.count(s) > 1})[:10] if len(stored) != len(set(stored)) else []
    assert len(records) == expected, f"{len(records)} stored, {expected} expected; duplicated: {duplicates}"
    assert len({r["id"] for r in records}) == len(records)
    assert set(stored) == expected_targets, f"missing: {sorted(expected_targets - set(stored))[:10]}"
    assert chain_problems(records) == []


def test_thousands_of_events_from_several_threads_are_stored_exactly_once(
    stack: Stack, gateway: GatewayProcess
) -> None:
    stack.start_processor()
    client = AuditClient(gateway.url, api_key=TOKEN, batch_size=50, batch_interval=0.2, retry=PATIENT_RETRY)
    threads, per_thread = 6, 500

    def produce(thread: int) -> None:
        for i in range(per_thread):
            assert client.log_audit_event(make_event(f"svc-{thread}", i, targetId=f"doc-{i}"))

    workers = [threading.Thread(target=produce, args=(t,)) for t in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    client.close(90)
    stats = client.stats()
    no_loss = stats["sent"] == threads * per_thread and stats["failed"] == stats["dropped"] == stats["spooled"] == 0
    assert no_loss, f"{stats}; gateway logs:\n{gateway.logs()}"
    assert_stored_exactly(stack, {f"svc-{t}/doc-{i}" for t in range(threads) for i in range(per_thread)})


def test_a_gateway_outage_mid_stream_is_spooled_then_replayed_without_duplicates(
    stack: Stack, gateway: GatewayProcess, tmp_path: Path
) -> None:
    stack.start_processor()
    client = AuditClient(
        gateway.url,
        api_key=TOKEN,
        batch_size=25,
        batch_interval=0.05,
        spool_dir=tmp_path / "spool",
        retry=QUICK_RETRY,
        replay_interval=0.5,
        http_timeout=5,
    )
    total = 3000
    events = [make_event(f"svc-{i % 5}", i, targetId=f"doc-{i}") for i in range(total)]
    for item in events[:1000]:
        client.log_audit_event(item)
        time.sleep(0.0002)  # a steady stream, so the kill lands between and during requests
    gateway.stop(signal.SIGKILL)
    for item in events[1000:2000]:
        client.log_audit_event(item)
    wait_for(lambda: client.stats()["spooled"] > 0 and client.stats()["queued"] == 0, 60, "events spooled")
    gateway.start()
    for item in events[2000:]:
        client.log_audit_event(item)
    spool = tmp_path / "spool"
    wait_for(lambda: not list(spool.glob("*.ndjson")) and client.stats()["queued"] == 0, 90, "the spool drained")
    client.close(30)
    stats = client.stats()
    assert stats["failed"] == stats["dropped"] == 0, stats
    assert stats["spooled"] >= 1000 and stats["replayed"] >= 1000, stats
    assert_stored_exactly(stack, {f"svc-{i % 5}/doc-{i}" for i in range(total)})


CRASHING_SCRIPT = """
import sys, time
from argus_client.client import AuditClient
from argus_client.transport import RetryPolicy
url, spool, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
client = AuditClient(url, api_key="unused", spool_dir=spool, batch_size=40, batch_interval=0.05,
                     retry=RetryPolicy(max_attempts=2, base_delay=0.01, max_delay=0.02), replay_interval=3600)
for i in range(count):
    client.log_audit_event({"timestamp": "2026-05-06T07:08:09Z", "status": "SUCCESS", "action": "CREATE",
                            "actorType": "SERVICE", "actorId": "svc-crash", "targetType": "RESOURCE",
                            "targetId": f"doc-{i}", "metadata": {"i": i}})
while client.stats()["spooled"] < count:
    time.sleep(0.01)
print("spooled", flush=True)
time.sleep(600)
"""


def test_a_killed_process_leaves_a_spool_that_the_next_client_replays(stack: Stack, tmp_path: Path) -> None:
    spool, count = tmp_path / "spool", 500
    nobody = f"http://127.0.0.1:{free_port()}"  # the gateway is down: nothing listens here
    crashing = subprocess.Popen(
        [sys.executable, "-c", CRASHING_SCRIPT, nobody, str(spool), str(count)], stdout=subprocess.PIPE
    )
    try:
        assert crashing.stdout is not None
        assert crashing.stdout.readline().strip() == b"spooled", "the script did not spool its events"
    finally:
        crashing.send_signal(signal.SIGKILL)
        crashing.wait(30)
    assert sum(p.read_bytes().count(b"\n") for p in spool.glob("*.ndjson")) == count

    gateway = GatewayProcess(stack).start()
    try:
        stack.start_processor()
        with AuditClient(gateway.url, api_key=TOKEN, spool_dir=spool, replay_interval=0.5) as client:
            wait_for(lambda: client.stats()["replayed"] == count, 60, f"{count} replayed events")
        assert list(spool.glob("*.ndjson")) == []
        assert_stored_exactly(stack, {f"svc-crash/doc-{i}" for i in range(count)})
    finally:
        gateway.stop()
