"""Sending batches: the stdlib HTTP transport, the reply rules, and the retry state both clients share.

Why stdlib (`http.client`): services embed this SDK, so it must not drag in an HTTP stack.
Why a `Delivery` state machine: the sync and async clients differ only in how they do I/O and
sleep; the rules (what to retry, how long to wait, when to give up, splitting on 413) live here once.
"""

from __future__ import annotations

import http.client
import random
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from typing import Any, Protocol
from urllib.parse import urlsplit

import orjson

BULK_PATH = "/api/audit-logs/bulk"
#: Statuses worth retrying besides 5xx: the request may succeed later unchanged.
RETRYABLE_4XX = frozenset({408, 425, 429})
USER_AGENT = "argus-client-python/0.1"


def request_headers(api_key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {api_key}", "Content-Type": "application/json", "User-Agent": USER_AGENT}


class DeliveryError(Exception):
    """Why an event was not stored: handed to `on_failure(event, error)` and logged."""

    def __init__(self, message: str, *, status: int | None = None, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.field = field


@dataclass
class BatchResult:
    """The answer to one attempt; indices refer to the items of that attempt."""

    accepted: int = 0
    rejected: list[tuple[int, DeliveryError]] = field(default_factory=list)
    retry: list[int] = field(default_factory=list)
    retry_after: float | None = None
    too_large: bool = False
    reason: str = ""
    receipts: list[Any] = field(default_factory=list)  # signed by the gateway, one per accepted event

    @classmethod
    def retry_all(cls, count: int, reason: str, retry_after: float | None = None) -> BatchResult:
        return cls(retry=list(range(count)), retry_after=retry_after, reason=reason)

    @classmethod
    def reject_all(cls, count: int, error: DeliveryError) -> BatchResult:
        return cls(rejected=[(i, error) for i in range(count)], reason=error.message)


class BatchTransport(Protocol):
    """Anything that can attempt to store a batch of encoded events (HTTP, Kafka, a test double)."""

    def send_batch(self, items: Sequence[str], timeout: float) -> BatchResult: ...

    def close(self) -> None: ...


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """Seconds to wait from a Retry-After header (delta-seconds or HTTP-date); None when absent or bad."""
    if not value:
        return None
    text = value.strip()
    try:
        seconds = float(text)
    except ValueError:
        try:
            moment = parsedate_to_datetime(text)
        except (TypeError, ValueError, IndexError):
            return None
        if moment.tzinfo is None:
            return None
        seconds = moment.timestamp() - (time.time() if now is None else now)
    if seconds != seconds:  # NaN
        return None
    return max(0.0, seconds)


@dataclass(frozen=True)
class RetryPolicy:
    """Bounded attempts with exponential backoff and equal jitter; Retry-After is a floor."""

    max_attempts: int = 5
    base_delay: float = 0.2
    max_delay: float = 10.0
    max_retry_after: float = 60.0

    def delay(self, attempt: int, retry_after: float | None = None, rng: Callable[[], float] = random.random) -> float:
        """Seconds to wait after failed attempt number `attempt` (1-based)."""
        ceiling = min(self.max_delay, self.base_delay * 2 ** max(0, attempt - 1))
        jittered = ceiling / 2 + rng() * ceiling / 2
        if retry_after is None:
            return jittered
        return max(min(retry_after, self.max_retry_after), jittered)


def interpret_reply(status: int, body: bytes, retry_after: str | None, count: int) -> BatchResult:
    """Map a bulk endpoint answer to per-item outcomes (201 / 207 / 400 / 413 / 429 / 5xx / other 4xx)."""
    if 200 <= status < 300 and status != 207:
        return BatchResult(accepted=count, receipts=_receipts(body))
    if status == 413:
        return BatchResult(too_large=True, reason="413 too many events or too large")
    if status >= 500 or status in RETRYABLE_4XX:
        return BatchResult.retry_all(count, f"HTTP {status}", parse_retry_after(retry_after))
    try:
        payload: Any = orjson.loads(body) if body else None
    except orjson.JSONDecodeError:
        payload = None
    if isinstance(payload, dict) and isinstance(payload.get("failed"), list) and "succeeded" in payload:
        result = BatchResult(accepted=len(payload.get("succeeded") or []), receipts=_receipts(payload))
        for item in payload["failed"]:
            index = item.get("index") if isinstance(item, dict) else None
            if isinstance(index, int) and 0 <= index < count:
                error = DeliveryError(str(item.get("error")), status=status, field=item.get("field"))
                result.rejected.append((index, error))
        if result.accepted + len({i for i, _ in result.rejected}) == count and status in (207, 400):
            return result
    details = payload if isinstance(payload, dict) else {}
    text = f"HTTP {status}: {details.get('message') or body[:200].decode('utf-8', 'replace')}"
    return BatchResult.reject_all(count, DeliveryError(text, status=status, field=details.get("field")))


def _receipts(body: bytes | Any) -> list[Any]:
    """The receipts of a success answer (docs/receipts.md); none from a gateway without a receipt key."""
    if isinstance(body, bytes):
        try:
            body = orjson.loads(body) if body else None
        except orjson.JSONDecodeError:
            return []
    items = body.get("succeeded") if isinstance(body, dict) else None
    if isinstance(items, list):
        return [item["receipt"] for item in items if isinstance(item, dict) and "receipt" in item]
    return [body["receipt"]] if isinstance(body, dict) and "receipt" in body else []


@dataclass
class Send:
    items: list[str]
    timeout: float


@dataclass
class Sleep:
    seconds: float


class Delivery:
    """The retry state of one batch. Drive it: `step()` says Send or Sleep; feed Send's answer to `record`.

    `deadline` (monotonic) may be set at any time (close() does); sleeps and request timeouts respect it.
    When done, `accepted`, `rejected` (item, error) and `unsent` (given up: the gateway looks down, or
    the deadline passed) account for every item exactly once.
    """

    def __init__(self, items: list[str], policy: RetryPolicy, http_timeout: float, deadline: float | None) -> None:
        self._todo: list[list[str]] = [items] if items else []
        self._policy = policy
        self._http_timeout = http_timeout
        self.deadline = deadline
        self._attempts = 0
        self._resume_at = 0.0
        self.accepted = 0
        self.rejected: list[tuple[str, DeliveryError]] = []
        self.receipts: list[Any] = []
        self.unsent: list[str] = []
        self.reason = ""

    def step(self, now: float) -> Send | Sleep | None:
        if not self._todo:
            return None
        if self.deadline is not None and max(now, self._resume_at) >= self.deadline:
            self._give_up(f"the close deadline passed ({self.reason or 'not sent yet'})")
            return None
        if now < self._resume_at:
            return Sleep(self._resume_at - now)
        timeout = self._http_timeout if self.deadline is None else min(self._http_timeout, self.deadline - now)
        return Send(self._todo[-1], timeout)

    def record(self, result: BatchResult, now: float) -> None:
        items = self._todo.pop()
        if result.too_large:
            if len(items) == 1:
                self.rejected.append((items[0], DeliveryError("the event is too large for the gateway", status=413)))
            else:  # halve and send the first half first; splitting is not an attempt
                half = len(items) // 2
                self._todo += [items[half:], items[:half]]
            return
        self.accepted += result.accepted
        self.receipts += result.receipts
        self.rejected += [(items[i], error) for i, error in result.rejected]
        retry = [items[i] for i in result.retry]
        if not retry:
            return
        self._attempts += 1
        self.reason = result.reason
        self._todo.append(retry)
        if self._attempts >= self._policy.max_attempts:
            self._give_up(f"{self._attempts} attempt(s) failed, last: {result.reason}")
        else:
            self._resume_at = now + self._policy.delay(self._attempts, result.retry_after)

    @property
    def exhausted(self) -> bool:
        """True when it gave up because attempts ran out (the gateway looks down), not for a deadline."""
        return bool(self.unsent) and self._attempts >= self._policy.max_attempts

    def _give_up(self, reason: str) -> None:
        self.reason = reason
        for items in reversed(self._todo):
            self.unsent += items
        self._todo = []


def run_delivery(
    delivery: Delivery,
    transport: BatchTransport,
    deadline: Callable[[], float | None] = lambda: None,
    sleep: Callable[[float], None] = time.sleep,
) -> Delivery:
    """Drive a Delivery with blocking I/O (the sync client's senders and replayer)."""
    while True:
        delivery.deadline = deadline()
        step = delivery.step(time.monotonic())
        if step is None:
            return delivery
        if isinstance(step, Sleep):
            sleep(step.seconds)
        else:
            delivery.record(transport.send_batch(step.items, step.timeout), time.monotonic())


class HttpTransport:
    """POST batches to `<base_url>/api/audit-logs/bulk`; one keep-alive connection per thread."""

    def __init__(self, base_url: str, api_key: str, timeout: float = 10.0) -> None:
        parts = urlsplit(base_url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"base_url must be an http(s) URL, got {base_url!r}")
        self._https = parts.scheme == "https"
        self._host = parts.hostname
        self._port = parts.port
        self._path = parts.path.rstrip("/") + BULK_PATH
        self._headers = request_headers(api_key)
        self._timeout = timeout
        self._local = threading.local()
        self._lock = threading.Lock()
        self._connections: set[http.client.HTTPConnection] = set()

    def _connection(self, timeout: float) -> tuple[http.client.HTTPConnection, bool]:
        conn: http.client.HTTPConnection | None = getattr(self._local, "conn", None)
        reused = conn is not None
        if conn is None:
            cls = http.client.HTTPSConnection if self._https else http.client.HTTPConnection
            conn = self._local.conn = cls(self._host, self._port, timeout=timeout)
            with self._lock:
                self._connections.add(conn)
        conn.timeout = timeout
        if conn.sock is not None:
            conn.sock.settimeout(timeout)
        return conn, reused

    def _drop(self) -> None:
        conn, self._local.conn = getattr(self._local, "conn", None), None
        if conn is not None:
            conn.close()
            with self._lock:
                self._connections.discard(conn)

    def post(self, body: bytes, timeout: float) -> tuple[int, bytes, str | None]:
        """One POST; a stale keep-alive connection is replaced once before giving up."""
        for _ in range(2):
            conn, reused = self._connection(timeout)
            try:
                conn.request("POST", self._path, body=body, headers=self._headers)
                response = conn.getresponse()
                data = response.read()
            except (ConnectionResetError, BrokenPipeError, http.client.RemoteDisconnected):
                self._drop()
                if reused:
                    continue
                raise
            except BaseException:
                self._drop()
                raise
            if response.will_close:
                self._drop()
            return response.status, data, response.getheader("Retry-After")
        raise ConnectionError("the gateway closed the connection twice")

    def send_batch(self, items: Sequence[str], timeout: float) -> BatchResult:
        body = ("[" + ",".join(items) + "]").encode("utf-8")
        try:
            status, data, retry_after = self.post(body, min(timeout, self._timeout))
        except (OSError, http.client.HTTPException) as exc:
            return BatchResult.retry_all(len(items), f"network error: {exc!r}")
        return interpret_reply(status, data, retry_after, len(items))

    def close(self) -> None:
        with self._lock:
            connections, self._connections = self._connections, set()
        for conn in connections:
            conn.close()
