"""`KafkaAuditTransport`: write events straight to the Argus topic, for services already on the Kafka bus.

Needs the `kafka` extra (confluent-kafka). Each event becomes the same envelope the gateway writes
(`encode_envelope`, keyed by `message_key`, i.e. the actorId) with `source` null: the processor
knows it did not come through an authenticated gateway. The producer is idempotent with acks=all,
and a batch counts as stored only once every delivery report is in. Plug it into either client:
`AuditClient(None, transport=KafkaAuditTransport(...))`.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping, Sequence
from typing import Any

from argus_client.kafka_security import kafka_security_config
from argus_client.transport import BatchResult, DeliveryError
from argus_spec import exactjson
from argus_spec.envelope import encode_envelope, message_key
from argus_spec.hashchain import canonical_metadata


class _Pending:
    """Delivery reports of one batch; callbacks may run on any thread that polls the producer."""

    def __init__(self, count: int) -> None:
        self.lock = threading.Lock()
        self.remaining = count
        self.errors: dict[int, Any] = {}

    def callback(self, index: int) -> Any:
        def on_delivery(err: Any, _msg: Any) -> None:
            with self.lock:
                self.remaining -= 1
                if err is not None:
                    self.errors[index] = err

        return on_delivery


class KafkaAuditTransport:
    """Produce audit events to `topic` on `bootstrap`; security settings pass through to librdkafka."""

    def __init__(
        self,
        bootstrap: str,
        topic: str = "argus.events",
        *,
        security_protocol: str | None = None,
        sasl_mechanism: str | None = None,
        sasl_username: str | None = None,
        sasl_password: str | None = None,
        ssl_ca_location: str | None = None,
        config: Mapping[str, Any] | None = None,
        delivery_timeout: float = 30.0,
    ) -> None:
        try:
            from confluent_kafka import Producer
        except ImportError as exc:  # pragma: no cover - depends on the install
            raise ImportError("KafkaAuditTransport needs confluent-kafka: pip install 'argus-client[kafka]'") from exc
        settings: dict[str, Any] = {
            "bootstrap.servers": bootstrap,
            "enable.idempotence": True,
            "acks": "all",
            "linger.ms": 5,
            "message.timeout.ms": int(delivery_timeout * 1000),
        }
        settings.update(
            kafka_security_config(
                security_protocol=security_protocol,
                sasl_mechanism=sasl_mechanism,
                sasl_username=sasl_username,
                sasl_password=sasl_password,
                ssl_ca_location=ssl_ca_location,
            )
        )
        settings.update(config or {})
        self.topic = topic
        self._producer = Producer(settings)

    def send_batch(self, items: Sequence[str], timeout: float) -> BatchResult:
        """Produce every item and wait (up to `timeout`) for all delivery reports."""
        result = BatchResult()
        pending = _Pending(len(items))
        deadline = time.monotonic() + timeout
        for index, text in enumerate(items):
            event = exactjson.loads(text)
            try:
                canonical_metadata(event.get("metadata"))  # the gateway's check, so Kafka never gets a DLQ case
            except ValueError as exc:
                result.rejected.append((index, DeliveryError(f"metadata: {exc}", field="metadata")))
                pending.callback(index)(None, None)
                continue
            value = encode_envelope(event, source=None, received_at=None)
            if not self._produce(value, message_key(event), pending.callback(index), deadline):
                pending.callback(index)(_Timeout(), None)
        while pending.remaining > 0 and (left := deadline - time.monotonic()) > 0:
            self._producer.poll(min(0.05, left))
        with pending.lock:
            errors = dict(pending.errors)
            unconfirmed = pending.remaining > 0
        rejected = {index for index, _ in result.rejected}
        for index in range(len(items)):
            if index in rejected:
                continue
            err = errors.get(index)
            if err is None and not unconfirmed:
                result.accepted += 1
            elif err is not None and not _retriable(err):
                result.rejected.append((index, DeliveryError(f"kafka: {err}", field=None)))
            else:  # a retried message may land twice in Kafka; the processor keeps the first by id
                result.retry.append(index)
        if result.retry:
            result.reason = "kafka did not confirm delivery" + (f": {next(iter(errors.values()))}" if errors else "")
        return result

    def _produce(self, value: bytes, key: bytes, callback: Any, deadline: float) -> bool:
        while True:
            try:
                self._producer.produce(self.topic, value=value, key=key, on_delivery=callback)
                return True
            except BufferError:  # local queue full: serve callbacks, then try again until the deadline
                if time.monotonic() >= deadline:
                    return False
                self._producer.poll(0.05)

    def close(self) -> None:
        self._producer.flush(10)


class _Timeout:
    def name(self) -> str:
        return "_QUEUE_FULL"

    def __str__(self) -> str:
        return "the local producer queue stayed full"


#: Errors about the message itself: sending it again cannot help, so it is reported, not retried.
_PERMANENT = frozenset(
    {"MSG_SIZE_TOO_LARGE", "_MSG_SIZE_TOO_LARGE", "INVALID_MSG", "INVALID_RECORD", "CORRUPT_MESSAGE"}
)


def _retriable(err: Any) -> bool:
    """Everything else (timeouts, broker down, authorization) is retried, then spooled until it works."""
    try:
        return str(err.name()) not in _PERMANENT
    except AttributeError:
        return True
