"""An asyncio face on confluent-kafka's Producer that resolves a future per delivery report.

Why not `confluent_kafka.aio.AIOProducer`: it buffers in Python until a batch fills and does
not take headers. Here one Producer is shared, a daemon thread calls `poll()`, and delivery
callbacks resolve asyncio futures through `loop.call_soon_threadsafe`. A future resolves only
when the broker has the message under `acks=all` (or definitively failed), which is exactly
the moment the gateway may answer its caller.

Delivery reports are handed to the event loop once per `poll()` (one wake-up for every report
that call served), not once per message: a wake-up per message (a self-pipe write and a loop
callback each) was ~15% of the processor's CPU at saturation (docs/benchmarks.md).
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Any

from confluent_kafka import KafkaError, KafkaException, Message, Producer


class DeliveryError(Exception):
    """Kafka did not take the message; `retriable` says whether trying later may succeed."""

    def __init__(self, reason: str, *, retriable: bool = True) -> None:
        super().__init__(reason)
        self.reason = reason
        self.retriable = retriable


def durable_producer_config(client_config: dict[str, str], *, delivery_timeout: float) -> dict[str, Any]:
    """Settings for a producer whose acknowledgements mean 'replicated per the topic's min.insync'."""
    return {
        **client_config,
        "enable.idempotence": True,
        "acks": "all",
        "linger.ms": 5,
        "batch.num.messages": 10_000,
        "compression.type": "lz4",
        "message.timeout.ms": int(delivery_timeout * 1000),
        "queue.buffering.max.messages": 500_000,
    }


class AsyncProducer:
    """Produce from asyncio and await each delivery report."""

    def __init__(self, config: dict[str, Any], observe_latency: Callable[[float], None] | None = None) -> None:
        self._producer = Producer(config)
        self._observe_latency = observe_latency
        # (loop, future, result, error) of served delivery reports, until handed to their loop
        self._reports: deque[_Report] = deque()
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._poll_loop, name="kafka-producer-poll", daemon=True)
        self._thread.start()

    def _poll_loop(self) -> None:
        while not self._stopping.is_set():
            self._producer.poll(0.05)
            self._dispatch()

    def _dispatch(self) -> None:
        """Settle the reports served so far: one `call_soon_threadsafe` per event loop."""
        by_loop: dict[asyncio.AbstractEventLoop, list[_Report]] = {}
        while self._reports:
            report = self._reports.popleft()
            by_loop.setdefault(report[0], []).append(report)
        for loop, reports in by_loop.items():
            try:
                loop.call_soon_threadsafe(_settle, reports)
            except RuntimeError:  # that loop is closed: nobody is waiting any more
                continue

    def produce(
        self,
        topic: str,
        value: bytes,
        key: bytes | None = None,
        headers: list[tuple[str, str | bytes | None]] | None = None,
    ) -> asyncio.Future[tuple[int, int]]:
        """Queue one message; the future gives (partition, offset) once the broker has it durably."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[tuple[int, int]] = loop.create_future()
        started = time.perf_counter()

        def on_delivery(err: KafkaError | None, msg: Message) -> None:
            if err is not None:
                error = DeliveryError(err.str(), retriable=err.retriable() or not err.fatal())
                self._reports.append((loop, future, None, error))
            else:
                self._reports.append((loop, future, (msg.partition() or 0, msg.offset() or 0), None))
                if self._observe_latency is not None:
                    self._observe_latency(time.perf_counter() - started)

        try:
            self._producer.produce(topic, value=value, key=key, headers=headers, on_delivery=on_delivery)
        except BufferError:
            future.set_exception(DeliveryError("local produce queue is full"))
        except KafkaException as exc:
            future.set_exception(DeliveryError(str(exc), retriable=False))
        return future

    def list_topics(self, timeout: float) -> Any:
        """Broker metadata; raises KafkaException when no broker answers within `timeout`."""
        return self._producer.list_topics(timeout=timeout)

    def flush(self, timeout: float) -> int:
        remaining = int(self._producer.flush(timeout))  # serves delivery reports in this thread
        self._dispatch()
        return remaining

    def close(self, timeout: float = 10.0) -> None:
        """Deliver what is queued (bounded by `timeout`), then stop the poll thread."""
        self._producer.flush(timeout)
        self._dispatch()
        self._stopping.set()
        self._thread.join(timeout=1.0)
        self._dispatch()


_Report = tuple[asyncio.AbstractEventLoop, "asyncio.Future[tuple[int, int]]", tuple[int, int] | None, Exception | None]


def _settle(reports: list[_Report]) -> None:
    """On the loop: resolve each report's future (unless its waiter gave up and cancelled it)."""
    for _loop, future, result, error in reports:
        if future.done():
            continue
        if error is not None:
            future.set_exception(error)
        elif result is not None:
            future.set_result(result)
