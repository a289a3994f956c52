"""What the sync and async clients share: the caller-side enqueue path and the accounting of outcomes.

Subclasses only supply I/O (threads or tasks) and `_wake`. Every event taken from the queue ends in
exactly one counter: sent, replayed (after a spool), failed (reported to `on_failure` and logged)
or spooled-and-pending; `dropped` counts events refused at the door. Nothing is silent.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections import deque
from collections.abc import Callable
from pathlib import Path
from typing import Any

from argus_client.encoder import EventEncoder, SignFn, as_sign_fn
from argus_client.receipt_keeper import ReceiptKeeper
from argus_client.spool import Spool
from argus_client.transport import BatchTransport, Delivery, DeliveryError, HttpTransport, RetryPolicy
from argus_spec import exactjson
from argus_spec.enums import EnumConfig
from argus_spec.event import Event

Item = str | tuple[str, SignFn]
FailureCallback = Callable[[Event, DeliveryError], None]
COUNTERS = ("sent", "failed", "dropped", "spooled", "replayed")
_FALSE = frozenset({"0", "false", "no", "off"})


def audit_enabled() -> bool:
    """ENABLE_AUDIT=false (or 0/no/off) turns every client into a no-op, as in the reference client."""
    return os.environ.get("ENABLE_AUDIT", "true").strip().lower() not in _FALSE


class ClientCore:
    """State and rules common to AuditClient and AsyncAuditClient.

    Knobs: batches of up to `batch_size` events leave at least every `batch_interval` seconds, sent by
    `workers` senders; at most `queue_size` events wait (then `enqueue_timeout` seconds of waiting,
    then `dropped`). `retry` bounds attempts and backoff; `spool_dir` keeps what could not be sent and
    is replayed every `replay_interval` s; `receipts_file` appends each receipt the gateway signs (one
    JSON line each; `receipts` holds them in memory too). `on_failure(event, DeliveryError)` hears of every event that
    will not be stored. `signer` (see encoder.as_sign_fn) signs with `signature_format`. `enums` must
    match the server's. `transport` replaces HTTP (e.g. KafkaAuditTransport). docs/client.md has more.
    """

    log = logging.getLogger("argus_client")

    def __init__(
        self,
        base_url: str | None,
        *,
        api_key: str = "",
        batch_size: int = 20,
        batch_interval: float = 1.0,
        workers: int = 5,
        queue_size: int = 10_000,
        http_timeout: float = 10.0,
        signer: Any = None,
        signature_format: str = "v2",
        spool_dir: str | os.PathLike[str] | None = None,
        receipts_file: str | os.PathLike[str] | None = None,
        enqueue_timeout: float = 0.0,
        on_failure: FailureCallback | None = None,
        enums: EnumConfig | None = None,
        retry: RetryPolicy | None = None,
        replay_interval: float = 5.0,
        transport: BatchTransport | None = None,
        autostart: bool = True,
        atexit_timeout: float = 5.0,
    ) -> None:
        if batch_size < 1 or workers < 1 or queue_size < 1 or batch_interval <= 0 or http_timeout <= 0:
            raise ValueError("batch_size, workers, queue_size, batch_interval and http_timeout must be positive")
        self.enabled = audit_enabled() and bool(base_url or transport)
        self.encoder = EventEncoder(enums or EnumConfig())
        self.batch_size, self.batch_interval, self.workers = batch_size, batch_interval, workers
        self.queue_size, self.http_timeout, self.enqueue_timeout = queue_size, http_timeout, enqueue_timeout
        self.retry = retry or RetryPolicy()
        self.replay_interval = replay_interval
        self.signature_format = signature_format
        self.sign_fn = as_sign_fn(signer, signature_format) if signer is not None else None
        self.on_failure = on_failure
        self.buffer: deque[Item] = deque()
        self.closed = False
        self.deadline: float | None = None  # set by close(): senders give up (spool) after it
        self._counts = dict.fromkeys(("taken", *COUNTERS), 0)
        self._count_lock = threading.Lock()
        self._last_drop_log = 0.0
        self._down_until = 0.0
        self._replay_cursor = ""
        self._stop_replay = threading.Event()
        self.receipt_keeper = ReceiptKeeper(receipts_file)
        self.spool = Spool(spool_dir, max_events_per_file=max(batch_size, 1000)) if spool_dir and self.enabled else None
        if transport is None:
            transport = self._make_transport(str(base_url) if self.enabled else "http://disabled.invalid", api_key)
        self.transport: BatchTransport = transport
        self.atexit_timeout = atexit_timeout
        self._setup(autostart)

    def _setup(self, autostart: bool) -> None:
        """Subclass hook: create the I/O machinery (and start it, if it can start outside a loop)."""

    def _make_transport(self, base_url: str, api_key: str) -> BatchTransport:
        return HttpTransport(base_url, api_key, self.http_timeout)

    # -- the caller's thread: keep it short ------------------------------------------------
    def log_audit_event(self, event: Event, *, signer: Any = None) -> bool:
        """Validate (raising EventValidationError for a bad event), give it an id, queue it; never does I/O.

        Returns False when the event was refused (queue full after `enqueue_timeout`, or client closed);
        that is counted as `dropped` and logged. `signer` signs this event instead of the client's signer.
        """
        text = self.encoder.encode(event)
        if not self.enabled:
            return True
        item: Item = text if signer is None else (text, as_sign_fn(signer, self.signature_format))
        buffer = self.buffer
        if self.closed or len(buffer) >= self.queue_size:
            return self._enqueue_when_full(item)
        buffer.append(item)
        if len(buffer) >= self.batch_size:
            self._wake()
        return True

    def _wake(self) -> None:
        raise NotImplementedError

    def _enqueue_when_full(self, item: Item) -> bool:
        self.dropped(1, "the client is closed" if self.closed else "the queue is full")
        return False

    def dropped(self, count: int, why: str) -> None:
        self.add("dropped", count)
        now = time.monotonic()
        if now - self._last_drop_log >= 5.0:  # loud but bounded: one line per 5 s, with the running total
            self._last_drop_log = now
            self.log.warning("argus client: dropped audit event(s): %s (%d dropped so far)", why, self.stat("dropped"))

    def add(self, name: str, count: int) -> None:
        with self._count_lock:
            self._counts[name] += count

    def stat(self, name: str) -> int:
        return self._counts[name]

    @property
    def receipts(self) -> list[dict[str, Any]]:
        """Receipts the gateway signed for accepted events (newest 100,000; `receipts_file` keeps all).
        Check them with `receipt_keeper.verify([gateway verifier key])` (docs/receipts.md)."""
        return self.receipt_keeper.receipts

    def stats(self) -> dict[str, int]:
        """Counters since start: enqueued, sent, failed, dropped, spooled, replayed, and `queued` right now."""
        with self._count_lock:
            counts = dict(self._counts)
        queued = len(self.buffer)
        return {"enqueued": counts.pop("taken") + queued, **counts, "queued": queued}

    def take(self, limit: int) -> list[Item]:
        batch: list[Item] = []
        try:
            for _ in range(limit):
                batch.append(self.buffer.popleft())
        except IndexError:
            pass
        self.add("taken", len(batch))
        return batch

    # -- sender side -----------------------------------------------------------------------
    @staticmethod
    def unsigned(batch: list[Item]) -> list[str]:
        return [item if isinstance(item, str) else item[0] for item in batch]

    def sign(self, batch: list[Item]) -> list[str]:
        """Apply per-event or client signers; events already carrying a signature are left alone."""
        if self.sign_fn is None and all(type(item) is str for item in batch):
            return batch  # type: ignore[return-value]
        texts: list[str] = []
        for item in batch:
            text, sign_fn = (item, self.sign_fn) if isinstance(item, str) else item
            if sign_fn is None:
                texts.append(text)
                continue
            event = exactjson.loads(text)
            if event.get("signature"):
                texts.append(text)
                continue
            try:
                texts.append(self.encoder.encode(sign_fn(dict(event))))
            except Exception as exc:
                self.fail([text], DeliveryError(f"signing failed: {exc}", field="signature"))
        return texts

    def settle(self, delivery: Delivery, *, replay: bool) -> list[str]:
        """Count what a finished Delivery stored and report what was rejected; returns the unsent items."""
        self.receipt_keeper.keep(delivery.receipts)
        if delivery.accepted:
            self.add("replayed" if replay else "sent", delivery.accepted)
            self._down_until = 0.0
        by_error: dict[int, tuple[DeliveryError, list[str]]] = {}
        for text, error in delivery.rejected:
            by_error.setdefault(id(error), (error, []))[1].append(text)
        for error, texts in by_error.values():
            self.fail(texts, error)
        return delivery.unsent

    def fail(self, texts: list[str], error: DeliveryError) -> None:
        """Events that will not be stored: counted, logged as an error, and handed to on_failure."""
        self.add("failed", len(texts))
        self.log.error("argus client: %d audit event(s) not stored: %s", len(texts), error.message)
        if self.on_failure is None:
            return
        for text in texts:
            try:
                self.on_failure(exactjson.loads(text), error)
            except Exception:
                self.log.exception("argus client: the on_failure callback raised")

    def give_up(self, texts: list[str], reason: str, *, remember: bool) -> None:
        """Spool what could not be sent (blocking file I/O) or, without a spool, report it as failed.

        `remember` marks the gateway as down for a while, so further batches go straight to the spool.
        """
        if not texts:
            return
        if remember:
            self._down_until = time.monotonic() + self.replay_interval
        if self.spool is not None:
            try:
                self.spool.write(texts)
            except OSError as exc:
                self.log.error("argus client: could not spool %d event(s): %s", len(texts), exc)
            else:
                self.add("spooled", len(texts))
                self.log.warning("argus client: spooled %d audit event(s): %s", len(texts), reason)
                return
        self.fail(texts, DeliveryError(f"not delivered: {reason}"))

    def gateway_down(self) -> bool:
        return self.spool is not None and time.monotonic() < self._down_until

    # -- spool replay ----------------------------------------------------------------------
    def replay_order(self) -> list[Path]:
        """Pending batch files, oldest first, but starting after the last file that failed: one bad file
        (say, one the gateway keeps answering 500 for) cannot block the others forever."""
        assert self.spool is not None
        files = self.spool.pending()
        later = [p for p in files if p.name > self._replay_cursor]
        return later + [p for p in files if p.name <= self._replay_cursor]

    def after_replay(self, path: Path, items: list[str], delivery: Delivery) -> bool:
        """Settle one replayed file (blocking file I/O); False means stop this pass, the gateway is not taking it."""
        assert self.spool is not None
        unsent = self.settle(delivery, replay=True)
        if unsent:
            self._replay_cursor = path.name
            self._down_until = time.monotonic() + self.replay_interval
            if len(unsent) != len(items):
                self.spool.rewrite(path, unsent)
            return False
        self.spool.remove(path)
        return True
