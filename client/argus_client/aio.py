"""`AsyncAuditClient`: the same client for asyncio services; sends with aiohttp (an optional dependency).

Same knobs, counters, spool and rules as `AuditClient` (both build on `argus_client.core`); the
senders are tasks instead of threads, and blocking work (spool fsyncs, signing, non-HTTP transports)
runs in worker threads so it never stalls the event loop. `log_audit_event` stays synchronous and
cheap; `log_audit_event_async` additionally waits up to `enqueue_timeout` when the queue is full.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import threading
import time
from collections.abc import Sequence
from typing import Any

from argus_client.core import ClientCore, Item
from argus_client.transport import (
    BULK_PATH,
    BatchResult,
    BatchTransport,
    Delivery,
    DeliveryError,
    RetryPolicy,
    Sleep,
    interpret_reply,
    request_headers,
)
from argus_spec.event import Event

try:
    import aiohttp
except ImportError:  # pragma: no cover - the sync client does not need it
    aiohttp = None  # type: ignore[assignment]

_ONE_ATTEMPT = RetryPolicy(max_attempts=1)


class AiohttpTransport:
    """POST batches with an aiohttp session (created lazily, inside the running loop)."""

    def __init__(self, base_url: str, api_key: str, timeout: float) -> None:
        if aiohttp is None:
            raise ImportError("AsyncAuditClient needs aiohttp: pip install aiohttp")
        self._url = base_url.rstrip("/") + BULK_PATH
        self._headers = request_headers(api_key)
        self._timeout = timeout
        self._session: aiohttp.ClientSession | None = None

    async def asend_batch(self, items: Sequence[str], timeout: float) -> BatchResult:
        if self._session is None:
            self._session = aiohttp.ClientSession()
        body = ("[" + ",".join(items) + "]").encode("utf-8")
        limit = aiohttp.ClientTimeout(total=min(timeout, self._timeout))
        try:
            async with self._session.post(self._url, data=body, headers=self._headers, timeout=limit) as response:
                data = await response.read()
                return interpret_reply(response.status, data, response.headers.get("Retry-After"), len(items))
        except (aiohttp.ClientError, TimeoutError, OSError) as exc:
            return BatchResult.retry_all(len(items), f"network error: {exc!r}")

    def send_batch(self, items: Sequence[str], timeout: float) -> BatchResult:
        raise RuntimeError("AiohttpTransport is asynchronous; use asend_batch")

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    def close(self) -> None:
        """Nothing to do synchronously; `aclose` closes the session."""


class AsyncAuditClient(ClientCore):
    """Asyncio client: `async with AsyncAuditClient(url, api_key=...) as audit: audit.log_audit_event(ev)`.

    Also accepts a blocking `transport=` (e.g. KafkaAuditTransport), run in a worker thread.
    """

    def _setup(self, autostart: bool) -> None:
        """`autostart` does not apply: tasks need the running loop (`async with` or `await start()`)."""
        self._loop: asyncio.AbstractEventLoop | None = None
        self._loop_thread = 0
        self._wake_event: asyncio.Event | None = None
        self._closing: asyncio.Event | None = None
        self._batches: asyncio.Queue[list[Item]] | None = None
        self._senders: list[asyncio.Task[None]] = []
        self._replayer: asyncio.Task[None] | None = None
        self._flights: dict[asyncio.Task[Any], list[Item]] = {}
        self._holding: list[Item] = []

    def _make_transport(self, base_url: str, api_key: str) -> BatchTransport:
        return AiohttpTransport(base_url, api_key, self.http_timeout)

    async def start(self) -> None:
        """Start the sender tasks on the running loop (events logged before are kept and sent)."""
        if not self.enabled or self._loop is not None:
            return
        self._loop = asyncio.get_running_loop()
        self._loop_thread = threading.get_ident()
        self._wake_event, self._closing = asyncio.Event(), asyncio.Event()
        self._batches = asyncio.Queue(maxsize=self.workers)
        self._senders = [asyncio.create_task(self._dispatch_loop())]
        self._senders += [asyncio.create_task(self._worker_loop()) for _ in range(self.workers)]
        if self.spool is not None:
            self._replayer = asyncio.create_task(self._replay_loop())
        atexit.register(self._atexit)

    async def __aenter__(self) -> AsyncAuditClient:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def log_audit_event_async(self, event: Event, *, signer: Any = None) -> bool:
        """Like log_audit_event, but waits (without blocking the loop) up to enqueue_timeout for room."""
        if self.enabled and not self.closed and len(self.buffer) >= self.queue_size:
            deadline = time.monotonic() + self.enqueue_timeout
            while len(self.buffer) >= self.queue_size and time.monotonic() < deadline and not self.closed:
                await asyncio.sleep(0.002)
        return self.log_audit_event(event, signer=signer)

    def _wake(self) -> None:
        wake, loop = self._wake_event, self._loop
        if wake is None or loop is None or wake.is_set():
            return
        if threading.get_ident() == self._loop_thread:
            wake.set()
        else:
            loop.call_soon_threadsafe(wake.set)

    async def close(self, timeout: float = 10.0) -> None:
        """Flush within `timeout` seconds; whatever is still unsent then is spooled (or reported)."""
        if self.closed or not self.enabled:
            self.closed = True
            return
        self.closed = True
        await self.start()
        assert self._closing is not None and self._batches is not None and self._wake_event is not None
        self.deadline = time.monotonic() + max(0.0, timeout)
        self._closing.set()
        self._wake_event.set()
        await asyncio.wait(self._senders, timeout=max(0.01, self.deadline - time.monotonic()))
        for task in self._senders:
            task.cancel()
        await asyncio.gather(*self._senders, return_exceptions=True)
        leftovers = self._holding + self.take(len(self.buffer))
        while not self._batches.empty():
            leftovers += self._batches.get_nowait()
        for flight in self._flights.values():  # cut off mid-send: a copy that did arrive is dropped by id
            leftovers += flight
        self._flights.clear()
        if leftovers:
            texts = await asyncio.to_thread(self.sign, leftovers)
            await asyncio.to_thread(self.give_up, texts, "not sent before the close deadline", remember=False)
        self._stop_replay.set()
        if self._replayer is not None:
            self._replayer.cancel()
            await asyncio.gather(self._replayer, return_exceptions=True)
        if self.spool is not None:
            self.spool.release()
        if isinstance(self.transport, AiohttpTransport):
            await self.transport.aclose()
        else:
            self.transport.close()
        atexit.unregister(self._atexit)

    def _atexit(self) -> None:
        """The loop is gone at exit: spool (without sending) whatever is still queued, if we can."""
        if not self.closed and self.buffer:
            self.closed = True
            self.give_up(self.sign(self.take(len(self.buffer))), "the process exited before close()", remember=False)

    async def _dispatch_loop(self) -> None:
        assert self._wake_event is not None and self._closing is not None and self._batches is not None
        next_tick = time.monotonic() + self.batch_interval
        while True:
            closing = self._closing.is_set()
            if not closing:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake_event.wait(), max(0.0, next_tick - time.monotonic()))
                self._wake_event.clear()
            now = time.monotonic()
            flush_all = closing or self._closing.is_set() or now >= next_tick
            if flush_all:
                next_tick = now + self.batch_interval
            while len(self.buffer) >= self.batch_size or (flush_all and self.buffer):
                self._holding = self.take(self.batch_size)  # close() takes it back if cancelled in put()
                await self._batches.put(self._holding)
                self._holding = []
            if closing:
                return

    async def _worker_loop(self) -> None:
        assert self._batches is not None and self._closing is not None
        while not (self._closing.is_set() and self._batches.empty() and not self.buffer):
            try:
                batch = await asyncio.wait_for(self._batches.get(), 0.1)
            except TimeoutError:
                continue
            try:
                await self._deliver(batch)
            except Exception as exc:  # a bug here must not kill the sender, nor lose the batch silently
                self.log.exception("argus client: unexpected error while sending a batch")
                self._flights.pop(asyncio.current_task(), None)  # type: ignore[arg-type]
                self.fail(self.unsigned(batch), DeliveryError(f"unexpected error in the sender: {exc!r}"))

    async def _deliver(self, batch: list[Item]) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._flights[task] = list(batch)
        cheap = self.sign_fn is None and all(type(item) is str for item in batch)
        texts = self.sign(batch) if cheap else await asyncio.to_thread(self.sign, batch)
        self._flights[task] = list(texts)
        if not texts or self.gateway_down():
            self._flights.pop(task, None)
            reason = "the gateway is down (recent batches failed)"
            await asyncio.to_thread(self.give_up, texts, reason, remember=False)
            return
        delivery = await self._run(Delivery(texts, self.retry, self.http_timeout, self.deadline))
        self._flights.pop(task, None)
        unsent = self.settle(delivery, replay=False)
        if unsent:
            await asyncio.to_thread(self.give_up, unsent, delivery.reason, remember=delivery.exhausted)

    async def _send(self, items: list[str], timeout: float) -> BatchResult:
        if isinstance(self.transport, AiohttpTransport):
            return await self.transport.asend_batch(items, timeout)
        return await asyncio.to_thread(self.transport.send_batch, items, timeout)

    async def _run(self, delivery: Delivery) -> Delivery:
        assert self._closing is not None
        while True:
            delivery.deadline = self.deadline
            step = delivery.step(time.monotonic())
            if step is None:
                return delivery
            if isinstance(step, Sleep):
                if self._closing.is_set():
                    await asyncio.sleep(step.seconds)
                else:
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self._closing.wait(), step.seconds)
            else:
                delivery.record(await self._send(step.items, step.timeout), time.monotonic())

    async def _replay_loop(self) -> None:
        while not self._stop_replay.is_set():
            try:
                await self.replay_once()
            except Exception:
                self.log.exception("argus client: spool replay failed")
            await asyncio.sleep(self.replay_interval)

    async def replay_once(self) -> int:
        """Send spooled batches, oldest first (also runs by itself in the background); returns events stored."""
        stored = 0
        if self.spool is None or not await asyncio.to_thread(self.spool.acquire):
            return stored
        for path in await asyncio.to_thread(self.replay_order):
            if self._stop_replay.is_set() or self.closed:
                break
            items = await asyncio.to_thread(self.spool.read, path)
            if not items:
                continue
            delivery = await self._run(Delivery(items, _ONE_ATTEMPT, self.http_timeout, self.deadline))
            stored += delivery.accepted
            if not await asyncio.to_thread(self.after_replay, path, items, delivery):
                break
        return stored
