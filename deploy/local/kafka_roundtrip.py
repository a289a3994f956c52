#!/usr/bin/env python3
"""Kafka self-test: produce one message (acks=all) and consume it back with a fresh group.

Used by deploy/local/kafka.sh to decide that the local broker really works (an open
port is not enough: the controller, partition leadership and the group coordinator
must all be up). Exit 0 on success; otherwise print one line saying what failed,
followed by the last client log lines, and exit 1 (2 for usage/environment errors).

    python deploy/local/kafka_roundtrip.py [--bootstrap 127.0.0.1:19092] [--timeout 30]
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
import uuid
from collections import deque
from typing import NoReturn

LOOPBACK_HOSTS = {"127.0.0.1", "localhost", "::1", "[::1]"}


class _Tail(logging.Handler):
    """Keep librdkafka's log lines quietly; they are only shown when the test fails."""

    def __init__(self, size: int = 15) -> None:
        super().__init__(logging.DEBUG)
        self.lines: deque[str] = deque(maxlen=size)

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())


def _fail(msg: str, tail: _Tail | None = None, code: int = 1) -> NoReturn:
    print(f"kafka round trip FAILED: {msg}", file=sys.stderr)
    if tail is not None and tail.lines:
        print("  last client log lines:", file=sys.stderr)
        for line in tail.lines:
            print(f"    {line}", file=sys.stderr)
    sys.exit(code)


def _check_loopback(bootstrap: str) -> None:
    # Safety rail: this tool must never talk to a real cluster.
    for server in bootstrap.split(","):
        host = server.strip().rsplit(":", 1)[0]
        if host not in LOOPBACK_HOSTS:
            _fail(f"refusing non-loopback bootstrap server {server!r}", code=2)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bootstrap", default="127.0.0.1:19092")
    parser.add_argument("--topic", default="argus.selftest")
    parser.add_argument("--timeout", type=float, default=30.0, help="seconds for the whole test")
    args = parser.parse_args()
    _check_loopback(args.bootstrap)

    try:
        from confluent_kafka import OFFSET_END, Consumer, KafkaError, Producer
    except ImportError as exc:
        _fail(
            f"confluent-kafka is not importable by {sys.executable} ({exc}); "
            "install the project's dev dependencies or set ARGUS_PYTHON",
            code=2,
        )

    started = time.monotonic()
    deadline = started + args.timeout

    def remaining() -> float:
        return max(0.0, deadline - time.monotonic())

    tail = _Tail()
    log = logging.getLogger("kafka_roundtrip.librdkafka")
    log.propagate = False
    log.addHandler(tail)
    log.setLevel(logging.DEBUG)

    token = uuid.uuid4().hex
    common = {"bootstrap.servers": args.bootstrap, "client.id": f"argus-selftest-{token[:8]}"}

    # --- produce -----------------------------------------------------------------------
    delivered: dict[str, object] = {}

    def on_delivery(err, msg) -> None:  # type: ignore[no-untyped-def]
        delivered["err"] = err
        delivered["msg"] = msg

    producer = Producer(
        {
            **common,
            "acks": "all",
            "enable.idempotence": True,
            # The topic may not exist yet: auto-creation + leader election happen inside this window.
            "message.timeout.ms": max(1000, int(remaining() * 1000) - 500),
        },
        logger=log,
    )
    producer.produce(args.topic, key=token.encode(), value=f"argus selftest {token}".encode(), on_delivery=on_delivery)
    producer.flush(remaining())
    if "err" not in delivered:
        _fail(f"produce to {args.topic} on {args.bootstrap} not acknowledged within {args.timeout:.0f}s", tail)
    if delivered["err"] is not None:
        _fail(f"produce to {args.topic} on {args.bootstrap}: {delivered['err']}", tail)
    msg = delivered["msg"]
    partition, offset = msg.partition(), msg.offset()  # type: ignore[attr-defined]
    produced_at = time.monotonic()

    # --- consume with a brand-new group (exercises the group coordinator) --------------
    def on_assign(consumer, partitions) -> None:  # type: ignore[no-untyped-def]
        # Read exactly our message instead of the whole selftest history.
        for tp in partitions:
            tp.offset = offset if tp.partition == partition else OFFSET_END
        consumer.assign(partitions)

    consumer = Consumer(
        {
            **common,
            "group.id": f"argus-selftest-{token}",
            "enable.auto.commit": False,
            "auto.offset.reset": "earliest",
            "session.timeout.ms": 10000,
        },
        logger=log,
    )
    try:
        consumer.subscribe([args.topic], on_assign=on_assign)
        while remaining() > 0:
            m = consumer.poll(min(1.0, remaining()))
            if m is None:
                continue
            if m.error():
                if m.error().code() == KafkaError._PARTITION_EOF:
                    continue
                if m.error().fatal():
                    _fail(f"consume from {args.topic}: {m.error()}", tail)
                continue  # transient (e.g. coordinator still loading); keep polling
            if m.key() == token.encode():
                now = time.monotonic()
                print(
                    f"kafka round trip ok: {args.bootstrap} topic {args.topic} "
                    f"partition {partition} offset {offset} "
                    f"(produce {produced_at - started:.2f}s, consume {now - produced_at:.2f}s)"
                )
                return
        _fail(
            f"message produced to {args.topic}[{partition}]@{offset} was not consumed back within {args.timeout:.0f}s",
            tail,
        )
    finally:
        consumer.close()


if __name__ == "__main__":
    main()
