"""`AuditClient`: what a service calls on its request path. `log_audit_event` validates and queues, never I/O.

The caller's thread pays for validation, an id and a JSON snapshot (so later mutation of the event
cannot change what is sent) plus one deque append. A dispatcher thread cuts batches (batch_size or
batch_interval, whichever first) for `workers` sender threads; batches that cannot be delivered go
to the disk spool and a replayer thread sends them later, also after a restart. Shared machinery
lives in `argus_client.core` so `AsyncAuditClient` behaves identically.
"""

from __future__ import annotations

import atexit
import queue
import threading
import time
from collections.abc import Callable

from argus_client.core import ClientCore, Item
from argus_client.transport import Delivery, DeliveryError, RetryPolicy, run_delivery

_ONE_ATTEMPT = RetryPolicy(max_attempts=1)


class _Flight:
    """A batch a worker is sending; close() spools a copy if it is still in the air at the deadline."""

    __slots__ = ("done", "spooled", "texts")

    def __init__(self, texts: list[str]) -> None:
        self.texts = texts
        self.done = False
        self.spooled = False


class AuditClient(ClientCore):
    """Thread-based client. Use as a context manager, or call `close()`; an atexit hook closes it otherwise.

    `autostart=False` defers the threads to `start()` (e.g. until after a pre-fork server forks);
    `atexit_timeout` bounds the flush at interpreter exit. The other knobs: see ClientCore / docs/client.md.
    """

    def _setup(self, autostart: bool) -> None:
        self._batches: queue.Queue[list[Item] | None] = queue.Queue(maxsize=self.workers)
        self._wake_event = threading.Event()
        self._closing = threading.Event()
        self._flights: set[_Flight] = set()
        self._flight_lock = threading.Lock()
        self._threads: list[threading.Thread] = []
        if self.enabled and autostart:
            self.start()

    # -- lifecycle -------------------------------------------------------------------------
    def start(self) -> None:
        """Start the sender threads (separate from __init__ so a pre-fork server can start them per worker)."""
        if not self.enabled or self._threads:
            return
        targets: list[tuple[str, Callable[[], None]]] = [("argus-dispatch", self._dispatch_loop)]
        targets += [(f"argus-send-{i}", self._worker_loop) for i in range(self.workers)]
        if self.spool is not None:
            targets.append(("argus-replay", self._replay_loop))
        for name, target in targets:
            thread = threading.Thread(target=target, name=name, daemon=True)
            thread.start()
            self._threads.append(thread)
        atexit.register(self._atexit)

    def close(self, timeout: float = 10.0) -> None:
        """Flush everything within `timeout` seconds; whatever is still unsent then is spooled (or reported)."""
        with self._flight_lock:
            if self.closed or not self.enabled:
                self.closed = True
                return
            self.closed = True
        self.start()  # a client created with autostart=False still flushes what it holds
        deadline = time.monotonic() + max(0.0, timeout)
        self.deadline = deadline
        self._closing.set()
        self._wake_event.set()
        senders = [t for t in self._threads if t.name != "argus-replay"]
        for thread in senders:
            thread.join(max(0.0, deadline - time.monotonic()))
        leftovers = self.take(len(self.buffer))
        while True:
            try:
                batch = self._batches.get_nowait()
            except queue.Empty:
                break
            leftovers += batch or []
        for _ in range(self.workers):  # senders still alive after the deadline must not wait forever
            try:
                self._batches.put_nowait(None)
            except queue.Full:
                break
        if leftovers:
            self.give_up(self.sign(leftovers), "not sent before the close deadline", remember=False)
        with self._flight_lock:
            stuck = [f for f in self._flights if not f.done and not f.spooled]
            for flight in stuck:
                flight.spooled = True
        for flight in stuck:  # a duplicate of a batch that does arrive is dropped server-side by id
            self.give_up(flight.texts, "still in flight at the close deadline", remember=False)
        self._stop_replay.set()
        for thread in self._threads:
            thread.join(0.5 if thread.name == "argus-replay" else 0.05)
        if self.spool is not None:
            self.spool.release()
        self.transport.close()
        atexit.unregister(self._atexit)

    def _atexit(self) -> None:
        self.close(self.atexit_timeout)

    def __enter__(self) -> AuditClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- caller side -----------------------------------------------------------------------
    def _wake(self) -> None:
        if not self._wake_event.is_set():
            self._wake_event.set()

    def _enqueue_when_full(self, item: Item) -> bool:
        deadline = time.monotonic() + self.enqueue_timeout
        while not self.closed:
            if len(self.buffer) < self.queue_size:
                self.buffer.append(item)
                return True
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            time.sleep(min(0.002, remaining))
        self.dropped(1, "the client is closed" if self.closed else "the queue is full")
        return False

    # -- background threads ----------------------------------------------------------------
    def _dispatch_loop(self) -> None:
        next_tick = time.monotonic() + self.batch_interval
        while True:
            closing = self._closing.is_set()
            if not closing:
                self._wake_event.wait(max(0.0, next_tick - time.monotonic()))
                self._wake_event.clear()
            now = time.monotonic()
            flush_all = closing or self._closing.is_set() or now >= next_tick
            if flush_all:
                next_tick = now + self.batch_interval
            while len(self.buffer) >= self.batch_size or (flush_all and self.buffer):
                self._submit(self.take(self.batch_size))
            if closing:
                break
        for _ in range(self.workers):
            self._submit(None)

    def _submit(self, batch: list[Item] | None) -> None:
        while True:
            try:
                self._batches.put(batch, timeout=0.05)
                return
            except queue.Full:
                if self.deadline is not None and time.monotonic() >= self.deadline:
                    if batch:
                        self.give_up(self.sign(batch), "not sent before the close deadline", remember=False)
                    return

    def _worker_loop(self) -> None:
        while (batch := self._batches.get()) is not None:
            try:
                self._deliver(batch)
            except Exception as exc:  # a bug here must not kill the sender, nor lose the batch silently
                self.log.exception("argus client: unexpected error while sending a batch")
                self.fail(self.unsigned(batch), DeliveryError(f"unexpected error in the sender: {exc!r}"))

    def _deliver(self, batch: list[Item]) -> None:
        texts = self.sign(batch)
        if not texts:
            return
        if self.gateway_down():
            self.give_up(texts, "the gateway is down (recent batches failed)", remember=False)
            return
        flight = _Flight(texts)
        with self._flight_lock:
            self._flights.add(flight)
        delivery = Delivery(texts, self.retry, self.http_timeout, self.deadline)
        self._run(delivery)
        with self._flight_lock:
            self._flights.discard(flight)
            flight.done = True
            already_spooled = flight.spooled
        unsent = self.settle(delivery, replay=False)
        if unsent and not already_spooled:
            self.give_up(unsent, delivery.reason, remember=delivery.exhausted)

    def _run(self, delivery: Delivery) -> Delivery:
        def sleep(seconds: float) -> None:
            if self._closing.is_set():
                time.sleep(seconds)
            else:
                self._closing.wait(seconds)

        return run_delivery(delivery, self.transport, lambda: self.deadline, sleep)

    def _replay_loop(self) -> None:
        while True:
            try:
                self.replay_once()
            except Exception:
                self.log.exception("argus client: spool replay failed")
            if self._stop_replay.wait(self.replay_interval):
                return

    def replay_once(self) -> int:
        """Send spooled batches, oldest first (also runs by itself in the background); returns events stored."""
        stored = 0
        if self.spool is None or not self.spool.acquire():
            return stored
        for path in self.replay_order():
            if self._stop_replay.is_set() or self.closed:
                break
            items = self.spool.read(path)
            if not items:
                continue
            delivery = self._run(Delivery(items, _ONE_ATTEMPT, self.http_timeout, self.deadline))
            stored += delivery.accepted
            if not self.after_replay(path, items, delivery):
                break
        return stored
