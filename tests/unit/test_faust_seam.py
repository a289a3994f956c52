"""processor/faust_seam.py replaces faust methods and the default monitor: guard what it relies on."""

from __future__ import annotations

import hashlib
import inspect
from typing import Any

from faust.transport.consumer import Consumer
from faust.types import TP

from processor.faust_seam import ArgusFaustApp, LeanConsumer, QuietMonitor

#: sha256 of faust-streaming 0.15.3's Consumer._drain_messages, which LeanConsumer copies.
FAUST_DRAIN_SHA256 = "44a2500309e83c630493f6828af50166ec8d96a0b3e4fb2bab735f704ae93417"


def test_faust_drain_loop_is_the_one_we_copied() -> None:
    source = inspect.getsource(Consumer._drain_messages)
    digest = hashlib.sha256(source.encode()).hexdigest()
    assert digest == FAUST_DRAIN_SHA256, (
        "faust's Consumer._drain_messages changed: port the change into processor/faust_seam.py "
        "(LeanConsumer._drain_messages), then update FAUST_DRAIN_SHA256"
    )
    assert "self.wait_first(" in source and "callback(message), self.suspend_flow.wait()" in source


def test_app_uses_the_lean_consumer_and_quiet_monitor() -> None:
    app = ArgusFaustApp("argus-test", broker="kafka://127.0.0.1:1")
    assert isinstance(app.consumer, LeanConsumer)
    assert isinstance(app.monitor, QuietMonitor)


def test_quiet_monitor_keeps_no_per_message_state() -> None:
    class FakeMessage:
        time_in: Any = None

    monitor, tp, message = QuietMonitor(), TP("t", 0), FakeMessage()
    monitor.on_message_in(tp, 1, message)  # type: ignore[arg-type]
    assert monitor.on_stream_event_in(tp, 1, object(), object()) is None
    monitor.on_stream_event_out(tp, 1, object(), object(), None)
    monitor.on_message_out(tp, 1, message)  # type: ignore[arg-type]
    assert monitor.messages_received_total == 0 and monitor.events_total == 0
    assert message.time_in is None


def test_the_fast_path_is_taken_only_when_a_delivery_cannot_block() -> None:
    """faust's wait_first stays for every case where a delivery may wait: flow suspended (before
    start and during a rebalance) or a stream buffer full."""
    app = ArgusFaustApp("argus-test", broker="kafka://127.0.0.1:1", monitor=QuietMonitor(), stream_buffer_maxsize=2)
    consumer = app.consumer
    assert isinstance(consumer, LeanConsumer)
    topic = app.topic("argus-test-events", value_serializer="raw")
    app.topics.add(topic)
    assert consumer._can_block()  # flow control starts suspended
    app.flow_control.resume()
    assert not consumer._can_block()
    topic.queue.put_nowait(1)
    topic.queue.put_nowait(2)
    assert consumer._can_block()  # a full stream buffer
    topic.queue.get_nowait()
    topic.queue.get_nowait()
    consumer.suspend_flow.set()  # a rebalance
    assert consumer._can_block()
    consumer.suspend_flow.clear()
    app.flow_control.suspend()
    assert consumer._can_block()


def test_the_consumer_thread_hooks_resume_relies_on_exist() -> None:
    """PartitionStarter seeks, pauses and resumes through faust's consumer thread."""
    app = ArgusFaustApp("argus-test", broker="kafka://127.0.0.1:1", monitor=QuietMonitor())
    thread = app.consumer._thread  # type: ignore[attr-defined]
    assert inspect.iscoroutinefunction(thread.call_thread)
    assert callable(thread._ensure_consumer)
    assert "_read_offset" in vars(app.consumer)
    # LeanConsumer drops a fetch that spanned a rebalance by wrapping this faust method.
    assert list(inspect.signature(Consumer._wait_next_records).parameters) == ["self", "timeout"]
    assert app.partition_starter is None
    app.resume_partitions_with("argus-test-events", lambda partitions: dict.fromkeys(partitions, 0))
    assert app.partition_starter is not None  # what processor/replica.py does


async def test_rebalance_callbacks_get_the_topics_partitions_only() -> None:
    app = ArgusFaustApp("argus-test", broker="kafka://127.0.0.1:1")
    calls: list[tuple[str, list[int]]] = []

    async def revoked(partitions: list[int]) -> None:
        calls.append(("revoked", partitions))

    async def assigned(partitions: list[int]) -> None:
        calls.append(("assigned", partitions))

    app.on_revoked("events", revoked)
    app.on_assigned("events", assigned)
    await app.on_partitions_assigned.send({TP("events", 3), TP("other", 1), TP("events", 0)})
    await app.on_partitions_revoked.send({TP("events", 3), TP("other", 1)})
    assert calls == [("assigned", [0, 3]), ("revoked", [3])]
