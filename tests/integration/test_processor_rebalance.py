"""Rebalances never kill a replica: partitions reassigned while fetching at full speed, and while
PostgreSQL is unreachable (through a loopback proxy the test cuts), lose and duplicate nothing."""

from __future__ import annotations

import signal
import subprocess
import threading
from typing import Any
from urllib.parse import urlsplit

import pytest

from tests.integration.harness import (
    Stack,
    assert_exactly_once,
    random_events,
    wait_for,
    wait_for_group,
    wait_until_consumed,
)
from tests.integration.tcp_proxy import LoopbackProxy

STACK_ENV = {"ARGUS_PROCESSOR_BATCH_SIZE": "300"}
#: Group membership changes (one rebalance each) while the first replica fetches a backlog. Before
#: the seek moved onto faust's consumer thread, 38 rebalances killed a replica 3 times; 12 keep the
#: race exercised on every run at ~60% of the former 20's cost in CI time.
REBALANCES = 12
#: The backlog the feeder keeps ahead of what is stored, so every rebalance lands mid-fetch.
BACKLOG = 15_000


def _stop(process: subprocess.Popen[bytes], stack: Stack) -> None:
    """A graceful stop (the replica leaves the group): it must exit cleanly, having been alive."""
    assert process.poll() is None, f"replica exited on its own ({process.returncode})\n{stack.logs()}"
    process.send_signal(signal.SIGTERM)
    try:
        code = process.wait(timeout=60)
    except subprocess.TimeoutExpired:
        process.send_signal(signal.SIGQUIT)  # the replica dumps its threads' stacks to its log
        wait_for(lambda: "Thread 0x" in stack.logs(), 10, lambda: "no stack dump")
        process.kill()
        pytest.fail(f"replica did not stop within 60 s of SIGTERM; its threads:\n{stack.logs()}")
    assert code == 0, stack.logs()


class _Feeder:
    """Produces events in a background thread so the stored count never catches up with Kafka."""

    def __init__(self, stack: Stack) -> None:
        self._stack = stack
        self.events: list[dict[str, Any]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self.error: BaseException | None = None

    def __enter__(self) -> _Feeder:
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=120)
        if self.error is not None:
            raise self.error

    def _run(self) -> None:
        seed = 0
        try:
            while not self._stop.is_set():
                if len(self.events) - self._stack.stored_count() < BACKLOG:
                    chunk = random_events(BACKLOG // 2, seed=1000 + seed)
                    seed += 1
                    self._stack.produce_envelopes(chunk)
                    self.events.extend(chunk)
                self._stop.wait(0.5)
        except BaseException as exc:  # surfaced by __exit__
            self.error = exc


@pytest.mark.timeout(900)  # 12 replica starts and stops: ~5 min on a busy two-core machine
def test_partitions_reassigned_again_and_again_while_fetching_at_full_speed(stack: Stack) -> None:
    first = stack.start_processor("a")
    wait_for_group(stack, members=1)
    rebalances = 0
    with _Feeder(stack) as feeder:
        wait_for(lambda: stack.stored_count() > 0, 120, lambda: f"first records stored\n{stack.logs()}")
        while rebalances < REBALANCES:
            second = stack.start_processor("b")
            wait_for_group(stack, members=2)
            rebalances += 1
            _stop(second, stack)
            wait_for_group(stack, members=1)
            rebalances += 1
            assert first.poll() is None, f"replica a exited after {rebalances} rebalances\n{stack.logs()}"
    events = feeder.events
    wait_until_consumed(stack, timeout=300)
    assert first.poll() is None, stack.logs()
    assert_exactly_once(stack, events)


def test_partitions_reassigned_while_the_database_is_unreachable(stack: Stack) -> None:
    proxy = LoopbackProxy(urlsplit(stack.db_url).port or 5432)
    stack.extra_env["ARGUS_DATABASE_URL"] = proxy.url_for(stack.db_url)  # the replicas' view only
    events = random_events(6000, seed=23)
    try:
        first = stack.start_processor("a")
        wait_for_group(stack, members=1)
        stack.produce_envelopes(events[:2000])
        wait_for(lambda: stack.stored_count() >= 1000, 120, lambda: f"1000 stored\n{stack.logs()}")

        proxy.cut()  # mid-stream: batches in flight fail and retry
        stack.produce_envelopes(events[2000:4000])
        second = stack.start_processor("b")
        wait_for_group(stack, members=2)  # partitions reassigned while the database is unreachable
        _stop(second, stack)
        wait_for_group(stack, members=1)  # and reassigned again
        refused = proxy.refused
        assert refused > 0, "the replicas never noticed the outage"
        wait_for(lambda: proxy.refused >= refused + 10, 120, "replica a retrying through the outage")
        assert first.poll() is None, f"replica a exited during the outage\n{stack.logs()}"

        proxy.restore()
        stack.produce_envelopes(events[4000:])
        wait_until_consumed(stack)
        assert first.poll() is None, stack.logs()
        assert_exactly_once(stack, events)
    finally:
        proxy.close()
