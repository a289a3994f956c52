"""An asyncio face on confluent-kafka's Producer that resolves a future per delivery report.

Why not `confluent_kafka.aio.AIOProducer`: it buffers in Python until a batch fills and does
not take headers. Here one Producer is shared, a daemon thread calls `poll()`, and delivery
callbacks resolve asyncio futures through `loop.call_soon_threadsafe`. A future resolves only
when the broker has the message under `acks=all` (or definitively failed), which is exactly
the moment the gateway may answer its caller.

Delivery reports are handed to the event loop once per `poll()` (one wake-up for every report
that call served), not once per message, and `produce_many` gives a whole batch one future: a
future, a wake-up and a loop callback per message cost the gateway ~10% of its CPU per event
and the processor's committed-topic sink as much again (docs/benchmarks.md).
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from functools import partial
from typing import Any

from confluent_kafka import KafkaError, KafkaException, Message, Producer

RDKAFKA_LOG = logging.getLogger("librdkafka")


class DeliveryError(Exception):
    """Kafka did not take the message; `retriable` says whether trying later may succeed."""

    def __init__(self, reason: str, *, retriable: bool = True) -> None:
        super().__init__(reason)
        self.reason = reason
        self.retriable = retriable


def durable_producer_config(
    client_config: dict[str, str], *, delivery_timeout: float, max_message_bytes: int
) -> dict[str, Any]:
    """Settings for a producer whose acknowledgements mean 'replicated per the topic's min.insync'.

    `max_message_bytes` is `Settings.kafka_max_message_bytes`, the same limit Argus sets on its
    topics, so a record the gateway's size check let through is never refused as too large."""
    return {
        **client_config,
        "message.max.bytes": max_message_bytes,
        "enable.idempotence": True,
        "acks": "all",
        "linger.ms": 5,
        "batch.num.messages": 10_000,
        "compression.type": "lz4",
        "message.timeout.ms": int(delivery_timeout * 1000),
        "queue.buffering.max.messages": 500_000,
        "logger": RDKAFKA_LOG,  # librdkafka's own log lines go through Python logging, not raw stderr
    }


class AsyncProducer:
    """Produce from asyncio and await each delivery report."""

    def __init__(self, config: dict[str, Any], observe_latency: Callable[[float], None] | None = None) -> None:
        self._producer = Producer(config)
        self._observe_latency = observe_latency
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

    def produce_many(
        self,
        topic: str,
        messages: Sequence[tuple[bytes, bytes | None]],
        headers: list[tuple[str, str | bytes | None]] | None = None,
    ) -> asyncio.Future[list[tuple[int, int] | DeliveryError]]:
        """Queue (value, key) messages in order, each with `headers`; the one future resolves when every
        message has its delivery report, to each one's (partition, offset) or DeliveryError, in order."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[list[tuple[int, int] | DeliveryError]] = loop.create_future()
        results: list[Any] = [None] * len(messages)
        finished = itertools.count(1)  # next() is atomic: reports may arrive from two threads (poll, flush)
        total = len(messages)
        started = time.perf_counter()
        observe = self._observe_latency

        def on_delivery(index: int, err: KafkaError | None, msg: Message) -> None:
            if err is not None:
                results[index] = DeliveryError(err.str(), retriable=err.retriable() or not err.fatal())
            else:
                results[index] = (msg.partition() or 0, msg.offset() or 0)
                if observe is not None:
                    observe(time.perf_counter() - started)
            if next(finished) == total:
                self._reports.append((loop, future, results, None))

        produce = self._producer.produce
        for index, (value, key) in enumerate(messages):
            try:
                produce(topic, value=value, key=key, headers=headers, on_delivery=partial(on_delivery, index))
            except (BufferError, KafkaException) as exc:
                if isinstance(exc, BufferError):
                    results[index] = DeliveryError("local produce queue is full")
                else:
                    results[index] = DeliveryError(str(exc), retriable=False)
                if next(finished) == total:  # the last one, and on the loop: settle right here
                    future.set_result(results)
        if total == 0:
            future.set_result([])
        return future

    def list_topics(self, timeout: float) -> Any:
        """Broker metadata; raises KafkaException when no broker answers within `timeout`."""
        return self._producer.list_topics(timeout=timeout)

    def flush(self, timeout: float) -> int:
        remaining = int(self._producer.flush(timeout))  # serves delivery reports in this thread
        self._dispatch()
        return remaining

    def close(self, timeout: float = 10.0) -> None:
        """Deliver what is queued (bounded by `timeout`), then stop the poll thread.

        Whatever is still undelivered then is purged, so its futures fail (never a false success)
        and librdkafka stops retrying a broker that is gone.
        """
        if self._producer.flush(timeout):
            self._producer.purge()
            self._producer.flush(0)
        self._dispatch()
        self._stopping.set()
        self._thread.join(timeout=1.0)
        self._dispatch()


#: (loop, future, result, error) of one served delivery report (or of a whole produce_many batch)
_Report = tuple[asyncio.AbstractEventLoop, "asyncio.Future[Any]", Any, Exception | None]


def _settle(reports: list[_Report]) -> None:
    """On the loop: resolve each report's future (unless its waiter gave up and cancelled it)."""
    for _loop, future, result, error in reports:
        if future.done():
            continue
        if error is not None:
            future.set_exception(error)
        elif result is not None:
            future.set_result(result)
