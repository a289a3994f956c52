"""All or nothing: each gateway request's records are committed in one Kafka transaction.

Why: the gateway answers 503 ("nothing was acknowledged, retry later") when any record of a
request is not delivered. With plain produces the records that were delivered stayed in the
log, were stored, and every retry stored them again. Inside a transaction a failed record aborts
the others too, and the processor reads with `isolation_level=read_committed`, so it never sees
an aborted record: a 503 really means nothing of that request is stored.

Group commit: a transaction costs a few round trips (~50 ms here, docs/benchmarks.md), so each
worker thread takes every request waiting when it becomes free and commits them together. A
request's records are never split across transactions, so each request is all or nothing; an
abort fails every request of its group (each gets a 503 and retries). A worker whose transaction
failed replaces its producer (a new producer with the same `transactional.id` fences the old
one), because librdkafka may need an epoch bump that only a fresh `init_transactions` gives.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import queue
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from confluent_kafka import KafkaError, KafkaException, Message, Producer

from argus.kafka_producer import DeliveryError

log = logging.getLogger(__name__)

#: Records per transaction at most (a group stops growing here; one request is never split).
MAX_GROUP_RECORDS = 20_000
Result = list[tuple[int, int] | DeliveryError]


@dataclass
class _Job:
    topic: str
    messages: Sequence[tuple[bytes, bytes | None]]
    loop: asyncio.AbstractEventLoop
    future: asyncio.Future[Result]
    positions: list[tuple[int, int] | None] = field(default_factory=list)


def transactional_config(durable_config: dict[str, Any], *, delivery_timeout: float) -> dict[str, Any]:
    """`durable_config` (argus.kafka_producer.durable_producer_config) with a transaction timeout
    just above the delivery timeout: a gateway that dies mid-transaction holds read_committed
    consumers of those partitions back at most this long before the broker aborts it."""
    return {**durable_config, "transaction.timeout.ms": int(delivery_timeout * 1000) + 5000}


class TransactionalProducer:
    """`produce_many` like AsyncProducer's, but a request's records are committed atomically."""

    def __init__(
        self,
        config: dict[str, Any],
        *,
        workers: int = 2,
        timeout: float = 10.0,
        observe_latency: Callable[[float], None] | None = None,
    ) -> None:
        self._config = config
        self._timeout = timeout
        self._observe_latency = observe_latency
        self._jobs: queue.SimpleQueue[_Job | None] = queue.SimpleQueue()
        self._admin = Producer({k: v for k, v in config.items() if k != "transactional.id"})  # metadata only
        prefix = f"argus-gateway-{os.uname().nodename}-{os.getpid()}-{uuid.uuid4().hex[:8]}"
        self._threads = [
            threading.Thread(target=self._work, args=(f"{prefix}-{i}",), name=f"kafka-txn-{i}", daemon=True)
            for i in range(workers)
        ]
        for thread in self._threads:
            thread.start()

    def produce_many(
        self, topic: str, messages: Sequence[tuple[bytes, bytes | None]]
    ) -> asyncio.Future[Result]:
        """Queue (value, key) messages as one unit; the future gives each one's (partition, offset)
        once their transaction committed, or a DeliveryError for every one if it did not."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Result] = loop.create_future()
        if not messages:
            future.set_result([])
        else:
            self._jobs.put(_Job(topic, messages, loop, future))
        return future

    def list_topics(self, timeout: float) -> Any:
        """Broker metadata; raises KafkaException when no broker answers within `timeout`."""
        return self._admin.list_topics(timeout=timeout)

    def close(self, timeout: float = 10.0) -> None:
        """Finish the transactions queued so far (bounded by `timeout`), then stop."""
        for _ in self._threads:
            self._jobs.put(None)
        deadline = time.monotonic() + timeout
        for thread in self._threads:
            thread.join(max(0.0, deadline - time.monotonic()))
        self._admin.flush(0)

    # --- worker threads -------------------------------------------------------------------

    def _work(self, transactional_id: str) -> None:
        producer: Producer | None = None
        while True:
            first = self._jobs.get()
            if first is None:
                return
            group = self._take_group(first)
            stop = group[-1] is None
            jobs = [job for job in group if job is not None]
            try:
                if producer is None:
                    producer = Producer({**self._config, "transactional.id": transactional_id})
                    producer.init_transactions(self._timeout)
                self._commit(producer, jobs)
            except KafkaException as exc:
                error: KafkaError = exc.args[0]
                log.warning("Kafka transaction of %d request(s) failed: %s", len(jobs), error.str())
                self._settle(jobs, DeliveryError(error.str(), retriable=not error.fatal()))
                _discard(producer)
                producer = None
            except BufferError:
                self._settle(jobs, DeliveryError("local produce queue is full"))
                _discard(producer)
                producer = None
            if stop:
                return

    def _take_group(self, first: _Job) -> list[_Job | None]:
        """`first` plus every job already waiting, up to MAX_GROUP_RECORDS records (and a stop mark)."""
        group: list[_Job | None] = [first]
        records = len(first.messages)
        while records < MAX_GROUP_RECORDS:
            try:
                job = self._jobs.get_nowait()
            except queue.Empty:
                break
            group.append(job)
            if job is None:
                break
            records += len(job.messages)
        return group

    def _commit(self, producer: Producer, jobs: list[_Job]) -> None:
        started = time.perf_counter()
        producer.begin_transaction()
        for job in jobs:
            job.positions = [None] * len(job.messages)
            for index, (value, key) in enumerate(job.messages):
                producer.produce(job.topic, value=value, key=key, on_delivery=_recorder(job, index))
        producer.commit_transaction(self._timeout)  # flushes: every delivery report is served by now
        if self._observe_latency is not None:
            self._observe_latency(time.perf_counter() - started)
        for job in jobs:
            positions = job.positions
            if any(p is None for p in positions):  # cannot happen after a successful commit
                self._settle([job], DeliveryError("a record of the committed transaction has no position"))
            else:
                _resolve(job, list(positions))  # type: ignore[arg-type]

    def _settle(self, jobs: list[_Job], error: DeliveryError) -> None:
        for job in jobs:
            _resolve(job, [error] * len(job.messages))



def _discard(producer: Producer | None) -> None:
    """Drop a producer after a failed transaction; its successor (same transactional.id) fences it."""
    if producer is not None:
        with contextlib.suppress(KafkaException):
            producer.abort_transaction(1.0)
        producer.purge()
        producer.flush(0)


def _recorder(job: _Job, index: int) -> Callable[[KafkaError | None, Message], None]:
    def on_delivery(err: KafkaError | None, msg: Message) -> None:
        if err is None:
            job.positions[index] = (msg.partition() or 0, msg.offset() or 0)

    return on_delivery


def _resolve(job: _Job, result: Result) -> None:
    def settle() -> None:
        if not job.future.done():
            job.future.set_result(result)

    with contextlib.suppress(RuntimeError):  # that loop is closed: nobody is waiting any more
        job.loop.call_soon_threadsafe(settle)
