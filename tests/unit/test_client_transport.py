"""The rules the clients share: Retry-After parsing, backoff, reply interpretation, the Delivery state machine."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import orjson
import pytest

from argus_client.transport import BatchResult, Delivery, RetryPolicy, Send, Sleep, interpret_reply, parse_retry_after


@pytest.mark.parametrize(
    ("value", "expected"),
    [("5", 5.0), (" 2.5 ", 2.5), ("0", 0.0), ("-3", 0.0), (None, None), ("", None), ("soon", None), ("nan", None)],
)
def test_retry_after_in_seconds(value: str | None, expected: float | None) -> None:
    assert parse_retry_after(value) == expected


def test_retry_after_as_an_http_date() -> None:
    now = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    later = format_datetime(now + timedelta(seconds=30), usegmt=True)
    assert parse_retry_after(later, now=now.timestamp()) == pytest.approx(30.0)
    earlier = format_datetime(now - timedelta(seconds=30), usegmt=True)
    assert parse_retry_after(earlier, now=now.timestamp()) == 0.0
    assert parse_retry_after("Mon, 99 Foo 2026 99:99:99 GMT") is None


def test_backoff_grows_exponentially_with_bounded_jitter() -> None:
    policy = RetryPolicy(base_delay=0.1, max_delay=1.0)
    assert [policy.delay(n, rng=lambda: 1.0) for n in (1, 2, 3, 4, 5, 6)] == pytest.approx(
        [0.1, 0.2, 0.4, 0.8, 1.0, 1.0]
    )
    assert [policy.delay(n, rng=lambda: 0.0) for n in (1, 2, 3)] == pytest.approx([0.05, 0.1, 0.2])
    delays = {policy.delay(3) for _ in range(50)}
    assert len(delays) > 1 and all(0.2 <= d <= 0.4 for d in delays)


def test_retry_after_is_a_floor_but_capped() -> None:
    policy = RetryPolicy(base_delay=0.1, max_delay=1.0, max_retry_after=30)
    assert policy.delay(1, retry_after=5, rng=lambda: 0.0) == 5
    assert policy.delay(1, retry_after=3600, rng=lambda: 0.0) == 30
    assert policy.delay(5, retry_after=0.01, rng=lambda: 1.0) == 1.0


def _bulk(succeeded: list[int], failed: list[tuple[int, str]]) -> bytes:
    return orjson.dumps(
        {
            "succeeded": [{"index": i, "id": f"id-{i}"} for i in succeeded],
            "failed": [{"index": i, "field": f, "error": f"{f}: bad"} for i, f in failed],
        }
    )


def test_reply_classification() -> None:
    assert interpret_reply(201, b"{}", None, 3).accepted == 3
    partial = interpret_reply(207, _bulk([0, 2], [(1, "status")]), None, 3)
    assert partial.accepted == 2 and [(i, e.field, e.status) for i, e in partial.rejected] == [(1, "status", 207)]
    assert not partial.retry
    rejected = interpret_reply(400, _bulk([], [(0, "action"), (1, "status")]), None, 2)
    assert [i for i, _ in rejected.rejected] == [0, 1] and rejected.accepted == 0
    unavailable = interpret_reply(503, b"{}", "7", 4)
    assert unavailable.retry == [0, 1, 2, 3] and unavailable.retry_after == 7
    for status in (429, 500, 502, 504, 408):
        assert interpret_reply(status, b"", None, 1).retry == [0], status
    assert interpret_reply(413, b"", None, 5).too_large
    for status in (400, 401, 403, 404, 415):
        body = orjson.dumps({"error": "x", "message": "nope", "field": "$"})
        result = interpret_reply(status, body, None, 2)
        assert not result.retry and [i for i, _ in result.rejected] == [0, 1], status
        assert result.rejected[0][1].status == status and "nope" in result.rejected[0][1].message


def _drive(delivery: Delivery, answers: list[BatchResult], now: float = 0.0) -> list[object]:
    """Run a Delivery against scripted answers without sleeping; returns the steps taken."""
    steps: list[object] = []
    while (step := delivery.step(now)) is not None:
        steps.append(step)
        if isinstance(step, Sleep):
            now += step.seconds
        else:
            assert isinstance(step, Send)
            delivery.record(answers.pop(0), now)
    return steps


def test_delivery_retries_only_what_failed_then_succeeds() -> None:
    delivery = Delivery(["a", "b", "c"], RetryPolicy(max_attempts=3, base_delay=1), 10, None)
    steps = _drive(delivery, [BatchResult.retry_all(3, "503", retry_after=2), BatchResult(accepted=3)])
    assert [type(s).__name__ for s in steps] == ["Send", "Sleep", "Send"]
    assert isinstance(steps[1], Sleep) and steps[1].seconds >= 2
    assert delivery.accepted == 3 and not delivery.unsent and not delivery.rejected


def test_delivery_gives_up_after_bounded_attempts() -> None:
    delivery = Delivery(["a", "b"], RetryPolicy(max_attempts=3, base_delay=0.01), 10, None)
    _drive(delivery, [BatchResult.retry_all(2, "network error")] * 3)
    assert delivery.unsent == ["a", "b"] and delivery.exhausted and "3 attempt" in delivery.reason


def test_delivery_never_retries_a_rejection() -> None:
    delivery = Delivery(["a", "b"], RetryPolicy(), 10, None)
    steps = _drive(delivery, [interpret_reply(401, b'{"message": "no"}', None, 2)])
    assert len(steps) == 1 and [t for t, _ in delivery.rejected] == ["a", "b"] and not delivery.unsent


def test_delivery_splits_on_413_down_to_single_events() -> None:
    delivery = Delivery(["a", "b", "c", "d"], RetryPolicy(), 10, None)
    too_large = BatchResult(too_large=True)
    sent: list[list[str]] = []
    now = 0.0
    while (step := delivery.step(now)) is not None:
        assert isinstance(step, Send)
        sent.append(list(step.items))
        big = "c" in step.items
        delivery.record(too_large if big else BatchResult(accepted=len(step.items)), now)
    assert sent == [["a", "b", "c", "d"], ["a", "b"], ["c", "d"], ["c"], ["d"]]
    assert delivery.accepted == 3 and [t for t, _ in delivery.rejected] == ["c"]


def test_delivery_respects_a_deadline_set_later() -> None:
    delivery = Delivery(["a"], RetryPolicy(base_delay=5), 10, None)
    first = delivery.step(0.0)
    assert isinstance(first, Send) and first.timeout == 10
    delivery.record(BatchResult.retry_all(1, "503"), 0.0)
    delivery.deadline = 1.0  # close() was called: the backoff would end after it
    assert delivery.step(0.5) is None
    assert delivery.unsent == ["a"] and not delivery.exhausted and "deadline" in delivery.reason
    timed = Delivery(["x"], RetryPolicy(), 10, deadline=3.0)
    step = timed.step(1.0)
    assert isinstance(step, Send) and step.timeout == 2.0
